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
from cpython.ref cimport Py_XDECREF, Py_XINCREF
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.set cimport PySet_Add, PySet_Contains
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.string cimport memcmp

cimport cython

import orjson

from streamfold._framing_c cimport Framer
from streamfold import _errors
from streamfold._events import (
    ChunkEvent,
    ContentDeltaEvent,
    ContentDoneEvent,
    FunctionToolCallArgumentsDeltaEvent,
    FunctionToolCallArgumentsDoneEvent,
    LogprobsContentDeltaEvent,
    LogprobsContentDoneEvent,
    LogprobsRefusalDeltaEvent,
    LogprobsRefusalDoneEvent,
    ReasoningDeltaEvent,
    ReasoningDoneEvent,
    RefusalDeltaEvent,
    RefusalDoneEvent,
)
from streamfold._fold_py import MAX_NESTING, nesting_ok
from streamfold._partial_json import PartialJSON, PartialJSONError
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
    int PyUnicode_CompareWithASCIIString(object o, const char* s)

cdef object _loads = orjson.loads
cdef object _dumps = orjson.dumps
cdef object _JSONDecodeError = orjson.JSONDecodeError
cdef object _StreamDecodeError = _errors.StreamDecodeError

#: Text pieces are joined into one block every this many pieces (see _fold_py.TEXT_BLOCK).
DEF TEXT_BLOCK = 1024
#: Top-level key positions remembered by ChatAccumulator (a chunk has about 8 keys).
DEF SHAPE = 16
#: Choices per chunk whose records fit on the stack.
DEF STACK_CHOICES = 4
#: Events framed, then decoded, then folded together (see ChatAccumulator.feed).
DEF BATCH = 32

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
    K_REASONING           # "reasoning" (OpenRouter) and ...
    K_REASONING_CONTENT   # ... "reasoning_content" (DeepSeek): reasoning events
    K_MESSAGE             # a choice's "message" (ignored beside a delta: Writer)
    K_SKIP  # a top-level member that needs no work (settled, object, obfuscation)


cdef struct ChoiceRec:
    # one checked choice of the chunk being folded (borrowed pointers into the chunk)
    PyObject* choice
    PyObject* index
    PyObject* delta
    PyObject* logprobs
    PyObject* finish_reason
    bint extras       # has members besides index, delta, logprobs, finish_reason


cdef Key _classify_ascii(object key) noexcept:
    """The member an exact, compact-ASCII str key names (a length switch, then memcmp)."""
    cdef const char* s
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
        if memcmp(s, b"message", 7) == 0:
            return K_MESSAGE
    elif n == 8:
        if memcmp(s, b"logprobs", 8) == 0:
            return K_LOGPROBS
        if memcmp(s, b"function", 8) == 0:
            return K_FUNCTION
    elif n == 9:
        if memcmp(s, b"arguments", 9) == 0:
            return K_ARGUMENTS
        if memcmp(s, b"reasoning", 9) == 0:
            return K_REASONING
    elif n == 10:
        if memcmp(s, b"tool_calls", 10) == 0:
            return K_TOOL_CALLS
    elif n == 11:
        if memcmp(s, b"obfuscation", 11) == 0:
            return K_OBFUSCATION
    elif n == 17:
        if memcmp(s, b"reasoning_content", 17) == 0:
            return K_REASONING_CONTENT
    elif n == 13:
        if memcmp(s, b"finish_reason", 13) == 0:
            return K_FINISH_REASON
        if memcmp(s, b"function_call", 13) == 0:
            return K_FUNCTION_CALL
    return K_OTHER




