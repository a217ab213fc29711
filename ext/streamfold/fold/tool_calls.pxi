# Tool calls and the legacy function_call (docs/contract.md, section 3).  Twin of
# src/streamfold/_fold_py/tool_calls.py.  Included by _fold_c.pyx.


@cython.final
cdef class _ToolCall:
    """One call being folded from its fragments."""

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
        """Merge a fragment whose id/type/function members the caller looked up (NULL when
        absent: the twin passes None); returns the arguments text it added ("" if none)."""
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
