"""Which implementation the package exposes, and that the two expose the same API.

A normal (compiled) install must use the Cython extension: the first test FAILS when the
extension is missing, unless the run says it is a pure install by setting
``STREAMFOLD_NO_EXTENSIONS`` (or runs on an interpreter other than CPython).
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import inspect
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import streamfold

PUBLIC_CLASSES = ("SSEDecoder", "ServerSentEvent", "LineSplitter", "ChatAccumulator")
CLASS_MODULE = {
    "SSEDecoder": "_framing",
    "ServerSentEvent": "_framing",
    "LineSplitter": "_framing",
    "ChatAccumulator": "_fold",
}

PROBE = """
import json, sys
import streamfold
out = {"implementation": streamfold.IMPLEMENTATION, "from": {}}
for name in %r:
    cls = getattr(streamfold, name)
    out["from"][name] = cls.__module__ + "." + cls.__qualname__
    out.setdefault("same_as_module", {})[name] = cls is getattr(sys.modules[cls.__module__], name)
out["c_loaded"] = sorted(m for m in ("streamfold._fold_c", "streamfold._framing_c") if m in sys.modules)
print(json.dumps(out))
""" % (PUBLIC_CLASSES,)


def probe(tmp_path: Path, no_extensions: str | None) -> dict[str, Any]:
    """Import streamfold in a fresh interpreter, with STREAMFOLD_NO_EXTENSIONS set as given."""
    env = {k: v for k, v in os.environ.items() if k != "STREAMFOLD_NO_EXTENSIONS"}
    if no_extensions is not None:
        env["STREAMFOLD_NO_EXTENSIONS"] = no_extensions
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def expected_default_implementation() -> str:
    """What a fresh import without STREAMFOLD_NO_EXTENSIONS must give in this run."""
    if platform.python_implementation() != "CPython":
        return "python"
    if os.environ.get("STREAMFOLD_NO_EXTENSIONS", "") in ("", "0"):
        return "cython"  # a normal install: the extension must be there
    # the run declares a pure install; the subprocess (without the variable) uses the extension iff built
    return "python" if importlib.util.find_spec("streamfold._fold_c") is None else "cython"


@pytest.mark.parametrize("value", [None, "", "0"], ids=["unset", "empty", "zero"])
def test_normal_install_uses_the_extension(tmp_path: Path, value: str | None) -> None:
    out = probe(tmp_path, value)
    expected = expected_default_implementation()
    assert out["implementation"] == expected
    suffix = "_c" if expected == "cython" else "_py"
    for name in PUBLIC_CLASSES:
        assert out["from"][name] == f"streamfold.{CLASS_MODULE[name]}{suffix}.{name}"
        assert out["same_as_module"][name]


@pytest.mark.parametrize("value", ["1", "yes"])
def test_environment_variable_forces_the_twin(tmp_path: Path, value: str) -> None:
    out = probe(tmp_path, value)
    assert out["implementation"] == "python"
    for name in PUBLIC_CLASSES:
        assert out["from"][name] == f"streamfold.{CLASS_MODULE[name]}_py.{name}"
        assert out["same_as_module"][name]
    assert out["c_loaded"] == []  # the extension is not even imported


def test_implementation_attribute_matches_the_live_classes() -> None:
    assert streamfold.IMPLEMENTATION in ("cython", "python")
    suffix = "_c" if streamfold.IMPLEMENTATION == "cython" else "_py"
    for name in PUBLIC_CLASSES:
        assert getattr(streamfold, name).__module__ == f"streamfold.{CLASS_MODULE[name]}{suffix}"


def test_all_names_import() -> None:
    assert len(streamfold.__all__) == len(set(streamfold.__all__))
    for name in streamfold.__all__:
        assert hasattr(streamfold, name), name
    namespace: dict[str, Any] = {}
    exec("from streamfold import *", namespace)
    assert set(streamfold.__all__) <= set(namespace)
    expected = {
        "fold", "afold", "SSEDecoder", "ServerSentEvent", "LineSplitter", "ChatAccumulator",
        "StreamError", "StreamDecodeError", "EventTooLargeError", "StreamAPIError",
        "IncompleteStreamError", "IMPLEMENTATION",
    }  # fmt: skip
    assert expected <= set(streamfold.__all__)


def test_error_hierarchy() -> None:
    assert issubclass(streamfold.StreamDecodeError, streamfold.StreamError)
    assert issubclass(streamfold.StreamDecodeError, ValueError)
    assert issubclass(streamfold.EventTooLargeError, streamfold.StreamDecodeError)
    assert issubclass(streamfold.StreamAPIError, streamfold.StreamError)
    assert issubclass(streamfold.IncompleteStreamError, streamfold.StreamError)
    assert not issubclass(streamfold.StreamAPIError, ValueError)


def test_py_typed_is_shipped() -> None:
    marker = importlib.resources.files("streamfold").joinpath("py.typed")
    assert marker.is_file()


# ---------------------------------------------------------------------------
# The extension and the twin: same public names, same signatures


def public_names(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


def signature_of(obj: Any) -> list[tuple[str, Any, Any]] | None:
    """Parameter names, kinds and defaults; None when not introspectable (or only ``*args, **kwargs``)."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    params = [p for p in sig.parameters.values() if p.name != "self"]
    if params and all(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
        return None
    return [(p.name, p.kind, p.default) for p in params]


@pytest.mark.parametrize("name", PUBLIC_CLASSES)
def test_same_public_names(both: tuple[SimpleNamespace, SimpleNamespace], name: str) -> None:
    c, py = both
    assert public_names(getattr(c, name)) == public_names(getattr(py, name))


@pytest.mark.parametrize("name", PUBLIC_CLASSES)
def test_same_signatures(both: tuple[SimpleNamespace, SimpleNamespace], name: str) -> None:
    c_cls, py_cls = getattr(both[0], name), getattr(both[1], name)
    compared = 0
    for attr in sorted(public_names(py_cls)) + [None]:
        c_obj = c_cls if attr is None else getattr(c_cls, attr)
        py_obj = py_cls if attr is None else getattr(py_cls, attr)
        if attr is not None and not callable(py_obj):
            continue  # properties and slots: names compared above
        c_sig, py_sig = signature_of(c_obj), signature_of(py_obj)
        assert py_sig is not None or attr is None, f"the twin's {name}.{attr} has no signature"
        if c_sig is None or py_sig is None:
            continue
        assert c_sig == py_sig, f"{name}.{attr or '__init__'}"
        compared += 1
    methods = [a for a in public_names(py_cls) if callable(getattr(py_cls, a))]
    assert compared >= len(methods) // 2, "too few signatures could be compared"


CONSTRUCTOR_CALLS: list[Any] = [
    ("SSEDecoder", (), {}),
    ("SSEDecoder", (), {"max_event_bytes": None}),
    ("SSEDecoder", (), {"max_event_bytes": 10}),
    ("SSEDecoder", (10,), {}),
    ("SSEDecoder", (), {"limit": 10}),
    ("ChatAccumulator", (), {"max_event_bytes": 10}),
    ("ChatAccumulator", (10,), {}),
    ("LineSplitter", (), {}),
    ("LineSplitter", (b"",), {}),
    ("ServerSentEvent", ("e", "d", "i", 1), {}),
    ("ServerSentEvent", (), {"event": "e", "data": "d", "id": "i", "retry": 1}),
    ("ServerSentEvent", ("e", "d", "i", 1, 2), {}),
    ("ServerSentEvent", (), {"type": "e"}),
]


@pytest.mark.parametrize(("name", "args", "kwargs"), CONSTRUCTOR_CALLS, ids=repr)
def test_same_constructor_calls(
    both: tuple[SimpleNamespace, SimpleNamespace], name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    """Constructors are not introspectable in the extension: call both the same ways instead."""
    outcomes = []
    for impl in both:
        try:
            getattr(impl, name)(*args, **kwargs)
            outcomes.append("ok")
        except TypeError:
            outcomes.append("TypeError")
    assert outcomes[0] == outcomes[1]
    if name in ("SSEDecoder", "ChatAccumulator") and args:
        assert outcomes == ["TypeError", "TypeError"]  # max_event_bytes is keyword-only
