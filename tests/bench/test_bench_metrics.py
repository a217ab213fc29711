"""The arithmetic of streamfold bench's figures, on records with known timings."""

from __future__ import annotations

import math

import pytest

from streamfold.bench import BenchConfig, latencies, summarize
from streamfold.bench._metrics import describe, failures, peak_concurrency, per_second, percentile
from streamfold.bench._monitor import Overhead
from streamfold.bench._record import FINAL_USAGE, PER_CHUNK_USAGE, RequestRecord
from streamfold.bench._result import result_json, table
from streamfold.bench._runner import Run
from streamfold.bench._session import KERNEL_CLOCK, READ_CLOCK


def record(
    sent: float,
    times: list[float],
    end: float,
    *,
    tokens: list[int] | None = None,
    output: int | None = None,
    error: str | None = None,
    kind: str | None = None,
    index: int = 0,
    input_tokens: int = 10,
) -> RequestRecord:
    made = RequestRecord(
        index,
        input_tokens,
        arrival=sent - 0.5,
        start=sent - 0.01,
        sent=sent,
        end=end,
        chunk_times=times,
        chunk_tokens=tokens,
        error=error,
        error_kind=kind,
    )
    made.output_tokens = output if output is not None else (sum(tokens) if tokens else len(times))
    made.token_source = PER_CHUNK_USAGE if tokens else FINAL_USAGE
    return made


def test_latencies_per_chunk() -> None:
    found = latencies(record(10.0, [10.1, 10.15, 10.25], 10.3))
    assert found.ttft == pytest.approx(0.1)
    assert found.itls == pytest.approx([0.05, 0.1])
    assert found.tpot == pytest.approx(0.075)  # (10.25 - 10.1) / (3 - 1)
    assert found.e2el == pytest.approx(0.3)


def test_latencies_per_token_when_the_server_counts_them() -> None:
    # a gap of g before a chunk of k tokens is k gaps of g / k; the first chunk's tokens are in the TTFT
    found = latencies(record(0.0, [1.0, 1.2, 1.3], 1.4, tokens=[2, 2, 1]))
    assert found.itls == pytest.approx([0.1, 0.1, 0.1])
    assert found.tpot == pytest.approx(0.3 / 4)
    # a chunk the server counted no token for: its gap runs on to the next counted chunk
    assert latencies(record(0.0, [1.0, 1.1, 1.3], 1.3, tokens=[1, 0, 2])).itls == pytest.approx([0.15, 0.15])


def test_a_request_without_output_has_no_ttft_and_one_token_no_tpot() -> None:
    assert latencies(record(0.0, [], 0.5)).ttft is None
    single = latencies(record(0.0, [0.2], 0.3))
    assert single.ttft == pytest.approx(0.2) and single.itls == [] and single.tpot is None


def test_percentiles_interpolate_linearly_as_numpy_does() -> None:
    values = [1.0, 2.0, 3.0, 4.0]
    assert [percentile(values, p) for p in (50, 90, 99, 100)] == pytest.approx([2.5, 3.7, 3.97, 4.0])
    assert percentile([5.0], 99) == 5.0 and math.isnan(percentile([], 50))
    stats = describe([0.001, 0.002, 0.003, 0.006], (99.9,), "x")
    assert stats["mean_x_ms"] == pytest.approx(3.0) and stats["median_x_ms"] == pytest.approx(2.5)
    assert stats["std_x_ms"] == pytest.approx(math.sqrt(3.5))  # population standard deviation
    assert stats["p99.9_x_ms"] == pytest.approx(5.991)
    assert describe([], (99,), "y") == {"mean_y_ms": 0.0, "median_y_ms": 0.0, "std_y_ms": 0.0, "p99_y_ms": 0.0}


def known_records() -> list[RequestRecord]:
    return [
        record(0.0, [0.1, 0.2, 0.3], 0.35, index=0),  # TTFT 100 ms, TPOT 100 ms, E2EL 350 ms
        record(0.5, [0.55, 0.6, 0.65, 0.7], 0.75, index=1),  # TTFT 50 ms, TPOT 50 ms, E2EL 250 ms
        record(1.0, [1.3], 1.4, index=2),  # one token: TPOT counts as 0 for goodput
        record(1.2, [1.25], 1.3, error="APIStatusError: 429", kind="HTTP 429", index=3),
        record(1.5, [], 1.6, error="IncompleteStreamError: lost", kind="stream cut short", index=4),
        record(1.6, [], 1.7, error="APIStatusError: 429", kind="HTTP 429", index=5),
    ]


