"""The client's HTTP errors: what went wrong before the stream started.

Once the body of a 200 answer has begun, failures are the core's ``StreamError``
kinds instead (``StreamAPIError``, ``StreamDecodeError``, ``IncompleteStreamError``),
each with ``.partial``; a connection lost mid-body is an ``IncompleteStreamError``
whose ``__cause__`` is the transport's exception.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from .._errors import StreamfoldError, message_of


class APIError(StreamfoldError):
    """Base class of the client's errors; ``.partial`` is always None (nothing was folded)."""

    def __init__(self, message: str, *, method: str = "", url: str = "") -> None:
        super().__init__(message)
        self.method = method
        self.url = url


class APIConnectionError(APIError):
    """The request could not be sent or its answer not read (refused, reset, DNS, TLS...)."""


class APITimeoutError(APIConnectionError):
    """The request timed out before the answer's body began."""


class APIStatusError(APIError):
    """The server answered with a non-2xx status.

    ``.status_code``, ``.headers`` (a plain dict, lower-case names), ``.body`` (the parsed
    JSON error body, or its text when it is not JSON), ``.message`` (the server's
    ``error.message`` when it gave one).
    """

    def __init__(
        self, status_code: int, headers: Mapping[str, str], content: bytes, *, method: str = "", url: str = ""
    ) -> None:
        self.status_code = status_code
        self.headers = {name.lower(): value for name, value in headers.items()}
        self.body = _parse_body(content)
        self.message = _message(self.body)
        super().__init__(f"HTTP {status_code} from {method} {url}: {self.message}", method=method, url=url)


def _parse_body(content: bytes) -> Any:
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return content.decode("utf-8", "replace")


def _message(body: Any) -> str:
    """The server's message (``message_of``), else the body itself (cut short)."""
    message = message_of(body)
    if message is not None:
        return message
    text = body if isinstance(body, str) else orjson.dumps(body).decode()
    text = text.strip() or "(empty body)"
    return text if len(text) <= 200 else text[:200] + "..."
