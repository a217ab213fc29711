"""2,000 requests through ``streamfold.batch`` against the real mock, with every kind of fault:
each custom_id once, contents equal to what the mock sent, failures with their partials."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from batches import by_id, mock_answer, read_output, request_line, without_created, write_lines

pytest.importorskip("uvicorn")

from streamfold import batch
from streamfold.mock import MockConfig, MockServer

SERVER = MockConfig(output_tokens=12)


def fault_of(number: int) -> tuple[dict[str, Any], str]:
    """The mock settings of request ``number`` and the outcome expected of it."""
    seed = {"seed": number}
    if number % 100 == 1:
        return {**seed, "status": 429, "retry_after": 0.05, "fault_times": 1}, "ok"
    if number % 10 == 2:
        return {**seed, "status": 500, "fault_times": 2}, "ok"
    if number % 10 == 3:
        return {**seed, "error_after": 4}, "stream_error"
    if number % 10 == 4:
        return {**seed, "close_after": 3}, "incomplete_stream"
    if number % 50 == 5:
        return {**seed, "stall_after": 2}, "incomplete_stream"
    if number % 10 == 6:
        return {**seed, "status": 500}, "http_error"
    if number % 10 == 7:
        return {**seed, "close_after": 0, "fault_times": 1}, "ok"  # dropped before any byte: retried
    return seed, "ok"


def test_two_thousand_requests_with_faults(tmp_path: Path) -> None:
    lines = [request_line(f"req-{number}", fault_of(number)[0]) for number in range(2000)]
    output = tmp_path / "out.jsonl"
    with MockServer(SERVER) as server:
        summary = batch.run(
            write_lines(tmp_path / "in.jsonl", lines),
            output,
            base_url=server.base_url,
            concurrency=64,
            max_retries=2,
            timeout=0.5,
            retry_delay=0.01,
        )
    records = by_id(read_output(output))
    assert sorted(records) == sorted(line["custom_id"] for line in lines)
    outcomes: dict[str, int] = {}
    for number, line in enumerate(lines):
        record, expected = records[line["custom_id"]], fault_of(number)[1]
        outcomes[expected] = outcomes.get(expected, 0) + 1
        whole = mock_answer(SERVER, line)
        assert record["streamfold"]["line"] == number + 1
        if expected == "ok":
            assert record["error"] is None, record
            assert record["response"]["status_code"] == 200
            assert record["response"]["request_id"].startswith("req_mock")
            assert without_created(record["response"]["body"]) == whole
            assert record["streamfold"]["attempts"] == 1 + (fault_of(number)[0].get("fault_times") or 0)
        elif expected == "http_error":
            assert record["error"]["code"] == "http_error" and "mock status 500" in record["error"]["message"]
            assert record["response"]["status_code"] == 500 and record["streamfold"]["attempts"] == 3
            assert record["response"]["body"]["error"]["message"] == "mock status 500"
        else:  # failed mid-stream: the partial completion is kept, never retried
            assert record["error"]["code"] == expected, record
            assert record["streamfold"]["attempts"] == 1
            partial = record["response"]["body"]
            kept = partial["choices"][0]["message"]["content"]
            full = whole["choices"][0]["message"]["content"]
            assert kept and full.startswith(kept) and kept != full
    assert summary.done == 2000 and summary.outcomes["ok"] == outcomes["ok"]
    assert summary.outcomes["stream_error"] == outcomes["stream_error"] == 200
    assert summary.completion_tokens == 12 * outcomes["ok"]


def test_the_python_api_takes_an_iterable_of_dicts_and_resumes(tmp_path: Path) -> None:
    lines = [request_line(f"id-{number}", {"seed": number}) for number in range(30)]
    output = tmp_path / "out.jsonl"
    with MockServer(SERVER) as server:
        first = batch.run(iter(lines[:10]), output, base_url=server.base_url, concurrency=4)
        assert first.done == 10
        second = asyncio.run(batch.arun(lines, output, base_url=server.base_url, concurrency=4))
        requests_seen = len(server.app.requests)
    assert second.done == 20 and second.skipped == 10
    assert requests_seen == 30  # nothing sent twice
    records = by_id(read_output(output))
    assert sorted(records) == sorted(line["custom_id"] for line in lines)
    assert all(
        without_created(records[line["custom_id"]]["response"]["body"]) == mock_answer(SERVER, line) for line in lines
    )
