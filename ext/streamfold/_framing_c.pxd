# Shared with _fold_c.pyx, which drives the framer at C level.

cdef class LineSplitter:
    cdef bytes _input            # the piece being scanned (kept alive: lines may point into it)
    cdef const char* _buf
    cdef Py_ssize_t _pos, _end
    cdef Py_ssize_t _next_lf, _next_cr   # cached scan results; stale when < _pos
    cdef char* _tail             # the unterminated line, across pieces (malloc'd, grows x2)
    cdef Py_ssize_t _tail_len, _tail_cap
    cdef bint _tail_is_line      # the last line returned lives in _tail: clear it on the next call
    cdef bint _cr                # the last byte seen was a CR: skip an LF right after it
    # the line found by _next_line(), valid until the next call
    cdef const char* line
    cdef Py_ssize_t line_len
    cdef bint line_in_input

    cdef int _set_input(self, bytes data) except -1
    cdef int _next_line(self) except -1
    cdef int _tail_add(self, const char* p, Py_ssize_t n) except -1
    cdef void _reset(self)
    cdef bint _keep_comment_mark(self)


cdef class Framer:
    cdef LineSplitter lines
    cdef Py_ssize_t limit        # -1: no limit
    cdef public str last_event_id
    cdef public object retry
    cdef Py_ssize_t dispatched
    cdef bytes _head
    cdef bint _started
    cdef Py_ssize_t _size
    cdef Py_ssize_t _n_data              # data lines in the event being built
    cdef const char* _view               # the only data line, while it points into the input
    cdef Py_ssize_t _view_len
    cdef bint _view_active
    cdef char* _dbuf                     # the data lines joined by LF otherwise
    cdef Py_ssize_t _dbuf_len, _dbuf_cap
    cdef bytes _type
    cdef str _id
    cdef object _event_retry
    cdef Py_ssize_t _failed_at           # number of the event that passed the limit (0: none)
    # the event found by next_event()
    cdef bytes ev_type
    cdef bytes ev_data
    cdef str ev_id
    cdef object ev_retry

    cdef int feed_input(self, object data) except -1
    cdef int next_event(self) except -1
    cdef int _data_line(self, const char* value, Py_ssize_t n, bint in_input) except -1
    cdef int _dbuf_add(self, const char* p, Py_ssize_t n) except -1
    cdef int _fail(self) except -1
    cdef void _reset(self)
