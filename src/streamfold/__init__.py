"""streamfold: fast, correct decoding and folding of OpenAI-style chat-completion streams.

``fold(bytes_or_iterable)`` turns a whole Server-Sent Events stream into one
``chat.completion`` dict; ``ChatAccumulator`` does it incrementally; ``SSEDecoder``
frames raw bytes into events; ``Client`` / ``AsyncClient`` stream chat completions over
httpx / aiohttp straight into the accumulator, and ``run`` runs a coroutine on uvloop
when it is installed.  ``IMPLEMENTATION`` says whether the Cython core
("cython") or the pure-Python twin ("python") is in use.
"""

from ._api import afold, aiter_events, fold, iter_events
from ._run import run
from .client import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AsyncChatStream,
    AsyncClient,
    ChatStream,
    Client,
    StreamStats,
)
from ._events import (
    ChatEvent,
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
from ._errors import (
    EventTooLargeError,
    IncompleteStreamError,
    StreamAPIError,
    StreamDecodeError,
    StreamError,
    TruncatedCompletionError,
)
from ._framing_py import DEFAULT_MAX_EVENT_BYTES
from ._impl import IMPLEMENTATION, ChatAccumulator, LineSplitter, ServerSentEvent, SSEDecoder

__version__ = "0.1.0"

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncChatStream",
    "AsyncClient",
    "ChatStream",
    "Client",
    "StreamStats",
    "DEFAULT_MAX_EVENT_BYTES",
    "IMPLEMENTATION",
    "ChatAccumulator",
    "ChatEvent",
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
    "EventTooLargeError",
    "IncompleteStreamError",
    "LineSplitter",
    "SSEDecoder",
    "ServerSentEvent",
    "StreamAPIError",
    "StreamDecodeError",
    "StreamError",
    "TruncatedCompletionError",
    "afold",
    "aiter_events",
    "fold",
    "iter_events",
    "run",
]
