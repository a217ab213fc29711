# cython: language_level=3, embedsignature=True
"""Chat-completion folding: the Cython core.

Twin of ``src/streamfold/_fold_py.py`` (same names, same behaviour, same errors).  The
framer is driven at C level, event data go to ``orjson.loads`` as bytes, and chunk
members are recognised by a length switch plus memcmp on the key's ASCII data (orjson
reuses key objects but does not intern them, so identity tests would miss).
"""

from cpython.dict cimport PyDict_GetItem, PyDict_Next, PyDict_SetItem, PyDict_Size
from cpython.list cimport PyList_Append, PyList_GET_ITEM, PyList_GET_SIZE
from cpython.object cimport PyObject, PyObject_IsTrue
from cpython.set cimport PySet_Add, PySet_Contains
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.string cimport memcmp

cimport cython

import orjson

from streamfold._framing_c cimport Framer
from streamfold import _errors
from streamfold._framing_py import DEFAULT_MAX_EVENT_BYTES, check_bytes

cdef extern from "Python.h":
    bint PyUnicode_IS_COMPACT_ASCII(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    void* PyUnicode_DATA(object o)
    bint PyUnicode_CheckExact(object o)
    bint PyUnicode_Check(object o)
    bint PyDict_Check(object o)
    bint PyList_Check(object o)
    bint PyLong_Check(object o)
    bint PyBool_Check(object o)

cdef object _loads = orjson.loads
cdef object _dumps = orjson.dumps
cdef object _JSONDecodeError = orjson.JSONDecodeError
cdef object _StreamDecodeError = _errors.StreamDecodeError

#: Text pieces are joined into one block every this many pieces (see _fold_py.TEXT_BLOCK).
DEF TEXT_BLOCK = 1024

# ---------------------------------------------------------------------------
# Key recognition

cdef enum Key:
    K_OTHER
    K_ID
    K_OBJECT
    K_CREATED
    K_MODEL
    K_CHOICES
    K_USAGE
    K_OBFUSCATION
    K_ERROR
    K_X_GROQ
    K_INDEX
    K_DELTA
    K_LOGPROBS
    K_FINISH_REASON
    K_CONTENT
    K_ROLE
    K_REFUSAL
    K_TOOL_CALLS
    K_FUNCTION_CALL
    K_FUNCTION
    K_TYPE
    K_NAME
    K_ARGUMENTS


cdef Key _key(object key) except? K_OTHER:
    """The member a dict key names (K_OTHER for any other key)."""
    cdef const char* s
    if not PyUnicode_CheckExact(key):
        if not PyUnicode_Check(key):
            return K_OTHER
        key = str.__str__(key)  # a str subclass: compare its plain text
    if not PyUnicode_IS_COMPACT_ASCII(key):
        return K_OTHER
    s = <const char*>PyUnicode_DATA(key)
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(key)
    if n == 2:
        if s[0] == b"i" and s[1] == b"d":
            return K_ID
    elif n == 4:
        if memcmp(s, b"role", 4) == 0:
            return K_ROLE
        if memcmp(s, b"type", 4) == 0:
            return K_TYPE
        if memcmp(s, b"name", 4) == 0:
            return K_NAME
    elif n == 5:
        if memcmp(s, b"delta", 5) == 0:
            return K_DELTA
        if memcmp(s, b"index", 5) == 0:
            return K_INDEX
        if memcmp(s, b"model", 5) == 0:
            return K_MODEL
        if memcmp(s, b"usage", 5) == 0:
            return K_USAGE
        if memcmp(s, b"error", 5) == 0:
            return K_ERROR
    elif n == 6:
        if memcmp(s, b"object", 6) == 0:
            return K_OBJECT
        if memcmp(s, b"x_groq", 6) == 0:
            return K_X_GROQ
    elif n == 7:
        if memcmp(s, b"content", 7) == 0:
            return K_CONTENT
        if memcmp(s, b"choices", 7) == 0:
            return K_CHOICES
        if memcmp(s, b"created", 7) == 0:
            return K_CREATED
        if memcmp(s, b"refusal", 7) == 0:
            return K_REFUSAL
    elif n == 8:
        if memcmp(s, b"logprobs", 8) == 0:
            return K_LOGPROBS
        if memcmp(s, b"function", 8) == 0:
            return K_FUNCTION
    elif n == 9:
        if memcmp(s, b"arguments", 9) == 0:
            return K_ARGUMENTS
    elif n == 10:
        if memcmp(s, b"tool_calls", 10) == 0:
            return K_TOOL_CALLS
    elif n == 11:
        if memcmp(s, b"obfuscation", 11) == 0:
            return K_OBFUSCATION
    elif n == 13:
        if memcmp(s, b"finish_reason", 13) == 0:
            return K_FINISH_REASON
        if memcmp(s, b"function_call", 13) == 0:
            return K_FUNCTION_CALL
    return K_OTHER


cdef inline bint _is_int(object value):
    return PyLong_Check(value) and not PyBool_Check(value)


cdef bint _is_empty(object value):
    """Empty for "first non-empty wins": null, "" or the integer 0."""
    if value is None:
        return True
    if PyUnicode_Check(value):
        return PyUnicode_GET_LENGTH(value) == 0
    return _is_int(value) and value == 0

# ---------------------------------------------------------------------------
# Accumulated values


@cython.final
cdef class _Text:
    """A string being accumulated: pieces, joined once when the value is read."""

    cdef list blocks
    cdef list pieces

    def __cinit__(self):
        self.blocks = []
        self.pieces = []

    cdef inline int add(self, object piece) except -1:
        if PyUnicode_GET_LENGTH(piece):
            PyList_Append(self.pieces, piece)
            if PyList_GET_SIZE(self.pieces) >= TEXT_BLOCK:
                PyList_Append(self.blocks, "".join(self.pieces))
                self.pieces = []
        return 0

    cdef str value(self):
        if PyList_GET_SIZE(self.blocks):
            return "".join(self.blocks) + "".join(self.pieces)
        return "".join(self.pieces)


cdef _Text _new_text(object first):
    cdef _Text text = _Text.__new__(_Text)
    text.add(first)
    return text


cdef object _merge(object old, object new):
    """The generic delta rules: returns the new state of a member (``new`` is not None)."""
    cdef Py_ssize_t pos = 0, j
    cdef PyObject* k
    cdef PyObject* v
    cdef dict target
    cdef list items
    cdef object index, item, found
    if PyUnicode_Check(new):
        if type(old) is _Text:
            (<_Text>old).add(new)
            return old
        return _new_text(new)
    if PyDict_Check(new):
        target = old if type(old) is dict else {}
        while PyDict_Next(new, &pos, &k, &v):
            if <object>v is not None:
                found = target.get(<object>k)
                target[<object>k] = _merge(found, <object>v)
        return target
    if PyList_Check(new):
        items = old if type(old) is list else []
        for item in new:
            if PyDict_Check(item):
                index = item.get("index")
                if _is_int(index):
                    for j in range(PyList_GET_SIZE(items) - 1, -1, -1):
                        found = <object>PyList_GET_ITEM(items, j)
                        if type(found) is dict and _same_index(found.get("index"), index):
                            _merge(found, item)
                            break
                    else:
                        items.append(_merge(None, item))
                    continue
            items.append(None if item is None else _merge(None, item))
        return items
    return new


cdef inline bint _same_index(object found, object index):
    return _is_int(found) and found == index


cdef object _copy(object value):
    """A copy of a JSON value kept by reference, so a returned snapshot shares nothing."""
    if PyDict_Check(value):
        return {key: _copy(item) for key, item in value.items()}
    if PyList_Check(value):
        return [_copy(item) for item in value]
    return value


cdef object _value(object state):
    """Turn a folded state back into plain JSON values."""
    if type(state) is _Text:
        return (<_Text>state).value()
    if type(state) is dict:
        return {key: _value(value) for key, value in (<dict>state).items()}
    if type(state) is list:
        return [_value(value) for value in <list>state]
    return _copy(state)


cdef inline str _name_merge(str current, object new):
    """``id``/``type``/``name``: first non-empty value; identical resend ignored; else appended."""
    if not new or new == current:
        return current
    if not current:
        return str.__str__(new)
    return current + new


cdef inline object _arguments_piece(object value):
    if PyUnicode_Check(value):
        return value
    return _dumps(value).decode()


@cython.final
cdef class _ToolCall:
    cdef object index
    cdef str id
    cdef str type
    cdef str name
    cdef _Text arguments
    cdef dict function_extra
    cdef dict extra

    def __cinit__(self, index):
        self.index = index
        self.id = ""
        self.type = ""
        self.name = ""
        self.arguments = None
        self.function_extra = {}
        self.extra = {}

    cdef int merge(self, dict fragment) except -1:
        cdef Py_ssize_t pos = 0, fpos
        cdef PyObject* k
        cdef PyObject* v
        cdef PyObject* fk
        cdef PyObject* fv
        cdef Key key
        cdef object piece
        while PyDict_Next(fragment, &pos, &k, &v):
            if <object>v is None:
                continue
            key = _key(<object>k)
            if key == K_INDEX:
                continue
            if key == K_FUNCTION:
                fpos = 0
                while PyDict_Next(<object>v, &fpos, &fk, &fv):
                    if <object>fv is None:
                        continue
                    key = _key(<object>fk)
                    if key == K_ARGUMENTS:
                        piece = _arguments_piece(<object>fv)
                        if self.arguments is None:
                            self.arguments = _new_text(piece)
                        else:
                            self.arguments.add(piece)
                    elif key == K_NAME:
                        self.name = _name_merge(self.name, <object>fv)
                    else:
                        self.function_extra[<object>fk] = _merge(self.function_extra.get(<object>fk), <object>fv)
            elif key == K_ID:
                self.id = _name_merge(self.id, <object>v)
            elif key == K_TYPE:
                self.type = _name_merge(self.type, <object>v)
            else:
                self.extra[<object>k] = _merge(self.extra.get(<object>k), <object>v)
        return 0

    cdef dict value(self):
        cdef dict function = {"name": self.name,
                              "arguments": self.arguments.value() if self.arguments is not None else ""}
        function.update(_value(self.function_extra))
        cdef dict call = {"id": self.id, "type": self.type or "function", "function": function}
        call.update(_value(self.extra))
        return call


cdef object _call_index(_ToolCall call):
    return call.index


@cython.final
cdef class _ToolCalls:
    """The tool calls of one choice, in arrival order."""

    cdef list calls
    cdef dict by_index  # index -> the latest call with that index

    def __cinit__(self):
        self.calls = []
        self.by_index = {}

    cdef int merge(self, list fragments) except -1:
        cdef object fragment, index, new_id
        cdef _ToolCall target
        cdef list calls = self.calls
        cdef Py_ssize_t n
        for fragment in fragments:
            index = (<dict>fragment).get("index")
            n = PyList_GET_SIZE(calls)
            if index is None:
                target = <_ToolCall>PyList_GET_ITEM(calls, n - 1) if n else None
            else:
                target = self.by_index.get(index)
            new_id = (<dict>fragment).get("id")
            if target is not None and new_id and target.id and new_id != target.id:
                target = None  # a different id: a new call (Ollama, SGLang, Gemini)
            if target is None:
                if index is None:
                    index = (<_ToolCall>PyList_GET_ITEM(calls, n - 1)).index + 1 if n else 0
                target = _ToolCall(index)
                calls.append(target)
                self.by_index[index] = target
            target.merge(<dict>fragment)
        return 0

    cdef list value(self):
        cdef _ToolCall call
        return [call.value() for call in sorted(self.calls, key=_call_index)]


@cython.final
cdef class _FunctionCall:
    """The legacy ``function_call`` member."""

    cdef str name
    cdef _Text arguments
    cdef dict extra

    def __cinit__(self):
        self.name = ""
        self.arguments = None
        self.extra = {}

    cdef int merge(self, dict fragment) except -1:
        cdef Py_ssize_t pos = 0
        cdef PyObject* k
        cdef PyObject* v
        cdef Key key
        cdef object piece
        while PyDict_Next(fragment, &pos, &k, &v):
            if <object>v is None:
                continue
            key = _key(<object>k)
            if key == K_ARGUMENTS:
                piece = _arguments_piece(<object>v)
                if self.arguments is None:
                    self.arguments = _new_text(piece)
                else:
                    self.arguments.add(piece)
            elif key == K_NAME:
                self.name = _name_merge(self.name, <object>v)
            else:
                self.extra[<object>k] = _merge(self.extra.get(<object>k), <object>v)
        return 0

    cdef dict value(self):
        cdef dict result = {"name": self.name,
                            "arguments": self.arguments.value() if self.arguments is not None else ""}
        result.update(_value(self.extra))
        return result


@cython.final
cdef class _Choice:
    cdef object index
    cdef object role
    cdef object content
    cdef object refusal
    cdef dict message        # other message members, in order of arrival
    cdef dict logprobs
    cdef object finish_reason
    cdef dict extra          # other choice members: last non-null wins

    def __cinit__(self, index):
        self.index = index
        self.role = "assistant"
        self.content = None
        self.refusal = None
        self.message = {}
        self.logprobs = None
        self.finish_reason = None
        self.extra = {}

    cdef int merge(self, dict choice) except -1:
        cdef Py_ssize_t pos = 0, lpos
        cdef PyObject* k
        cdef PyObject* v
        cdef PyObject* lk
        cdef PyObject* lv
        cdef Key key, lkey
        cdef dict logprobs
        cdef object current
        while PyDict_Next(choice, &pos, &k, &v):
            if <object>v is None:
                continue
            key = _key(<object>k)
            if key == K_DELTA:
                self._merge_delta(<dict>v)
            elif key == K_INDEX:
                continue
            elif key == K_FINISH_REASON:
                self.finish_reason = <object>v
            elif key == K_LOGPROBS:
                logprobs = self.logprobs
                if logprobs is None:
                    logprobs = self.logprobs = {"content": None, "refusal": None}
                lpos = 0
                while PyDict_Next(<object>v, &lpos, &lk, &lv):
                    if <object>lv is None:
                        continue
                    lkey = _key(<object>lk)
                    if lkey == K_CONTENT or lkey == K_REFUSAL:
                        current = logprobs[<object>lk]
                        if current is None:
                            logprobs[<object>lk] = list(<object>lv)
                        else:
                            (<list>current).extend(<object>lv)
                    else:
                        logprobs[<object>lk] = <object>lv
            else:
                self.extra[<object>k] = <object>v
        return 0

    cdef int _merge_delta(self, dict delta) except -1:
        cdef Py_ssize_t pos = 0
        cdef PyObject* k
        cdef PyObject* v
        cdef Key key
        cdef object calls, call
        while PyDict_Next(delta, &pos, &k, &v):
            if <object>v is None:
                continue
            key = _key(<object>k)
            if key == K_CONTENT:
                if type(self.content) is _Text and PyUnicode_CheckExact(<object>v):  # the hot path
                    (<_Text>self.content).add(<object>v)
                else:
                    self.content = _merge(self.content, <object>v)
            elif key == K_ROLE:
                self.role = <object>v
            elif key == K_REFUSAL:
                self.refusal = _merge(self.refusal, <object>v)
            elif key == K_TOOL_CALLS:
                calls = self.message.get("tool_calls")
                if calls is None:
                    if not <object>v:
                        continue  # Groq repeats "tool_calls": [] on every chunk
                    calls = _ToolCalls()
                    self.message["tool_calls"] = calls
                (<_ToolCalls>calls).merge(<list>v)
            elif key == K_FUNCTION_CALL:
                call = self.message.get("function_call")
                if call is None:
                    call = _FunctionCall()
                    self.message["function_call"] = call
                (<_FunctionCall>call).merge(<dict>v)
            else:
                self.message[<object>k] = _merge(self.message.get(<object>k), <object>v)
        return 0

    cdef dict value(self):
        cdef dict message = {"role": _copy(self.role), "content": _value(self.content),
                             "refusal": _value(self.refusal)}
        for key, state in self.message.items():
            if type(state) is _ToolCalls:
                message[key] = (<_ToolCalls>state).value()
            elif type(state) is _FunctionCall:
                message[key] = (<_FunctionCall>state).value()
            else:
                message[key] = _value(state)
        cdef dict result = {
            "index": self.index,
            "message": message,
            "logprobs": _copy(self.logprobs),
            "finish_reason": _copy(self.finish_reason),
        }
        result.update(_copy(self.extra))
        return result

# ---------------------------------------------------------------------------
# Shape checks: everything the merge relies on, checked before anything is merged.
# The order of the checks (and so which error a doubly bad chunk reports) is the twin's.


cdef int _check_choices(object choices, Py_ssize_t number, object data) except -1:
    cdef Py_ssize_t i, pos
    cdef PyObject* k
    cdef PyObject* v
    cdef PyObject* p_index
    cdef PyObject* p_delta
    cdef PyObject* p_logprobs
    cdef object choice, value
    cdef Key key
    if not PyList_Check(choices):
        raise _errors.bad_shape(number, data, "choices", "a list", choices)
    for i in range(PyList_GET_SIZE(choices)):
        choice = <object>PyList_GET_ITEM(choices, i)
        if not PyDict_Check(choice):
            raise _errors.bad_shape(number, data, f"choices[{i}]", "an object", choice)
        p_index = p_delta = p_logprobs = NULL
        pos = 0
        while PyDict_Next(choice, &pos, &k, &v):
            key = _key(<object>k)
            if key == K_INDEX:
                p_index = v
            elif key == K_DELTA:
                p_delta = v
            elif key == K_LOGPROBS:
                p_logprobs = v
        if p_index != NULL and <object>p_index is not None and not _is_int(<object>p_index):
            raise _errors.bad_shape(number, data, f"choices[{i}].index", "an integer", <object>p_index)
        if p_logprobs != NULL and <object>p_logprobs is not None:
            if not PyDict_Check(<object>p_logprobs):
                raise _errors.bad_shape(number, data, f"choices[{i}].logprobs", "an object", <object>p_logprobs)
            for name in ("content", "refusal"):
                value = (<dict>p_logprobs).get(name)
                if value is not None and not PyList_Check(value):
                    raise _errors.bad_shape(number, data, f"choices[{i}].logprobs.{name}", "a list", value)
        if p_delta != NULL and <object>p_delta is not None:
            if not PyDict_Check(<object>p_delta):
                raise _errors.bad_shape(number, data, f"choices[{i}].delta", "an object", <object>p_delta)
            _check_delta(<dict>p_delta, number, data, i)
    return 0


cdef int _check_delta(dict delta, Py_ssize_t number, object data, Py_ssize_t i) except -1:
    cdef Py_ssize_t pos = 0, j
    cdef PyObject* k
    cdef PyObject* v
    cdef PyObject* p_calls = NULL
    cdef PyObject* p_function_call = NULL
    cdef object calls, call, index, value, function
    cdef Key key
    while PyDict_Next(delta, &pos, &k, &v):
        key = _key(<object>k)
        if key == K_TOOL_CALLS:
            p_calls = v
        elif key == K_FUNCTION_CALL:
            p_function_call = v
    if p_calls != NULL and <object>p_calls is not None:
        calls = <object>p_calls
        if not PyList_Check(calls):
            raise _errors.bad_shape(number, data, f"choices[{i}].delta.tool_calls", "a list", calls)
        for j in range(PyList_GET_SIZE(calls)):
            call = <object>PyList_GET_ITEM(calls, j)
            if not PyDict_Check(call):
                raise _errors.bad_shape(number, data, _call_path(i, j), "an object", call)
            index = (<dict>call).get("index")
            if index is not None and not _is_int(index):
                raise _errors.bad_shape(number, data, _call_path(i, j) + ".index", "an integer", index)
            value = (<dict>call).get("id")
            if value is not None and not PyUnicode_Check(value):
                raise _errors.bad_shape(number, data, _call_path(i, j) + ".id", "a string", value)
            value = (<dict>call).get("type")
            if value is not None and not PyUnicode_Check(value):
                raise _errors.bad_shape(number, data, _call_path(i, j) + ".type", "a string", value)
            function = (<dict>call).get("function")
            if function is not None:
                if not PyDict_Check(function) or not _name_ok(function):
                    _check_function(function, number, data, _call_path(i, j) + ".function")
    if p_function_call != NULL and <object>p_function_call is not None:
        _check_function(<object>p_function_call, number, data, f"choices[{i}].delta.function_call")
    return 0


cdef str _call_path(Py_ssize_t i, Py_ssize_t j):
    """Only built on the error path: formatting it per fragment would cost more than the check."""
    return f"choices[{i}].delta.tool_calls[{j}]"


cdef inline bint _name_ok(dict function):
    name = function.get("name")
    return name is None or PyUnicode_Check(name)


cdef int _check_function(object function, Py_ssize_t number, object data, str where) except -1:
    if not PyDict_Check(function):
        raise _errors.bad_shape(number, data, where, "an object", function)
    name = (<dict>function).get("name")
    if name is not None and not PyUnicode_Check(name):
        raise _errors.bad_shape(number, data, where + ".name", "a string", name)
    return 0


# ---------------------------------------------------------------------------


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

    def __init__(self, *, max_event_bytes=DEFAULT_MAX_EVENT_BYTES):
        self._framer = Framer(max_event_bytes)
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
        cdef Framer framer = self._framer
        cdef bytes etype, payload
        cdef const char* p
        cdef Py_ssize_t n, i
        cdef object chunk
        if self._done:
            check_bytes(data)
            return
        if self._error is not None:
            raise self._error
        try:
            framer.feed_input(data)
            while framer.next_event():
                self._events += 1
                etype = framer.ev_type
                payload = framer.ev_data
                if PyBytes_GET_SIZE(etype) and etype != b"message":
                    if etype == b"error":
                        self._fail(_errors.api_error(self._events, _parse_error_data(payload), payload), True)
                    self._ignored += 1
                    continue
                p = PyBytes_AS_STRING(payload)
                n = PyBytes_GET_SIZE(payload)
                if n == 6 and memcmp(p, b"[DONE]", 6) == 0:
                    self._done = True
                    return
                i = 0
                while i < n and (p[i] == b" " or p[i] == b"\t" or p[i] == b"\n"):
                    i += 1
                if i == n or p[i] != b"{":
                    self._ignored += 1
                    continue
                try:
                    chunk = _loads(payload)
                except _JSONDecodeError as exc:
                    self._fail(_errors.invalid_json(self._events, payload, exc), True)
                self._add(chunk, self._events, payload)
        except _errors.EventTooLargeError as exc:
            if exc is not self._error:
                self._fail(exc, True)
            raise

    def add_chunk(self, chunk):
        """Fold one chunk that was already decoded."""
        if self._error is not None:
            raise self._error
        self._add(chunk, self._chunks + 1, None)

    cdef int _fail(self, object error, bint final) except -1:
        """Raise ``error`` with the partial completion; a final error is raised again on reuse."""
        error.partial = self.snapshot() if self._chunks else None
        if final:
            self._error = error
        raise error

    cdef int _add(self, object chunk, Py_ssize_t number, object data) except -1:
        cdef PyObject* p
        cdef PyObject* k
        cdef PyObject* v
        cdef Py_ssize_t pos, i
        cdef object choices = None, index, key_obj, value, current, groq, usage
        cdef _Choice state
        cdef Key key
        if not PyDict_Check(chunk):
            self._fail(_errors.bad_shape(number, data, "chunk", "a JSON object", chunk), True)
        p = PyDict_GetItem(chunk, "error")
        if p != NULL and PyObject_IsTrue(<object>p):
            self._fail(_errors.api_error(number, chunk, data), True)
        p = PyDict_GetItem(chunk, "choices")
        if p != NULL and <object>p is not None:
            choices = <object>p
            try:
                _check_choices(choices, number, data)
            except _StreamDecodeError as exc:
                self._fail(exc, True)
        self._chunks += 1

        # top level: the first non-empty value wins, except for the members with rules of their own
        pos = 0
        while PyDict_Next(chunk, &pos, &k, &v):
            key_obj = <object>k
            if PySet_Contains(self._settled, key_obj):
                continue
            key = _key(key_obj)
            if key == K_CHOICES or key == K_OBJECT or key == K_OBFUSCATION or key == K_ERROR:
                continue
            value = <object>v
            if value is None:
                continue
            if key == K_USAGE:
                self._usage = value
                continue
            if key == K_X_GROQ and type(value) is dict:
                usage = (<dict>value).get("usage")
                if usage is not None:
                    self._groq_usage = usage
            current = self._top.get(key_obj)
            if current is None or (_is_empty(current) and not _is_empty(value)):
                self._top[key_obj] = value
                if not _is_empty(value) and key != K_X_GROQ:
                    PySet_Add(self._settled, key_obj)

        if choices is not None:
            for i in range(PyList_GET_SIZE(choices)):
                p = PyList_GET_ITEM(choices, i)
                index = (<dict>p).get("index")
                if index is None:
                    index = 0
                current = self._choices.get(index)
                if current is None:
                    current = _Choice(index)
                    self._choices[index] = current
                (<_Choice>current).merge(<dict>p)
        return 0

    def snapshot(self):
        """The completion folded so far (SPEC.md section 3 shape)."""
        cdef dict top = self._top
        cdef dict result = {
            "id": top.get("id"),
            "object": "chat.completion",
            "created": top.get("created"),
            "model": top.get("model"),
        }
        for key, value in top.items():
            if key not in result:
                result[key] = _copy(value)
        result["choices"] = [(<_Choice>self._choices[i]).value() for i in sorted(self._choices)]
        usage = self._usage if self._usage is not None else self._groq_usage
        if usage is not None:
            result["usage"] = _copy(usage)
        return result

    def result(self):
        """The final completion; raises ``IncompleteStreamError`` if the stream is unfinished."""
        if self._error is not None:
            raise self._error
        if not self._done:
            unfinished = [i for i in sorted(self._choices)
                          if (<_Choice>self._choices[i]).finish_reason is None]
            if not self._chunks or unfinished:
                self._fail(_errors.incomplete(self._chunks, unfinished), False)
        return self.snapshot()


cdef object _parse_error_data(bytes payload):
    try:
        return _loads(payload)
    except _JSONDecodeError:
        return payload.decode("utf-8", "replace")
