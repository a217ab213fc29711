"""Shape checks (docs/contract.md, section 3 "Shape"): everything the merge relies on,
checked before anything of a chunk is merged, so a bad chunk leaves no trace.

Twin of ``ext/streamfold/fold/checks.pxi``: the same functions, checking in the same order
(so a doubly bad chunk reports the same error).  Error paths (``choices[0].delta...``) are
only formatted when a check fails: building them for every chunk would cost more than the
checks.
"""

from __future__ import annotations

from typing import Any

from .. import _errors
from .._contract import CALL_KEYS, CHOICE_KEYS, MAX_NESTING, nesting_ok
from .values import _is_int


class _ChoiceRec:
    """One checked choice of the chunk being folded, with the members the merge uses."""

    __slots__ = ("choice", "index", "delta", "logprobs", "finish_reason", "extras")

    def __init__(self, choice: dict[str, Any]) -> None:
        self.choice = choice
        self.index = choice.get("index")
        self.delta = choice.get("delta")
        self.logprobs = choice.get("logprobs")
        self.finish_reason = choice.get("finish_reason")
        #: members besides index, delta, logprobs and finish_reason
        self.extras = not CHOICE_KEYS.issuperset(choice)


def _check_choices(choices: list[Any], number: int, data: bytes | None) -> list[_ChoiceRec]:
    """Check every choice; return one record per choice for the merge."""
    recs = []
    for i, choice in enumerate(choices):
        if type(choice) is not dict and not isinstance(choice, dict):
            raise _errors.bad_shape(number, data, f"choices[{i}]", "an object", choice)
        rec = _ChoiceRec(choice)
        if rec.index is not None and not _is_int(rec.index):
            raise _errors.bad_shape(number, data, f"choices[{i}].index", "an integer", rec.index)
        if rec.logprobs is not None:
            _check_logprobs(rec.logprobs, number, data, i)
        if rec.delta is not None:
            if type(rec.delta) is not dict and not isinstance(rec.delta, dict):
                raise _errors.bad_shape(number, data, f"choices[{i}].delta", "an object", rec.delta)
            _check_delta(rec.delta, number, data, i)
        recs.append(rec)
    return recs


def _check_logprobs(logprobs: Any, number: int, data: bytes | None, i: int) -> None:
    if not isinstance(logprobs, dict):
        raise _errors.bad_shape(number, data, f"choices[{i}].logprobs", "an object", logprobs)
    for name in ("content", "refusal"):
        value = logprobs.get(name)
        if value is not None and not isinstance(value, list):
            raise _errors.bad_shape(number, data, f"choices[{i}].logprobs.{name}", "a list", value)


def _check_delta(delta: dict[str, Any], number: int, data: bytes | None, i: int) -> None:
    """The delta members, in order: the first bad one is reported."""
    for key, value in delta.items():
        if value is None:
            continue
        if key == "content":
            if type(value) is not str and not isinstance(value, str):
                _check_content(value, number, data, i)
        elif key == "refusal":
            if type(value) is not str and not isinstance(value, str):
                raise _errors.bad_shape(number, data, f"choices[{i}].delta.refusal", "a string", value)
        elif key == "tool_calls":
            _check_tool_calls(value, number, data, i)
        elif key == "function_call":
            _check_function(value, number, data, f"choices[{i}].delta.function_call")
        elif key != "role" and _is_container(value) and not nesting_ok(value):
            raise _too_deep(value, number, data, f"choices[{i}].delta.{key}")


def _check_content(content: Any, number: int, data: bytes | None, i: int) -> None:
    """A ``content`` that is not a string: a list of typed parts (objects), nested boundedly."""
    if not isinstance(content, list) or not all(isinstance(part, dict) for part in content):
        raise _errors.bad_shape(number, data, f"choices[{i}].delta.content", "a string or a list of objects", content)
    if not nesting_ok(content):
        raise _too_deep(content, number, data, f"choices[{i}].delta.content")


def _check_tool_calls(calls: Any, number: int, data: bytes | None, i: int) -> None:
    """Each call: index, id, type, function, then its other members."""
    if type(calls) is not list and not isinstance(calls, list):
        raise _errors.bad_shape(number, data, f"choices[{i}].delta.tool_calls", "a list", calls)
    for j, call in enumerate(calls):
        if type(call) is not dict and not isinstance(call, dict):
            raise _errors.bad_shape(number, data, _call_path(i, j), "an object", call)
        index = call.get("index")
        if index is not None and not _is_int(index):
            raise _errors.bad_shape(number, data, _call_path(i, j) + ".index", "an integer", index)
        for name in ("id", "type"):
            value = call.get(name)
            if value is not None and type(value) is not str and not isinstance(value, str):
                raise _errors.bad_shape(number, data, _call_path(i, j) + f".{name}", "a string", value)
        function = call.get("function")
        if function is not None and not (isinstance(function, dict) and _function_ok(function)):
            _check_function(function, number, data, _call_path(i, j) + ".function")
        if not CALL_KEYS.issuperset(call):  # other members of the call are merged: bounded depth
            for key, value in call.items():
                if key not in CALL_KEYS and _is_container(value) and not nesting_ok(value):
                    raise _too_deep(value, number, data, _call_path(i, j) + f".{key}")


def _call_path(i: int, j: int) -> str:
    """Only built on the error path: formatting it per fragment would cost more than the check."""
    return f"choices[{i}].delta.tool_calls[{j}]"


def _function_ok(function: dict[str, Any]) -> bool:
    """The fast check of a tool call's ``function``; _check_function says what is wrong."""
    for key, value in function.items():
        if type(value) is str or value is None:  # the common case: every member a string
            continue
        if key == "name":
            if not isinstance(value, str):
                return False
        elif _is_container(value) and not nesting_ok(value):
            return False
    return True


def _check_function(function: Any, number: int, data: bytes | None, where: str) -> None:
    """A tool call's ``function`` or the legacy ``function_call``."""
    if not isinstance(function, dict):
        raise _errors.bad_shape(number, data, where, "an object", function)
    name = function.get("name")
    if name is not None and not isinstance(name, str):
        raise _errors.bad_shape(number, data, where + ".name", "a string", name)
    for key, value in function.items():  # arguments (a non-string is serialised) and extras
        if key != "name" and _is_container(value) and not nesting_ok(value):
            raise _too_deep(value, number, data, f"{where}.{key}")


def _is_container(value: Any) -> bool:
    return isinstance(value, (dict, list))


def _too_deep(value: Any, number: int, data: bytes | None, where: str) -> _errors.StreamDecodeError:
    """Merged or serialised values are nested at most MAX_NESTING deep."""
    return _errors.bad_shape(number, data, where, f"nested at most {MAX_NESTING} levels deep", value)