def test_summary_counts_throughputs_and_goodput() -> None:
    records = known_records()
    found = summarize(records, 2.0, percentiles=(50,), slos_ms={"ttft": 301, "tpot": 60}, origin=0.0)
    assert (found["completed"], found["failed"]) == (3, 3)
    assert found["total_input_tokens"] == 30 and found["total_output_tokens"] == 8
    assert found["request_throughput"] == 1.5 and found["output_throughput"] == 4.0
    assert found["total_token_throughput"] == 19.0
    # goodput: request 0 misses tpot <= 60 ms; 1 meets both; 2 (one token, TTFT 300 ms) meets both
    assert found["request_goodput"] == 1.0
    assert found["mean_ttft_ms"] == pytest.approx((100 + 50 + 300) / 3)
    assert found["median_itl_ms"] == pytest.approx(50) and found["mean_e2el_ms"] == pytest.approx((350 + 250 + 400) / 3)
    assert found["max_output_tokens_per_s"] == 7.0 and found["max_concurrent_requests"] == 1  # done ones never overlap
    assert summarize(records, 2.0, percentiles=(50,), slos_ms={}, origin=0.0)["request_goodput"] is None
    assert failures(records) == {"HTTP 429": 2, "stream cut short": 1}


def test_peak_concurrency_and_tokens_per_second() -> None:
    spans = [record(0.0, [0.5], 1.0), record(0.5, [0.6], 1.5), record(1.0, [1.2], 2.0), record(1.1, [2.5], 3.0)]
    assert peak_concurrency(spans) == 3  # a request ending at 1.0 is gone when the next starts at 1.0
    assert per_second(spans, 0.0) == [2.0, 1.0, 1.0]
    counted = record(0.0, [0.2, 1.5], 1.6, tokens=[3, 4])
    assert per_second([counted], 0.0) == [3.0, 4.0]


def run_of(records: list[RequestRecord], config: BenchConfig, clock: str = READ_CLOCK) -> Run:
    lags = [0.0001, 0.0002, 0.003]
    return Run(config, records, 0.0, 2.0, Overhead(0.5, 2.0, lags, True), [0.0, 0.001], True, None, clock)


def test_result_json_has_vllm_field_names_and_meanings() -> None:
    config = BenchConfig(base_url="http://x/v1", model="m", max_concurrency=4, goodput={"ttft": 100}, percentiles=(99,))
    result = result_json(run_of(known_records(), config))
    for name in (
        "date",
        "backend",
        "model_id",
        "num_prompts",
        "request_rate",
        "burstiness",
        "max_concurrency",
        "duration",
        "completed",
        "failed",
        "total_input_tokens",
        "total_output_tokens",
        "request_throughput",
        "request_goodput",
        "output_throughput",
        "total_token_throughput",
        "input_lens",
        "output_lens",
        "ttfts",
        "itls",
        "latencies",
        "start_times",
        "generated_texts",
        "errors",
        "max_output_tokens_per_s",
        "max_concurrent_requests",
        "mean_ttft_ms",
        "median_ttft_ms",
        "std_ttft_ms",
        "p99_ttft_ms",
        "mean_tpot_ms",
        "p99_tpot_ms",
        "mean_itl_ms",
        "p99_itl_ms",
        "mean_e2el_ms",
        "p99_e2el_ms",
        "mean_client_queue_time_ms",
        "queue_times",
    ):
        assert name in result, name
    assert result["request_rate"] == "inf" and result["num_prompts"] == 6 and result["duration"] == 2.0
    # per request, in order; a failed request has zeros and its error, as vLLM writes them
    assert result["ttfts"] == pytest.approx([0.1, 0.05, 0.3, 0.0, 0.0, 0.0])
    assert result["output_lens"] == [3, 4, 1, 0, 0, 0] and result["itls"][3] == []
    assert result["latencies"][:3] == pytest.approx([0.35, 0.25, 0.4]) and result["errors"][3] == "APIStatusError: 429"
    assert result["start_times"] == [0.0, 0.5, 1.0, 1.2, 1.5, 1.6]
    assert result["queue_times"] == pytest.approx([0.49] * 6)  # start - arrival: the wait for a slot
    assert result["failures_by_kind"] == {"HTTP 429": 2, "stream cut short": 1}
    assert result["client_overhead"]["cpu_us_per_chunk"] == pytest.approx(0.5 / 9 * 1e6)  # 9 chunks came
    assert result["client_overhead"]["busy"] == 0.25
    assert any("ran 2.9 ms late at p99" in warning for warning in result["warnings"])  # p99 of the lag samples
    shown = table(result, config.percentiles)
    assert "Successful requests:                     3" in shown and "HTTP 429:" in shown
    assert "P99 TTFT (ms):" in shown and "Client Queue Time" in shown and "Client CPU per chunk" in shown
    assert f"Chunk times from:                        {READ_CLOCK}" in shown


def test_a_late_event_loop_is_no_warning_when_the_kernel_timed_the_chunks() -> None:
    config = BenchConfig(base_url="http://x/v1", model="m")
    result = result_json(run_of(known_records(), config, KERNEL_CLOCK))
    assert result["client_overhead"]["chunk_clock"] == KERNEL_CLOCK
    assert not any("late at p99" in warning for warning in result["warnings"])
    assert f"Chunk times from:                        {KERNEL_CLOCK}" in table(result, config.percentiles)
