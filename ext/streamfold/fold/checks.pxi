# Shape checks (docs/contract.md, section 3 "Shape"): everything the merge relies on,
# checked before anything of a chunk is merged, so a bad chunk leaves no trace.  Twin of
# src/streamfold/_fold_py/checks.py: the same functions, checking in the same order (so a
# doubly bad chunk reports the same error).  Included by _fold_c.pyx.


cdef struct ChoiceRec:
    # one checked choice of the chunk being folded (borrowed pointers into the chunk)
    PyObject* choice
    PyObject* index
    PyObject* delta
    PyObject* logprobs
    PyObject* finish_reason
    bint extras       # has members besides index, delta, logprobs, finish_reason


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
            _check_logprobs(<object>rec.logprobs, number, data, i)
        if rec.delta != NULL and <object>rec.delta is not None:
            if not PyDict_Check(<object>rec.delta):
                raise _errors.bad_shape(number, data, f"choices[{i}].delta", "an object", <object>rec.delta)
            _check_delta(<dict>rec.delta, number, data, i)
    return 0


cdef int _check_logprobs(object logprobs, Py_ssize_t number, object data, Py_ssize_t i) except -1:
    cdef Py_ssize_t pos = 0
    cdef PyObject* k
    cdef PyObject* v
    cdef bint ok = True
    cdef object value
    if not PyDict_Check(logprobs):
        raise _errors.bad_shape(number, data, f"choices[{i}].logprobs", "an object", logprobs)
    # one pass over the members (this runs for every token of a logprobs stream); only when
    # one is wrong are they looked at in the twin's order, so the same error is reported
    while PyDict_Next(logprobs, &pos, &k, &v):
        if <object>v is not None and not PyList_Check(<object>v) and _key(<object>k) in (K_CONTENT, K_REFUSAL):
            ok = False
            break
    if ok:
        return 0
    for name in ("content", "refusal"):
        value = (<dict>logprobs).get(name)
        if value is not None and not PyList_Check(value):
            raise _errors.bad_shape(number, data, f"choices[{i}].logprobs.{name}", "a list", value)
    return 0


cdef inline bint _is_container(object value):
    return PyDict_Check(value) or PyList_Check(value)


cdef object _too_deep(object value, Py_ssize_t number, object data, str where):
    """Merged or serialised values are nested at most MAX_NESTING deep."""
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