cdef Key _classify(object key) noexcept:
    """The member a dict key names (K_OTHER for any other key)."""
    if PyUnicode_CheckExact(key):
        if PyUnicode_IS_COMPACT_ASCII(key):
            return _classify_ascii(key)
        return K_OTHER  # non-ASCII: none of ours
    if not PyUnicode_Check(key):
        return K_OTHER
    # a str subclass (only from add_chunk): compare its text, which cannot fail
    if PyUnicode_CompareWithASCIIString(key, b"id") == 0:
        return K_ID
    if PyUnicode_CompareWithASCIIString(key, b"role") == 0:
        return K_ROLE
    if PyUnicode_CompareWithASCIIString(key, b"type") == 0:
        return K_TYPE
    if PyUnicode_CompareWithASCIIString(key, b"name") == 0:
        return K_NAME
    if PyUnicode_CompareWithASCIIString(key, b"delta") == 0:
        return K_DELTA
    if PyUnicode_CompareWithASCIIString(key, b"index") == 0:
        return K_INDEX
    if PyUnicode_CompareWithASCIIString(key, b"model") == 0:
        return K_MODEL
    if PyUnicode_CompareWithASCIIString(key, b"usage") == 0:
        return K_USAGE
    if PyUnicode_CompareWithASCIIString(key, b"error") == 0:
        return K_ERROR
    if PyUnicode_CompareWithASCIIString(key, b"object") == 0:
        return K_OBJECT
    if PyUnicode_CompareWithASCIIString(key, b"x_groq") == 0:
        return K_X_GROQ
    if PyUnicode_CompareWithASCIIString(key, b"content") == 0:
        return K_CONTENT
    if PyUnicode_CompareWithASCIIString(key, b"choices") == 0:
        return K_CHOICES
    if PyUnicode_CompareWithASCIIString(key, b"created") == 0:
        return K_CREATED
    if PyUnicode_CompareWithASCIIString(key, b"refusal") == 0:
        return K_REFUSAL
    if PyUnicode_CompareWithASCIIString(key, b"logprobs") == 0:
        return K_LOGPROBS
    if PyUnicode_CompareWithASCIIString(key, b"function") == 0:
        return K_FUNCTION
    if PyUnicode_CompareWithASCIIString(key, b"arguments") == 0:
        return K_ARGUMENTS
    if PyUnicode_CompareWithASCIIString(key, b"tool_calls") == 0:
        return K_TOOL_CALLS
    if PyUnicode_CompareWithASCIIString(key, b"obfuscation") == 0:
        return K_OBFUSCATION
    if PyUnicode_CompareWithASCIIString(key, b"finish_reason") == 0:
        return K_FINISH_REASON
    if PyUnicode_CompareWithASCIIString(key, b"function_call") == 0:
        return K_FUNCTION_CALL
    if PyUnicode_CompareWithASCIIString(key, b"reasoning") == 0:
        return K_REASONING
    if PyUnicode_CompareWithASCIIString(key, b"reasoning_content") == 0:
        return K_REASONING_CONTENT
    if PyUnicode_CompareWithASCIIString(key, b"message") == 0:
        return K_MESSAGE
    return K_OTHER


# Key objects recently classified, by address.  orjson hands back the same key object for
# the same key, so nearly every lookup is a hit: one load and one predictable compare,
# where the length switch costs a mispredicted indirect jump.  The cache holds a reference
# to each key, so an address cannot be reused by another object while it is cached.
DEF KEY_CACHE = 64
cdef PyObject* _cached_key[KEY_CACHE]
cdef Key _cached_code[KEY_CACHE]


cdef inline Key _key(object key) noexcept:
    cdef size_t slot = (<size_t><PyObject*>key >> 4) & (KEY_CACHE - 1)
    if _cached_key[slot] == <PyObject*>key:
        return _cached_code[slot]
    return _key_miss(key, slot)


cdef Key _key_miss(object key, size_t slot) noexcept:
    cdef Key code = _classify(key)
    if PyUnicode_CheckExact(key):  # immutable: the same object always names the same member
        Py_XINCREF(<PyObject*>key)
        Py_XDECREF(_cached_key[slot])
        _cached_key[slot] = <PyObject*>key
        _cached_code[slot] = code
    return code


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
    cdef public Py_ssize_t length  # characters so far: where an event's snapshot ends

    def __cinit__(self):
        self.blocks = []
        self.pieces = []
        self.length = 0

    cdef inline int add(self, object piece) except -1:
        cdef Py_ssize_t n = PyUnicode_GET_LENGTH(piece)
        if n:
            self.length += n
            PyList_Append(self.pieces, piece)
            if PyList_GET_SIZE(self.pieces) >= TEXT_BLOCK:
                PyList_Append(self.blocks, "".join(self.pieces))
                self.pieces = []
        return 0

    cpdef str value(self):
        """The text so far (event snapshots call it from Python)."""
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


cdef inline bint _is_text_delta(object state, object value):
    """A delta event is due: the member is text and this chunk added a non-empty string."""
    return type(state) is _Text and PyUnicode_Check(value) and PyUnicode_GET_LENGTH(value) > 0


cdef object _copy(object value):
    """A copy of a JSON value kept by reference, so a returned snapshot shares nothing.

    Iterative: values kept by reference may be nested as deep as orjson allows (1024).
    """
    cdef list stack
    cdef object root, source, target, item, copy
    if not _is_container(value):
        return value
    root = {} if PyDict_Check(value) else []
    stack = [(value, root)]
    while stack:
        source, target = stack.pop()
        if PyDict_Check(source):
            for key, item in (<dict>source).items():
                if _is_container(item):
                    copy = {} if PyDict_Check(item) else []
                    stack.append((item, copy))
                    item = copy
                (<dict>target)[key] = item
        else:
            for item in source:
                if _is_container(item):
                    copy = {} if PyDict_Check(item) else []
                    stack.append((item, copy))
                    item = copy
                (<list>target).append(item)
    return root


