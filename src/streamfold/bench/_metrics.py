"""From request records to the figures of a serving benchmark (the names and meanings of
``vllm bench serve``).

Per request: TTFT, from sending (the moment the request's body went to its connection) to
the first output chunk; ITL, the gaps between output
chunks, per token when the server counted the tokens of each chunk (a gap of ``g`` before
a chunk of ``k`` tokens is ``k`` gaps of ``g / k``), else per chunk; TPOT, the time from the
first output chunk to the last over the output tokens after the first; E2EL, from sending
to the end of the stream.  Times are seconds here, milliseconds in the summary.
Percentiles interpolate linearly between the two nearest samples (numpy's default, as
vLLM), and ``std`` is the population standard deviation.
"""

from __future__ import annotations

import collections
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ._record import FINAL_USAGE, RequestRecord


@dataclass(frozen=True)
class Latencies:
    """One request's latencies in seconds, from its send time (None: not defined, e.g. no
    output at all)."""

    ttft: float | None
    itls: list[float]
    tpot: float | None
    e2el: float


def latencies(record: RequestRecord) -> Latencies:
    """The latencies of one finished request."""
    times = record.chunk_times
    e2el = record.end - record.sent
    if not times:
        return Latencies(None, [], None, e2el)
    ttft = times[0] - record.sent
    itls: list[float] = []
    tokens = record.chunk_tokens
    if tokens is None:
        itls = [later - earlier for earlier, later in itertools.pairwise(times)]
    else:
        last = times[0]
        for at, count in zip(times[1:], tokens[1:]):
            if count > 0:  # a chunk the server counted no token for: its gap runs on to the next
                itls.extend([(at - last) / count] * count)
                last = at
    count = record.output_tokens
    tpot = (times[-1] - times[0]) / (count - 1) if count > 1 else None
    return Latencies(ttft, itls, tpot, e2el)


def percentile(ordered: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0-100) of sorted values, interpolating linearly."""
    if not ordered:
        return math.nan
    rank = (len(ordered) - 1) * p / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def percentile_name(p: float) -> str:
    """``99`` -> ``"p99"``, ``99.9`` -> ``"p99.9"`` (vLLM's field names)."""
    return f"p{int(p)}" if p == int(p) else f"p{p}"


def describe(values: Iterable[float], percentiles: Sequence[float], name: str) -> dict[str, float]:
    """``mean_NAME_ms``, ``median_NAME_ms``, ``std_NAME_ms`` and ``pXX_NAME_ms`` of seconds
    ``values`` (0 for each when there are none, as vLLM reports an empty metric)."""
    ordered = sorted(values)
    if not ordered:
        ordered = [0.0]
    mean = sum(ordered) / len(ordered)
    std = math.sqrt(sum((value - mean) ** 2 for value in ordered) / len(ordered))
    found = {
        f"mean_{name}_ms": mean * 1000,
        f"median_{name}_ms": percentile(ordered, 50) * 1000,
        f"std_{name}_ms": std * 1000,
    }
    for p in percentiles:
        found[f"{percentile_name(p)}_{name}_ms"] = percentile(ordered, p) * 1000
    return found


def good(latency: Latencies, slos_ms: dict[str, float]) -> bool:
    """Whether a request meets every SLO (a request of one token has a TPOT of 0, as in vLLM)."""
    values = {"ttft": latency.ttft, "tpot": latency.tpot or 0.0, "e2el": latency.e2el}
    for name, limit in slos_ms.items():
        value = values[name]
        if value is None or value * 1000 > limit:
            return False
    return True


def token_times(record: RequestRecord) -> list[tuple[float, float]]:
    """(arrival, tokens) of each output chunk: the server's per-chunk counts, its total spread
    evenly over the chunks, or one per chunk."""
    times = record.chunk_times
    if record.chunk_tokens is not None:
        return list(zip(times, map(float, record.chunk_tokens)))
    if record.token_source == FINAL_USAGE and times:
        share = record.output_tokens / len(times)
        return [(at, share) for at in times]
    return [(at, 1.0) for at in times]


def peak_concurrency(records: Iterable[RequestRecord]) -> int:
    """The most requests in flight at once (each from its send time to its end)."""
    events = sorted(event for record in records for event in ((record.sent, 1), (record.end, -1)))
    peak = current = 0
    for _, change in events:  # at equal times an end (-1) sorts before a start
        current += change
        peak = max(peak, current)
    return peak


def per_second(records: Sequence[RequestRecord], origin: float) -> list[float]:
    """Output tokens that arrived in each second from ``origin``."""
    buckets: collections.defaultdict[int, float] = collections.defaultdict(float)
    for record in records:
        for at, tokens in token_times(record):
            buckets[int(at - origin)] += tokens
    if not buckets:
        return []
    return [buckets.get(second, 0.0) for second in range(max(buckets) + 1)]


def summarize(
    records: Sequence[RequestRecord],
    duration: float,
    *,
    percentiles: Sequence[float],
    slos_ms: dict[str, float],
    origin: float,
) -> dict[str, Any]:
    """The figures of a run: counts, throughputs, goodput, the statistics of TTFT, TPOT,
    ITL and E2EL, the peak of output tokens per second and of requests in flight."""
    done = [record for record in records if record.ok]
    measured = [latencies(record) for record in done]
    total_input = sum(record.input_tokens for record in done)
    total_output = sum(record.output_tokens for record in done)
    summary: dict[str, Any] = {
        "completed": len(done),
        "failed": len(records) - len(done),
        "total_input_tokens": total_input,
        "total_output_tokens": total_output,
        "request_throughput": len(done) / duration if duration > 0 else 0.0,
        "request_goodput": (
            sum(good(latency, slos_ms) for latency in measured) / duration if slos_ms and duration > 0 else None
        ),
        "output_throughput": total_output / duration if duration > 0 else 0.0,
        "total_token_throughput": (total_input + total_output) / duration if duration > 0 else 0.0,
    }
    summary.update(describe((m.ttft for m in measured if m.ttft is not None), percentiles, "ttft"))
    summary.update(describe((m.tpot for m in measured if m.tpot is not None), percentiles, "tpot"))
    summary.update(describe((gap for m in measured for gap in m.itls), percentiles, "itl"))
    summary.update(describe((m.e2el for m in measured), percentiles, "e2el"))
    rates = per_second(done, origin)
    summary["max_output_tokens_per_s"] = max(rates, default=0.0)
    summary["max_concurrent_requests"] = peak_concurrency(done)
    return summary


def failures(records: Iterable[RequestRecord]) -> dict[str, int]:
    """Failed requests counted by kind (``HTTP 429``, ``timeout``, ...), most frequent first."""
    return dict(collections.Counter(record.error_kind or "?" for record in records if not record.ok).most_common())
