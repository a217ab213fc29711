"""A thin chat-completions client (aiohttp or httpx) whose every byte goes through streamfold.

``Client`` / ``AsyncClient`` send the request (retrying before the answer's body begins);
``stream_chat`` gives a ``ChatStream`` / ``AsyncChatStream`` to iterate for events or
text, with ``result()`` and ``stats``; ``chat`` is the one-call form.
"""

from ._client import DEFAULT_BASE_URL, AsyncClient, Client
from ._errors import APIConnectionError, APIError, APIStatusError, APITimeoutError
from ._retry import RetryPolicy
from ._stats import StreamStats
from ._stream import AsyncChatStream, ChatStream
from ._timeout import Timeout
from ._timestamped import TimestampedSession

__all__ = [
    "DEFAULT_BASE_URL",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncChatStream",
    "AsyncClient",
    "ChatStream",
    "Client",
    "RetryPolicy",
    "StreamStats",
    "Timeout",
    "TimestampedSession",
]
