# cython: language_level=3, embedsignature=True
"""Chat-completion folding: the Cython core.

Twin of the package ``src/streamfold/_fold_py/`` (same names, same behaviour, same errors):
each include file below mirrors one module of the twin, so a rule lives in the same place in
both (docs/contract.md says what the rules are).  The framer is driven at C level, event
data go to ``orjson.loads`` as bytes, and chunk members are recognised by codes found
through a cache keyed by the key object's address (``fold/keys.pxi``).
"""

from cpython.dict cimport PyDict_Copy, PyDict_GetItem, PyDict_Next, PyDict_SetItem, PyDict_Size
from cpython.list cimport PyList_Append, PyList_GET_ITEM, PyList_GET_SIZE, PyList_GetSlice
from cpython.object cimport PyObject, PyObject_IsTrue
from cpython.ref cimport Py_XDECREF, Py_XINCREF
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.set cimport PySet_Add, PySet_Contains
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.tuple cimport PyTuple_GET_ITEM
from libc.string cimport memcmp

cimport cython

import orjson

from streamfold._framing_c cimport Framer
from streamfold import _contract, _errors
from streamfold._contract import DEFAULT_MAX_EVENT_BYTES, MAX_NESTING, check_bytes, nesting_ok, partial_of
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
from streamfold._partial_json import PartialJSON, PartialJSONError

cdef extern from "Python.h":
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    bint PyUnicode_IS_COMPACT_ASCII(object o)
    void* PyUnicode_DATA(object o)
    bint PyUnicode_CheckExact(object o)
    bint PyUnicode_Check(object o)
    bint PyDict_Check(object o)
    bint PyList_Check(object o)
    bint PyLong_Check(object o)
    bint PyBool_Check(object o)
    int PyUnicode_Compare(object left, object right)

cdef object _loads = orjson.loads
cdef object _dumps = orjson.dumps
cdef object _JSONDecodeError = orjson.JSONDecodeError
cdef object _StreamDecodeError = _errors.StreamDecodeError

#: streamfold._contract.TEXT_BLOCK, read once.
cdef Py_ssize_t _TEXT_BLOCK = _contract.TEXT_BLOCK

include "fold/keys.pxi"
include "fold/values.pxi"
include "fold/checks.pxi"
include "fold/tool_calls.pxi"
include "fold/choice.pxi"
include "fold/accumulator.pxi"