cdef object _value(object state):
    """Turn a folded state back into plain JSON values."""
    if type(state) is _Text:
        return (<_Text>state).value()
    if type(state) is dict:
        return {key: _value(value) for key, value in (<dict>state).items()}
    if type(state) is list:
        return [_value(value) for value in <list>state]
    return state  # a scalar (_merge stores only dicts, lists, _Text and scalars)


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
    cdef object parser  # a PartialJSON: arguments parsed as they stream (opt-in)

    def __cinit__(self, index):
        self.index = index
        self.id = ""
        self.type = ""
        self.name = ""
        self.arguments = None
        self.function_extra = {}
        self.extra = {}
        self.parser = None

    cdef object merge(self, dict fragment, PyObject* p_id, PyObject* p_type, PyObject* p_function,
                      bint extras):
        """Merge a fragment whose id/type/function members were found by the caller's pass;
        returns the arguments text it added ("" if none)."""
        cdef Py_ssize_t pos = 0
        cdef PyObject* k
        cdef PyObject* v
        cdef Key key
        cdef object piece
        cdef object added = ""
        if p_id != NULL and <object>p_id is not None:
            self.id = _name_merge(self.id, <object>p_id)
        if p_type != NULL and <object>p_type is not None:
            self.type = _name_merge(self.type, <object>p_type)
        if p_function != NULL and <object>p_function is not None:
            while PyDict_Next(<object>p_function, &pos, &k, &v):
                if <object>v is None:
                    continue
                key = _key(<object>k)
                if key == K_ARGUMENTS:
                    piece = added = _arguments_piece(<object>v)
                    if self.arguments is None:
                        self.arguments = _new_text(piece)
                    else:
                        self.arguments.add(piece)
                elif key == K_NAME:
                    self.name = _name_merge(self.name, <object>v)
                else:
                    self.function_extra[<object>k] = _merge(self.function_extra.get(<object>k), <object>v)
        if extras:  # other members of the call: the generic rules
            pos = 0
            while PyDict_Next(fragment, &pos, &k, &v):
                if <object>v is None:
                    continue
                key = _key(<object>k)
                if key != K_INDEX and key != K_ID and key != K_TYPE and key != K_FUNCTION:
                    self.extra[<object>k] = _merge(self.extra.get(<object>k), <object>v)
        return added

    cdef object delta_event(self, object choice_index, object piece, bint parse):
        cdef object parsed = None
        if parse:
            if self.parser is None:
                self.parser = PartialJSON()
            if self.parser.error is None:
                try:
                    self.parser.feed(piece)
                except PartialJSONError:
                    pass  # not JSON: no partial value (the done event gives the error)
            parsed = self.parser.value if self.parser.error is None else None
        return FunctionToolCallArgumentsDeltaEvent(
            choice_index, self.index, self.id, self.name, piece, self.arguments,
            self.arguments.length if self.arguments is not None else 0, parsed)

    cdef object done_event(self, object choice_index, object finish_reason):
        cdef str arguments = self.arguments.value() if self.arguments is not None else ""
        cdef object parsed = None, error = None
        try:
            parsed = _loads(arguments)
        except _JSONDecodeError as exc:
            error = exc
        return FunctionToolCallArgumentsDoneEvent(
            choice_index, self.index, self.id, self.name, arguments, parsed, error, finish_reason)

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
    cdef object last_index      # the index (object) of the last call merged into ...
    cdef _ToolCall last_target  # ... which is the latest call with that index

    def __cinit__(self):
        self.calls = []
        self.by_index = {}

    cdef int merge(self, list fragments, list events, object choice_index, bint parse) except -1:
        cdef Py_ssize_t i, pos, n
        cdef object added
        cdef PyObject* fragment
        cdef PyObject* k
        cdef PyObject* v
        cdef PyObject* p_index
        cdef PyObject* p_id
        cdef PyObject* p_type
        cdef PyObject* p_function
        cdef bint extras
        cdef object index, new_id
        cdef _ToolCall target
        cdef list calls = self.calls
        cdef Key key
        for i in range(PyList_GET_SIZE(fragments)):
            fragment = PyList_GET_ITEM(fragments, i)
            p_index = p_id = p_type = p_function = NULL
            extras = False
            pos = 0
            while PyDict_Next(<object>fragment, &pos, &k, &v):  # all members, in one pass
                key = _key(<object>k)
                if key == K_INDEX:
                    p_index = v
                elif key == K_ID:
                    p_id = v
                elif key == K_FUNCTION:
                    p_function = v
                elif key == K_TYPE:
                    p_type = v
                else:
                    extras = True
            index = <object>p_index if p_index != NULL else None
            new_id = <object>p_id if p_id != NULL else None
            n = PyList_GET_SIZE(calls)
            if index is None:
                target = <_ToolCall>PyList_GET_ITEM(calls, n - 1) if n else None
            elif index is self.last_index:  # one call's fragments usually come in a row
                target = self.last_target
            else:
                target = self.by_index.get(index)
            if target is not None and new_id and target.id and new_id != target.id:
                target = None  # a different id: a new call (Ollama, SGLang, Gemini)
            if target is None:
                if index is None:
                    index = (<_ToolCall>PyList_GET_ITEM(calls, n - 1)).index + 1 if n else 0
                target = _ToolCall(index)
                calls.append(target)
                self.by_index[index] = target
            # target is now the latest call with its index: remember it
            self.last_index = target.index
            self.last_target = target
            added = target.merge(<dict>fragment, p_id, p_type, p_function, extras)
            if events is not None and PyUnicode_GET_LENGTH(added):
                PyList_Append(events, target.delta_event(choice_index, added, parse))
        return 0

    cdef list in_order(self):
        """The final order: by index, then arrival."""
        return sorted(self.calls, key=_call_index)

    cdef list value(self):
        cdef _ToolCall call
        return [call.value() for call in self.in_order()]


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
cdef class _Parts:
    """``content`` once a list of typed parts has arrived (see _fold_py._Parts).  A rare
    path (Mistral's reasoning models): plain Python operations, no key codes."""

    cdef list parts
    cdef _Text text       # all text of the text parts: content events
    cdef _Text thinking   # all text of the thinking parts: reasoning events

    def __cinit__(self, _Text before):
        self.parts = []
        self.text = before
        self.thinking = None
        if before is not None and before.length:
            self.parts.append({"type": "text", "text": _new_text(before.value())})

    cdef int add_string(self, object piece, list events, object index) except -1:
        """A string delta is a text part."""
        if PyUnicode_GET_LENGTH(piece):
            self._add(self.parts, ({"type": "text", "text": piece},), False, events, index)
        return 0

    cdef int add_list(self, object parts, list events, object index) except -1:
        self._add(self.parts, parts, False, events, index)
        return 0

    cdef int _add(self, list states, object parts, bint thinking, list events, object index) except -1:
        cdef object part, kind, last, key, value, current
        cdef dict target
        for part in parts:
            if not PyDict_Check(part):  # only inside a thinking list (content is checked)
                states.append(None if part is None else _merge(None, part))
                continue
            kind = (<dict>part).get("type")
            last = states[-1] if states else None
            if (kind == "text" or kind == "thinking") and type(last) is dict and (<dict>last).get("type") == kind:
                target = <dict>last
            else:
                target = {}
                states.append(target)
            for key, value in (<dict>part).items():
                if value is None:
                    continue
                if key == "type":
                    if "type" not in target:
                        target["type"] = value if PyUnicode_Check(value) else _merge(None, value)
                elif key == "text" and kind == "text" and PyUnicode_Check(value):
                    target["text"] = _merge(target.get("text"), value)
                    self._piece(value, thinking, events, index)
                elif key == "thinking" and kind == "thinking" and PyList_Check(value):
                    current = target.get("thinking")
                    if type(current) is not list:
                        current = []
                        target["thinking"] = current
                    self._add(<list>current, value, True, events, index)
                elif key == "thinking" and kind == "thinking" and PyUnicode_Check(value):
                    target["thinking"] = _merge(target.get("thinking"), value)
                    self._piece(value, True, events, index)
                else:
                    target[key] = _merge(target.get(key), value)
        return 0

    cdef int _piece(self, object piece, bint thinking, list events, object index) except -1:
        """Text of a text part (content) or of a thinking part (reasoning)."""
        if not PyUnicode_GET_LENGTH(piece):
            return 0
        if thinking:
            if self.thinking is None:
                self.thinking = _new_text("")
            self.thinking.add(piece)
            if events is not None:
                PyList_Append(events, ReasoningDeltaEvent(
                    "reasoning.delta", index, piece, self.thinking, self.thinking.length))
        else:
            if self.text is None:
                self.text = _new_text("")
            self.text.add(piece)
            if events is not None:
                PyList_Append(events, ContentDeltaEvent("content.delta", index, piece, self.text, self.text.length))
        return 0

    cdef list value(self):
        return [_value(state) for state in self.parts]


