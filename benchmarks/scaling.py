"""Scaling: the fold's cost per chunk from 1,000 to 1,000,000 chunks, and its peak memory.

Every size is folded from the same kind of text stream in 16 KiB reads.  Samples of every
size last about as long as one fold of the largest stream (small streams are folded
repeatedly within a sample): on a machine with bursts of noise, a short sample can fall
between two bursts and a long one cannot, so unequal samples would bias the comparison.
Peak memory is traced (tracemalloc) in a separate pass per size, the reads allocated before
tracing starts, so it is what the fold itself holds: the text it has folded, no object per
chunk.
"""

from __future__ import annotations

import gc
import importlib
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

if __package__:
    from . import corpus
    from .timing import time_call
else:
    import corpus  # type: ignore[no-redef]
    from timing import time_call  # type: ignore[no-redef]

FULL_SIZES = (1_000, 10_000, 100_000, 1_000_000)
QUICK_SIZES = (500, 1_000, 2_000, 5_000)


def _accumulator() -> tuple[str, Any]:
    try:
        return "streamfold (Cython)", importlib.import_module("streamfold._fold_c").ChatAccumulator
    except ImportError:
        return "streamfold (pure Python)", importlib.import_module("streamfold._fold_py").ChatAccumulator


def _fold(accumulator: Any, reads: list[bytes]) -> dict[str, Any]:
    acc = accumulator()
    for read in reads:
        acc.feed(read)
    result: dict[str, Any] = acc.result()
    return result


def run(
    sizes: tuple[int, ...] = FULL_SIZES,
    rounds: int = 7,
    min_sample_s: float = 0.15,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Cost per chunk (median of ``rounds`` samples) and peak traced memory at each size."""
    label, accumulator = _accumulator()
    points: list[dict[str, Any]] = []
    reads_by_size: dict[int, list[bytes]] = {}
    first_ns: dict[int, int] = {}
    for n in sizes:
        stream = corpus.text_stream(n)
        reads_by_size[n] = corpus.split_reads(stream)
        expected = corpus.text_expected(n)
        start = time.perf_counter_ns()
        result = _fold(accumulator, reads_by_size[n])  # checked; also the warm-up
        first_ns[n] = time.perf_counter_ns() - start
        ok = result["choices"][0]["message"]["content"] == expected.content and result.get("usage") == expected.usage
        points.append(
            {
                "chunks": n,
                "bytes": len(stream),
                "status": "ok" if ok else "wrong output: content or usage differs",
                "samples_ns": [],
            }
        )
        del stream, result
    sample_ns = max([min_sample_s * 1e9, *first_ns.values()])
    calls = {n: max(1, round(sample_ns / max(first_ns[n], 1))) for n in sizes}
    for round_number in range(rounds):
        for point in points:
            if point["status"] != "ok":
                continue
            n, reads = point["chunks"], reads_by_size[point["chunks"]]

            def sample(reads: list[bytes] = reads, repeat: int = calls[n]) -> None:
                for _ in range(repeat):
                    _fold(accumulator, reads)

            point["samples_ns"].append(time_call(sample) // calls[n])
        progress(f"  scaling: round {round_number + 1}/{rounds}")
    for point in points:
        if point["status"] == "ok":
            median = statistics.median(point["samples_ns"])
            point.update(
                us_per_chunk=median / 1e3 / point["chunks"],
                best_us_per_chunk=min(point["samples_ns"]) / 1e3 / point["chunks"],
            )
            point.update(_peak_memory(accumulator, reads_by_size[point["chunks"]]))
    costs = [p["us_per_chunk"] for p in points if p["status"] == "ok"]
    return {
        "contender": label,
        "points": points,
        "spread": max(costs) / min(costs) if len(costs) == len(sizes) else None,
    }


def _peak_memory(accumulator: Any, reads: list[bytes]) -> dict[str, Any]:
    gc.collect()
    tracemalloc.start()
    try:
        acc = accumulator()
        for read in reads:
            acc.feed(read)
        feed_peak = tracemalloc.get_traced_memory()[1]
        result = acc.result()
        fold_peak = tracemalloc.get_traced_memory()[1]
        del acc
    finally:
        tracemalloc.stop()
    text_bytes = sys.getsizeof(result["choices"][0]["message"]["content"])
    return {
        "feed_peak_bytes": feed_peak,
        "fold_peak_bytes": fold_peak,
        "text_bytes": text_bytes,
        "feed_peak_x_text": feed_peak / text_bytes,
    }
