"""Helpers (not tests) for the relay's and the chat page's tests, whose servers run in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


class Answers:
    """An ``on_complete`` that keeps its calls, made in the server's thread, for the test's."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, Any]] = []
        self._arrived = threading.Semaphore(0)

    def __call__(self, completion: Any, error: Any) -> None:
        self.calls.append((completion, error))
        self._arrived.release()

    def next(self, timeout: float = 30.0) -> tuple[Any, Any]:
        """The arguments of the next call (waiting for it)."""
        assert self._arrived.acquire(timeout=timeout), "on_complete was not called"
        return self.calls[-1]


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for the server thread to record something (polls a condition, with a deadline)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.002)
