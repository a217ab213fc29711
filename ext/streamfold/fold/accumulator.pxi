# ChatAccumulator: frames raw stream bytes into events, decodes each chunk with orjson and
# folds it (docs/contract.md, sections 2 to 6).  Twin of
# src/streamfold/_fold_py/accumulator.py.  Included by _fold_c.pyx.

# What an event is to the fold: streamfold._contract.event_kind, in C (it runs per event).

cdef enum EventKind:
    EV_JSON = 0      # data that starts with "{": a chunk
    EV_IGNORED = 1   # another event type, or data that is not JSON (keep-alives, pings)
    EV_DONE = 2      # data: [DONE]
    EV_ERROR = 3     # event: error
assert (EV_JSON, EV_IGNORED, EV_DONE, EV_ERROR) == (
    _contract.EV_JSON, _contract.EV_IGNORED, _contract.EV_DONE, _contract.EV_ERROR)


cdef EventKind _event_kind(bytes etype, bytes payload) noexcept:
    cdef const char* p = PyBytes_AS_STRING(payload)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(payload), i = 0
    cdef Py_ssize_t type_len = PyBytes_GET_SIZE(etype)
    if type_len and not (type_len == 7 and memcmp(PyBytes_AS_STRING(etype), b"message", 7) == 0):
        if type_len == 5 and memcmp(PyBytes_AS_STRING(etype), b"error", 5) == 0:
            return EV_ERROR
        return EV_IGNORED
    if n == 6 and memcmp(p, b"[DONE]", 6) == 0:
        return EV_DONE
    while i < n and (p[i] == b" " or p[i] == b"\t" or p[i] == b"\n"):
        i += 1
    if i < n and p[i] == b"{":
        return EV_JSON
    return EV_IGNORED


cdef enum:
    SHAPE = 16          # top-level key positions remembered (a chunk has about 8 keys)
    STACK_CHOICES = 4   # choices per chunk whose records fit on the stack
    BATCH = 32          # events framed, then decoded, then folded together (see _feed)


