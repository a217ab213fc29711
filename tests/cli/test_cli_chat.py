"""``streamfold chat``, run as a user would (in a subprocess) against the real mock server."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from run_cli import argv, cli_env, one_error, run

import streamfold

pytest.importorskip("uvicorn")

from streamfold._cli.chat import MOCK_ANSWER
from streamfold.mock import MockConfig, MockServer


def test_chat_without_a_base_url_asks_the_built_in_mock(cli_impl: str) -> None:
    proc = run("chat", "What is a river?", impl=cli_impl)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode() == MOCK_ANSWER + "\n"
    stderr = proc.stderr.decode()
    assert "built-in mock server" in stderr
    words = len(MOCK_ANSWER.split())
    assert f"{words} output tokens" in stderr and "finish stop" in stderr and f"{words + 3} chunks" in stderr
    expected = streamfold.IMPLEMENTATION if cli_impl == "c" else "python"  # "python" too on a pure install
    assert f"{expected} core" in stderr


def test_json_puts_only_the_completion_on_stdout(cli_impl: str) -> None:
    with MockServer(MockConfig(text="one two three", output_tokens=6)) as server:
        proc = run("chat", "hi", "--base-url", server.base_url, "--model", "tiny", "--json", impl=cli_impl)
        assert proc.returncode == 0, proc.stderr
        completion = orjson.loads(proc.stdout)  # the whole of stdout is one JSON document
        assert completion["model"] == "tiny"
        assert completion["choices"][0]["message"]["content"] == "one two three one two three"
        assert proc.stderr.decode().startswith("one two three one two three\n-- model tiny")  # live text on stderr
        assert server.app.stats.last_body["messages"] == [{"role": "user", "content": "hi"}]
        quiet = run("chat", "hi", "--base-url", server.base_url, "--json", "--quiet", impl=cli_impl)
        assert quiet.returncode == 0 and quiet.stderr == b""
        pretty = subprocess.run([sys.executable, "-m", "json.tool"], input=quiet.stdout, capture_output=True)
        assert pretty.returncode == 0 and orjson.loads(pretty.stdout) == orjson.loads(quiet.stdout)


def test_failures_keep_what_arrived(cli_impl: str) -> None:
    with MockServer(MockConfig(text="one two three", output_tokens=6, error_after=3)) as server:
        proc = run("chat", "hi", "--base-url", server.base_url, impl=cli_impl)
        assert "server error: mock error after 3 chunks" in one_error(proc, 1)
        assert proc.stdout.decode() == "one two\n"  # what arrived before the error stays on screen
        as_json = run("chat", "hi", "--base-url", server.base_url, "--json", impl=cli_impl)
        assert one_error(as_json, 1) and as_json.stdout == b""
        prefix = "partial completion: "
        partial = next(line for line in as_json.stderr.decode().splitlines() if line.startswith(prefix))
        assert orjson.loads(partial.removeprefix(prefix))["choices"][0]["message"]["content"] == "one two"
    with MockServer(MockConfig(status=401)) as server:
        assert "HTTP 401" in one_error(run("chat", "hi", "--base-url", server.base_url, impl=cli_impl), 1)


def test_save_sse_keeps_the_raw_stream_for_fold(cli_impl: str, tmp_path: Path) -> None:
    saved = tmp_path / "answer.sse"
    with MockServer(MockConfig(output_tokens=20, tool_calls=2, reasoning_tokens=3)) as server:
        proc = run(
            "chat", "hi", "--base-url", server.base_url, "--json", "--quiet", "--save-sse", str(saved), impl=cli_impl
        )
        assert proc.returncode == 0, proc.stderr
        assert server.app.stats.last_headers["accept-encoding"] == "identity"
    assert saved.read_bytes().endswith(b"data: [DONE]\n\n")
    folded = run("fold", str(saved), impl=cli_impl)
    assert orjson.loads(folded.stdout) == orjson.loads(proc.stdout)
    with MockServer(MockConfig(output_tokens=20, close_after=5)) as server:
        cut = run("chat", "hi", "--base-url", server.base_url, "--save-sse", str(saved), impl=cli_impl)
        assert "the connection was lost after 5 chunks" in one_error(cut, 1)
    assert "no finish_reason" in one_error(run("fold", str(saved), impl=cli_impl), 1)  # what came is kept


def test_question_from_stdin_n_tools_and_body(cli_impl: str, tmp_path: Path) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    tools_file = tmp_path / "tools.json"
    tools_file.write_bytes(orjson.dumps(tools))
    body = {"temperature": 0.25, "seed": 3, "mock": {"text": "echo", "output_tokens": 4}}
    with MockServer(MockConfig()) as server:
        proc = run(
            "chat",
            "-",
            "--base-url",
            server.base_url,
            "--n",
            "2",
            "--tools",
            str(tools_file),
            "--body",
            orjson.dumps(body).decode(),
            stdin=b"rivers run\n",
            impl=cli_impl,
        )
        assert proc.returncode == 0, proc.stderr
        sent = server.app.stats.last_body
    assert sent["messages"] == [{"role": "user", "content": "rivers run"}]
    assert sent["n"] == 2 and sent["tools"] == tools and sent["temperature"] == 0.25 and sent["seed"] == 3
    assert proc.stdout.decode() == "rivers run rivers run\n--- answer 1 ---\nrivers run rivers run\n"
    assert "finish stop, stop" in proc.stderr.decode()


def test_body_from_a_file_and_tool_calls_shown(cli_impl: str, tmp_path: Path) -> None:
    body_file = tmp_path / "body.json"
    body_file.write_bytes(orjson.dumps({"mock": {"tool_calls": 1, "seed": 1}}))
    with MockServer(MockConfig()) as server:
        proc = run("chat", "weather?", "--base-url", server.base_url, "--body", f"@{body_file}", impl=cli_impl)
    assert proc.returncode == 0, proc.stderr
    line = proc.stdout.decode().strip()
    assert line.startswith("[tool call] get_weather({") and '"call":0' in line


def _read_until(stream: int, wanted: int, deadline: float) -> bytes:
    seen = b""
    while len(seen) < wanted:
        ready, _, _ = select.select([stream], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise AssertionError(f"no output in time: {seen!r}")
        piece = os.read(stream, 4096)
        if not piece:
            break
        seen += piece
    return seen


def test_ctrl_c_ends_the_line_cleanly(cli_impl: str) -> None:
    with MockServer(MockConfig(output_tokens=400, itl=0.02)) as server:
        proc = subprocess.Popen(
            argv("chat", "hi", "--base-url", server.base_url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=cli_env(cli_impl),
        )
        assert proc.stdout is not None
        shown = _read_until(proc.stdout.fileno(), 10, time.monotonic() + 30)  # the answer has begun
        proc.send_signal(signal.SIGINT)
        rest, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert (shown + rest).endswith(b"\n") and (shown + rest).count(b"\n") == 1
    text = stderr.decode()
    assert "Traceback" not in text and "streamfold: interrupted after" in text
    assert text.splitlines()[-1].startswith("-- ")  # the stats of what arrived


def test_answers_in_typed_parts_are_shown_as_their_text(cli_impl: str) -> None:
    config = MockConfig(provider="mistral", text="flow on", output_tokens=2, reasoning_tokens=2, n=2)
    with MockServer(config) as server:
        proc = run("chat", "hi", "--base-url", server.base_url, impl=cli_impl)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode() == "flow on\n--- answer 1 ---\nflow on\n"
