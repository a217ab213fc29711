"""Server-Sent Events framing, pure-Python twin of ``ext/streamfold/_framing_c.pyx``.

Bytes go in, in pieces split anywhere; lines are split on bytes (CRLF, LF, CR) before
any UTF-8 decoding, and events come out following the WHATWG event-stream rules
(docs/contract.md, section 1).  Pull-based, as the Cython module is: ``feed_input`` hands
a piece over, then ``next_event`` (and under it ``_next_line``) is called until it says the
piece is used up.  The Cython module defines the same names with the same behaviour.
"""

from __future__ import annotations

from typing import Any

import orjson

from ._contract import DEFAULT_MAX_EVENT_BYTES, check_bytes, check_limit
from ._errors import EventTooLargeError, event_too_large

_BOM = b"\xef\xbb\xbf"


class LineSplitter:
    """Splits a byte stream into lines at CRLF, LF or CR, wherever the pieces are cut.

    ``feed`` returns the lines completed by ``data`` (without terminators); ``close``
    returns the unterminated last line, if any.  A CR at the end of one piece and an LF
    at the start of the next are one line end.
    """

    __slots__ = ("_lines", "_next", "_tail", "_pending", "_cr")

    def __init__(self) -> None:
        self._lines: list[bytes] = []  # the lines the current piece completed ...
        self._next = 0  # ... and the next one _next_line() gives
        self._tail: list[bytes] = []  # pieces of the unterminated line (joined once, at its end)
        self._pending = 0
        self._cr = False  # the last byte seen was a CR: an LF right after it is skipped

    @property
    def pending(self) -> int:
        """Bytes held of the unterminated line."""
        return self._pending

    def _set_input(self, data: bytes) -> None:
        """Take the next piece: its lines are then given by ``_next_line``."""
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
        self._lines = lines
        self._next = 0

    def _next_line(self) -> bytes | None:
        """The next complete line of the piece, or None when the piece is used up (its
        unterminated rest is then held)."""
        if self._next < len(self._lines):
            line = self._lines[self._next]
            self._next += 1
            return line
        return None

    def _keep_comment_mark(self) -> bool:
        """If the unterminated line is a comment, drop all of it but its ':' (the framer
        ignores comments, so a huge one must not be buffered); returns True if it is one."""
        if self._tail and self._tail[0][:1] == b":":
            if self._pending > 1:
                self._tail = [b":"]
                self._pending = 1
            return True
        return False

    def _reset(self) -> None:
        self._lines = []
        self._next = 0
        self._tail = []
        self._pending = 0
        self._cr = False

    def feed(self, data: bytes) -> list[bytes]:
        """Split ``data``; return the lines it completed."""
        check_bytes(data)
        self._set_input(bytes(data))
        lines = []
        while (line := self._next_line()) is not None:
            lines.append(line)
        return lines

    def close(self) -> list[bytes]:
        """End of input: return the unterminated line (if any) and reset."""
        tail = b"".join(self._tail)
        self._reset()
        return [tail] if tail else []


class Framer:
    """The event-stream state machine shared by ``SSEDecoder`` and ``ChatAccumulator``.

    Pull-based: ``feed_input`` hands over a piece, then ``next_event`` returns True for each
    event the piece completes (in ``ev_type``/``ev_data``/``ev_id``/``ev_retry``), False when
    the piece is used up; an event past the limit raises ``EventTooLargeError``.  Data stay
    bytes: the fold hands them to orjson untouched.
    """

    __slots__ = (
        "lines",
        "limit",
        "last_event_id",
        "retry",
        "dispatched",
        "_head",
        "_started",
        "_size",
        "_data",
        "_type",
        "_id",
        "_event_retry",
        "_failed_at",
        "ev_type",
        "ev_data",
        "ev_id",
        "ev_retry",
    )

    def __init__(self, max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES) -> None:
        self.lines = LineSplitter()
        self.limit = check_limit(max_event_bytes)
        self.last_event_id = ""
        self.retry: int | None = None
        self.dispatched = 0
        self._failed_at = 0  # number of the event that passed the limit (0: none)
        # the event found by next_event()
        self.ev_type = b""  # the raw ``event:`` value (b"" when none was set)
        self.ev_data = b""
        self.ev_id = ""
        self.ev_retry: int | None = None
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
        """End of this stream; the framer can take a new one (``last_event_id``/``retry`` kept)."""
        self.lines._reset()
        self._failed_at = 0
        self._reset()

    def _fail(self) -> EventTooLargeError:
        self._failed_at = self.dispatched + 1
        return event_too_large(self._failed_at, self.limit)

    def feed_input(self, data: Any) -> None:
        check_bytes(data)
        piece = bytes(data)
        if self._failed_at:  # a new error each time: it completed no event
            raise event_too_large(self._failed_at, self.limit)
        if not self._started:
            piece = self._head + piece
            if len(piece) < 3 and _BOM.startswith(piece):
                self._head = piece  # could still be the start of a BOM
                piece = b""
            else:
                self._started = True
                self._head = b""
                if piece.startswith(_BOM):
                    piece = piece[3:]
        self.lines._set_input(piece)

    def next_event(self) -> bool:
        lines = self.lines
        while (line := lines._next_line()) is not None:
            if not line:  # blank line: dispatch
                self.last_event_id = self._id
                self._size = 0
                data = self._data
                if data:
                    self.ev_data = data[0] if len(data) == 1 else b"\n".join(data)
                    self._data = []
                    self.ev_type = self._type
                    self.ev_id = self._id
                    self.ev_retry = self._event_retry
                    self.dispatched += 1
                    self._type = b""
                    self._event_retry = None
                    return True
                self._type = b""
                self._event_retry = None
                continue
            if line[0] == 58:  # ':' comment
                continue
            self._size += len(line)
            if self.limit >= 0 and self._size > self.limit:
                raise self._fail()
            if line.startswith(b"data:"):  # the common case, first
                self._data.append(line[6:] if line[5:6] == b" " else line[5:])
                continue
            colon = line.find(b":")
            if colon < 0:
                name, value = line, b""
            else:
                name = line[:colon]
                value = line[colon + 2 :] if line[colon + 1 : colon + 2] == b" " else line[colon + 1 :]
            if name == b"data":
                self._data.append(value)
            elif name == b"event":
                self._type = value
            elif name == b"id":
                if b"\x00" not in value:
                    self._id = value.decode("utf-8", "replace")
            elif name == b"retry":  # noqa: SIM102 (as in the extension, one branch per field)
                if value.isdigit():  # ASCII digits only, not empty
                    self.retry = self._event_retry = int(value)
        # the piece is used up
        if not lines._keep_comment_mark() and self.limit >= 0 and self._size + lines.pending > self.limit:
            raise self._fail()
        return False


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


def _make_event(framer: Framer) -> ServerSentEvent:
    etype = framer.ev_type
    return ServerSentEvent(
        etype.decode("utf-8", "replace") if etype else "message",
        framer.ev_data.decode("utf-8", "replace"),
        framer.ev_id,
        framer.ev_retry,
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
        events: list[ServerSentEvent] = []
        framer = self._framer
        try:
            framer.feed_input(data)
            while framer.next_event():
                events.append(_make_event(framer))
        except EventTooLargeError as exc:
            exc.events = events
            raise
        return events

    def close(self) -> list[ServerSentEvent]:
        """End of input.  Returns the events still pending, which by the spec is none."""
        self._framer.close()
        return []