cdef class ChatAccumulator:
    """Folds a chat-completion stream into one ``chat.completion`` dict.

    Feed raw stream bytes (split anywhere) with ``feed``, or chunks you decoded yourself
    with ``add_chunk``.  ``snapshot()`` returns the completion so far; ``result()`` the
    final completion, raising ``IncompleteStreamError`` if the stream did not finish.
    Errors carry ``.partial``, the completion folded before the failure.
    """

    cdef Framer _framer
    cdef dict _top
    cdef set _settled        # top-level keys that can no longer change
    cdef object _usage
    cdef object _groq_usage
    cdef dict _choices
    cdef Py_ssize_t _chunks
    cdef Py_ssize_t _events
    cdef Py_ssize_t _ignored
    cdef bint _done
    cdef object _error
    # The top-level keys of the last chunks by position, with what they are (a Key);
    # chunks of one stream share their shape, and orjson hands back the same key objects,
    # so most keys are classified by one pointer comparison.  Strong references.
    cdef PyObject* _shape_keys[SHAPE]
    cdef Key _shape_codes[SHAPE]
    cdef object _last_index   # the index of the last choice folded, and its state
    cdef _Choice _last_state
    cdef list _batch_payloads  # the events of the batch being folded (see feed)
    cdef list _batch_chunks
    cdef bint _parse           # parse tool-call arguments as they stream (events only)
    cdef bint _handed_over     # result() has handed over the values kept by reference

    def __dealloc__(self):
        cdef int i
        for i in range(SHAPE):
            Py_XDECREF(self._shape_keys[i])

    def __init__(self, *, max_event_bytes=DEFAULT_MAX_EVENT_BYTES, parse_partial_arguments=False):
        self._framer = Framer(max_event_bytes)
        self._parse = bool(parse_partial_arguments)
        self._top = {}
        self._settled = set()
        self._usage = None
        self._groq_usage = None
        self._choices = {}
        self._chunks = 0
        self._events = 0
        self._ignored = 0
        self._done = False
        self._error = None
        self._batch_payloads = []
        self._batch_chunks = []
        self._handed_over = False

    @property
    def chunks(self):
        """Chunks folded so far."""
        return self._chunks

    @property
    def events(self):
        """Events dispatched by the framing so far (``feed`` only)."""
        return self._events

    @property
    def ignored(self):
        """Events ignored: other event types, non-JSON data (keep-alives, pings)."""
        return self._ignored

    @property
    def done(self):
        """True once ``data: [DONE]`` was seen; later input is ignored."""
        return self._done

    def feed(self, data):
        """Fold raw stream bytes, split anywhere."""
        self._feed(data, None, None)

    def feed_events(self, data):
        """Fold raw stream bytes and return the events they produced, in order.

        ``chunk`` for each chunk, then for each of its choices the delta events (text,
        tool-call arguments, logprobs) and, when the choice finishes (or ``[DONE]``
        arrives first), its done events, once.  On an error, the events of this call are
        dropped; the error's ``.partial`` holds everything folded.
        """
        cdef list events = []
        self._feed(data, events, None)
        return events

    def feed_text(self, data):
        """Fold raw stream bytes and return the text of their ``content.delta`` events (every
        choice's, in order), building no event: the cheap way to show an answer live."""
        cdef list texts = []
        self._feed(data, None, texts)
        return texts

    cdef int _feed(self, object data, list events, list texts) except -1:
        # Events go in batches of up to BATCH: frame them, decode their JSON one after
        # another, then fold them.  Each phase then runs with its own code hot in the
        # instruction cache (orjson's above all); one event at a time measured slower.
        # Counters and errors still follow stream order: an event is only counted when it
        # is folded, and an error is raised when the fold reaches its event.
        cdef Framer framer = self._framer
        cdef list payloads = self._batch_payloads
        cdef list chunks = self._batch_chunks
        cdef EventKind kinds[BATCH]
        cdef EventKind kind
        cdef Py_ssize_t n, i, failed_at
        cdef object too_large, decode_error, payload
        cdef bint more = True
        if self._done:
            check_bytes(data)
            return 0
        if self._error is not None:
            raise self._error
        framer.feed_input(data)
        while more:
            n = 0
            too_large = None
            try:  # 1. frame
                while n < BATCH:
                    if not framer.next_event():
                        more = False
                        break
                    kind = _event_kind(framer.ev_type, framer.ev_data)
                    kinds[n] = kind
                    PyList_Append(payloads, framer.ev_data)
                    n += 1
                    if kind == EV_DONE:  # nothing after it is even framed
                        more = False
                        break
            except _errors.EventTooLargeError as exc:
                too_large = exc
                more = False
            try:
                failed_at = n  # 2. decode (up to the first bad JSON)
                decode_error = None
                for i in range(n):
                    if kinds[i] == EV_JSON:
                        try:
                            PyList_Append(chunks, _loads(<object>PyList_GET_ITEM(payloads, i)))
                        except _JSONDecodeError as exc:
                            failed_at = i
                            decode_error = exc
                            break
                    else:
                        PyList_Append(chunks, None)
                for i in range(n):  # 3. fold, in stream order
                    self._events += 1
                    kind = kinds[i]
                    payload = <object>PyList_GET_ITEM(payloads, i)
                    if kind == EV_JSON:
                        if i == failed_at:
                            self._fail(_errors.invalid_json(self._events, payload, decode_error), True)
                        self._add(<object>PyList_GET_ITEM(chunks, i), self._events, payload, events, texts)
                    elif kind == EV_IGNORED:
                        self._ignored += 1
                    elif kind == EV_DONE:
                        self._done = True
                        if events is not None:
                            for index in sorted(self._choices):
                                (<_Choice>self._choices[index]).done_events(events)
                        return 0
                    else:  # EV_ERROR
                        self._fail(_errors.error_event(self._events, payload), True)
            finally:
                del payloads[:]
                del chunks[:]
            if too_large is not None:
                self._fail(too_large, True)
        return 0

    def add_chunk(self, chunk):
        """Fold one chunk that was already decoded."""
        if self._error is not None:
            raise self._error
        self._add(chunk, self._chunks + 1, None, None, None)

    def add_chunk_events(self, chunk):
        """Fold one decoded chunk and return its events (see ``feed_events``)."""
        cdef list events = []
        if self._error is not None:
            raise self._error
        self._add(chunk, self._chunks + 1, None, events, None)
        return events

    cdef int _fail(self, object error, bint final) except -1:
        """Raise ``error`` with the partial completion; a final error is raised again on reuse."""
        error.partial = partial_of(self)
        if final:
            self._error = error
        raise error

    cdef Key _classify_top(self, PyObject* k, Py_ssize_t slot) except? K_OTHER:
        """What a top-level key is; remembered at ``slot`` when the answer cannot change."""
        cdef object key = <object>k
        cdef Key code = _key(key)
        if code == K_OBJECT or code == K_OBFUSCATION:
            code = K_SKIP
        elif code != K_CHOICES and code != K_ERROR and code != K_USAGE and code != K_X_GROQ:
            if not PySet_Contains(self._settled, key):
                return K_OTHER  # still open: not remembered
            code = K_SKIP
        if slot < SHAPE:
            Py_XINCREF(k)
            Py_XDECREF(self._shape_keys[slot])
            self._shape_keys[slot] = k
            self._shape_codes[slot] = code
        return code

    cdef int _add(self, object chunk, Py_ssize_t number, object data, list events, list texts) except -1:
        cdef PyObject* k
        cdef PyObject* v
        cdef PyObject* p_error = NULL
        cdef PyObject* p_choices = NULL
        cdef PyObject* p_usage = NULL
        cdef PyObject* p_groq = NULL
        cdef Py_ssize_t pos = 0, slot = 0, i, n_choices = 0
        cdef bint open_members = False
        cdef Key code
        cdef ChoiceRec stack_recs[STACK_CHOICES]
        cdef ChoiceRec* recs = stack_recs
        cdef object choices = None, index, usage, value, current, key_obj
        cdef _Choice state
        if not PyDict_Check(chunk):
            self._fail(_errors.bad_shape(number, data, "chunk", "a JSON object", chunk), True)
        while PyDict_Next(chunk, &pos, &k, &v):
            if slot < SHAPE and self._shape_keys[slot] == k:
                code = self._shape_codes[slot]
            else:
                code = self._classify_top(k, slot)
            slot += 1
            if code == K_SKIP:
                continue
            if code == K_CHOICES:
                p_choices = v
            elif code == K_ERROR:
                p_error = v
            elif code == K_USAGE:
                p_usage = v
            elif code == K_X_GROQ:
                p_groq = v
                open_members = True
            else:
                open_members = True
        if p_error != NULL and PyObject_IsTrue(<object>p_error):
            self._fail(_errors.api_error(number, chunk, data), True)
        if p_choices != NULL and <object>p_choices is not None:
            choices = <object>p_choices
            if not PyList_Check(choices):
                self._fail(_errors.bad_shape(number, data, "choices", "a list", choices), True)
            n_choices = PyList_GET_SIZE(choices)
            if n_choices > STACK_CHOICES:
                recs = <ChoiceRec*>PyMem_Malloc(n_choices * sizeof(ChoiceRec))
                if recs == NULL:
                    raise MemoryError()
        try:
            if n_choices:
                try:
                    _check_choices(choices, number, data, recs)
                except _StreamDecodeError as exc:
                    self._fail(exc, True)
            self._chunks += 1
            if events is not None:
                PyList_Append(events, ChunkEvent(chunk))
            if p_usage != NULL and <object>p_usage is not None:
                self._usage = <object>p_usage
            if p_groq != NULL and type(<object>p_groq) is dict:
                usage = (<dict>p_groq).get("usage")
                if usage is not None:
                    self._groq_usage = usage
            if open_members:
                self._merge_top(chunk)
            for i in range(n_choices):
                index = <object>recs[i].index if recs[i].index != NULL else None
                if index is None:
                    index = 0
                if index is self._last_index:
                    state = self._last_state
                else:
                    state = self._choices.get(index)
                    if state is None:
                        state = _Choice(index)
                        self._choices[index] = state
                    self._last_index = index
                    self._last_state = state
                state.merge(&recs[i], events, self._parse, texts)
        finally:
            if recs != stack_recs:
                PyMem_Free(recs)
        return 0

    cdef int _merge_top(self, dict chunk) except -1:
        """Top-level members: the first non-empty value wins (null, "" and 0 are empty)."""
        cdef Py_ssize_t pos = 0
        cdef PyObject* k
        cdef PyObject* v
        cdef Key code
        cdef object key, value, current
        while PyDict_Next(chunk, &pos, &k, &v):
            key = <object>k
            value = <object>v
            if value is None or PySet_Contains(self._settled, key):
                continue
            code = _key(key)
            if (code == K_CHOICES or code == K_OBJECT or code == K_OBFUSCATION or code == K_ERROR
                    or code == K_USAGE):
                continue
            current = self._top.get(key)
            if current is None or (_is_empty(current) and not _is_empty(value)):
                self._top[key] = value
                if not _is_empty(value):
                    PySet_Add(self._settled, key)
        return 0

    def snapshot(self):
        """The completion folded so far (the shape of docs/contract.md, section 3)."""
        return self._build(True)

    cdef dict _build(self, bint copy):
        """The completion; ``copy``: values kept by reference (logprob entries, usage, other
        members) are copied, so it shares nothing with the accumulator."""
        cdef dict top = self._top
        cdef dict result = {
            "id": top.get("id"),
            "object": "chat.completion",
            "created": top.get("created"),
            "model": top.get("model"),
        }
        for key, value in top.items():
            if key not in result:
                result[key] = _copy(value) if copy else value
        result["choices"] = [(<_Choice>self._choices[i]).value(copy) for i in sorted(self._choices)]
        usage = self._usage if self._usage is not None else self._groq_usage
        if usage is not None:
            result["usage"] = _copy(usage) if copy else usage
        return result

    def result(self):
        """The final completion; raises ``IncompleteStreamError`` if the stream is unfinished.

        Once ``[DONE]`` has arrived nothing can change the fold, so the first ``result()``
        hands over the values it kept by reference instead of copying them (with many
        logprobs the copy cost twice the decoding); ``snapshot()`` and later calls copy.
        """
        if self._error is not None:
            raise self._error
        if not self._done:
            unfinished = [i for i in sorted(self._choices)
                          if (<_Choice>self._choices[i]).finish_reason is None]
            if not self._choices or unfinished:  # no choice at all is not a completion either
                self._fail(_errors.incomplete(self._chunks, unfinished), False)
            return self._build(True)
        if self._handed_over:
            return self._build(True)
        self._handed_over = True
        return self._build(False)
