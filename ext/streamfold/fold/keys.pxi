# Member names as codes: Cython only (the twin compares the strings themselves; the name
# sets both use are in streamfold._contract).  Included by _fold_c.pyx.
#
# A chunk's keys are recognised by their code, and codes are found through a cache keyed by
# the key object's address: orjson hands back the same key object for the same key, so
# nearly every lookup is one load and one predictable compare.

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

#: The names of the codes K_ID to K_MESSAGE, in that order: the one list of them.
cdef tuple _KEY_NAMES = (
    "id", "object", "created", "model", "choices", "usage", "obfuscation", "error", "x_groq",
    "index", "delta", "logprobs", "finish_reason", "content", "role", "refusal", "tool_calls",
    "function_call", "function", "type", "name", "arguments", "reasoning", "reasoning_content", "message",
)
assert len(_KEY_NAMES) == K_SKIP - 1, "a Key code without its name"


# The names by length, as codes (0 ends a row), for the miss path: a key is compared only
# with the names of its length.
cdef enum:
    KEY_MAX_LENGTH = 18   # longer than every name ("reasoning_content")
    KEY_PER_LENGTH = 8
cdef int _names_by_length[KEY_MAX_LENGTH][KEY_PER_LENGTH]


cdef int _index_names() except -1:
    cdef Py_ssize_t i, n, j
    for i in range(K_SKIP - 1):
        name = _KEY_NAMES[i]
        n = len(name)
        assert n < KEY_MAX_LENGTH and PyUnicode_IS_COMPACT_ASCII(name), name
        j = 0
        while _names_by_length[n][j]:
            j += 1
        assert j < KEY_PER_LENGTH - 1, "too many names of one length"
        _names_by_length[n][j] = i + 1
    return 0


_index_names()


cdef Key _classify(object key) noexcept:
    """The member a dict key names (K_OTHER for any other key): only on a cache miss."""
    cdef Py_ssize_t i, n
    cdef int code
    cdef const char* s
    cdef const char* t
    if PyUnicode_CheckExact(key):
        if not PyUnicode_IS_COMPACT_ASCII(key):
            return K_OTHER  # non-ASCII: none of ours
        n = PyUnicode_GET_LENGTH(key)
        if n >= KEY_MAX_LENGTH:
            return K_OTHER
        s = <const char*>PyUnicode_DATA(key)
        for i in range(KEY_PER_LENGTH):
            code = _names_by_length[n][i]
            if code == 0:
                break
            t = <const char*>PyUnicode_DATA(<object>PyTuple_GET_ITEM(_KEY_NAMES, code - 1))
            if s[0] == t[0] and memcmp(s, t, n) == 0:  # the first byte tells most names apart
                return <Key>code
        return K_OTHER
    if not PyUnicode_Check(key):
        return K_OTHER
    for i in range(K_SKIP - 1):  # a str subclass (only from add_chunk): compare its text
        if PyUnicode_Compare(key, <object>PyTuple_GET_ITEM(_KEY_NAMES, i)) == 0:
            return <Key>(i + 1)
    return K_OTHER


# Key objects recently classified, by address.  The cache holds a reference to each key,
# so an address cannot be reused by another object while it is cached.
cdef enum:
    KEY_CACHE = 64
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
