"""streamfold: fast, correct decoding and folding of OpenAI-style chat-completion streams.

``fold(bytes_or_iterable)`` turns a whole Server-Sent Events stream into one
``chat.completion`` dict; ``ChatAccumulator`` does it incrementally; ``SSEDecoder``
frames raw bytes into events; ``Client`` / ``AsyncClient`` stream chat completions over
httpx / aiohttp straight into the accumulator, and ``run`` runs a coroutine on uvloop
when it is installed.  ``IMPLEMENTATION`` says whether the Cython core ("cython") or the
pure-Python twin ("python") is in use.  ``streamfold.mock`` (the mock server:
``MockServer``, ``MockConfig``) is imported on first use, so ``import streamfold`` stays
light; ``streamfold.openai`` (the drop-in for the official client) is imported as
``from streamfold.openai import ...``.  ``streamfold.relay`` forwards a stream to a browser
while folding it (Starlette), also imported on first use; ``Coalescer`` / ``coalesce`` /
``acoalesce`` join text deltas into fewer pieces for a UI.
"""

import importlib
from types import ModuleType

from ._api import afold, aiter_events, fold, iter_events
from ._coalesce import Coalescer, acoalesce, coalesce
from ._contract import DEFAULT_MAX_EVENT_BYTES
from ._errors import (
    EventTooLargeError,
    IncompleteStreamError,
    StreamAPIError,
    StreamDecodeError,
    StreamError,
    StreamfoldError,
    TruncatedCompletionError,
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
from ._impl import IMPLEMENTATION, ChatAccumulator, LineSplitter, ServerSentEvent, SSEDecoder
from ._run import run
from ._version import __version__ as __version__
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

#: Subpackages imported when first used as attributes.
_LAZY_SUBPACKAGES = ("mock", "relay")


def __getattr__(name: str) -> ModuleType:
    if name in _LAZY_SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_MAX_EVENT_BYTES",
    "IMPLEMENTATION",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncChatStream",
    "AsyncClient",
    "ChatAccumulator",
    "ChatEvent",
    "ChatStream",
    "ChunkEvent",
    "Client",
    "Coalescer",
    "ContentDeltaEvent",
    "ContentDoneEvent",
    "EventTooLargeError",
    "FunctionToolCallArgumentsDeltaEvent",
    "FunctionToolCallArgumentsDoneEvent",
    "IncompleteStreamError",
    "LineSplitter",
    "LogprobsContentDeltaEvent",
    "LogprobsContentDoneEvent",
    "LogprobsRefusalDeltaEvent",
    "LogprobsRefusalDoneEvent",
    "ReasoningDeltaEvent",
    "ReasoningDoneEvent",
    "RefusalDeltaEvent",
    "RefusalDoneEvent",
    "SSEDecoder",
    "ServerSentEvent",
    "StreamAPIError",
    "StreamDecodeError",
    "StreamError",
    "StreamStats",
    "StreamfoldError",
    "TruncatedCompletionError",
    "acoalesce",
    "afold",
    "aiter_events",
    "coalesce",
    "fold",
    "iter_events",
    "run",
]
