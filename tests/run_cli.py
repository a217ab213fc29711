"""Helpers (not tests) that run the command line as a user does: ``python -m streamfold ...``
in a subprocess, against the implementation a test asks for."""

from __future__ import annotations

import contextlib
import os
import pty
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx

PREFIX = "streamfold: error: "


def cli_env(impl: str = "c", env: dict[str, str] | None = None) -> dict[str, str]:
    """The child's environment: no OPENAI_* from the caller, the twin for ``py``."""
    merged = {key: value for key, value in os.environ.items() if not key.startswith("OPENAI_")}
    merged.update(env or {})
    if impl == "py":
        merged["STREAMFOLD_NO_EXTENSIONS"] = "1"
    return merged


def argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "streamfold", *args]


def run(
    *args: str,
    stdin: bytes = b"",
    impl: str = "c",
    env: dict[str, str] | None = None,
    timeout: float = 60,
    **options: Any,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m streamfold ARGS`` to the end."""
    return subprocess.run(
        argv(*args), input=stdin, capture_output=True, env=cli_env(impl, env), timeout=timeout, **options
    )


def one_error(proc: subprocess.CompletedProcess[bytes], status: int) -> str:
    """Assert the run failed with ``status`` and one ``streamfold: error:`` line (no traceback);
    return the message after the prefix."""
    stderr = proc.stderr.decode()
    assert "Traceback" not in stderr, stderr
    assert proc.returncode == status, (proc.returncode, stderr)
    errors = [line for line in stderr.splitlines() if line.startswith(PREFIX)]
    assert len(errors) == 1, stderr
    return errors[0].removeprefix(PREFIX)


def run_with_terminal_stderr(*args: str, impl: str = "c") -> tuple[subprocess.CompletedProcess[bytes], str]:
    """Run ``python -m streamfold ARGS`` with stderr on a terminal (a pty), as a user sees it;
    returns the run and what the terminal showed."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            argv(*args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=follower,
            env=cli_env(impl),
            timeout=60,
        )
        os.close(follower)
        shown = b""
        while True:
            try:
                piece = os.read(leader, 65536)
            except OSError:  # the other end is closed: all was read
                break
            if not piece:
                break
            shown += piece
    finally:
        os.close(leader)
    return proc, shown.decode()


@contextlib.contextmanager
def serving(*args: str, banner_lines: int = 3) -> Iterator[tuple[subprocess.Popen[bytes], list[str]]]:
    """``streamfold serve --port 0 --quiet ARGS`` running, once it answers, and its banner's
    lines; stopped with Ctrl-C (SIGINT) at the end if the test did not stop it."""
    proc = subprocess.Popen(
        argv("serve", "--port", "0", "--quiet", *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env()
    )
    with proc:
        assert proc.stdout is not None
        banner = [proc.stdout.readline().decode() for _ in range(banner_lines)]
        base = banner[1].split()[2]
        deadline = time.monotonic() + 30
        try:
            while True:  # the banner comes as uvicorn starts: wait until it listens
                try:
                    httpx.get(f"{base}/models", timeout=2)
                    break
                except httpx.TransportError:
                    assert proc.poll() is None and time.monotonic() < deadline, "the server did not start"
                    time.sleep(0.05)
            yield proc, banner
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                proc.wait(timeout=30)
