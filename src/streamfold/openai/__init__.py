"""streamfold for users of the official ``openai`` client (needs the ``openai`` extra).

- ``StreamState``: openai-python's ``ChatCompletionStreamState`` (``handle_chunk``,
  ``current_completion_snapshot``, ``get_final_completion``), many times faster.
- ``stream_chat(client, **kwargs)`` / ``astream_chat(async_client, ...)``: what
  ``client.chat.completions.stream(**kwargs)`` does (the request goes through your
  client: its base URL, key, retries, timeouts), with the response bytes decoded by
  streamfold instead of one pydantic object per chunk.

Events are openai's own event classes (subclasses of those in
``openai.lib.streaming.chat``), in openai's order; their costly fields (snapshots, chunk
objects, logprobs) are computed only when read.  Completions are openai's
``ParsedChatCompletion``.  ``fixes=True`` switches to streamfold's event sequence (see
``StreamState``).
"""

try:
    import openai as _openai  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("streamfold.openai needs the openai package: pip install 'streamfold[openai]'") from exc

from ._errors import StreamAPIError
from ._events import (
    ChunkEvent,
    ContentDeltaEvent,
    ContentDoneEvent,
    FunctionToolCallArgumentsDeltaEvent,
    FunctionToolCallArgumentsDoneEvent,
    LogprobsContentDeltaEvent,
    LogprobsContentDoneEvent,
    LogprobsRefusalDeltaEvent,
    LogprobsRefusalDoneEvent,
    ReasoningDeltaEvent,
    ReasoningDoneEvent,
    RefusalDeltaEvent,
    RefusalDoneEvent,
)
from ._state import StreamState
from ._stream import AsyncChatStream, ChatStream, astream_chat, stream_chat

__all__ = [
    "AsyncChatStream",
    "ChatStream",
    "ChunkEvent",
    "ContentDeltaEvent",
    "ContentDoneEvent",
    "FunctionToolCallArgumentsDeltaEvent",
    "FunctionToolCallArgumentsDoneEvent",
    "LogprobsContentDeltaEvent",
    "LogprobsContentDoneEvent",
    "LogprobsRefusalDeltaEvent",
    "LogprobsRefusalDoneEvent",
    "ReasoningDeltaEvent",
    "ReasoningDoneEvent",
    "RefusalDeltaEvent",
    "RefusalDoneEvent",
    "StreamAPIError",
    "StreamState",
    "astream_chat",
    "stream_chat",
]