@cython.final
cdef class _Choice:
    cdef object index
    cdef object role
    cdef object content
    cdef object refusal
    cdef dict message        # other message members, in order of arrival
    cdef _ToolCalls tool_calls   # also in message (for its place); kept here to skip a lookup
    cdef dict logprobs
    cdef object finish_reason
    cdef dict extra          # other choice members: last non-null wins
    cdef bint done           # its done events were given (feed_events / add_chunk_events)

    def __cinit__(self, index):
        self.index = index
        self.role = "assistant"
        self.content = None
        self.refusal = None
        self.message = {}
        self.logprobs = None
        self.finish_reason = None
        self.extra = {}
        self.done = False

    cdef int merge(self, ChoiceRec* rec, list events, bint parse) except -1:
        """Fold one checked choice of a chunk; with ``events``, append this choice's events
        (the deltas', in the delta's order, then the logprobs', then done if it finished)."""
        cdef Py_ssize_t pos = 0
        cdef PyObject* k
        cdef PyObject* v
        cdef Key key
        cdef bint finished = rec.finish_reason != NULL and <object>rec.finish_reason is not None
        if rec.delta != NULL and <object>rec.delta is not None and PyDict_Size(<object>rec.delta):
            self._merge_delta(<dict>rec.delta, events, parse)
        if finished:
            self.finish_reason = <object>rec.finish_reason
        if rec.logprobs != NULL and <object>rec.logprobs is not None:
            self._merge_logprobs(<dict>rec.logprobs, events)
        if rec.extras:  # other members (Azure content_filter_results): last non-null wins
            while PyDict_Next(<object>rec.choice, &pos, &k, &v):
                if <object>v is None:
                    continue
                key = _key(<object>k)
                if key == K_MESSAGE and rec.delta != NULL and <object>rec.delta is not None:
                    continue  # it mirrors the delta (Writer sends both)
                if key != K_INDEX and key != K_DELTA and key != K_LOGPROBS and key != K_FINISH_REASON:
                    self.extra[<object>k] = <object>v
        if events is not None and finished:
            self.done_events(events)
        return 0

    cdef int _merge_logprobs(self, dict value, list events) except -1:
        cdef Py_ssize_t pos = 0
        cdef PyObject* k
        cdef PyObject* v
        cdef Key key
        cdef object current
        cdef dict logprobs = self.logprobs
        if logprobs is None:
            logprobs = self.logprobs = {"content": None, "refusal": None}
        while PyDict_Next(value, &pos, &k, &v):
            if <object>v is None:
                continue
            key = _key(<object>k)
            if key == K_CONTENT or key == K_REFUSAL:
                current = logprobs[<object>k]
                if current is None:
                    current = list(<object>v)
                    logprobs[<object>k] = current
                else:
                    (<list>current).extend(<object>v)
                if events is not None and <object>v:
                    if key == K_CONTENT:
                        PyList_Append(events, LogprobsContentDeltaEvent(self.index, <object>v, current))
                    else:
                        PyList_Append(events, LogprobsRefusalDeltaEvent(self.index, <object>v, current))
            else:
                logprobs[<object>k] = <object>v
        return 0

    cdef int _merge_delta(self, dict delta, list events, bint parse) except -1:
        cdef Py_ssize_t pos = 0
        cdef PyObject* k
        cdef PyObject* v
        cdef Key key
        cdef object call, state
        while PyDict_Next(delta, &pos, &k, &v):
            if <object>v is None:
                continue
            key = _key(<object>k)
            if key == K_CONTENT:  # a string, or a list of typed parts (checked)
                if type(self.content) is _Text and PyUnicode_CheckExact(<object>v):  # the hot path
                    (<_Text>self.content).add(<object>v)
                elif type(self.content) is _Parts:
                    if PyUnicode_Check(<object>v):
                        (<_Parts>self.content).add_string(<object>v, events, self.index)
                    else:
                        (<_Parts>self.content).add_list(<object>v, events, self.index)
                    continue  # _Parts gives its own events
                elif PyUnicode_Check(<object>v):
                    if self.content is None:
                        self.content = _new_text(<object>v)
                    else:
                        (<_Text>self.content).add(<object>v)
                else:
                    self.content = _Parts(self.content)
                    (<_Parts>self.content).add_list(<object>v, events, self.index)
                    continue
                if events is not None and PyUnicode_GET_LENGTH(<object>v):
                    PyList_Append(events, ContentDeltaEvent(
                        "content.delta", self.index, <object>v, self.content, (<_Text>self.content).length))
            elif key == K_ROLE:
                self.role = <object>v
            elif key == K_REFUSAL:  # a string (checked)
                if self.refusal is None:
                    self.refusal = _new_text(<object>v)
                else:
                    (<_Text>self.refusal).add(<object>v)
                if events is not None and PyUnicode_GET_LENGTH(<object>v):
                    PyList_Append(events, RefusalDeltaEvent(
                        "refusal.delta", self.index, <object>v, self.refusal, (<_Text>self.refusal).length))
            elif key == K_TOOL_CALLS:
                if self.tool_calls is None:
                    if not <object>v:
                        continue  # Groq repeats "tool_calls": [] on every chunk
                    self.tool_calls = _ToolCalls()
                    self.message["tool_calls"] = self.tool_calls
                self.tool_calls.merge(<list>v, events, self.index, parse)
            elif key == K_FUNCTION_CALL:
                call = self.message.get("function_call")
                if call is None:
                    call = _FunctionCall()
                    self.message["function_call"] = call
                (<_FunctionCall>call).merge(<dict>v)
            else:
                state = _merge(self.message.get(<object>k), <object>v)
                self.message[<object>k] = state
                if (events is not None and (key == K_REASONING_CONTENT or key == K_REASONING)
                        and _is_text_delta(state, <object>v)):
                    PyList_Append(events, ReasoningDeltaEvent(
                        "reasoning.delta", self.index, <object>v, state, (<_Text>state).length))
        return 0

    cdef int done_events(self, list events) except -1:
        """Append this choice's done events, once: reasoning, content, refusal, each tool
        call (in final order), then logprobs."""
        cdef _ToolCall call
        if self.done:
            return 0
        self.done = True
        for name in ("reasoning_content", "reasoning"):
            state = self.message.get(name)
            if type(state) is _Text:
                PyList_Append(events, ReasoningDoneEvent(self.index, (<_Text>state).value(), self.finish_reason))
        content = self.content
        if type(content) is _Parts:
            if (<_Parts>content).thinking is not None:
                PyList_Append(events, ReasoningDoneEvent(
                    self.index, (<_Parts>content).thinking.value(), self.finish_reason))
            content = (<_Parts>content).text
        if type(content) is _Text:
            PyList_Append(events, ContentDoneEvent(self.index, (<_Text>content).value(), self.finish_reason))
        if type(self.refusal) is _Text:
            PyList_Append(events, RefusalDoneEvent(self.index, (<_Text>self.refusal).value(), self.finish_reason))
        if self.tool_calls is not None:
            for call in self.tool_calls.in_order():
                PyList_Append(events, call.done_event(self.index, self.finish_reason))
        if self.logprobs is not None:
            if self.logprobs["content"] is not None:
                PyList_Append(events, LogprobsContentDoneEvent(
                    self.index, list(self.logprobs["content"]), self.finish_reason))
            if self.logprobs["refusal"] is not None:
                PyList_Append(events, LogprobsRefusalDoneEvent(
                    self.index, list(self.logprobs["refusal"]), self.finish_reason))
        return 0

    cdef dict value(self):
        cdef object content = (<_Parts>self.content).value() if type(self.content) is _Parts else _value(self.content)
        cdef dict message = {"role": _copy(self.role), "content": content, "refusal": _value(self.refusal)}
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


