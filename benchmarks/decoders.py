"""The decoder benchmark: every contender on every corpus, fed in 16 KiB reads and one read
per event, in one process.

Each contender's first call on a corpus is checked against the corpus's expected summary
(and is its warm-up); a wrong one is reported, not timed.  The contenders of a (corpus,
reads) pair are then timed in rounds, each once per round, garbage collector off.  The slow
contenders (openai-python) are timed in the first ``slow_rounds`` rounds only.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

if __package__:
    from . import contenders as peers
    from . import corpora
    from .timing import Cell, paired_ratio, time_call
else:
    import contenders as peers  # type: ignore[no-redef]
    import corpora  # type: ignore[no-redef]
    from timing import Cell, paired_ratio, time_call  # type: ignore[no-redef]


@dataclass(frozen=True)
class Plan:
    """Sizes and repetitions of a run."""

    sizes: corpora.Sizes
    rounds: int
    slow_rounds: int


FULL = Plan(corpora.FULL, rounds=7, slow_rounds=3)
QUICK = Plan(corpora.QUICK, rounds=3, slow_rounds=1)


def run(plan: Plan, progress: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure everything; returns the cells (as dicts) and the ratios derived from them."""
    started = time.perf_counter()
    cells: list[Cell] = []
    described = []
    for data in corpora.build(plan.sizes):
        # everything alive now (modules, the corpus) is moved out of the collector's sight:
        # the collection before each timed call then costs microseconds, not 50 ms
        gc.freeze()
        described.append({"name": data.name, "title": data.title, "chunks": data.chunks, "bytes": len(data.stream)})
        for how in corpora.READS:
            cells += _measure(data, how, plan)
            progress(f"  decoders: {data.name} / {how} done ({time.perf_counter() - started:.0f} s)")
    gc.unfreeze()
    return {
        "cells": [_with_ratios(cell, cells) for cell in cells],
        "corpora": described,
        "rounds": plan.rounds,
        "slow_rounds": plan.slow_rounds,
    }


def _measure(data: corpora.Corpus, how: str, plan: Plan) -> list[Cell]:
    reads = data.reads(how)
    cells, timed, checks = [], [], []
    for contender in peers.CONTENDERS:
        cell = Cell(contender.name, data.name, how, data.chunks, len(data.stream))
        cells.append(cell)
        fn, why = contender.make(data)
        if fn is None:
            cell.status = "skipped: " + why
            continue
        if contender.slow:
            # A whole run costs seconds: warm up on the first 2% of the reads (the code paths
            # are the same), and check the output of the first timed run instead.
            output: list[tuple[peers.Summary | None, int]] = []
            _warm_up(fn, reads[: max(1, len(reads) // 50)])
            timed.append((cell, _first_kept(fn, reads, output), plan.slow_rounds))
            checks.append((cell, contender.kind, output))
            continue
        wrong = _check(contender.kind, lambda fn=fn: fn(reads), data)  # also the warm-up
        if wrong:
            cell.status = "wrong output: " + wrong
            continue
        timed.append((cell, lambda fn=fn: fn(reads), plan.rounds))
    for round_number in range(plan.rounds):
        for cell, call, rounds in timed:
            if round_number < rounds:
                cell.samples_ns.append(time_call(call))
    for cell, kind, output in checks:
        wrong = _check(kind, lambda output=output: output[0], data)
        if wrong:
            cell.status, cell.samples_ns = "wrong output: " + wrong, []
    return cells


def _check(kind: str, call: Callable[[], tuple[peers.Summary | None, int]], data: corpora.Corpus) -> str:
    try:
        summary, seen = call()
        return peers.problems(kind, summary, seen, data)
    except Exception as exc:  # a failing contender is reported, not timed
        return f"{type(exc).__name__}: {exc}"[:200]


def _warm_up(fn: peers.Run, reads: list[bytes]) -> None:
    try:
        fn(reads)
    except Exception:  # a cut stream may not fold; only the code paths matter here
        pass


def _first_kept(fn: peers.Run, reads: list[bytes], output: list[Any]) -> Callable[[], Any]:
    """A call that keeps its first result (to be checked), and drops the others."""

    def call() -> Any:
        result = fn(reads)
        if not output:
            output.append(result)
        return result

    return call


def _with_ratios(cell: Cell, cells: list[Cell]) -> dict[str, Any]:
    def find(name: str) -> Cell | None:
        return next(
            (c for c in cells if c.contender == name and c.corpus == cell.corpus and c.reads == cell.reads), None
        )

    data = cell.as_dict()
    data["x_floor"] = paired_ratio(cell, find(peers.FLOOR))
    data["x_faster_than_openai"] = paired_ratio(find(peers.OPENAI), cell)
    return data
