"""``streamfold serve``, run as a user would: every mock setting an option, a curl line that works."""

from __future__ import annotations

import dataclasses
import re
import shlex
import shutil
import signal
import socket
import subprocess
import typing
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from conftest import ROOT
from run_cli import one_error, run, serving

import streamfold
from streamfold.mock import MockConfig

pytest.importorskip("uvicorn")


def _non_default(field: dataclasses.Field[Any], hint: Any) -> tuple[list[str], Any]:
    """Command-line words that set ``field`` to a value other than its default, and the value."""
    option = "--" + field.name.replace("_", "-")
    kind = next((arg for arg in typing.get_args(hint) if arg is not type(None)), hint)
    default = field.default
    if kind is bool:
        return ([option], True) if default is not True else ([f"--no-{field.name.replace('_', '-')}"], False)
    if field.name == "provider":
        return [option, "groq"], "groq"
    if kind is int:
        value = 1 if default is None else int(default) + 1
    elif kind is float:
        value = 0.5 if default is None else float(default) + 0.5
    elif kind is str:
        value = f"{field.name}-set"
    else:
        raise AssertionError(f"a MockConfig setting of a type this test does not know: {field.name}: {hint}")
    return [option, str(value)], value


def test_serve_has_an_option_for_every_mock_setting() -> None:
    hints = typing.get_type_hints(MockConfig)
    words: list[str] = []
    expected: dict[str, Any] = {}
    for field in dataclasses.fields(MockConfig):
        given, value = _non_default(field, hints[field.name])
        words += given
        expected[field.name] = value
    proc = run("serve", "--print-config", *words)
    assert proc.returncode == 0, proc.stderr
    shown = orjson.loads(proc.stdout)
    assert shown == dataclasses.asdict(MockConfig(**expected)) == expected
    defaults = orjson.loads(run("serve", "--print-config").stdout)
    assert defaults == dataclasses.asdict(MockConfig())
    assert run("serve", "--n", "3", "--n", "none", "--print-config").stdout == run("serve", "--print-config").stdout


Served = tuple[subprocess.Popen[bytes], list[str]]


@pytest.fixture
def served() -> Iterator[Served]:
    """``streamfold serve --port 0`` (a free port) with some settings, once it answers; its banner."""
    settings = ("--provider", "groq", "--n", "2", "--usage", "--output-tokens", "3", "--text", "one two three")
    with serving(*settings) as both:
        yield both


def test_serve_prints_the_base_url_and_a_curl_line_that_works(served: Served) -> None:
    proc, banner = served
    assert banner[0].startswith("streamfold mock server on 127.0.0.1:") and banner[1].startswith("base URL:")
    base = banner[1].split()[2]
    assert re.fullmatch(r"http://127\.0\.0\.1:[1-9][0-9]*/v1", base)  # --port 0: the port it found
    models = httpx.get(f"{base}/models").json()
    assert models["object"] == "list"
    curl = banner[2].removeprefix("try it:").strip()
    assert curl.startswith(f"curl -N {base}/chat/completions ")
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    answer = subprocess.run(shlex.split(curl), capture_output=True, timeout=30)
    assert answer.returncode == 0, answer.stderr
    completion = streamfold.fold(answer.stdout)
    assert [choice["message"]["content"] for choice in completion["choices"]] == ["one two three"] * 2  # --n 2
    assert completion["x_groq"]["usage"]["completion_tokens"] == 6  # --provider groq --usage
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0
    assert proc.stderr is not None and b"Traceback" not in proc.stderr.read()


def test_serve_on_a_port_in_use_says_so() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        message = one_error(run("serve", "--port", str(port)), 1)
    assert message == f"cannot listen on 127.0.0.1:{port}: Address already in use"


def test_serve_and_chat_without_uvicorn_say_what_to_install(tmp_path: Any) -> None:
    (tmp_path / "uvicorn.py").write_text("raise ImportError('No module named uvicorn')\n")
    env = {"PYTHONPATH": str(tmp_path)}
    assert "needs uvicorn" in one_error(run("serve", env=env), 2)
    assert "needs uvicorn" in one_error(run("chat", "hi", env=env), 2)
    assert run("fold", "--compact", env=env).returncode == 0  # the rest works without it


def test_the_readme_shows_the_banner_serve_prints() -> None:
    from streamfold._cli.serve import banner

    readme = (ROOT / "README.md").read_text()
    assert banner("127.0.0.1", 8000, MockConfig()) in readme
