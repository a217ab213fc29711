"""Rate limits held, measured from the mock's request log: --rpm, --tpm, the server's
x-ratelimit-* headers followed, a 429 pausing the whole run."""

from __future__ import annotations

from pathlib import Path

import pytest
from batches import read_output, request_line

pytest.importorskip("uvicorn")

from streamfold import batch
from streamfold.mock import LoggedRequest, MockConfig, MockServer


def _rate_per_minute(arrivals: list[float], amounts: list[int] | None = None) -> float:
    """Per minute, from the first arrival to the last (what came after the first, over the span)."""
    span = arrivals[-1] - arrivals[0]
    counted = len(arrivals) - 1 if amounts is None else sum(amounts[1:])
    return counted / span * 60


def _admitted(log: list[LoggedRequest]) -> list[LoggedRequest]:
    return [entry for entry in log if entry.status == 200]


def test_requests_per_minute_held(tmp_path: Path) -> None:
    lines = [request_line(f"r{number}") for number in range(60)]
    with MockServer(MockConfig(output_tokens=4)) as server:
        batch.run(lines, tmp_path / "out.jsonl", base_url=server.base_url, concurrency=32, rpm=1200)
        log = list(server.app.requests)
    assert len(log) == 60
    arrivals = [entry.arrived for entry in log]
    # the bucket holds one second of its rate (20 requests): the most a span may see above the rate
    assert len(arrivals) - 1 <= 20 * (arrivals[-1] - arrivals[0]) + 20
    rate = _rate_per_minute(arrivals[20:])
    assert 1200 * 0.85 < rate <= 1200 * 1.03, rate


def test_tokens_per_minute_held_with_refunds(tmp_path: Path) -> None:
    # the estimate (2 prompt tokens + max_tokens 60) is three times the real usage (2 + 18):
    # without refunds the run would reach a third of the limit
    lines = [request_line(f"t{number}", max_tokens=60) for number in range(24)]
    with MockServer(MockConfig(output_tokens=18)) as server:
        batch.run(lines, tmp_path / "out.jsonl", base_url=server.base_url, concurrency=32, tpm=12000)
        log = list(server.app.requests)
    assert {entry.prompt_tokens + entry.completion_tokens for entry in log} == {20}
    rate = _rate_per_minute(
        [entry.arrived for entry in log], [entry.prompt_tokens + entry.completion_tokens for entry in log]
    )
    assert 12000 * 0.7 < rate <= 12000 * 1.05, rate


def test_the_servers_rate_limit_headers_are_followed(tmp_path: Path) -> None:
    lines = [request_line(f"h{number}") for number in range(50)]
    output = tmp_path / "out.jsonl"
    with MockServer(MockConfig(output_tokens=4, rate_limit_requests=1200)) as server:
        summary = batch.run(lines, output, base_url=server.base_url, concurrency=16)
        log = list(server.app.requests)
    refused = [entry for entry in log if entry.status == 429]
    # before the first answer nothing is known: at most the first 16 are refused; then none
    assert len(refused) <= 16
    assert all(entry.arrived < _admitted(log)[16].arrived for entry in refused)
    assert summary.outcomes["ok"] == 50 and all(record["error"] is None for record in read_output(output))
    assert _rate_per_minute([entry.arrived for entry in _admitted(log)][10:]) <= 1200 * 1.05


def test_a_429_pauses_the_whole_run(tmp_path: Path) -> None:
    lines = [
        request_line(f"p{number}", {"status": 429, "retry_after": 0.5, "fault_times": 1} if number == 8 else None)
        for number in range(40)
    ]
    with MockServer(MockConfig(output_tokens=10, itl=0.01)) as server:
        summary = batch.run(lines, tmp_path / "out.jsonl", base_url=server.base_url, concurrency=4)
        log = list(server.app.requests)
    assert summary.outcomes["ok"] == 40
    refused = next(entry for entry in log if entry.status == 429)
    # the 4 in flight end ~0.1 s later; nothing new goes out until the Retry-After is over
    during = [entry for entry in log if refused.arrived + 0.02 < entry.arrived < refused.arrived + 0.48]
    assert during == [], during
    retried = next(entry for entry in log if entry.user == "p8" and entry.status == 200)
    assert retried.arrived >= refused.arrived + 0.5
