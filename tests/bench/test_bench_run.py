"""streamfold bench end to end: short runs against the real mock server over loopback, from
Python and from the command line."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from pathlib import Path
from typing import Any

import pytest
from run_cli import one_error, run

from streamfold.bench import BenchConfig, BenchError, result_json
from streamfold.bench import run as bench_run
from streamfold.bench._record import FINAL_USAGE, OUTPUT_CHUNKS, PER_CHUNK_USAGE, RequestRecord, send
from streamfold.bench._session import KERNEL_CLOCK, READ_CLOCK, kernel_clock_usable
from streamfold.client import AsyncClient
from streamfold.mock import MockConfig, MockServer

pytest.importorskip("uvicorn")
TTFT, ITL, TOKENS = 0.02, 0.002, 8


@pytest.fixture(scope="module")
def server() -> Any:
    with MockServer(MockConfig(output_tokens=TOKENS, ttft=TTFT, itl=ITL)) as running:
        yield running


def config(server: MockServer, **changes: Any) -> BenchConfig:
    settings: dict[str, Any] = {
        "base_url": server.base_url,
        "model": "m",
        "num_prompts": 12,
        "input_len": 16,
        "output_len": None,
        "max_concurrency": 4,
    }
    settings.update(changes)
    return BenchConfig(**settings)


@pytest.mark.parametrize("kernel_clock", [True, False], ids=["kernel-clock", "read-clock"])
def test_a_run_times_every_token_from_the_moment_it_was_sent(server: MockServer, kernel_clock: bool) -> None:
    if kernel_clock and not kernel_clock_usable(server.base_url):
        pytest.skip("receive timestamps need Linux and httptools")
    outcome = bench_run(config(server, request_rate=200.0, goodput={"ttft": 10_000}, kernel_clock=kernel_clock))
    result = result_json(outcome)
    assert result["client_overhead"]["chunk_clock"] == (KERNEL_CLOCK if kernel_clock else READ_CLOCK)
    assert result["completed"] == 12 and result["failed"] == 0 and result["token_counts"] == PER_CHUNK_USAGE
    assert result["output_lens"] == [TOKENS] * 12 and result["total_output_tokens"] == 12 * TOKENS
    assert result["request_goodput"] == result["request_throughput"]
    for record in outcome.records:
        assert record.arrival <= record.start <= record.sent < record.chunk_times[0] <= record.end
        assert record.chunk_tokens == [1] * TOKENS  # the mock's usage in every chunk, one token each
        assert record.chunk_times == sorted(record.chunk_times)
        assert record.input_tokens == 12  # the mock's prompt_tokens (a word a token) replaced the estimated 16
    # the mock waits TTFT before the first token and ITL between tokens: nothing can come sooner
    assert min(result["ttfts"]) >= TTFT
    assert all(len(gaps) == TOKENS - 1 for gaps in result["itls"])
    assert result["mean_itl_ms"] >= ITL * 1000 * 0.9
    assert result["max_concurrent_requests"] <= 4 and result["client_overhead"]["loop_lag_samples"] > 0
    assert result["client_overhead"]["cpu_us_per_chunk"] > 0


def test_usage_only_at_the_end_or_not_at_all(server: MockServer) -> None:
    at_end = result_json(bench_run(config(server, num_prompts=3, usage_per_chunk=False)))
    assert at_end["token_counts"] == FINAL_USAGE and at_end["usage_per_chunk_requested"] is False
    assert at_end["output_lens"] == [TOKENS] * 3
    with MockServer(MockConfig(output_tokens=5, tokens_per_chunk=2, usage=False)) as bare:
        counted = result_json(bench_run(config(bare, num_prompts=2)))
    assert counted["token_counts"] == OUTPUT_CHUNKS and counted["output_lens"] == [3, 3]  # 2 + 2 + 1 tokens


def test_the_wait_for_a_slot_is_apart_from_the_latencies(server: MockServer) -> None:
    outcome = bench_run(config(server, num_prompts=6, max_concurrency=1))
    result = result_json(outcome)
    assert result["max_concurrent_requests"] == 1
    queued = result["queue_times"]
    # all arrive at once and go one at a time: each waits for the ones before it
    assert queued == sorted(queued) and queued[-1] > 4 * TTFT
    assert max(result["latencies"]) < queued[-1]  # the wait is not inside any latency
    assert result["mean_client_queue_time_ms"] > 0


@pytest.mark.parametrize(
    ("mock", "kind"),
    [
        ({"status": 429}, "HTTP 429"),
        ({"error_after": 3}, "error in the stream"),
        ({"close_after": 3}, "stream cut short"),
    ],
)
def test_failures_are_named_and_keep_what_arrived(server: MockServer, mock: dict[str, Any], kind: str) -> None:
    async def scenario() -> RequestRecord:
        record = RequestRecord(0, 1)
        async with AsyncClient(base_url=server.base_url, max_retries=0) as client:
            await send(client, record, {"model": "m", "messages": [{"role": "user", "content": "hi"}], "mock": mock})
        return record

    record = asyncio.run(scenario())
    assert not record.ok and record.error_kind == kind and record.end >= record.start
    if "status" not in mock:
        assert record.text  # the text that came is kept (its chunks may have come in the failing read)


def test_a_first_request_that_fails_stops_the_run_before_it_starts() -> None:
    with MockServer(MockConfig(status=500)) as failing:
        with pytest.raises(BenchError, match="the first request failed: APIStatusError"):
            bench_run(config(failing))
        assert failing.app.stats.requests == 1


def test_the_command_line_writes_the_table_and_the_json(server: MockServer, tmp_path: Path) -> None:
    result = tmp_path / "result.json"
    dataset = tmp_path / "prompts.jsonl"
    dataset.write_text('{"prompt": "what is a river"}\n{"messages": [{"role": "user", "content": "hi"}]}\n')
    proc = run(
        "bench",
        "--base-url",
        server.base_url,
        "--model",
        "m",
        "--dataset",
        str(dataset),
        "--num-prompts",
        "6",
        "--request-rate",
        "500",
        "--burstiness",
        "0.5",
        "--goodput",
        "ttft:5000",
        "tpot:1000",
        "--percentiles",
        "50,99.9",
        "--result-json",
        str(result),
        "--warmup",
        "2",
    )
    assert proc.returncode == 0, proc.stderr.decode()
    table = proc.stdout.decode()
    assert "Serving Benchmark Result" in table and "Successful requests:                     6" in table
    assert "P99.9 TTFT (ms):" in table and "Request goodput (req/s):" in table and "Client CPU per chunk" in table
    clock = KERNEL_CLOCK if kernel_clock_usable(server.base_url) else READ_CLOCK  # --chunk-clock auto
    assert f"Chunk times from:                        {clock}" in table
    assert b"output tokens counted from: usage in every chunk" in proc.stderr
    saved = json.loads(result.read_text())
    assert saved["completed"] == 6 and saved["burstiness"] == 0.5 and "p99.9_itl_ms" in saved
    assert saved["generated_texts"][0] and len(saved["itls"]) == 6
    assert server.app.stats.last_body["stream_options"] == {"include_usage": True, "continuous_usage_stats": True}


def test_the_command_line_draws_the_plot(server: MockServer, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    picture = tmp_path / "plot.png"
    proc = run(
        "bench",
        "--base-url",
        server.base_url,
        "--model",
        "m",
        "--num-prompts",
        "4",
        "--input-len",
        "8",
        "--output-len",
        "4",
        "--plot",
        str(picture),
        "--quiet",
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert picture.read_bytes().startswith(b"\x89PNG") and b"error" not in proc.stderr


def test_the_command_line_fails_in_one_line() -> None:
    with MockServer(MockConfig(status=503)) as failing:
        proc = run("bench", "--base-url", failing.base_url, "--model", "m", "--num-prompts", "2")
    assert "the first request failed" in one_error(proc, 1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--request-rate", "0"], "--request-rate: must be a number > 0, or inf"),
        (["--goodput", "ttfb:5"], "each SLO is NAME:MS"),
        (["--ramp", "5"], "the form is START:END"),
        (["--ramp", "1:5", "--request-rate", "3"], "give --request-rate or --ramp, not both"),
        (["--percentiles", "0,50"], "--percentiles: must be numbers above 0"),
        (["--dataset", "no-such-file.jsonl"], "--dataset: no-such-file.jsonl: no such file"),
        (["--body", "[1]"], "--body must be a JSON object"),
        (["--body", '{"stream": false}'], "--body: the benchmark streams"),
        (["--result-json", "/no/such/dir/r.json"], "--result-json: cannot write /no/such/dir/r.json"),
    ],
)
def test_bad_arguments_are_usage_errors(args: list[str], message: str) -> None:
    proc = run("bench", "--base-url", "http://127.0.0.1:9/v1", "--model", "m", *args)
    assert message in one_error(proc, 2)


def test_kernel_timestamps_are_refused_over_https() -> None:
    proc = run("bench", "--base-url", "https://127.0.0.1:9/v1", "--model", "m", "--chunk-clock", "kernel")
    assert "--chunk-clock kernel needs a plain http:// server" in one_error(proc, 2)


def test_the_server_is_needed() -> None:
    assert "--base-url is needed" in one_error(run("bench", "--model", "m"), 2)


def test_arrivals_follow_the_rate(server: MockServer) -> None:
    started = time.perf_counter()
    outcome = bench_run(config(server, num_prompts=10, request_rate=100.0, burstiness=1e9, max_concurrency=None))
    arrivals = [record.arrival - outcome.origin for record in outcome.records]
    assert arrivals[-1] == pytest.approx(0.09, abs=0.05) and time.perf_counter() - started >= 0.09
    assert all(later >= earlier for earlier, later in itertools.pairwise(arrivals))
