# Values being folded: accumulated text, content as typed parts, the generic delta rules,
# and turning folded state back into plain JSON (docs/contract.md, section 3).  Twin of
# src/streamfold/_fold_py/values.py.  Included by _fold_c.pyx.


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
            if PyList_GET_SIZE(self.pieces) >= _TEXT_BLOCK:
                PyList_Append(self.blocks, "".join(self.pieces))
                self.pieces = []
        return 0

    cpdef str value(self):
        """The text so far (event snapshots call it from Python)."""
        if PyList_GET_SIZE(self.blocks):
            return "".join(self.blocks) + "".join(self.pieces)
        return "".join(self.pieces)


cdef _Text _new_text(object first):
    """``_Text(first)`` of the twin (a cdef class constructor taking no argument is faster)."""
    cdef _Text text = _Text.__new__(_Text)
    text.add(first)
    return text


cdef inline bint _is_int(object value):
    return PyLong_Check(value) and not PyBool_Check(value)


cdef bint _is_empty(object value):
    """Empty for "first non-empty wins": null, "" or the integer 0."""
    if value is None:
        return True
    if PyUnicode_Check(value):
        return PyUnicode_GET_LENGTH(value) == 0
    return _is_int(value) and value == 0


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

    The twin's copy is iterative; here each container is copied in one C call
    (``PyDict_Copy``, a list slice) and only its container members are copied again, by
    recursion up to a depth the C stack bears easily, iteratively below that (values kept
    by reference may be nested as deep as orjson allows, 1024).  Logprob entries are most
    of a long stream's copied values: this is several times faster than walking them.
    """
    if PyDict_Check(value) or PyList_Check(value):
        return _copy_container(value, 0)
    return value


cdef object _copy_container(object value, int depth):
    cdef Py_ssize_t pos = 0, i
    cdef PyObject* k
    cdef PyObject* v
    cdef object copy, item
    if depth > 64:
        return _copy_iteratively(value)
    if PyDict_Check(value):
        copy = PyDict_Copy(value)
        while PyDict_Next(value, &pos, &k, &v):
            if PyDict_Check(<object>v) or PyList_Check(<object>v):
                PyDict_SetItem(copy, <object>k, _copy_container(<object>v, depth + 1))
        return copy
    copy = PyList_GetSlice(value, 0, PyList_GET_SIZE(value))
    for i in range(PyList_GET_SIZE(value)):
        item = <object>PyList_GET_ITEM(value, i)
        if PyDict_Check(item) or PyList_Check(item):
            (<list>copy)[i] = _copy_container(item, depth + 1)
    return copy


cdef object _copy_iteratively(object value):
    cdef list stack
    cdef object root, source, target, item, copy
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
    """Tool-call arguments: a string as it is, any other JSON value serialised (TGI, llama.cpp)."""
    if PyUnicode_Check(value):
        return value
    return _dumps(value).decode()


@cython.final
cdef class _Parts:
    """``content`` once a list of typed parts has arrived (Mistral's reasoning models).

    ``parts`` holds the part states in order: appended, except that a ``text`` part merges
    into a last ``text`` part and a ``thinking`` part into a last ``thinking`` part.
    ``text`` and ``thinking`` accumulate all the text of the text parts and of the thinking
    parts: what content and reasoning events show.  A rare path: plain Python operations,
    no key codes.
    """

    cdef list parts
    cdef _Text text       # all text of the text parts: content events
    cdef _Text thinking   # all text of the thinking parts: reasoning events

    def __cinit__(self, _Text before):
        self.parts = []
        self.text = before
        self.thinking = None
        if before is not None and before.length:
            self.parts.append({"type": "text", "text": _new_text(before.value())})

    cdef int add_string(self, object piece, list events, object index, list texts) except -1:
        """A string delta is a text part."""
        if PyUnicode_GET_LENGTH(piece):
            self._add(self.parts, ({"type": "text", "text": piece},), False, events, index, texts)
        return 0

    cdef int add_list(self, object parts, list events, object index, list texts) except -1:
        self._add(self.parts, parts, False, events, index, texts)
        return 0

    cdef int _add(self, list states, object parts, bint thinking, list events, object index,
                  list texts) except -1:
        """Fold ``parts`` into ``states``; ``thinking``: inside a thinking part's list, where
        text parts are reasoning text."""
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
                    self._piece(value, thinking, events, index, texts)
                elif key == "thinking" and kind == "thinking" and PyList_Check(value):
                    current = target.get("thinking")
                    if type(current) is not list:
                        current = []
                        target["thinking"] = current
                    self._add(<list>current, value, True, events, index, texts)
                elif key == "thinking" and kind == "thinking" and PyUnicode_Check(value):
                    target["thinking"] = _merge(target.get("thinking"), value)
                    self._piece(value, True, events, index, texts)
                else:
                    target[key] = _merge(target.get(key), value)
        return 0

    cdef int _piece(self, object piece, bint thinking, list events, object index, list texts) except -1:
        """Text of a text part (content) or of a thinking part (reasoning): accumulate, and
        give its delta event."""
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
            if texts is not None:
                PyList_Append(texts, piece)
            elif events is not None:
                PyList_Append(events, ContentDeltaEvent("content.delta", index, piece, self.text, self.text.length))
        return 0

    cdef list value(self):
        return [_value(state) for state in self.parts]
