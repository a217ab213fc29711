"""What a batch run did: requests by outcome, tokens, throughput, latency percentiles.

Latencies go into a histogram of buckets 2% wide (from 0.1 ms), so the memory of a
summary does not grow with the number of requests and two summaries (two Ray workers,
two runs) add up: ``a + b`` or ``Summary.merge(a, b)``.  A percentile is the upper edge
of its bucket: within 2% of the exact value.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

#: The histogram's first bucket edge (seconds) and the ratio of one edge to the previous.
SMALLEST_S = 1e-4
BUCKET_RATIO = 1.02
_LOG_RATIO = math.log(BUCKET_RATIO)
PERCENTILES = (50, 90, 99)
#: The outcome of a request that succeeded (the others are the error codes of its record).
OK = "ok"


@dataclass
class Histogram:
    """Counts of values by bucket (bucket ``i`` holds values up to ``SMALLEST_S * BUCKET_RATIO**i``)."""

    counts: Counter[int] = field(default_factory=Counter)

    def add(self, seconds: float) -> None:
        index = 0 if seconds <= SMALLEST_S else math.ceil(math.log(seconds / SMALLEST_S) / _LOG_RATIO)
        self.counts[index] += 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def percentile(self, percent: float) -> float | None:
        """The value ``percent`` % of the values are at or below (None with no values)."""
        total = self.total
        if not total:
            return None
        wanted = math.ceil(total * percent / 100)
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= wanted:
                return float(SMALLEST_S * BUCKET_RATIO**index)
        raise AssertionError("unreachable: the counts add up to total")  # pragma: no cover

    def __add__(self, other: Histogram) -> Histogram:
        return Histogram(self.counts + other.counts)


@dataclass
class Summary:
    """The figures of one run (or of several, added together).

    ``outcomes``: requests by outcome (``"ok"``, or the error code of the record:
    ``invalid_request``, ``http_error``, ``stream_error``...); ``skipped``: requests
    already in the output (resumed); ``prompt_tokens`` / ``completion_tokens``: the usage
    the server reported; ``elapsed_s``: wall time (merged: the longest, as workers run
    side by side); ``ttft`` / ``duration``: histograms of the time to first token and of
    the whole request, retries included.  ``in_flight`` is live only (not in ``to_json``).
    """

    outcomes: Counter[str] = field(default_factory=Counter)
    skipped: int = 0
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    elapsed_s: float = 0.0
    ttft: Histogram = field(default_factory=Histogram)
    duration: Histogram = field(default_factory=Histogram)
    in_flight: int = 0

    # -- recording -------------------------------------------------------------------------

    def record(self, record: dict[str, Any]) -> None:
        """Count one output record."""
        error = record.get("error")
        self.outcomes[OK if error is None else str(error.get("code"))] += 1
        stats = record.get("streamfold") or {}
        self.attempts += stats.get("attempts") or 0
        if stats.get("ttft_s") is not None:
            self.ttft.add(stats["ttft_s"])
        if stats.get("duration_s") is not None:
            self.duration.add(stats["duration_s"])
        body = (record.get("response") or {}).get("body")
        usage = body.get("usage") if isinstance(body, dict) else None
        if isinstance(usage, dict):
            self.prompt_tokens += usage.get("prompt_tokens") or 0
            self.completion_tokens += usage.get("completion_tokens") or 0

    # -- reading ---------------------------------------------------------------------------

    @property
    def done(self) -> int:
        """Records written (every outcome)."""
        return sum(self.outcomes.values())

    @property
    def failed(self) -> int:
        """Records with an error."""
        return self.done - self.outcomes[OK]

    def per_second(self, count: float) -> float | None:
        return count / self.elapsed_s if self.elapsed_s > 0 else None

    def to_json(self) -> dict[str, Any]:
        """The summary as plain JSON values (what ``--summary FILE`` writes)."""

        def latencies(histogram: Histogram) -> dict[str, float | None]:
            return {f"p{percent}": histogram.percentile(percent) for percent in PERCENTILES}

        return {
            "requests": {
                "done": self.done,
                "ok": self.outcomes[OK],
                "failed": self.failed,
                "skipped": self.skipped,
                "by_outcome": dict(sorted(self.outcomes.items())),
            },
            "attempts": self.attempts,
            "tokens": {"prompt": self.prompt_tokens, "completion": self.completion_tokens},
            "elapsed_s": self.elapsed_s,
            "throughput": {
                "requests_per_s": self.per_second(self.done),
                "output_tokens_per_s": self.per_second(self.completion_tokens),
            },
            "latency_s": {"ttft": latencies(self.ttft), "duration": latencies(self.duration)},
        }

    def text(self) -> str:
        """The summary for people: a few lines."""
        by_outcome = ", ".join(f"{count:,} {name}" for name, count in sorted(self.outcomes.items())) or "none"
        rate = self.per_second(self.done)
        tokens_rate = self.per_second(self.completion_tokens)
        lines = [
            f"requests: {self.done:,} done ({by_outcome}); {self.skipped:,} already in the output",
            f"tokens: {self.prompt_tokens:,} in, {self.completion_tokens:,} out",
            f"time: {self.elapsed_s:.2f} s"
            + (f", {rate:,.1f} requests/s, {tokens_rate:,.0f} output tokens/s" if rate is not None else ""),
        ]
        for name, histogram in (("time to first token", self.ttft), ("duration", self.duration)):
            if histogram.total:
                figures = ", ".join(f"p{p} {_ms(histogram.percentile(p))}" for p in PERCENTILES)
                lines.append(f"{name}: {figures}")
        return "\n".join(lines)

    # -- adding up -------------------------------------------------------------------------

    def __add__(self, other: Summary) -> Summary:
        return Summary(
            outcomes=self.outcomes + other.outcomes,
            skipped=self.skipped + other.skipped,
            attempts=self.attempts + other.attempts,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            elapsed_s=max(self.elapsed_s, other.elapsed_s),
            ttft=self.ttft + other.ttft,
            duration=self.duration + other.duration,
        )

    @staticmethod
    def merge(*summaries: Summary) -> Summary:
        """The summaries added together (an empty summary for none)."""
        total = Summary()
        for summary in summaries:
            total = total + summary
        return total


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:,.1f} ms"
