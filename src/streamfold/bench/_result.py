"""A run's results: the JSON of ``vllm bench serve`` (the same field names and meanings,
per-request lists included, plus the client's own overhead), the final table, the warnings."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

from .._impl import IMPLEMENTATION
from .._version import __version__
from ._metrics import describe, failures, latencies, percentile, percentile_name, summarize
from ._record import RequestRecord
from ._runner import Run
from ._session import KERNEL_CLOCK

#: The client is called the bottleneck when it kept a core this busy.
BUSY_WARNING = 0.8
#: Event-loop lag (p99) above which chunk times may be late by a noticeable amount, in seconds.
LAG_WARNING_S = 0.001
#: Sending later than the arrival process asked, at p99, that says the client fell behind.
LATE_WARNING_S = 0.01
METRICS = (
    ("ttft", "TTFT", "Time to First Token"),
    ("tpot", "TPOT", "Time per Output Token (excl. 1st token)"),
    ("itl", "ITL", "Inter-token Latency"),
    ("e2el", "E2EL", "End-to-end Latency"),
)


def token_counts(records: Sequence[RequestRecord]) -> str:
    """How the output tokens were counted (the same for every request, or each way named)."""
    ways = sorted({record.token_source for record in records if record.ok})
    return " / ".join(ways) if ways else "none"


def overhead(run: Run) -> dict[str, Any]:
    """The client's own cost: CPU, CPU per chunk, how busy it kept its core, the event
    loop's lag, how late requests left against the arrival process, and the time from
    beginning a request to its body going out (not in the latencies)."""
    chunks = sum(record.chunks or len(record.chunk_times) for record in run.records)
    lags = sorted(run.overhead.lags)
    late = sorted(run.send_lateness)
    sending = sorted(record.sent - record.start for record in run.records if record.start)
    return {
        "chunk_clock": run.chunk_clock,
        "cpu_s": run.overhead.cpu_s,
        "chunks": chunks,
        "cpu_us_per_chunk": run.overhead.cpu_s / chunks * 1e6 if chunks else None,
        "busy": run.overhead.busy,
        "loop_lag_precise": run.overhead.precise,
        "loop_lag_samples": len(lags),
        "median_loop_lag_ms": percentile(lags, 50) * 1000 if lags else None,
        "p99_loop_lag_ms": percentile(lags, 99) * 1000 if lags else None,
        "max_loop_lag_ms": lags[-1] * 1000 if lags else None,
        "p99_send_lateness_ms": percentile(late, 99) * 1000 if late else None,
        "median_request_send_ms": percentile(sending, 50) * 1000 if sending else None,
        "p99_request_send_ms": percentile(sending, 99) * 1000 if sending else None,
        "implementation": IMPLEMENTATION,
        "streamfold": __version__,
    }


def warnings(run: Run, result: dict[str, Any]) -> list[str]:
    """What the user should know about the measurement itself."""
    found = []
    cost = result["client_overhead"]
    if cost["busy"] >= BUSY_WARNING:
        found.append(
            f"the client kept {cost['busy']:.0%} of a CPU core busy: it, not the server, may be the "
            "bottleneck (fewer streams per client process, or more client processes)"
        )
    lag = cost["p99_loop_lag_ms"]
    median_itl = result["median_itl_ms"]
    late_reads = cost["chunk_clock"] != KERNEL_CLOCK  # the kernel's stamps do not wait for the loop
    if late_reads and lag is not None and lag > max(LAG_WARNING_S * 1000, 0.05 * median_itl):
        found.append(
            f"the client's event loop ran {lag:.1f} ms late at p99: chunk times may be late by about that much"
        )
    late = cost["p99_send_lateness_ms"]
    if late is not None and late > LATE_WARNING_S * 1000:
        found.append(
            f"requests left up to {late:.0f} ms (p99) after their arrival times: the client could "
            "not keep to the request rate"
        )
    if result["completed"] == 0:
        found.append("every request failed")
    return found


def result_json(run: Run) -> dict[str, Any]:
    """The run as ``vllm bench serve --save-result --save-detailed`` writes it, plus
    ``token_counts``, ``failures_by_kind``, ``client_overhead`` and ``warnings``."""
    config = run.config
    records = run.records
    result: dict[str, Any] = {
        "date": time.strftime("%Y%m%d-%H%M%S"),
        "endpoint_type": "openai-chat",
        "backend": "openai-chat",
        "label": "streamfold",
        "model_id": config.model,
        "tokenizer_id": config.tokenizer,
        "num_prompts": len(records),
        "request_rate": "inf" if config.request_rate == math.inf else config.request_rate,
        "burstiness": config.burstiness,
        "max_concurrency": config.max_concurrency,
    }
    if config.ramp is not None:
        result.update(
            ramp_up_strategy=config.ramp.strategy, ramp_up_start_rps=config.ramp.start, ramp_up_end_rps=config.ramp.end
        )
    summary = summarize(
        records, run.duration, percentiles=config.percentiles, slos_ms=config.goodput, origin=run.origin
    )
    result["duration"] = run.duration
    for name in (
        "completed",
        "failed",
        "total_input_tokens",
        "total_output_tokens",
        "request_throughput",
        "request_goodput",
        "output_throughput",
        "total_token_throughput",
    ):
        result[name] = summary.pop(name)
    measured = [latencies(record) if record.ok else None for record in records]
    result.update(
        input_lens=[record.input_tokens for record in records],
        output_lens=[record.output_tokens if record.ok else 0 for record in records],
        ttfts=[m.ttft if m is not None and m.ttft is not None else 0.0 for m in measured],
        itls=[m.itls if m is not None else [] for m in measured],
        latencies=[m.e2el if m is not None else 0.0 for m in measured],
        start_times=[record.sent for record in records],
        queue_times=[record.start - record.arrival if record.start else 0.0 for record in records],
        generated_texts=[record.text for record in records],
        errors=[record.error or "" for record in records],
        max_output_tokens_per_s=summary.pop("max_output_tokens_per_s"),
        max_concurrent_requests=summary.pop("max_concurrent_requests"),
        rtfx=0.0,
    )
    result.update(summary)
    if config.max_concurrency is not None:
        queued = [record.start - record.arrival for record in records if record.ok]
        result.update(describe(queued, config.percentiles, "client_queue_time"))
    result["goodput_slos_ms"] = dict(config.goodput) or None
    result["token_counts"] = token_counts(records)
    result["usage_per_chunk_requested"] = run.usage_per_chunk
    result["failures_by_kind"] = failures(records)
    result["client_overhead"] = overhead(run)
    result["warnings"] = warnings(run, result)
    return result


def _line(label: str, value: Any, digits: int = 2) -> str:
    shown = f"{value:,.{digits}f}" if isinstance(value, float) else str(value)
    return f"{label:<40} {shown}"


def table(result: dict[str, Any], percentiles: Sequence[float]) -> str:
    """The final table, laid out as ``vllm bench serve`` prints its own."""
    lines = [
        "{:=^50}".format(" Serving Benchmark Result "),
        _line("Successful requests:", result["completed"]),
        _line("Failed requests:", result["failed"]),
    ]
    for kind, count in result["failures_by_kind"].items():
        lines.append(_line(f"  {kind}:", count))
    if result["max_concurrency"] is not None:
        lines.append(_line("Maximum request concurrency:", result["max_concurrency"]))
    if result["request_rate"] != "inf":
        lines.append(_line("Request rate configured (RPS):", float(result["request_rate"])))
    lines += [
        _line("Benchmark duration (s):", result["duration"]),
        _line("Total input tokens:", result["total_input_tokens"]),
        _line("Total generated tokens:", result["total_output_tokens"]),
        _line("  counted from:", result["token_counts"]),
        _line("Request throughput (req/s):", result["request_throughput"]),
    ]
    if result["request_goodput"] is not None:
        lines.append(_line("Request goodput (req/s):", result["request_goodput"]))
    lines += [
        _line("Output token throughput (tok/s):", result["output_throughput"]),
        _line("Peak output token throughput (tok/s):", float(result["max_output_tokens_per_s"])),
        _line("Peak concurrent requests:", result["max_concurrent_requests"]),
        _line("Total token throughput (tok/s):", result["total_token_throughput"]),
    ]
    sections = list(METRICS)
    if "mean_client_queue_time_ms" in result:
        sections.append(("client_queue_time", "Client Queue Time", "Waiting for a Slot (not in the latencies)"))
    for name, short, header in sections:
        lines.append(f"{header:-^50}")
        lines.append(_line(f"Mean {short} (ms):", result[f"mean_{name}_ms"]))
        lines.append(_line(f"Median {short} (ms):", result[f"median_{name}_ms"]))
        for p in percentiles:
            word = percentile_name(p)
            lines.append(_line(f"P{word[1:]} {short} (ms):", result[f"{word}_{name}_ms"]))
    cost = result["client_overhead"]
    lines.append("{:-^50}".format("Client Overhead (streamfold)"))
    lines.append(_line("Chunk times from:", cost["chunk_clock"]))
    if cost["cpu_us_per_chunk"] is not None:
        lines.append(_line("Client CPU per chunk (µs):", cost["cpu_us_per_chunk"]))
    lines.append(_line("Client CPU busy (% of a core):", cost["busy"] * 100, 1))
    if cost["p99_request_send_ms"] is not None:
        lines.append(
            _line(
                "Sending a request p50 / p99 (ms):",
                f"{cost['median_request_send_ms']:.3f} / {cost['p99_request_send_ms']:.3f}",
            )
        )
    if cost["p99_loop_lag_ms"] is not None:
        lines.append(
            _line(
                "Event-loop lag p50 / p99 / max (ms):",
                f"{cost['median_loop_lag_ms']:.3f} / {cost['p99_loop_lag_ms']:.3f} / {cost['max_loop_lag_ms']:.3f}",
            )
        )
    lines.append("=" * 50)
    return "\n".join(lines)
