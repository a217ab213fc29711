"""What the relay writes: server-sent events, keep-alive comments, and errors as JSON."""

from __future__ import annotations

from typing import Any

import orjson

from .._errors import IncompleteStreamError, StreamAPIError, StreamDecodeError, StreamError, StreamfoldError
from ..client import APIConnectionError, APIStatusError, APITimeoutError

KEEPALIVE = b": keep-alive\n\n"
DONE = b"data: [DONE]\n\n"
#: The line ends of an event stream (CR LF, LF, CR); an empty line ends an event.
_LINE_ENDS = (b"\r\n", b"\n", b"\r")


def data_event(payload: Any) -> bytes:
    """One event: ``data: <json>`` and the empty line."""
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def ends_an_event(sent: bytes) -> bool:
    """Whether bytes ending with ``sent`` (their last few bytes) end at an event boundary,
    where a comment can go without changing any event: nothing yet, or two line ends."""
    if not sent:
        return True
    ends = 0
    while ends < 2:
        for end in _LINE_ENDS:
            if sent.endswith(end):
                sent = sent[: -len(end)]
                ends += 1
                break
        else:
            return False
    return True


class ClientDisconnected(StreamError):
    """The relay's client (the browser) went away before the stream ended; the upstream
    request was cancelled, and ``.partial`` is what had arrived."""


def error_object(exc: BaseException) -> dict[str, Any]:
    """What the browser is told of a failure: a message and a ``type``.  An error the upstream
    sent in the stream is passed on as it came; connection failures say nothing of the
    upstream's address; an unexpected error says only that the relay failed."""
    if isinstance(exc, StreamAPIError):
        upstream = exc.error if isinstance(exc.error, dict) else {}
        return {**upstream, "message": exc.message, "type": upstream.get("type") or "upstream_error"}
    if isinstance(exc, APIStatusError):
        return {"message": exc.message, "type": "upstream_status", "status_code": exc.status_code}
    if isinstance(exc, APITimeoutError):
        return {"message": "the upstream server did not answer in time", "type": "upstream_timeout"}
    if isinstance(exc, APIConnectionError):
        return {"message": "the upstream server could not be reached", "type": "upstream_unreachable"}
    if isinstance(exc, IncompleteStreamError):
        return {"message": str(exc), "type": "incomplete_stream"}
    if isinstance(exc, StreamDecodeError):
        return {"message": str(exc), "type": "invalid_stream"}
    return {"message": "the relay failed", "type": "relay_error"}


def failure_status(exc: BaseException) -> int:
    """The HTTP status of a failure before anything was sent: 504 for a timeout, else 502."""
    return 504 if isinstance(exc, APITimeoutError) else 502


def expected(exc: BaseException) -> bool:
    """A failure of the stream or of its upstream, not of the relay or of the code around it."""
    return isinstance(exc, StreamfoldError)
