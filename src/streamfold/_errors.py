"""Exceptions: one root for everything streamfold raises, and the core's errors.

``StreamfoldError`` is the root: the core's ``StreamError`` kinds (a stream that is bad or
unfinished) and the client's ``APIError`` kinds (``streamfold.client``: the request failed
before its stream began) both derive from it, so ``except streamfold.StreamfoldError``
catches any of them.  Both implementations of the core build their errors through the
helpers below, so messages are identical whichever implementation raised them.  Every
error carries ``.partial``: the completion folded before the failure (None when no chunk
had been folded, and always None for the client's errors).
"""

from __future__ import annotations

import reprlib
from typing import Any

import orjson

#: How much of a bad event's data an error message shows.
PREVIEW_CHARS = 200


class StreamfoldError(Exception):
    """The root of every error streamfold raises; picklable (across a process pool)."""

    partial: dict[str, Any] | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.__dict__.copy(), self.args))


class StreamError(StreamfoldError):
    """Base class of every error raised while decoding or folding a stream."""

    def __init__(self, message: str, partial: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.partial = partial


class StreamDecodeError(StreamError, ValueError):
    """The bytes are not a valid chat-completion stream (bad JSON, bad chunk shape)."""


class EventTooLargeError(StreamDecodeError):
    """One event grew past ``max_event_bytes``; the rest of it was not buffered.

    ``.events`` holds the events a ``SSEDecoder.feed`` call had completed before the
    oversized one (empty when raised while folding: those events are in ``.partial``).
    """

    events: list[Any]

    def __init__(self, message: str, partial: dict[str, Any] | None = None, events: list[Any] | None = None) -> None:
        super().__init__(message, partial)
        self.events = events if events is not None else []


class StreamAPIError(StreamError):
    """The server reported an error inside the stream (after HTTP 200).

    ``.error`` is the error object the stream carried (parsed JSON, or the raw text
    of an ``event: error`` whose data is not JSON); ``.message`` the server's message
    alone (``str(exc)`` adds where in the stream it came).
    """

    error: Any
    message: str

    def __init__(
        self, text: str, error: Any = None, partial: dict[str, Any] | None = None, message: str | None = None
    ) -> None:
        super().__init__(text, partial)
        self.error = error
        self.message = text if message is None else message


class IncompleteStreamError(StreamError):
    """The stream ended before it was complete (no ``[DONE]`` and a choice unfinished)."""


class TruncatedCompletionError(StreamError):
    """A choice finished with ``length`` or ``content_filter``: its output was cut short.

    Raised only when the caller asked for it (``raise_on_truncation=True``); by default
    these finish reasons are simply reported.  ``.partial`` is the whole completion,
    ``.choice_index`` and ``.finish_reason`` name the first choice cut short.
    """

    choice_index: int
    finish_reason: str

    def __init__(self, completion: dict[str, Any], choice_index: int, finish_reason: str) -> None:
        super().__init__(f"choice {choice_index} was cut short: finish_reason {finish_reason!r}", completion)
        self.choice_index = choice_index
        self.finish_reason = finish_reason


#: Finish reasons that mean the output was cut short.
TRUNCATED = ("length", "content_filter")


def check_truncation(completion: dict[str, Any]) -> dict[str, Any]:
    """Return ``completion``, or raise ``TruncatedCompletionError`` if a choice was cut short."""
    for choice in completion["choices"]:
        reason = choice.get("finish_reason")
        if reason in TRUNCATED:
            raise TruncatedCompletionError(completion, choice["index"], reason)
    return completion


def _rebuild(cls: type[StreamfoldError], state: dict[str, Any], args: tuple[Any, ...]) -> StreamfoldError:
    err = cls.__new__(cls)
    Exception.__init__(err, *args)
    err.__dict__.update(state)
    return err


# ---------------------------------------------------------------------------
# Builders used by both implementations (only on error paths, never in the hot loop)


_SHORT = reprlib.Repr()
_SHORT.maxlevel = 4
_SHORT.maxstring = PREVIEW_CHARS
_SHORT.maxother = PREVIEW_CHARS


def _text(value: object) -> str:
    """A message as text; a non-string is shown with bounded depth and length."""
    return value if isinstance(value, str) else _SHORT.repr(value)


def _preview(data: bytes | str) -> str:
    text = data.decode("utf-8", "replace") if isinstance(data, (bytes, bytearray)) else data
    if len(text) > PREVIEW_CHARS:
        return repr(text[:PREVIEW_CHARS]) + "..."
    return repr(text)


def _where(event_number: int, data: bytes | None) -> str:
    if data is None:
        return f"chunk {event_number}"
    return f"event {event_number}"


def invalid_json(event_number: int, data: bytes, reason: object) -> StreamDecodeError:
    """Event data that starts like JSON but does not parse."""
    return StreamDecodeError(f"{_where(event_number, data)}: invalid JSON ({reason}): data={_preview(data)}")


def bad_shape(event_number: int, data: bytes | None, path: str, expected: str, value: object) -> StreamDecodeError:
    """A chunk member whose type the chat-completion format does not allow."""
    got = "null" if value is None else type(value).__name__
    message = f"{_where(event_number, data)}: {path} must be {expected}, got {got}"
    if data is not None:
        message += f": data={_preview(data)}"
    return StreamDecodeError(message)


def event_too_large(event_number: int, limit: int) -> EventTooLargeError:
    """An event (its field lines plus the unterminated line) passed the limit."""
    return EventTooLargeError(f"event {event_number} is larger than max_event_bytes={limit}")


def api_error(event_number: int, chunk: dict[str, Any], data: bytes | None) -> StreamAPIError:
    """A chunk with a truthy ``error`` member: that member is the error object."""
    return _api_error(event_number, chunk["error"], chunk, data)


def error_event(event_number: int, data: bytes) -> StreamAPIError:
    """An ``event: error``: the error object is its data parsed as JSON (the text when it is
    not JSON), or the inner object when that data is ``{"error": {...}}`` (Groq)."""
    try:
        payload: Any = orjson.loads(data)
    except orjson.JSONDecodeError:
        payload = data.decode("utf-8", "replace")
    error = payload
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        error = payload["error"]
    return _api_error(event_number, error, payload, data)


def _api_error(event_number: int, error: Any, payload: Any, data: bytes | None) -> StreamAPIError:
    """The server's message (``message_of``), else a preview of the data."""
    message = message_of(payload, error)
    if message is None:
        message = _preview(data) if data is not None else _preview(_text(error))
    return StreamAPIError(f"{_where(event_number, data)}: server error: {message}", error, message=message)


def message_of(body: Any, error: Any = None) -> str | None:
    """The server's own message in an error body (an HTTP error's JSON, an ``event: error``'s
    data, an in-band error chunk): ``error.message``, an ``error`` that is a string, else
    ``message``; None when it gives none.  ``error`` is the error object when the caller
    has picked it out (by default ``body["error"]``).  Long messages are cut short."""
    if error is None and isinstance(body, dict):
        error = body.get("error")
    if isinstance(error, dict) and error.get("message") is not None:
        message: str = _text(error["message"])
    elif isinstance(error, str) and error.strip():
        message = error
    elif isinstance(body, dict) and body.get("message") is not None:
        message = _text(body["message"])
    else:
        return None
    return message if len(message) <= PREVIEW_CHARS else message[:PREVIEW_CHARS] + "..."


def incomplete(chunks: int, unfinished: list[int]) -> IncompleteStreamError:
    """End of input without ``[DONE]``: no chunk, no choice, or a choice without ``finish_reason``."""
    if chunks == 0:
        return IncompleteStreamError("stream ended before any chunk arrived")
    after = f"stream ended after {chunks} chunk{'' if chunks == 1 else 's'} without [DONE]"
    if not unfinished:
        return IncompleteStreamError(f"{after} and without any choice")
    which = ", ".join(str(i) for i in unfinished)
    return IncompleteStreamError(f"{after}; choice {which} has no finish_reason")