cdef int _check_choices(object choices, Py_ssize_t number, object data, ChoiceRec* recs) except -1:
    """Check every choice; fill ``recs`` (one record per choice) for the merge."""
    cdef Py_ssize_t i, pos
    cdef PyObject* k
    cdef PyObject* v
    cdef ChoiceRec* rec
    cdef object choice, value
    cdef Key key
    for i in range(PyList_GET_SIZE(choices)):
        choice = <object>PyList_GET_ITEM(choices, i)
        if not PyDict_Check(choice):
            raise _errors.bad_shape(number, data, f"choices[{i}]", "an object", choice)
        rec = &recs[i]
        rec.choice = <PyObject*>choice
        rec.index = rec.delta = rec.logprobs = rec.finish_reason = NULL
        rec.extras = False
        pos = 0
        while PyDict_Next(choice, &pos, &k, &v):
            key = _key(<object>k)
            if key == K_DELTA:
                rec.delta = v
            elif key == K_INDEX:
                rec.index = v
            elif key == K_LOGPROBS:
                rec.logprobs = v
            elif key == K_FINISH_REASON:
                rec.finish_reason = v
            else:
                rec.extras = True
        if rec.index != NULL and <object>rec.index is not None and not _is_int(<object>rec.index):
            raise _errors.bad_shape(number, data, f"choices[{i}].index", "an integer", <object>rec.index)
        if rec.logprobs != NULL and <object>rec.logprobs is not None:
            if not PyDict_Check(<object>rec.logprobs):
                raise _errors.bad_shape(number, data, f"choices[{i}].logprobs", "an object", <object>rec.logprobs)
            for name in ("content", "refusal"):
                value = (<dict>rec.logprobs).get(name)
                if value is not None and not PyList_Check(value):
                    raise _errors.bad_shape(number, data, f"choices[{i}].logprobs.{name}", "a list", value)
        if rec.delta != NULL and <object>rec.delta is not None:
            if not PyDict_Check(<object>rec.delta):
                raise _errors.bad_shape(number, data, f"choices[{i}].delta", "an object", <object>rec.delta)
            _check_delta(<dict>rec.delta, number, data, i)
    return 0


