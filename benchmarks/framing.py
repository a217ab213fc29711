"""The framing benchmark: Server-Sent Events decoding alone, no JSON and no fold.

streamfold's ``SSEDecoder`` (the Cython core and the twin) against httpx-sse's
``EventSource.iter_sse`` over an ``httpx.Response`` (httpx's incremental text decoding,
line splitting and event parsing) and httpx2's ``EventSource``, on the text and tool-call
corpora, in 16 KiB reads and one read per event.  Each contender's events are checked (the
count, the total length of their data, the ``[DONE]`` last) before it is timed; the rounds
and paired ratios are the decoder benchmark's.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

if __package__:
    from . import corpora
    from .contenders import SSE_HEADERS, URL, _module
    from .timing import Cell, paired_ratio, time_call
else:
    import corpora  # type: ignore[no-redef]
    from contenders import SSE_HEADERS, URL, _module  # type: ignore[no-redef]
    from timing import Cell, paired_ratio, time_call  # type: ignore[no-redef]

Decode = Callable[[list[bytes]], tuple[int, int, str]]  # reads -> (events, data characters, last data)

HTTPX_SSE = "httpx-sse EventSource"


def _streamfold(module_name: str) -> Callable[[], tuple[Decode | None, str]]:
    def make() -> tuple[Decode | None, str]:
        module, why = _module(module_name)
        if module is None:
            return None, why
        decoder_class = module.SSEDecoder

        def run(reads: list[bytes]) -> tuple[int, int, str]:
            decoder = decoder_class()
            count = size = 0
            last = ""
            for read in reads:
                for event in decoder.feed(read):
                    count += 1
                    size += len(event.data)
                    last = event.data
            decoder.close()
            return count, size, last

        return run, ""

    return make


def _count(events: Any) -> tuple[int, int, str]:
    count = size = 0
    last = ""
    for event in events:
        count += 1
        size += len(event.data)
        last = event.data
    return count, size, last


def _httpx_sse() -> tuple[Decode | None, str]:
    httpx_sse, why = _module("httpx_sse")
    if httpx_sse is None:
        return None, why
    import httpx

    def run(reads: list[bytes]) -> tuple[int, int, str]:
        response = httpx.Response(200, headers=SSE_HEADERS, content=iter(reads), request=httpx.Request("POST", URL))
        return _count(httpx_sse.EventSource(response).iter_sse())

    return run, ""


def _httpx2() -> tuple[Decode | None, str]:
    httpx2, why = _module("httpx2")
    if httpx2 is None:
        return None, why

    def run(reads: list[bytes]) -> tuple[int, int, str]:
        response = httpx2.Response(200, headers=SSE_HEADERS, content=iter(reads), request=httpx2.Request("POST", URL))
        return _count(httpx2.EventSource(response, max_event_size=None))

    return run, ""


CONTENDERS: list[tuple[str, Callable[[], tuple[Decode | None, str]]]] = [
    ("streamfold SSEDecoder (Cython)", _streamfold("streamfold._framing_c")),
    ("streamfold SSEDecoder (pure Python)", _streamfold("streamfold._framing_py")),
    (HTTPX_SSE, _httpx_sse),
    ("httpx2 EventSource", _httpx2),
]


def _expected(data: corpora.Corpus) -> tuple[int, int, str]:
    payloads = data.payloads()
    return len(payloads) + 1, sum(len(p.decode()) for p in payloads) + len("[DONE]"), "[DONE]"


def run(sizes: corpora.Sizes, rounds: int, progress: Callable[[str], None] = print) -> dict[str, Any]:
    started = time.perf_counter()
    cells: list[Cell] = []
    for data in (corpora.text(sizes.text), corpora.tools(sizes.tools)):
        gc.freeze()
        expected = _expected(data)
        for how in corpora.READS:
            reads = data.reads(how)
            timed = []
            for name, make in CONTENDERS:
                cell = Cell(name, data.name, how, data.chunks, len(data.stream))
                cells.append(cell)
                fn, why = make()
                if fn is None:
                    cell.status = "skipped: " + why
                    continue
                got = fn(reads)  # checked; also the warm-up
                if got != expected:
                    cell.status = f"wrong output: {got[0]} events, {got[1]} characters, expected {expected[:2]}"
                    continue
                timed.append((cell, fn))
            for _ in range(rounds):
                for cell, fn in timed:
                    cell.samples_ns.append(time_call(lambda fn=fn, reads=reads: fn(reads)))
            progress(f"  framing: {data.name} / {how} done ({time.perf_counter() - started:.0f} s)")
        gc.unfreeze()

    def ratio(cell: Cell) -> float | None:
        peer = next(c for c in cells if c.contender == HTTPX_SSE and c.corpus == cell.corpus and c.reads == cell.reads)
        return paired_ratio(peer, cell)

    return {"cells": [{**cell.as_dict(), "x_faster_than_httpx_sse": ratio(cell)} for cell in cells], "rounds": rounds}


def markdown(section: dict[str, Any]) -> str:
    out = [
        "| corpus | reads | contender | µs/event | spread | MB/s | x faster than httpx-sse |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for c in section["cells"]:
        if c["status"] != "ok":
            out.append(f"| {c['corpus']} | {c['reads']} | {c['contender']} | {c['status']} | | | |")
            continue
        ratio = c["x_faster_than_httpx_sse"]
        out.append(
            f"| {c['corpus']} | {c['reads']} | {c['contender']} | {c['us_per_chunk']:.2f} | "
            f"{c['spread'] * 100:.0f}% | {c['mb_per_s']:,.0f} | {'-' if ratio is None else f'{ratio:.1f}'} |"
        )
    return "\n".join(out) + "\n"
