"""Helpers (not tests) of the batch tests: request lines, output files, the mock's own answer."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson

from streamfold import fold
from streamfold.mock import MockConfig
from streamfold.mock._generate import DONE, completion_chunks, encode

FAULTS = ("status", "retry_after", "error_after", "close_after", "stall_after", "fault_times")


def request_line(custom_id: str, mock: dict[str, Any] | None = None, **body: Any) -> dict[str, Any]:
    """A Batch API request line; ``user`` carries the custom_id, so the mock's log names it."""
    request = {"model": "mock-gpt", "messages": [{"role": "user", "content": "say something"}], "user": custom_id}
    request.update(body)
    if mock:
        request["mock"] = mock
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": request}


def write_lines(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    return path


def read_output(path: Path) -> list[dict[str, Any]]:
    """Every line of an output file, each a whole JSON record (asserted)."""
    data = path.read_bytes()
    assert data.endswith(b"\n") or not data
    return [orjson.loads(line) for line in data.splitlines()]


def by_id(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    ids = [record["custom_id"] for record in records]
    assert len(ids) == len(set(ids)), "a custom_id was written twice"
    return dict(zip(ids, records))


def mock_answer(server_config: MockConfig, line: dict[str, Any]) -> dict[str, Any]:
    """What the mock sends for this request once its faults are spent, folded (``created`` dropped)."""
    body = {**line["body"], "stream": True, "stream_options": {"include_usage": True}}
    settings = {name: value for name, value in (body.pop("mock", None) or {}).items() if name not in FAULTS}
    config = server_config.merged(settings)
    completion = fold(b"".join(encode(chunk) for chunk in completion_chunks(config, body)) + DONE)
    completion.pop("created")
    return completion


def without_created(completion: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in completion.items() if name != "created"}


def wait_for_lines(path: Path, count: int, proc: Any, timeout: float = 30) -> None:
    """Poll ``path`` until it has ``count`` lines (the process must still be running)."""
    deadline = time.monotonic() + timeout
    while True:
        if path.exists() and path.read_bytes().count(b"\n") >= count:
            return
        assert proc.poll() is None, "the batch ended before it was interrupted"
        assert time.monotonic() < deadline, f"{path} did not reach {count} lines"
        time.sleep(0.01)
