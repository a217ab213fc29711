# One choice being folded: its message, logprobs, finish reason and other members, and its
# events (docs/contract.md, sections 3 and 5).  Twin of src/streamfold/_fold_py/choice.py.
# Included by _fold_c.pyx.


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

    cdef int merge(self, ChoiceRec* rec, list events, bint parse, list texts) except -1:
        """Fold one checked choice of a chunk; with ``events``, append this choice's events
        (the deltas', in the delta's order, then the logprobs', then done if it finished);
        with ``texts``, append only the text of its content deltas."""
        cdef Py_ssize_t pos = 0
        cdef PyObject* k
        cdef PyObject* v
        cdef Key key
        cdef bint finished = rec.finish_reason != NULL and <object>rec.finish_reason is not None
        if rec.delta != NULL and <object>rec.delta is not None and PyDict_Size(<object>rec.delta):
            self._merge_delta(<dict>rec.delta, events, parse, texts)
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
                current = <object>PyDict_GetItem(logprobs, "content" if key == K_CONTENT else "refusal")
                if current is None:
                    current = list(<object>v)
                    logprobs["content" if key == K_CONTENT else "refusal"] = current
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

    cdef int _merge_delta(self, dict delta, list events, bint parse, list texts) except -1:
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
                        (<_Parts>self.content).add_string(<object>v, events, self.index, texts)
                    else:
                        (<_Parts>self.content).add_list(<object>v, events, self.index, texts)
                    continue  # _Parts gives its own events
                elif PyUnicode_Check(<object>v):
                    if self.content is None:
                        self.content = _new_text(<object>v)
                    else:
                        (<_Text>self.content).add(<object>v)
                else:
                    self.content = _Parts(self.content)
                    (<_Parts>self.content).add_list(<object>v, events, self.index, texts)
                    continue
                if texts is not None and PyUnicode_GET_LENGTH(<object>v):
                    PyList_Append(texts, <object>v)
                elif events is not None and PyUnicode_GET_LENGTH(<object>v):
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

    cdef dict value(self, bint copy):
        """The choice as plain JSON; ``copy``: values kept by reference are copied (see
        ChatAccumulator.result for when they are not)."""
        cdef object content = (<_Parts>self.content).value() if type(self.content) is _Parts else _value(self.content)
        cdef dict message = {"role": _copy(self.role) if copy else self.role, "content": content,
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
            "logprobs": _copy(self.logprobs) if copy else self.logprobs,
            "finish_reason": _copy(self.finish_reason) if copy else self.finish_reason,
        }
        result.update(_copy(self.extra) if copy else self.extra)
        return result
