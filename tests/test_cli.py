"""The command line, run as a user would: ``python -m streamfold ...`` in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from streamfold import fold

SAMPLE = Path(__file__).parent / "data" / "openai-recorded" / "parse_multiple_pydantic_tools.sse"


def run(*args: str, stdin: bytes = b"", impl: str = "c") -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ)
    if impl == "py":
        env["STREAMFOLD_NO_EXTENSIONS"] = "1"
    return subprocess.run([sys.executable, "-m", "streamfold", *args], input=stdin, capture_output=True,
                          env=env, timeout=60)


@pytest.fixture(params=["c", "py"])
def which(request: pytest.FixtureRequest) -> str:
    return request.param


def test_fold_with_no_file_folds_the_bundled_sample(which: str) -> None:
    proc = run("fold", impl=which)
    assert proc.returncode == 0, proc.stderr
    result = orjson.loads(proc.stdout)
    assert result["object"] == "chat.completion"
    message = result["choices"][0]["message"]
    assert message["content"].startswith("Streamfold folds chat-completion streams")
    assert message["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city": "Edinburgh"}'}
    assert result["usage"]["total_tokens"] == 76


def test_fold_file_and_stdin_match_the_library(which: str) -> None:
    expected = fold(SAMPLE.read_bytes())
    from_file = run("fold", str(SAMPLE), "--compact", impl=which)
    from_stdin = run("fold", "-", stdin=SAMPLE.read_bytes(), impl=which)
    assert from_file.returncode == from_stdin.returncode == 0
    assert orjson.loads(from_file.stdout) == orjson.loads(from_stdin.stdout) == expected
    assert from_file.stdout.count(b"\n") == 1  # --compact: one line


def test_events_prints_one_json_line_per_event(which: str) -> None:
    proc = run("fold", "--events", "-", stdin=b"id: 7\nevent: ping\ndata: a\ndata: b\n\n: c\n\ndata: [DONE]\n\n",
               impl=which)
    assert proc.returncode == 0
    lines = [orjson.loads(line) for line in proc.stdout.splitlines()]
    assert lines == [
        {"event": "ping", "data": "a\nb", "id": "7", "retry": None},
        {"event": "message", "data": "[DONE]", "id": "7", "retry": None},
    ]


def test_bad_stream_exits_1_with_one_line_error_and_partial(which: str) -> None:
    stream = b'data: {"id":"x","choices":[{"index":0,"delta":{"content":"kept"}}]}\n\ndata: {oops\n\n'
    proc = run("fold", "-", stdin=stream, impl=which)
    assert proc.returncode == 1
    assert proc.stdout == b""
    error, partial = proc.stderr.decode().splitlines()
    assert error.startswith("streamfold: error: event 2: invalid JSON")
    assert "Traceback" not in proc.stderr.decode()
    assert partial.startswith("partial completion: ")
    assert orjson.loads(partial.removeprefix("partial completion: "))["choices"][0]["message"]["content"] == "kept"


def test_unfinished_stream_exits_1(which: str) -> None:
    proc = run("fold", "-", stdin=b'data: {"choices":[{"index":0,"delta":{"content":"cut"}}]}\n\n', impl=which)
    assert proc.returncode == 1
    assert b"no finish_reason" in proc.stderr
    assert b'"content":"cut"' in proc.stderr


def test_missing_file_is_a_clean_error() -> None:
    proc = run("fold", "/no/such/file.sse")
    assert proc.returncode == 2
    assert proc.stderr.decode().strip() == "streamfold: error: cannot read /no/such/file.sse: No such file or directory"


def test_version_names_the_implementation(which: str) -> None:
    proc = run("--version", impl=which)
    assert proc.returncode == 0
    expected = "python" if which == "py" else ("cython" if not os.environ.get("STREAMFOLD_NO_EXTENSIONS") else "python")
    assert f"({expected} implementation)" in proc.stdout.decode()