cdef inline bint _is_container(object value):
    return PyDict_Check(value) or PyList_Check(value)


cdef object _too_deep(object value, Py_ssize_t number, object data, str where):
    """Merged or serialised values are nested at most MAX_NESTING deep (see _fold_py)."""
    return _errors.bad_shape(number, data, where, f"nested at most {MAX_NESTING} levels deep", value)


cdef int _check_delta(dict delta, Py_ssize_t number, object data, Py_ssize_t i) except -1:
    """The delta members, in order: the first bad one is reported (as the twin does)."""
    cdef Py_ssize_t pos = 0
    cdef PyObject* k
    cdef PyObject* v
    cdef Key key
    while PyDict_Next(delta, &pos, &k, &v):
        if <object>v is None:
            continue
        key = _key(<object>k)
        if key == K_CONTENT:
            if not PyUnicode_Check(<object>v):
                _check_content(<object>v, number, data, i)
        elif key == K_REFUSAL:
            if not PyUnicode_Check(<object>v):
                raise _errors.bad_shape(number, data, f"choices[{i}].delta.refusal", "a string", <object>v)
        elif key == K_TOOL_CALLS:
            _check_tool_calls(<object>v, number, data, i)
        elif key == K_FUNCTION_CALL:
            _check_function(<object>v, number, data, f"choices[{i}].delta.function_call")
        elif key != K_ROLE and _is_container(<object>v) and not nesting_ok(<object>v):
            raise _too_deep(<object>v, number, data, f"choices[{i}].delta.{<object>k}")
    return 0


