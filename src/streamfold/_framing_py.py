"""Server-Sent Events framing, pure-Python twin of ``ext/streamfold/_framing_c.pyx``.

Bytes go in, in pieces split anywhere; lines are split on bytes (CRLF, LF, CR) before
any UTF-8 decoding, and events come out following the WHATWG event-stream rules
(docs/contract.md, section 1).  The Cython module defines the same names with the same behaviour.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import orjson

from ._errors import EventTooLargeError, event_too_large

DEFAULT_MAX_EVENT_BYTES = 16 * 2**20

_BOM = b"\xef\xbb\xbf"

#: A framed event before text decoding: (type, data, last event id, retry).
#: ``type`` is the raw ``event:`` value (b"" when none was set).
RawEvent = Tuple[bytes, bytes, str, Optional[int]]


def check_limit(max_event_bytes: int | None) -> int:
    """Validate ``max_event_bytes``; returns the limit as an int (-1 for no limit)."""
    if max_event_bytes is None:
        return -1
    if isinstance(max_event_bytes, bool) or not isinstance(max_event_bytes, int):
        raise TypeError(f"max_event_bytes must be an int or None, not {type(max_event_bytes).__name__}")
    if max_event_bytes < 1:
        raise ValueError(f"max_event_bytes must be positive, got {max_event_bytes}")
    return max_event_bytes


def check_bytes(data: object) -> None:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"expected bytes, got {type(data).__name__}")


class LineSplitter:
    """Splits a byte stream into lines at CRLF, LF or CR, wherever the pieces are cut.

    ``feed`` returns the lines completed by ``data`` (without terminators); ``close``
    returns the unterminated last line, if any.  A CR at the end of one piece and an LF
    at the start of the next are one line end.
    """

    __slots__ = ("_tail", "_pending", "_cr")

    def __init__(self) -> None:
        self._tail: list[bytes] = []  # pieces of the unterminated line (joined once, at its end)
        self._pending = 0
        self._cr = False  # the last byte seen was a CR: an LF right after it is skipped

    @property
    def pending(self) -> int:
        """Bytes held of the unterminated line."""
        return self._pending

    def feed(self, data: bytes) -> list[bytes]:
        check_bytes(data)
        data = bytes(data)
        if self._cr and data:
            self._cr = False
            if data[0] == 10:
                data = data[1:]
        if b"\r" in data:
            self._cr = data[-1] == 13
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = data.split(b"\n")
        rest = lines.pop()
        if lines and self._tail:
            self._tail.append(lines[0])
            lines[0] = b"".join(self._tail)
            self._tail = []
            self._pending = 0
        if rest:
            self._tail.append(rest)
            self._pending += len(rest)
        return lines

    def _keep_comment_mark(self) -> bool:
        """If the unterminated line is a comment, drop all of it but its ':' (the framer
        ignores comments, so a huge one must not be buffered); returns True if it is one."""
        if self._tail and self._tail[0][:1] == b":":
            if self._pending > 1:
                self._tail = [b":"]
                self._pending = 1
            return True
        return False

    def close(self) -> list[bytes]:
        """End of input: return the unterminated line (if any) and reset."""
        tail = b"".join(self._tail)
        self._tail = []
        self._pending = 0
        self._cr = False
        return [tail] if tail else []


class _TooLarge(Exception):
    """Internal: an event passed the limit; carries the events completed before it."""

    def __init__(self, error: EventTooLargeError, events: list[RawEvent]) -> None:
        super().__init__(str(error))
        self.error = error
        self.events = events


class Framer:
    """The event-stream state machine shared by ``SSEDecoder`` and ``ChatAccumulator``.

    ``feed`` returns raw events (see ``RawEvent``); text decoding is left to the caller
    so that the fold can hand data bytes to orjson untouched.
    """

    __slots__ = (
        "limit", "last_event_id", "retry", "dispatched",
        "_lines", "_head", "_started", "_size", "_data", "_type", "_id", "_event_retry", "_failed_at",
    )

    def __init__(self, max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES) -> None:
        self.limit = check_limit(max_event_bytes)
        self.last_event_id = ""
        self.retry: int | None = None
        self.dispatched = 0
        self._lines = LineSplitter()
        self._failed_at = 0  # number of the event that passed the limit (0: none)
        self._reset()

    def _reset(self) -> None:
        self._head = b""  # the first bytes of the stream, until we know whether they are a BOM
        self._started = False
        self._size = 0  # bytes of field lines in the event being built
        self._data: list[bytes] = []
        self._type = b""
        self._id = self.last_event_id
        self._event_retry: int | None = None

    def close(self) -> None:
        """End of this stream: drop the unterminated line and the undispatched event.

        The framer can then take a new stream (a reconnection); ``last_event_id`` and
        ``retry`` carry over, as they do for an EventSource.
        """
        self._lines.close()
        self._failed_at = 0
        self._reset()

    def feed(self, data: bytes) -> list[RawEvent]:
        check_bytes(data)
        if self._failed_at:  # a new error each time: it completed no event
            raise _TooLarge(event_too_large(self._failed_at, self.limit), [])
        if not self._started:
            data = self._head + bytes(data)
            if len(data) < 3 and _BOM.startswith(data):
                self._head = data  # could still be the start of a BOM
                return []
            self._started = True
            self._head = b""
            if data.startswith(_BOM):
                data = data[3:]
        events: list[RawEvent] = []
        limit = self.limit
        size = self._size
        data_lines = self._data
        try:
            for line in self._lines.feed(data):
                if not line:  # blank line: dispatch
                    self.last_event_id = self._id
                    if data_lines:
                        payload = data_lines[0] if len(data_lines) == 1 else b"\n".join(data_lines)
                        events.append((self._type, payload, self._id, self._event_retry))
                        self.dispatched += 1
                        data_lines = self._data = []
                    self._type = b""
                    self._event_retry = None
                    size = 0
                    continue
                if line[0] == 58:  # ':' comment
                    continue
                size += len(line)
                if limit >= 0 and size > limit:
                    raise self._fail(events)
                if line.startswith(b"data:"):  # the common case, first
                    value = line[6:] if line[5:6] == b" " else line[5:]
                    data_lines.append(value)
                    continue
                colon = line.find(b":")
                if colon < 0:
                    name, value = line, b""
                else:
                    name = line[:colon]
                    value = line[colon + 2 :] if line[colon + 1 : colon + 2] == b" " else line[colon + 1 :]
                if name == b"data":
                    data_lines.append(value)
                elif name == b"event":
                    self._type = value
                elif name == b"id":
                    if b"\x00" not in value:
                        self._id = value.decode("utf-8", "replace")
                elif name == b"retry":
                    if value.isdigit():  # ASCII digits only, not empty
                        self.retry = self._event_retry = int(value)
            if not self._lines._keep_comment_mark() and limit >= 0 and size + self._lines.pending > limit:
                raise self._fail(events)
        finally:
            self._size = size
        return events

    def _fail(self, events: list[RawEvent]) -> _TooLarge:
        self._failed_at = self.dispatched + 1
        return _TooLarge(event_too_large(self._failed_at, self.limit), events)


class ServerSentEvent:
    """One dispatched event: ``event`` type, ``data`` text, last event ``id``, ``retry``."""

    __slots__ = ("event", "data", "id", "retry")

    def __init__(self, event: str = "message", data: str = "", id: str = "", retry: int | None = None) -> None:
        self.event = event
        self.data = data
        self.id = id
        self.retry = retry

    def json(self) -> Any:
        """The data decoded as JSON (orjson)."""
        return orjson.loads(self.data)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ServerSentEvent):
            return NotImplemented
        return (self.event, self.data, self.id, self.retry) == (other.event, other.data, other.id, other.retry)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ServerSentEvent(event={self.event!r}, data={self.data!r}, id={self.id!r}, retry={self.retry!r})"


def _to_event(raw: RawEvent) -> ServerSentEvent:
    etype, data, id_, retry = raw
    return ServerSentEvent(
        etype.decode("utf-8", "replace") if etype else "message", data.decode("utf-8", "replace"), id_, retry
    )


class SSEDecoder:
    """Incremental Server-Sent Events decoder over raw bytes.

    ``feed(data)`` returns the events completed by ``data``; ``close()`` marks the end of
    the stream (an unterminated event is discarded, per the spec) and readies the
    decoder for a new stream, keeping ``last_event_id`` and ``retry``.  An event larger
    than ``max_event_bytes`` (None: no limit) raises ``EventTooLargeError``.
    """

    __slots__ = ("_framer",)

    def __init__(self, *, max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES) -> None:
        self._framer = Framer(max_event_bytes)

    @property
    def last_event_id(self) -> str:
        """The last event ID, as committed by the last blank line."""
        return self._framer.last_event_id

    @property
    def retry(self) -> int | None:
        """The reconnection time (ms) from the last valid ``retry:`` field, if any."""
        return self._framer.retry

    def feed(self, data: bytes) -> list[ServerSentEvent]:
        """Decode ``data``; return the events it completed."""
        try:
            raw = self._framer.feed(data)
        except _TooLarge as exc:
            exc.error.events = [_to_event(r) for r in exc.events]
            raise exc.error from None
        return [_to_event(r) for r in raw]

    def close(self) -> list[ServerSentEvent]:
        """End of input.  Returns the events still pending, which by the spec is none."""
        self._framer.close()
        return []
