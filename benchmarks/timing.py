"""Timing: one call with the garbage collector off, cells of samples, paired ratios."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


def time_call(fn: Callable[[], Any]) -> int:
    """One call, in ns, with the garbage collector off (its result is dropped inside the timing)."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        fn()
        return time.perf_counter_ns() - start
    finally:
        gc.enable()


@dataclass
class Cell:
    """One contender on one corpus fed one way: its samples and what they say."""

    contender: str
    corpus: str
    reads: str
    chunks: int
    nbytes: int
    status: str = "ok"  # "ok", "skipped: why", "wrong output: why"
    samples_ns: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok" and bool(self.samples_ns)

    @property
    def median_ns(self) -> float:
        return statistics.median(self.samples_ns)

    @property
    def us_per_chunk(self) -> float:
        return self.median_ns / 1e3 / self.chunks

    @property
    def spread(self) -> float:
        """(slowest - fastest) / median of the samples: how much they disagree."""
        return (max(self.samples_ns) - min(self.samples_ns)) / self.median_ns

    @property
    def mb_per_s(self) -> float:
        return self.nbytes / (self.median_ns / 1e9) / 1e6

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "contender": self.contender,
            "corpus": self.corpus,
            "reads": self.reads,
            "chunks": self.chunks,
            "bytes": self.nbytes,
            "status": self.status,
        }
        if self.ok:
            data.update(
                samples_ns=self.samples_ns,
                median_ns=self.median_ns,
                us_per_chunk=self.us_per_chunk,
                spread=self.spread,
                mb_per_s=self.mb_per_s,
            )
        return data


def paired_ratio(slow: Cell | None, fast: Cell | None) -> float | None:
    """Median over the rounds both were timed in of slow/fast: each pair was timed back to back,
    so a slow spell of the machine hits both sides of a pair alike."""
    if slow is None or fast is None or not (slow.ok and fast.ok):
        return None
    pairs = list(zip(slow.samples_ns, fast.samples_ns))
    return statistics.median(a / b for a, b in pairs)
