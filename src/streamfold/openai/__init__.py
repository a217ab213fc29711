"""streamfold for users of the official ``openai`` client (needs the ``openai`` extra).

- ``StreamState``: openai-python's ``ChatCompletionStreamState`` surface (``handle_chunk``,
  ``current_completion_snapshot``, ``get_final_completion``), many times faster.
- ``stream_chat(client, **create_kwargs)`` / ``astream_chat(async_client, ...)``: the
  request goes through your client (its base URL, key, retries, timeouts); the response
  bytes are decoded by streamfold instead of one pydantic object per chunk.

Events carry openai's ``type`` strings and attributes (``chunk`` events hold a
``ChatCompletionChunk``, logprobs are ``ChatCompletionTokenLogprob`` objects), built only
when read; completions are openai's ``ParsedChatCompletion``.
"""

try:
    import openai as _openai  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "streamfold.openai needs the openai package: pip install 'streamfold[openai]'"
    ) from exc

from ._events import (
    ChunkEvent,
    ContentDeltaEvent,
    ContentDoneEvent,
    LogprobsContentDeltaEvent,
    LogprobsContentDoneEvent,
    LogprobsRefusalDeltaEvent,
    LogprobsRefusalDoneEvent,
)
from ._state import StreamState
from ._stream import AsyncChatStream, ChatStream, astream_chat, stream_chat

__all__ = [
    "AsyncChatStream",
    "ChatStream",
    "ChunkEvent",
    "ContentDeltaEvent",
    "ContentDoneEvent",
    "LogprobsContentDeltaEvent",
    "LogprobsContentDoneEvent",
    "LogprobsRefusalDeltaEvent",
    "LogprobsRefusalDoneEvent",
    "StreamState",
    "astream_chat",
    "stream_chat",
]
