"""The command line as a whole: every subcommand with bad arguments gives one error line and
exit status 2 (never a traceback), the installed ``streamfold`` command, ``--version``."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from run_cli import cli_env, one_error, run

#: argv -> words the one-line message must hold.
BAD_ARGUMENTS = [
    (["fold", "--max-event-bytes", "0"], "--max-event-bytes: must be a number of bytes >= 1, or 'none'"),
    (["fold", "--max-event-bytes", "-5"], "--max-event-bytes"),
    (["fold", "--max-event-bytes", "lots"], "--max-event-bytes"),
    (["fold", "/no/such/file.sse"], "cannot read /no/such/file.sse: No such file or directory"),
    (["fold", "/"], "cannot read /: Is a directory"),
    (["fold", "--jsonl", "-", "-"], "stdin ('-') can be read only once"),
    (["fold", "a.sse", "b.sse"], "2 inputs: add --jsonl"),
    (["fold", "--events", "a.sse", "b.sse"], "--events reads one input"),
    (["fold", "--events", "--sse"], "not allowed with argument"),
    (["fold", "--snapshots"], "--snapshots goes with --events"),
    (["fold", "--jsonl", "--partial", "p.json"], "--partial goes with one input"),
    (["fold", "--frobnicate"], "unrecognized arguments: --frobnicate"),
    (["serve", "--port", "99999"], "--port: a port is 0 to 65535 (0: any free one), got 99999"),
    (["serve", "--port", "http"], "--port: must be a whole number"),
    (["serve", "--output-tokens", "-1"], "--output-tokens must be >= 0"),
    (["serve", "--tokens-per-chunk", "0"], "--tokens-per-chunk must be >= 1"),
    (["serve", "--provider", "nobody"], "provider must be one of openai"),
    (["serve", "--n", "two"], "--n: must be a whole number or none"),
    (["serve", "--itl", "soon"], "--itl: must be a number"),
    (["chat"], "the following arguments are required: question"),
    (["chat", "hi", "--max-retries", "-1"], "--max-retries: must be a whole number >= 0, got -1"),
    (["chat", "hi", "--timeout", "-1"], "--timeout: must be a number of seconds > 0"),
    (["chat", "hi", "--timeout", "0"], "--timeout: must be a number of seconds > 0"),
    (["chat", "hi", "--timeout", "nan"], "--timeout"),
    (["chat", "hi", "--base-url", "not a url"], "'not a url' is not an http:// or https:// URL"),
    (["chat", "hi", "--base-url", "127.0.0.1:9"], "'127.0.0.1:9' has no scheme: did you mean http://127.0.0.1:9?"),
    (["chat", "hi", "--base-url", "ftp://example.com"], "is not an http:// or https:// URL"),
    (["chat", "hi", "--base-url", "http://127.0.0.1:99999/v1"], "port out of range"),
    (["chat", "hi", "--base-url", "http:///v1"], "has no host"),
    (["chat", "hi", "--n", "0"], "--n: must be a whole number >= 1"),
    (["chat", "hi", "--tools", "/no/tools.json"], "--tools: cannot read /no/tools.json"),
    (["chat", "hi", "--body", "{"], "--body is not JSON"),
    (["chat", "hi", "--body", "[1]"], "--body must be a JSON object"),
    (["chat", "hi", "--body", '{"stream": false}'], "chat always streams"),
    (["chat", "hi", "--body", '{"timeout": 3}'], "timeout would be taken as the client's own option"),
    (["chat", "hi", "--body", "@/no/body.json"], "--body: cannot read /no/body.json"),
    (["chat", "hi", "--save-sse", "/no/dir/answer.sse"], "--save-sse: cannot write /no/dir/answer.sse"),
    (["chat", "-"], "no question on stdin"),
    ([], "the following arguments are required: COMMAND"),
    (["frob"], "invalid choice: 'frob'"),
]


@pytest.mark.parametrize("args, expected", BAD_ARGUMENTS, ids=[" ".join(a) or "(none)" for a, _ in BAD_ARGUMENTS])
def test_bad_arguments_are_one_line_and_status_2(args: list[str], expected: str, cli_impl: str) -> None:
    proc = run(*args, impl=cli_impl, timeout=30)
    assert expected in one_error(proc, 2)
    assert len(proc.stderr.splitlines()) == 1  # no usage dump, no traceback


@pytest.mark.parametrize("name", ["tools.json", "not-json"])
def test_a_tools_file_must_hold_a_list_of_tools(name: str, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_bytes(b'"a string"' if name == "tools.json" else b"{nope")
    message = one_error(run("chat", "hi", "--tools", str(path)), 2)
    assert ("must hold a JSON list of tools" if name == "tools.json" else "is not JSON") in message


def test_a_question_on_stdin_must_be_text() -> None:
    assert one_error(run("chat", "-", stdin=b"\xff\xfe rivers"), 2) == "the question on stdin is not UTF-8 text"


def test_a_bad_base_url_in_the_environment_is_said_at_once() -> None:
    proc = run("chat", "hi", env={"OPENAI_BASE_URL": "localhost:8000"})
    assert one_error(proc, 2) == "OPENAI_BASE_URL: 'localhost:8000' has no scheme: did you mean http://localhost:8000?"
    assert b"attempts" not in proc.stderr  # nothing was sent, so nothing was retried


def test_the_installed_command_is_the_same_as_python_m(cli_impl: str) -> None:
    command = shutil.which("streamfold", path=str(Path(sys.executable).parent))
    assert command is not None, "the 'streamfold' console script is not installed next to this Python"
    installed = subprocess.run([command, "--version"], capture_output=True, env=cli_env(cli_impl), timeout=60)
    assert installed.returncode == 0
    assert installed.stdout == run("--version", impl=cli_impl).stdout
    expected = "python" if cli_impl == "py" else __import__("streamfold").IMPLEMENTATION
    assert installed.stdout.decode() == f"streamfold 0.1.0 ({expected} implementation)\n"
    assert subprocess.run([command, "fold", "--compact"], capture_output=True, env=cli_env(cli_impl)).returncode == 0


def test_help_works_for_every_command() -> None:
    for command in ([], ["chat"], ["fold"], ["serve"]):
        proc = run(*command, "--help")
        assert proc.returncode == 0 and proc.stdout.startswith(b"usage: streamfold") and proc.stderr == b""
