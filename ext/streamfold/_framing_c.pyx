# cython: language_level=3, embedsignature=True
"""Server-Sent Events framing: the Cython core.

Twin of ``src/streamfold/_framing_py.py`` (same names, same pull-based seams, same
behaviour; docs/contract.md, section 1).  Lines are found
with memchr over the raw bytes; each byte is scanned at most once for LF and once for CR
(the scan results are cached), and an unterminated line is kept in a buffer that grows
by doubling, so the cost is linear whatever the piece sizes.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.list cimport PyList_Append
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.string cimport memchr, memcmp, memcpy

cimport cython

import orjson

from streamfold._errors import EventTooLargeError, event_too_large
from streamfold._contract import DEFAULT_MAX_EVENT_BYTES, check_bytes, check_limit

cdef bytes _BOM = b"\xef\xbb\xbf"
cdef bytes _EMPTY = b""


cdef inline bytes _as_bytes(object data):
    if type(data) is bytes:
        return <bytes>data
    check_bytes(data)
    return bytes(data)


cdef int _grow(char** buf, Py_ssize_t* cap, Py_ssize_t need) except -1:
    """Make room for ``need`` bytes (doubling, so appends are amortised O(1))."""
    cdef Py_ssize_t new_cap = cap[0] * 2
    if new_cap < need:
        new_cap = need
    if new_cap < 256:
        new_cap = 256
    cdef char* p = <char*>PyMem_Realloc(buf[0], new_cap)
    if p == NULL:
        raise MemoryError()
    buf[0] = p
    cap[0] = new_cap
    return 0


@cython.final
cdef class LineSplitter:
    """Splits a byte stream into lines at CRLF, LF or CR, wherever the pieces are cut.

    ``feed`` returns the lines completed by ``data`` (without terminators); ``close``
    returns the unterminated last line, if any.  A CR at the end of one piece and an LF
    at the start of the next are one line end.
    """

    def __cinit__(self):
        self._input = _EMPTY
        self._buf = PyBytes_AS_STRING(self._input)
        self._pos = 0
        self._end = 0
        self._next_lf = -1
        self._next_cr = -1
        self._tail = NULL
        self._tail_len = 0
        self._tail_cap = 0
        self._tail_is_line = False
        self._cr = False

    def __init__(self):
        pass

    def __dealloc__(self):
        PyMem_Free(self._tail)

    cdef bint _keep_comment_mark(self):
        """If the unterminated line is a comment, drop all of it but its ':' (the framer
        ignores comments, so a huge one must not be buffered); returns True if it is one."""
        if self._tail_len and not self._tail_is_line and self._tail[0] == b":":
            self._tail_len = 1
            return True
        return False

    @property
    def pending(self):
        """Bytes held of the unterminated line."""
        return self._tail_len

    cdef void _reset(self):
        self._input = _EMPTY
        self._buf = PyBytes_AS_STRING(self._input)
        self._pos = 0
        self._end = 0
        self._tail_len = 0
        self._tail_is_line = False
        self._cr = False

    cdef int _set_input(self, bytes data) except -1:
        self._input = data
        self._buf = PyBytes_AS_STRING(data)
        self._end = PyBytes_GET_SIZE(data)
        self._pos = 0
        self._next_lf = -1
        self._next_cr = -1
        if self._cr and self._end > 0:
            self._cr = False
            if self._buf[0] == b"\n":
                self._pos = 1
        return 0

    cdef int _tail_add(self, const char* p, Py_ssize_t n) except -1:
        if self._tail_len + n > self._tail_cap:
            _grow(&self._tail, &self._tail_cap, self._tail_len + n)
        memcpy(self._tail + self._tail_len, p, n)
        self._tail_len += n
        return 0

    cdef int _next_line(self) except -1:
        """Find the next complete line: 1 if found (in ``line``/``line_len``), 0 when the
        input is used up (its unterminated rest is then held in the tail)."""
        cdef Py_ssize_t pos = self._pos
        cdef Py_ssize_t end = self._end
        cdef Py_ssize_t eol
        cdef const char* buf = self._buf
        cdef const void* hit
        if self._tail_is_line:
            self._tail_is_line = False
            self._tail_len = 0
        if pos >= end:
            return 0
        if buf[pos] == b"\n" or buf[pos] == b"\r":
            eol = pos  # the line ends here (every event ends with a blank line): no scan
        else:
            if self._next_lf < pos:
                hit = memchr(buf + pos, b"\n", end - pos)
                self._next_lf = (<const char*>hit - buf) if hit != NULL else end
            if self._next_cr < pos:
                hit = memchr(buf + pos, b"\r", end - pos)
                self._next_cr = (<const char*>hit - buf) if hit != NULL else end
            eol = self._next_lf if self._next_lf < self._next_cr else self._next_cr
            if eol == end:  # no terminator: keep the rest for the next piece
                self._tail_add(buf + pos, end - pos)
                self._pos = end
                return 0
        if self._tail_len:
            self._tail_add(buf + pos, eol - pos)
            self.line = self._tail
            self.line_len = self._tail_len
            self.line_in_input = False
            self._tail_is_line = True
        else:
            self.line = buf + pos
            self.line_len = eol - pos
            self.line_in_input = True
        if buf[eol] == b"\r":
            if eol + 1 < end:
                self._pos = eol + 2 if buf[eol + 1] == b"\n" else eol + 1
            else:
                self._pos = eol + 1
                self._cr = True
        else:
            self._pos = eol + 1
        return 1

    def feed(self, data):
        """Split ``data``; return the lines it completed."""
        cdef list lines = []
        self._set_input(_as_bytes(data))
        while self._next_line():
            PyList_Append(lines, PyBytes_FromStringAndSize(self.line, self.line_len))
        return lines

    def close(self):
        """End of input: return the unterminated line (if any) and reset."""
        cdef list rest = []
        if self._tail_is_line:
            self._tail_len = 0
        if self._tail_len:
            rest.append(PyBytes_FromStringAndSize(self._tail, self._tail_len))
        self._reset()
        return rest


@cython.final
cdef class Framer:
    """The event-stream state machine shared by ``SSEDecoder`` and ``ChatAccumulator``.

    Pull-based: ``feed_input`` hands over a piece, then ``next_event`` returns 1 for each
    event the piece completes (in ``ev_type``/``ev_data``/``ev_id``/``ev_retry``), 0 when
    the piece is used up.  Data stay bytes: the fold hands them to orjson untouched.
    """

    def __cinit__(self):
        self.lines = LineSplitter()
        self._dbuf = NULL
        self._dbuf_len = 0
        self._dbuf_cap = 0

    def __init__(self, max_event_bytes=DEFAULT_MAX_EVENT_BYTES):
        self.limit = check_limit(max_event_bytes)
        self.last_event_id = ""
        self.retry = None
        self.dispatched = 0
        self._failed_at = 0
        self._reset()

    def __dealloc__(self):
        PyMem_Free(self._dbuf)

    cdef void _reset(self):
        self._head = _EMPTY
        self._started = False
        self._size = 0
        self._n_data = 0
        self._view_active = False
        self._dbuf_len = 0
        self._type = _EMPTY
        self._id = self.last_event_id
        self._event_retry = None

    def close(self):
        """End of this stream; the framer can take a new one (``last_event_id``/``retry`` kept)."""
        self.lines._reset()
        self._failed_at = 0
        self._reset()

    cdef int _fail(self) except -1:
        self._failed_at = self.dispatched + 1
        raise event_too_large(self._failed_at, self.limit)

    cdef int feed_input(self, object data) except -1:
        cdef bytes piece = _as_bytes(data)
        if self._failed_at:  # a new error each time: it completed no event
            raise event_too_large(self._failed_at, self.limit)
        if not self._started:
            piece = self._head + piece
            if PyBytes_GET_SIZE(piece) < 3 and _BOM.startswith(piece):
                self._head = piece  # could still be the start of a BOM
                piece = _EMPTY
            else:
                self._started = True
                self._head = _EMPTY
                if piece.startswith(_BOM):
                    piece = piece[3:]
        self.lines._set_input(piece)
        return 0

    cdef int _dbuf_add(self, const char* p, Py_ssize_t n) except -1:
        if self._dbuf_len + n > self._dbuf_cap:
            _grow(&self._dbuf, &self._dbuf_cap, self._dbuf_len + n)
        memcpy(self._dbuf + self._dbuf_len, p, n)
        self._dbuf_len += n
        return 0

    cdef int _data_line(self, const char* value, Py_ssize_t n, bint in_input) except -1:
        # The common case, one data line per event, stays a pointer into the input piece
        # (no copy until the event is dispatched); anything else is gathered in _dbuf.
        if self._n_data == 0 and in_input:
            self._view = value
            self._view_len = n
            self._view_active = True
        else:
            if self._view_active:
                self._dbuf_add(self._view, self._view_len)
                self._view_active = False
            if self._n_data:
                self._dbuf_add(b"\n", 1)
            self._dbuf_add(value, n)
        self._n_data += 1
        return 0

    cdef int next_event(self) except -1:
        cdef LineSplitter lines = self.lines
        cdef const char* p
        cdef const char* value
        cdef const void* colon
        cdef Py_ssize_t n, name_len, value_len, i
        cdef bint digits
        while lines._next_line():
            p = lines.line
            n = lines.line_len
            if n == 0:  # blank line: dispatch
                self.last_event_id = self._id
                self._size = 0
                if self._n_data:
                    if self._view_active:
                        self.ev_data = PyBytes_FromStringAndSize(self._view, self._view_len)
                        self._view_active = False
                    else:
                        self.ev_data = PyBytes_FromStringAndSize(self._dbuf, self._dbuf_len)
                        self._dbuf_len = 0
                    self._n_data = 0
                    self.ev_type = self._type
                    self.ev_id = self._id
                    self.ev_retry = self._event_retry
                    self.dispatched += 1
                    self._type = _EMPTY
                    self._event_retry = None
                    return 1
                self._type = _EMPTY
                self._event_retry = None
                continue
            if p[0] == b":":  # comment
                continue
            self._size += n
            if self.limit >= 0 and self._size > self.limit:
                self._fail()
            if n >= 5 and memcmp(p, b"data:", 5) == 0:  # the common case, first
                if n > 5 and p[5] == b" ":
                    self._data_line(p + 6, n - 6, lines.line_in_input)
                else:
                    self._data_line(p + 5, n - 5, lines.line_in_input)
                continue
            colon = memchr(p, b":", n)
            if colon == NULL:
                name_len = n
                value = p + n
                value_len = 0
            else:
                name_len = <const char*>colon - p
                value = p + name_len + 1
                value_len = n - name_len - 1
                if value_len and value[0] == b" ":
                    value += 1
                    value_len -= 1
            if name_len == 4 and memcmp(p, b"data", 4) == 0:
                self._data_line(value, value_len, lines.line_in_input)
            elif name_len == 5 and memcmp(p, b"event", 5) == 0:
                self._type = PyBytes_FromStringAndSize(value, value_len)
            elif name_len == 2 and memcmp(p, b"id", 2) == 0:
                if memchr(value, 0, value_len) == NULL:
                    self._id = PyUnicode_DecodeUTF8(value, value_len, "replace")
            elif name_len == 5 and memcmp(p, b"retry", 5) == 0:
                digits = value_len > 0
                for i in range(value_len):
                    if not (b"0" <= value[i] <= b"9"):
                        digits = False
                        break
                if digits:
                    self.retry = self._event_retry = int(PyBytes_FromStringAndSize(value, value_len))
        # the piece is used up
        if not lines._keep_comment_mark() and self.limit >= 0 and self._size + lines._tail_len > self.limit:
            self._fail()
        if self._view_active:  # the piece goes away: copy the data line it held
            self._dbuf_add(self._view, self._view_len)
            self._view_active = False
        return 0


@cython.freelist(64)
cdef class ServerSentEvent:
    """One dispatched event: ``event`` type, ``data`` text, last event ``id``, ``retry``."""

    cdef public object event
    cdef public object data
    cdef public object id
    cdef public object retry

    def __init__(self, event="message", data="", id="", retry=None):
        self.event = event
        self.data = data
        self.id = id
        self.retry = retry

    def json(self):
        """The data decoded as JSON (orjson)."""
        return orjson.loads(self.data)

    def __eq__(self, other):
        if not isinstance(other, ServerSentEvent):
            return NotImplemented
        cdef ServerSentEvent o = <ServerSentEvent>other
        return (self.event, self.data, self.id, self.retry) == (o.event, o.data, o.id, o.retry)

    __hash__ = None

    def __repr__(self):
        return (f"ServerSentEvent(event={self.event!r}, data={self.data!r}, "
                f"id={self.id!r}, retry={self.retry!r})")


cdef ServerSentEvent _make_event(Framer framer):
    cdef ServerSentEvent ev = ServerSentEvent.__new__(ServerSentEvent)
    cdef bytes etype = framer.ev_type
    cdef bytes data = framer.ev_data
    if PyBytes_GET_SIZE(etype):
        ev.event = PyUnicode_DecodeUTF8(PyBytes_AS_STRING(etype), PyBytes_GET_SIZE(etype), "replace")
    else:
        ev.event = "message"
    ev.data = PyUnicode_DecodeUTF8(PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data), "replace")
    ev.id = framer.ev_id
    ev.retry = framer.ev_retry
    return ev


cdef class SSEDecoder:
    """Incremental Server-Sent Events decoder over raw bytes.

    ``feed(data)`` returns the events completed by ``data``; ``close()`` marks the end of
    the stream (an unterminated event is discarded, per the spec) and readies the
    decoder for a new stream, keeping ``last_event_id`` and ``retry``.  An event larger
    than ``max_event_bytes`` (None: no limit) raises ``EventTooLargeError``.
    """

    cdef Framer _framer

    def __init__(self, *, max_event_bytes=DEFAULT_MAX_EVENT_BYTES):
        self._framer = Framer(max_event_bytes)

    @property
    def last_event_id(self):
        """The last event ID, as committed by the last blank line."""
        return self._framer.last_event_id

    @property
    def retry(self):
        """The reconnection time (ms) from the last valid ``retry:`` field, if any."""
        return self._framer.retry

    def feed(self, data):
        """Decode ``data``; return the events it completed."""
        cdef list events = []
        cdef Framer framer = self._framer
        try:
            framer.feed_input(data)
            while framer.next_event():
                PyList_Append(events, _make_event(framer))
        except EventTooLargeError as exc:
            exc.events = events
            raise
        return events

    def close(self):
        """End of input.  Returns the events still pending, which by the spec is none."""
        self._framer.close()
        return []
