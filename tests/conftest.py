"""One suite, both implementations: tests take ``impl`` instead of importing a module.

``impl`` is parametrized over the Cython extension (id ``c``, skipped only when the
extension is not built: ``test_implementation.py`` fails a normal install that lacks it)
and the pure-Python twin (id ``py``).
"""

from __future__ import annotations

import functools
import importlib
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, settings

from streamfold import _api

#: The repository, and the test data.
ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data"

settings.register_profile("default", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def load_impl(name: str) -> SimpleNamespace | None:
    """The public names of one implementation, or None if it is not importable."""
    suffix = {"c": "_c", "py": "_py"}[name]
    try:
        framing = importlib.import_module("streamfold._framing" + suffix)
        folding = importlib.import_module("streamfold._fold" + suffix)
    except ImportError:
        return None
    return SimpleNamespace(
        name=name,
        SSEDecoder=framing.SSEDecoder,
        ServerSentEvent=framing.ServerSentEvent,
        LineSplitter=framing.LineSplitter,
        ChatAccumulator=folding.ChatAccumulator,
        fold=functools.partial(_api.fold_with, folding.ChatAccumulator),
        afold=functools.partial(_api.afold_with, folding.ChatAccumulator),
        iter_events=functools.partial(_api.iter_events_with, folding.ChatAccumulator),
        aiter_events=functools.partial(_api.aiter_events_with, folding.ChatAccumulator),
    )


@pytest.fixture(scope="session", params=[pytest.param("c", marks=pytest.mark.c_extension), "py"])
def impl(request: pytest.FixtureRequest) -> SimpleNamespace:
    loaded = load_impl(request.param)
    if loaded is None:
        pytest.skip("the Cython extension is not built (pure-Python install)")
    return loaded


@pytest.fixture(scope="session")
def both() -> tuple[SimpleNamespace, SimpleNamespace]:
    """The extension and the twin together, for differential tests."""
    c, py = load_impl("c"), load_impl("py")
    if c is None:
        pytest.skip("the Cython extension is not built (pure-Python install)")
    assert py is not None
    return c, py


@pytest.fixture(params=["c", "py"])
def cli_impl(request: pytest.FixtureRequest) -> str:
    """For command-line tests (in subprocesses): ``c`` runs the installed core (the extension
    when it is built), ``py`` sets STREAMFOLD_NO_EXTENSIONS=1 in the child's environment."""
    return str(request.param)


@pytest.fixture
def dropin(impl: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """The openai drop-in (``streamfold.openai``) running on one implementation of the core."""
    from streamfold.openai import _state

    monkeypatch.setattr(_state, "ChatAccumulator", impl.ChatAccumulator)
    return impl