cdef int _check_content(object content, Py_ssize_t number, object data, Py_ssize_t i) except -1:
    """A ``content`` that is not a string: a list of typed parts (objects), nested boundedly."""
    cdef object part
    cdef bint ok = PyList_Check(content)
    if ok:
        for part in content:
            if not PyDict_Check(part):
                ok = False
                break
    if not ok:
        raise _errors.bad_shape(number, data, f"choices[{i}].delta.content", "a string or a list of objects", content)
    if not nesting_ok(content):
        raise _too_deep(content, number, data, f"choices[{i}].delta.content")
    return 0


cdef int _check_tool_calls(object calls, Py_ssize_t number, object data, Py_ssize_t i) except -1:
    """Each call: index, id, type, function, then its other members (the twin's order)."""
    cdef Py_ssize_t j, pos
    cdef PyObject* k
    cdef PyObject* v
    cdef PyObject* p_index
    cdef PyObject* p_id
    cdef PyObject* p_type
    cdef PyObject* p_function
    cdef bint containers
    cdef object call
    cdef Key key
    if not PyList_Check(calls):
        raise _errors.bad_shape(number, data, f"choices[{i}].delta.tool_calls", "a list", calls)
    for j in range(PyList_GET_SIZE(calls)):
        call = <object>PyList_GET_ITEM(calls, j)
        if not PyDict_Check(call):
            raise _errors.bad_shape(number, data, _call_path(i, j), "an object", call)
        p_index = p_id = p_type = p_function = NULL
        containers = False
        pos = 0
        while PyDict_Next(call, &pos, &k, &v):  # one pass records the members to check
            key = _key(<object>k)
            if key == K_INDEX:
                p_index = v
            elif key == K_ID:
                p_id = v
            elif key == K_TYPE:
                p_type = v
            elif key == K_FUNCTION:
                p_function = v
            elif _is_container(<object>v):
                containers = True
        if p_index != NULL and <object>p_index is not None and not _is_int(<object>p_index):
            raise _errors.bad_shape(number, data, _call_path(i, j) + ".index", "an integer", <object>p_index)
        if p_id != NULL and <object>p_id is not None and not PyUnicode_Check(<object>p_id):
            raise _errors.bad_shape(number, data, _call_path(i, j) + ".id", "a string", <object>p_id)
        if p_type != NULL and <object>p_type is not None and not PyUnicode_Check(<object>p_type):
            raise _errors.bad_shape(number, data, _call_path(i, j) + ".type", "a string", <object>p_type)
        if p_function != NULL and <object>p_function is not None and not (
                PyDict_Check(<object>p_function) and _function_ok(<dict>p_function)):
            _check_function(<object>p_function, number, data, _call_path(i, j) + ".function")
        if containers:  # other members of the call are merged: bounded depth
            pos = 0
            while PyDict_Next(call, &pos, &k, &v):
                if _is_container(<object>v):
                    key = _key(<object>k)
                    if (key != K_INDEX and key != K_ID and key != K_TYPE and key != K_FUNCTION
                            and not nesting_ok(<object>v)):
                        raise _too_deep(<object>v, number, data, _call_path(i, j) + f".{<object>k}")
    return 0


