"""The command line, run as a user would: ``python -m streamfold ...`` in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

import streamfold
from streamfold import fold

SAMPLE = Path(__file__).parent / "data" / "openai-recorded" / "parse_multiple_pydantic_tools.sse"


def run(*args: str, stdin: bytes = b"", impl: str = "c",
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, **(env or {})}
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


# -- chat ----------------------------------------------------------------------------------


def test_chat_without_a_base_url_asks_the_built_in_mock(which: str) -> None:
    pytest.importorskip("uvicorn")
    from streamfold._cli_chat import MOCK_ANSWER

    env_free = {"OPENAI_BASE_URL": ""}
    proc = run("chat", "What is a river?", impl=which, env=env_free)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode() == MOCK_ANSWER + "\n"
    stderr = proc.stderr.decode()
    assert "built-in mock server" in stderr
    words = len(MOCK_ANSWER.split())
    assert f"{words} output tokens" in stderr and "finish stop" in stderr and f"{words + 3} chunks" in stderr
    expected = streamfold.IMPLEMENTATION if which == "c" else "python"  # "python" too on a pure install
    assert f"{expected} core" in stderr


def test_chat_against_a_server_with_json_and_errors(which: str) -> None:
    pytest.importorskip("uvicorn")
    from streamfold.mock import MockConfig, MockServer

    with MockServer(MockConfig(text="one two three", output_tokens=6)) as server:
        proc = run("chat", "hi", "--base-url", server.base_url, "--model", "tiny", "--json", impl=which)
        assert proc.returncode == 0, proc.stderr
        answer, _, document = proc.stdout.decode().partition("\n")
        assert answer == "one two three one two three"
        completion = orjson.loads(document)
        assert completion["model"] == "tiny" and completion["choices"][0]["message"]["content"] == answer
        assert server.app.stats.last_body["messages"] == [{"role": "user", "content": "hi"}]
    with MockServer(MockConfig(text="one two three", output_tokens=6, error_after=3)) as server:
        proc = run("chat", "hi", "--base-url", server.base_url, impl=which)
        assert proc.returncode == 1
        assert proc.stdout.decode() == "one two\n"  # what arrived before the error stays on screen
        assert "server error: mock error after 3 chunks" in proc.stderr.decode()
    with MockServer(MockConfig(status=401)) as server:
        proc = run("chat", "hi", "--base-url", server.base_url, impl=which)
        assert proc.returncode == 1 and "HTTP 401" in proc.stderr.decode()