cdef str _call_path(Py_ssize_t i, Py_ssize_t j):
    """Only built on the error path: formatting it per fragment would cost more than the check."""
    return f"choices[{i}].delta.tool_calls[{j}]"


cdef bint _function_ok(dict function) except -1:
    """The fast check of a tool call's ``function``; _check_function says what is wrong."""
    cdef Py_ssize_t pos = 0
    cdef PyObject* k
    cdef PyObject* v
    while PyDict_Next(function, &pos, &k, &v):
        if _key(<object>k) == K_NAME:
            if <object>v is not None and not PyUnicode_Check(<object>v):
                return False
        elif _is_container(<object>v) and not nesting_ok(<object>v):
            return False
    return True


cdef int _check_function(object function, Py_ssize_t number, object data, str where) except -1:
    """A tool call's ``function`` or the legacy ``function_call``."""
    cdef Py_ssize_t pos = 0
    cdef PyObject* k
    cdef PyObject* v
    if not PyDict_Check(function):
        raise _errors.bad_shape(number, data, where, "an object", function)
    name = (<dict>function).get("name")
    if name is not None and not PyUnicode_Check(name):
        raise _errors.bad_shape(number, data, where + ".name", "a string", name)
    while PyDict_Next(function, &pos, &k, &v):  # arguments (a non-string is serialised) and extras
        if _is_container(<object>v) and _key(<object>k) != K_NAME and not nesting_ok(<object>v):
            raise _too_deep(<object>v, number, data, f"{where}.{<object>k}")
    return 0


# ---------------------------------------------------------------------------
# What an event is, for the fold (docs/contract.md, section 2)

cdef enum EventKind:
    EV_JSON      # data that starts with "{": a chunk
    EV_IGNORED   # another event type, or data that is not JSON (keep-alives, pings)
    EV_DONE      # data: [DONE]
    EV_ERROR     # event: error


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
        self._feed(data, None)

    def feed_events(self, data):
        """Fold raw stream bytes and return the events they produced, in order.

        ``chunk`` for each chunk, then for each of its choices the delta events (text,
        tool-call arguments, logprobs) and, when the choice finishes (or ``[DONE]``
        arrives first), its done events, once.  On an error, the events of this call are
        dropped; the error's ``.partial`` holds everything folded.
        """
        cdef list events = []
        self._feed(data, events)
        return events

    cdef int _feed(self, object data, list events) except -1:
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
                        self._add(<object>PyList_GET_ITEM(chunks, i), self._events, payload, events)
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
        self._add(chunk, self._chunks + 1, None, None)

    def add_chunk_events(self, chunk):
        """Fold one decoded chunk and return its events (see ``feed_events``)."""
        cdef list events = []
        if self._error is not None:
            raise self._error
        self._add(chunk, self._chunks + 1, None, events)
        return events

    cdef int _fail(self, object error, bint final) except -1:
        """Raise ``error`` with the partial completion; a final error is raised again on reuse."""
        error.partial = self.snapshot() if self._chunks else None
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

    cdef int _add(self, object chunk, Py_ssize_t number, object data, list events) except -1:
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
                state.merge(&recs[i], events, self._parse)
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
            if not self._choices or unfinished:  # no choice at all is not a completion either
                self._fail(_errors.incomplete(self._chunks, unfinished), False)
        return self.snapshot()
