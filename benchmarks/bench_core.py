"""Core benchmark of streamfold: folding and SSE decoding against a floor and against peers.

Run from the repository root::

    python benchmarks/bench_core.py              # full run (about 1-3 minutes)
    python -m benchmarks.bench_core --quick      # tiny sizes, a few seconds
    python benchmarks/bench_core.py --json results.json

Every contender gets the same bytes, cut into 16 KiB reads, in one process.  Each one's
output is checked against what the generated stream must fold to before it is timed
(that first, checked call is also the warm-up); then the contenders of a corpus are
timed in rounds, each once per round, several rounds (best and median kept), with the
garbage collector disabled around each timed call.  Figures are per JSON chunk of
the stream.  The floor is ``orjson.loads`` over the chunks' pre-extracted data: the cost
of decoding the JSON alone, with no framing and no folding.

The exit status is always 0; the last lines say which targets pass.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import importlib.metadata
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

if __package__:
    from . import corpus
    from .timing import time_call
else:  # run as a script: benchmarks/ is sys.path[0]
    import corpus  # type: ignore[no-redef]
    from timing import time_call  # type: ignore[no-redef]

# Targets (ratios are computed in the run; these are only the limits they are held to).
CYTHON_MAX_X_FLOOR = 1.5
TWIN_MAX_X_FLOOR = 5.0
OPENAI_MIN_SPEEDUP = 50.0
HTTPX_SSE_MIN_SPEEDUP = 5.0
SCALING_MAX_SPREAD = 1.2
#: Folding must not keep an object per chunk: while feeding, traced memory may hold the
#: text itself (twice, for slack) but not a per-chunk object (which would cost >= 56 B each).
MEMORY_MAX_X_CONTENT = 2.0
MEMORY_SLACK_BYTES = 2**20
#: In the scaling section every sample lasts at least this long, and at least as long as one
#: fold of the largest stream (small sizes repeat the fold).
SCALING_SAMPLE_S = 0.15
#: Rounds of the scaling section.
SCALING_ROUNDS = 7


@dataclass
class Sizes:
    """Stream sizes and repetitions of one run (``FULL`` or ``QUICK``)."""

    main: int  # chunks of the text and tool-call streams for the fold and SSE sections
    openai: int  # chunks of the smaller streams used against openai-python
    scaling: tuple[int, ...]
    repeat: int  # timed runs per measurement (at least; short ones get more)
    min_total_s: float  # short measurements are repeated until about this much time is spent


FULL = Sizes(main=40_000, openai=4_000, scaling=(1_000, 10_000, 100_000, 1_000_000), repeat=11, min_total_s=0.5)
QUICK = Sizes(main=2_000, openai=200, scaling=(500, 1_000, 2_000, 5_000), repeat=3, min_total_s=0.02)


# ---------------------------------------------------------------------------
# Measurement


@dataclass
class Row:
    """One contender on one corpus."""

    section: str
    contender: str
    corpus: str
    chunks: int
    nbytes: int
    samples_ns: list[int] = field(default_factory=list)
    status: str = "ok"  # "ok", "skipped: why", "wrong output: why"
    floor: Row | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def best_ns(self) -> int:
        return min(self.samples_ns)

    @property
    def us_per_chunk(self) -> float:
        return self.best_ns / 1e3 / self.chunks

    @property
    def median_us_per_chunk(self) -> float:
        return statistics.median(self.samples_ns) / 1e3 / self.chunks

    @property
    def mb_per_s(self) -> float:
        return self.nbytes / (self.best_ns / 1e9) / 1e6

    @property
    def x_floor(self) -> float | None:
        """Time / floor time: the paired per-round median (see ``ratio_of``)."""
        if self.floor is None:
            return None
        return ratio_of(self, self.floor)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "section": self.section,
            "contender": self.contender,
            "corpus": self.corpus,
            "chunks": self.chunks,
            "bytes": self.nbytes,
            "status": self.status,
        }
        if self.ok:
            data.update(
                samples_ns=self.samples_ns,
                best_ns=self.best_ns,
                us_per_chunk=self.us_per_chunk,
                median_us_per_chunk=self.median_us_per_chunk,
                mb_per_s=self.mb_per_s,
                x_floor=self.x_floor,
            )
        return data


@dataclass
class Corpus:
    """One generated stream, its reads and what it must fold to."""

    name: str
    stream: bytes
    reads: list[bytes]
    expected: corpus.Expected
    payloads: list[bytes]

    @classmethod
    def build(cls, name: str, n_chunks: int) -> Corpus:
        if name == "text":
            stream, expected = corpus.text_stream(n_chunks), corpus.text_expected(n_chunks)
        else:
            stream, expected = corpus.tool_call_stream(n_chunks), corpus.tool_call_expected(n_chunks)
        return cls(name, stream, corpus.split_reads(stream), expected, corpus.payloads(stream))


Contender = Callable[[list[bytes]], Any]  # reads -> output to check


@dataclass
class Entry:
    """A contender to run on a corpus: its function (None if missing) and its output check."""

    name: str
    fn: Contender | None
    check: Callable[[Any, Corpus], None]
    skip_reason: str = ""


def repeats_for(first_ns: int, sizes: Sizes, max_repeat: int = 200) -> int:
    """``sizes.repeat`` timed runs, or more for a call this short."""
    return max(sizes.repeat, min(max_repeat, int(sizes.min_total_s * 1e9 / max(first_ns, 1))))


def run_group(section: str, data: Corpus, entries: Sequence[Entry], sizes: Sizes, floor: Row | None) -> list[Row]:
    """Check each contender's output on ``data``, then time the right ones.

    The first, checked call of each is its warm-up.  The timed runs go in rounds (each
    contender once per round) so that a change in the machine's speed during the group
    (other processes, frequency, memory) hits every contender alike.
    """
    rows: list[Row] = []
    timed: list[tuple[Row, Callable[[], Any], int]] = []
    reads = data.reads
    for entry in entries:
        row = Row(section, entry.name, data.name, data.expected.n_chunks, len(data.stream), floor=floor)
        rows.append(row)
        if entry.fn is None:
            row.status = "skipped: " + entry.skip_reason
            continue
        try:
            start = time.perf_counter_ns()
            output = entry.fn(reads)
            first_ns = time.perf_counter_ns() - start
            entry.check(output, data)
            del output
        except Exception as exc:  # a wrong or failing contender is reported, not timed
            row.status = f"wrong output: {type(exc).__name__}: {exc}"[:300]
            continue
        fn = entry.fn
        timed.append((row, lambda fn=fn: fn(reads), repeats_for(first_ns, sizes)))
    for round_number in range(max((n for _, _, n in timed), default=0)):
        for row, call, repeat in timed:
            if round_number < repeat:
                row.samples_ns.append(time_call(call))
    return rows


# ---------------------------------------------------------------------------
# Contenders


def optional_import(name: str) -> tuple[Any, str]:
    """(module, "") or (None, why it is missing)."""
    try:
        return importlib.import_module(name), ""
    except ImportError:
        if name.startswith("streamfold.") and name.endswith("_c"):
            return None, "Cython extension not built"
        return None, f"{name.split('.')[0]} not installed"


class WrongOutput(Exception):
    """A contender's output differs from what the generated stream must fold to."""


def expect(condition: bool, message: str) -> None:
    """Like ``assert``, but not stripped by ``python -O``."""
    if not condition:
        raise WrongOutput(message)


def floor_contender(data: Corpus) -> Contender:
    """``orjson.loads`` over the pre-extracted payloads, results discarded (the reads are unused)."""
    import orjson

    loads = orjson.loads
    payloads = data.payloads

    def run(reads: list[bytes]) -> None:
        for payload in payloads:
            loads(payload)

    return run


def check_floor(output: None, data: Corpus) -> None:
    """The payloads the floor decodes are the stream's chunks, with the expected text."""
    import orjson

    chunks = [orjson.loads(p) for p in data.payloads]
    expect(len(chunks) == data.expected.n_chunks, f"{len(chunks)} payloads, expected {data.expected.n_chunks}")
    if data.expected.content is not None:
        text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
        expect(text == data.expected.content, "payload content differs from the expected text")


def streamfold_fold(accumulator_class: type) -> Contender:
    """``fold_with`` over the reads, with the given ``ChatAccumulator`` class."""
    from streamfold._api import fold_with

    return lambda reads: fold_with(accumulator_class, reads)


def check_fold(result: dict[str, Any], data: Corpus) -> None:
    """A streamfold result has the expected text, tool calls, finish reason and usage."""
    expected = data.expected
    choice = result["choices"][0]
    message = choice["message"]
    expect(message["content"] == expected.content, "content differs")
    expect(choice["finish_reason"] == expected.finish_reason, f"finish_reason {choice['finish_reason']!r}")
    if expected.tool_calls:
        expect(message.get("tool_calls") == expected.tool_calls, "tool calls differ")
    else:
        expect("tool_calls" not in message, "unexpected tool_calls")
    expect(result.get("usage") == expected.usage, "usage differs")
    expect(result["model"] == corpus.MODEL and result["object"] == "chat.completion", "top level differs")


def openai_fold() -> tuple[Contender | None, str]:
    """openai-python's path without HTTP: its SSE decoder, chunk construction, stream state.

    ``Stream.__stream__`` decodes each event with ``sse.json()`` (``json.loads``), checks
    for an ``error`` member, and builds the chunk with the client's
    ``_process_response_data`` (``construct_type`` when strict validation is off, the
    default); ``ChatCompletionStream`` skips chunks whose ``object`` is not
    ``chat.completion.chunk`` and calls ``ChatCompletionStreamState.handle_chunk``.
    """
    try:
        from openai import OpenAI
        from openai.lib.streaming.chat import ChatCompletionStreamState
        from openai.types.chat import ChatCompletionChunk
    except ImportError:
        return None, "openai not installed"
    client = OpenAI(api_key="benchmark", base_url="http://127.0.0.1:9/v1", max_retries=0)
    process_data = client._process_response_data

    def run(reads: list[bytes]) -> Any:
        state = ChatCompletionStreamState()
        for sse in client._make_sse_decoder().iter_bytes(iter(reads)):
            if sse.data.startswith("[DONE]"):
                break
            data = sse.json()
            if isinstance(data, dict) and data.get("error"):
                raise RuntimeError(f"error event: {data['error']!r}")
            chunk = process_data(data=data, cast_to=ChatCompletionChunk, response=None)  # type: ignore[arg-type]
            if chunk.object != "chat.completion.chunk":
                continue
            state.handle_chunk(chunk)
        return state.get_final_completion()

    return run, ""


def check_openai(completion: Any, data: Corpus) -> None:
    """openai-python's final completion has the expected text, tool calls and usage."""
    expected = data.expected
    choice = completion.choices[0]
    expect(choice.message.content == expected.content, "content differs")
    expect(choice.finish_reason == expected.finish_reason, f"finish_reason {choice.finish_reason!r}")
    calls = [
        {"id": c.id, "type": c.type, "function": {"name": c.function.name, "arguments": c.function.arguments}}
        for c in choice.message.tool_calls or []
    ]
    expect(calls == expected.tool_calls, "tool calls differ")
    if expected.usage is not None:
        expect(completion.usage.total_tokens == expected.usage["total_tokens"], "usage differs")


def streamfold_sse(decoder_class: type) -> Contender:
    """Feed every read to a streamfold ``SSEDecoder`` and collect the events."""
    def run(reads: list[bytes]) -> list[Any]:
        decoder = decoder_class()
        events: list[Any] = []
        for read in reads:
            events += decoder.feed(read)
        events += decoder.close()
        return events

    return run


def httpx_sse_decode() -> tuple[Contender | None, str]:
    """httpx-sse's path from bytes to events, driven directly on the reads.

    ``EventSource.iter_sse`` reads ``response.iter_text()`` (httpx's incremental UTF-8
    ``TextDecoder``, errors="replace"; empty texts are not passed on), splits it with
    ``SSELineDecoder.decode`` (``flush`` at the end), strips a trailing LF off each line
    and hands it to ``SSEDecoder.decode``.  The generator layers are left out, which
    only flatters httpx-sse.
    """
    try:
        from httpx_sse._decoders import SSEDecoder, SSELineDecoder
    except ImportError:
        return None, "httpx-sse not installed"
    try:
        from httpx._decoders import TextDecoder
    except ImportError:  # what httpx's TextDecoder wraps
        import codecs

        class TextDecoder:  # type: ignore[no-redef]
            def __init__(self, encoding: str = "utf-8") -> None:
                self._decoder = codecs.getincrementaldecoder(encoding)(errors="replace")

            def decode(self, data: bytes) -> str:
                return self._decoder.decode(data)

            def flush(self) -> str:
                return self._decoder.decode(b"", True)

    def run(reads: list[bytes]) -> list[Any]:
        text_decoder = TextDecoder(encoding="utf-8")
        line_decoder = SSELineDecoder()
        decoder = SSEDecoder()
        events = []
        for read in reads:
            text = text_decoder.decode(read)
            if text:
                for line in line_decoder.decode(text):
                    event = decoder.decode(line.rstrip("\n"))
                    if event is not None:
                        events.append(event)
        text = text_decoder.flush()
        lines = line_decoder.decode(text) if text else []
        for line in lines + line_decoder.flush():
            event = decoder.decode(line.rstrip("\n"))
            if event is not None:
                events.append(event)
        return events

    return run, ""


def openai_sse_decode() -> tuple[Contender | None, str]:
    """openai-python's own SSE decoder over the reads (what its ``Stream`` uses)."""
    try:
        from openai._streaming import SSEDecoder
    except ImportError:
        return None, "openai not installed"
    return lambda reads: list(SSEDecoder().iter_bytes(iter(reads))), ""


def check_events(events: list[Any], data: Corpus) -> None:
    """One event per chunk plus ``[DONE]``, each with the chunk's data as text."""
    expected = [p.decode() for p in data.payloads] + ["[DONE]"]
    expect(len(events) == len(expected), f"{len(events)} events, expected {len(expected)}")
    expect([e.data for e in events] == expected, "event data differs")
    expect(all(e.event in ("message", None) for e in events), "unexpected event type")


# ---------------------------------------------------------------------------
# Sections


@dataclass
class Report:
    """Everything measured in one run, and the ratios and targets derived from it."""

    rows: list[Row] = field(default_factory=list)
    ratios: list[dict[str, Any]] = field(default_factory=list)
    targets: list[dict[str, Any]] = field(default_factory=list)
    scaling: dict[str, Any] = field(default_factory=dict)
    memory: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def find(self, section: str, contender: str, corpus_name: str) -> Row | None:
        for row in self.rows:
            if (row.section, row.contender, row.corpus) == (section, contender, corpus_name):
                return row
        return None

    def ratio(self, name: str, slow: Row | None, fast: Row | None) -> float | None:
        """Record slow / fast (paired per-round median, and best / best); returns the former."""
        value = ratio_of(slow, fast)
        self.ratios.append({"name": name, "value": value, "best_value": best_ratio_of(slow, fast), "unit": "x"})
        return value

    def target(self, name: str, value: float | None, limit: float, at_most: bool, skip: str = "") -> None:
        if value is None:
            status = "SKIP"
        else:
            status = "PASS" if (value <= limit if at_most else value >= limit) else "FAIL"
        self.targets.append(
            {"name": name, "status": status, "value": value, "limit": limit,
             "comparison": "<=" if at_most else ">=", "note": skip if value is None else ""}
        )


def ratio_of(slow: Row | None, fast: Row | None) -> float | None:
    """How many times slower ``slow`` is than ``fast`` per chunk (None if either is missing).

    The median, over the rounds, of the two rows' ratio in the same round: both ran within
    about a second of each other, so a slow spell of a shared machine (which can add 50%
    for minutes) mostly cancels out.  Rows of different groups fall back to best / best.
    """
    if slow is None or fast is None or not slow.ok or not fast.ok:
        return None
    if (slow.section, slow.corpus) != (fast.section, fast.corpus):
        return best_ratio_of(slow, fast)
    rounds = min(len(slow.samples_ns), len(fast.samples_ns))
    return statistics.median(
        (slow.samples_ns[i] / slow.chunks) / (fast.samples_ns[i] / fast.chunks) for i in range(rounds)
    )


def best_ratio_of(slow: Row | None, fast: Row | None) -> float | None:
    """The same ratio from each row's best time alone (shown beside the paired one)."""
    if slow is None or fast is None or not slow.ok or not fast.ok:
        return None
    return slow.us_per_chunk / fast.us_per_chunk


def why_missing(*rows: Row | None) -> str:
    """Why a ratio of these rows cannot be computed ("" if it can)."""
    for row in rows:
        if row is None:
            return "not measured"
        if not row.ok:
            return f"{row.contender} {row.status}"
    return ""


FLOOR = "orjson.loads floor"
CYTHON = "streamfold fold (cython)"
TWIN = "streamfold fold (twin)"
OPENAI = "openai ChatCompletionStreamState"
SSE_CYTHON = "streamfold SSEDecoder (cython)"
SSE_TWIN = "streamfold SSEDecoder (twin)"
HTTPX_SSE = "httpx-sse"
OPENAI_SSE = "openai SSEDecoder"


def fold_section(report: Report, section: str, corpora: list[Corpus], sizes: Sizes, with_openai: bool) -> None:
    """Floor, Cython fold, twin fold (and openai-python) on each corpus."""
    fold_c, why_c = optional_import("streamfold._fold_c")
    fold_py, why_py = optional_import("streamfold._fold_py")
    openai_run, why_openai = openai_fold() if with_openai else (None, "")
    for data in corpora:
        entries = [Entry(FLOOR, floor_contender(data), check_floor)]
        for name, module, why in ((CYTHON, fold_c, why_c), (TWIN, fold_py, why_py)):
            fn = streamfold_fold(module.ChatAccumulator) if module is not None else None
            entries.append(Entry(name, fn, check_fold, why))
        if with_openai:
            entries.append(Entry(OPENAI, openai_run, check_openai, why_openai))
        rows = run_group(section, data, entries, sizes, floor=None)
        for row in rows:
            row.floor = rows[0]
        report.rows += rows


def sse_section(report: Report, section: str, corpora: list[Corpus], sizes: Sizes) -> None:
    """Bytes to events only: streamfold's decoders, httpx-sse and openai-python's decoder."""
    framing_c, why_c = optional_import("streamfold._framing_c")
    framing_py, why_py = optional_import("streamfold._framing_py")
    httpx_run, why_httpx = httpx_sse_decode()
    openai_run, why_openai = openai_sse_decode()
    for data in corpora:
        entries = [
            Entry(SSE_CYTHON, streamfold_sse(framing_c.SSEDecoder) if framing_c else None, check_events, why_c),
            Entry(SSE_TWIN, streamfold_sse(framing_py.SSEDecoder) if framing_py else None, check_events, why_py),
            Entry(HTTPX_SSE, httpx_run, check_events, why_httpx),
            Entry(OPENAI_SSE, openai_run, check_events, why_openai),
        ]
        report.rows += run_group(section, data, entries, sizes, floor=report.find("fold", FLOOR, data.name))


def scaling_section(report: Report, sizes: Sizes) -> None:
    """Cost per chunk of the fold as the text stream grows, and its peak traced memory."""
    fold_c, why_c = optional_import("streamfold._fold_c")
    if fold_c is not None:
        label, module, why_not_cython = CYTHON, fold_c, ""
    else:
        fold_py, why_py = optional_import("streamfold._fold_py")
        if fold_py is None:
            report.scaling = {"status": "skipped: " + why_py}
            return
        label, module, why_not_cython = TWIN, fold_py, why_c
        report.notes.append(f"scaling ran on the twin: {why_c}; its targets are not judged")
    from streamfold._api import fold_with

    accumulator = module.ChatAccumulator
    # Build every size first, check each fold, then time the sizes in rounds (each size once
    # per round, short ones repeated to about SCALING_SAMPLE_S per sample), so that a slow
    # spell of the machine hits every size alike instead of whichever ran during it.
    streams: dict[int, tuple[list[bytes], int]] = {}
    points = []
    expected: corpus.Expected | None = None
    for n in sizes.scaling:
        stream = corpus.text_stream(n)
        reads, nbytes = corpus.split_reads(stream), len(stream)
        del stream
        expected = corpus.text_expected(n)
        start = time.perf_counter_ns()
        result = fold_with(accumulator, reads)
        first_ns = time.perf_counter_ns() - start  # the checked call is the warm-up
        ok = result["choices"][0]["message"]["content"] == expected.content and result.get("usage") == expected.usage
        del result
        if not ok:
            points.append({"chunks": n, "status": "wrong output: content or usage differs"})
            continue
        streams[n] = (reads, first_ns)
        points.append({"chunks": n, "bytes": nbytes, "status": "ok", "samples_ns": []})
    # Every sample lasts about as long as one fold of the largest stream: on a machine with
    # bursts of noise, a short sample can fall between bursts and a long one cannot, so
    # samples of unequal length would make the best time of the largest size look worse.
    sample_ns = max([SCALING_SAMPLE_S * 1e9] + [first for _, first in streams.values()])
    for n, (reads, first_ns) in list(streams.items()):
        calls = max(1, round(sample_ns / max(first_ns, 1)))
        streams[n] = (reads, calls)
        by_chunks = {p["chunks"]: p for p in points}
        by_chunks[n]["calls_per_sample"] = calls
    by_size = {p["chunks"]: p for p in points}
    for _ in range(max(sizes.repeat, SCALING_ROUNDS if sizes is FULL else 0)):
        for n, (reads, calls) in streams.items():
            def sample(reads: list[bytes] = reads, calls: int = calls) -> None:
                for _ in range(calls):
                    fold_with(accumulator, reads)
            by_size[n]["samples_ns"].append(time_call(sample) // calls)
    for n, point in by_size.items():
        if point["status"] == "ok":
            best = min(point["samples_ns"])
            point.update(us_per_chunk=best / 1e3 / n, median_us_per_chunk=statistics.median(point["samples_ns"]) / 1e3 / n,
                         mb_per_s=point["bytes"] / (best / 1e9) / 1e6)
    reads = streams[sizes.scaling[-1]][0] if sizes.scaling[-1] in streams else []
    del streams
    costs = [p["us_per_chunk"] for p in points if p["status"] == "ok"]
    spread = paired_spread = None
    if len(costs) == len(sizes.scaling):
        # Judged on each size's best time: one sample of the largest size lasts seconds and
        # the others a fraction of one, so a round does not pair them the way ratio_of pairs
        # contenders, and the max/min of several noisy samples per round is biased upward.
        spread = max(costs) / min(costs)
        rounds = [[p["samples_ns"][r] / p["chunks"] for p in points] for r in range(len(points[0]["samples_ns"]))]
        paired_spread = statistics.median(max(costs) / min(costs) for costs in rounds)
    report.scaling = {"contender": label, "points": points, "spread": spread, "paired_spread": paired_spread}

    # Peak traced memory of folding the largest stream; the reads are allocated before
    # tracing starts, so they are not counted.
    n = sizes.scaling[-1]
    assert expected is not None
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
    content = result["choices"][0]["message"]["content"]
    content_size = sys.getsizeof(content)
    ok = content == expected.content
    del result, content
    report.memory = {
        "contender": label,
        "chunks": n,
        "input_bytes": sum(len(r) for r in reads),
        "status": "ok" if ok else "wrong output: content differs",
        "fold_peak_bytes": fold_peak,
        "fold_peak_bytes_per_chunk": fold_peak / n,
        "feed_peak_bytes": feed_peak,
        "feed_peak_bytes_per_chunk": feed_peak / n,
        "result_content_bytes": content_size,
        "result_content_bytes_per_chunk": content_size / n,
        "feed_limit_bytes": MEMORY_MAX_X_CONTENT * content_size + MEMORY_SLACK_BYTES,
    }
    del reads

    judged = label == CYTHON
    report.target(
        f"cython fold cost/chunk, max/min over {len(sizes.scaling)} sizes <= {SCALING_MAX_SPREAD}",
        spread if judged else None, SCALING_MAX_SPREAD, True, skip=why_not_cython or "not measured",
    )
    report.target(
        f"cython fold keeps no per-chunk objects: feed peak <= {MEMORY_MAX_X_CONTENT:g} x text + 1 MiB"
        " (ratio to that limit)",
        feed_peak / report.memory["feed_limit_bytes"] if judged and ok else None, 1.0, True,
        skip=why_not_cython or "wrong output",
    )


# ---------------------------------------------------------------------------
# Output


def machine_info() -> dict[str, Any]:
    """Platform, Python, CPU model and the versions of everything measured."""
    cpu = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions: dict[str, str | None] = {}
    for dist in ("streamfold", "orjson", "openai", "httpx-sse", "httpx", "pydantic"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    try:
        import streamfold

        implementation = streamfold.IMPLEMENTATION
    except ImportError:
        implementation = None
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "cpu": cpu or platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "versions": versions,
        "streamfold_implementation": implementation,
        "cython_extension_built": optional_import("streamfold._fold_c")[0] is not None,
        "STREAMFOLD_NO_EXTENSIONS": os.environ.get("STREAMFOLD_NO_EXTENSIONS"),
    }


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def print_table(report: Report) -> None:
    """One aligned table per section."""
    header = ("contender", "corpus", "chunks", "us/chunk", "median", "MB/s", "x floor")
    widths = (34, 6, 9, 9, 9, 8, 8)
    line = "  ".join(h.ljust(w) if i < 2 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths)))
    section = None
    for row in report.rows:
        if row.section != section:
            section = row.section
            print(f"\n[{section}]")
            print(line)
            print("-" * len(line))
        cells = [row.contender.ljust(widths[0]), row.corpus.ljust(widths[1]), f"{row.chunks:,}".rjust(widths[2])]
        if row.ok:
            cells += [
                fmt(row.us_per_chunk, 3).rjust(widths[3]),
                fmt(row.median_us_per_chunk, 3).rjust(widths[4]),
                fmt(row.mb_per_s, 1).rjust(widths[5]),
                fmt(row.x_floor).rjust(widths[6]),
            ]
            print("  ".join(cells))
        else:
            print("  ".join(cells) + "  " + row.status)


def print_scaling(report: Report) -> None:
    scaling = report.scaling
    if not scaling.get("points"):
        if scaling:
            print(f"\n[scaling] {scaling.get('status')}")
        return
    print(f"\n[scaling: {scaling['contender']}, text stream]")
    print(f"{'chunks':>10}  {'MB':>8}  {'us/chunk':>9}  {'median':>9}  {'MB/s':>8}")
    for p in scaling["points"]:
        if p["status"] != "ok":
            print(f"{p['chunks']:>10,}  {p['status']}")
            continue
        print(
            f"{p['chunks']:>10,}  {p['bytes'] / 1e6:>8.1f}  {p['us_per_chunk']:>9.3f}  "
            f"{p['median_us_per_chunk']:>9.3f}  {p['mb_per_s']:>8.1f}"
        )
    print(f"max/min cost per chunk (best of each size): {fmt(scaling['spread'], 3)}"
          f"  (median over rounds of the spread within a round: {fmt(scaling.get('paired_spread'), 3)})")
    m = report.memory
    if m:
        print(
            f"peak traced memory folding {m['chunks']:,} chunks ({m['input_bytes'] / 1e6:.0f} MB input, not counted): "
            f"{m['fold_peak_bytes'] / 2**20:.1f} MiB = {m['fold_peak_bytes_per_chunk']:.1f} B/chunk "
            f"(while feeding: {m['feed_peak_bytes'] / 2**20:.1f} MiB = {m['feed_peak_bytes_per_chunk']:.1f} B/chunk; "
            f"the folded text itself: {m['result_content_bytes'] / 2**20:.1f} MiB = "
            f"{m['result_content_bytes_per_chunk']:.1f} B/chunk)"
        )
        print("(tracemalloc sees Python's allocators only, not raw malloc in an extension)")


def print_summary(report: Report) -> None:
    print("\n[ratios]  paired: median over rounds of the ratio within a round (judged); best: best / best")
    print(f"  {'':<62} {'paired':>9}   {'best':>9}")
    for r in report.ratios:
        print(f"  {r['name']:<62} {fmt(r['value']):>9} x {fmt(r['best_value']):>9} x")
    print("\n[targets]")
    for t in report.targets:
        value = "" if t["value"] is None else f": {t['value']:.2f} (limit {t['comparison']} {t['limit']:g})"
        note = f"  ({t['note']})" if t["note"] else ""
        print(f"  {t['status']:<4}  {t['name']}{value}{note}")
    counts = {s: sum(t["status"] == s for t in report.targets) for s in ("PASS", "FAIL", "SKIP")}
    print(f"\nsummary: {counts['PASS']} PASS, {counts['FAIL']} FAIL, {counts['SKIP']} SKIP")
    for note in report.notes:
        print(f"note: {note}")


# ---------------------------------------------------------------------------


def judge(report: Report, corpora: list[str]) -> None:
    """Ratios and targets from the measured rows."""
    for name in corpora:
        floor = report.find("fold", FLOOR, name)
        for contender, limit, label in ((CYTHON, CYTHON_MAX_X_FLOOR, "cython"), (TWIN, TWIN_MAX_X_FLOOR, "twin")):
            row = report.find("fold", contender, name)
            value = report.ratio(f"{label} fold / orjson floor ({name})", row, floor)
            report.target(f"{label} fold <= {limit:g} x floor ({name})", value, limit, True, why_missing(row, floor))
    for name in corpora:
        openai_row = report.find("openai", OPENAI, name)
        for contender, label in ((CYTHON, "cython"), (TWIN, "twin")):
            row = report.find("openai", contender, name)
            value = report.ratio(f"openai per chunk / {label} fold per chunk ({name})", openai_row, row)
            if label == "cython":
                report.target(
                    f"cython fold >= {OPENAI_MIN_SPEEDUP:g} x faster than openai per chunk ({name})",
                    value, OPENAI_MIN_SPEEDUP, False, why_missing(row, openai_row),
                )
    for name in corpora:
        httpx_row = report.find("sse", HTTPX_SSE, name)
        for contender, label in ((SSE_CYTHON, "cython"), (SSE_TWIN, "twin")):
            row = report.find("sse", contender, name)
            value = report.ratio(f"httpx-sse / {label} SSEDecoder ({name})", httpx_row, row)
            if label == "cython":
                report.target(
                    f"cython SSEDecoder >= {HTTPX_SSE_MIN_SPEEDUP:g} x faster than httpx-sse ({name})",
                    value, HTTPX_SSE_MIN_SPEEDUP, False, why_missing(row, httpx_row),
                )
        report.ratio(
            f"openai SSEDecoder / cython SSEDecoder ({name})",
            report.find("sse", OPENAI_SSE, name), report.find("sse", SSE_CYTHON, name),
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; always returns 0 (the targets are reported, not enforced)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a few seconds (a smoke test)")
    parser.add_argument("--json", metavar="PATH", help="also write every figure and machine info as JSON")
    parser.add_argument("--no-scaling", action="store_true", help="skip the scaling and memory section")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    started = time.perf_counter()

    machine = machine_info()
    v = machine["versions"]
    print(
        f"streamfold core benchmark{' (quick)' if args.quick else ''}\n"
        f"python {machine['python']} ({machine['python_implementation']}) on {machine['platform']}\n"
        f"cpu {machine['cpu']} x{machine['cpu_count']}; streamfold {v['streamfold']} "
        f"[{machine['streamfold_implementation']}, extension built: {machine['cython_extension_built']}], "
        f"orjson {v['orjson']}, openai {v['openai']}, httpx-sse {v['httpx-sse']}\n"
        f"reads of {corpus.READ_SIZE:,} bytes; output checked (the warm-up), then >= {sizes.repeat} rounds, "
        "each contender of a corpus timed once per round, gc disabled while timing;\n"
        "ratios (and targets): median over rounds of the ratio within a round; best and median times shown;\n"
        "costs per JSON chunk of the stream; x floor = time / time of orjson.loads over the same chunks' data"
    )

    # Import every contender now, then move all those long-lived objects out of the
    # collector's sight: each timed call starts with gc.collect(), which would otherwise
    # walk pydantic's and openai's module graphs every time.
    for module in ("orjson", "streamfold._api", "streamfold._fold_c", "streamfold._framing_c", "openai",
                   "openai.lib.streaming.chat", "openai._streaming", "httpx_sse", "httpx"):
        optional_import(module)
    gc.collect()
    gc.freeze()

    report = Report()
    names = ["text", "tools"]
    phases: dict[str, float] = {}
    mark = time.perf_counter()

    def phase(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        phases[name] = now - mark
        mark = now

    main_corpora = [Corpus.build(name, sizes.main) for name in names]
    phase("corpora")
    fold_section(report, "fold", main_corpora, sizes, with_openai=False)
    phase("fold")
    sse_section(report, "sse", main_corpora, sizes)
    phase("sse")
    del main_corpora
    small_corpora = [Corpus.build(name, sizes.openai) for name in names]
    fold_section(report, "openai", small_corpora, sizes, with_openai=True)
    del small_corpora
    phase("openai")
    # Keep the table grouped: fold, vs openai, then SSE.
    order = {"fold": 0, "openai": 1, "sse": 2}
    report.rows.sort(key=lambda r: order[r.section])
    judge(report, names)
    if not args.no_scaling:
        scaling_section(report, sizes)
        phase("scaling")

    print_table(report)
    print_scaling(report)
    print_summary(report)
    elapsed = time.perf_counter() - started
    print(f"elapsed: {elapsed:.1f} s (" + ", ".join(f"{k} {v:.1f} s" for k, v in phases.items()) + ")")

    if args.json:
        out = {
            "machine": machine,
            "config": {
                "quick": args.quick, "read_size": corpus.READ_SIZE, "main_chunks": sizes.main,
                "openai_chunks": sizes.openai, "scaling_chunks": list(sizes.scaling),
                "min_repeat": sizes.repeat, "timer": "time.perf_counter_ns", "statistic": "ratios: median of per-round ratios; times: best and median",
            },
            "rows": [r.as_dict() for r in report.rows],
            "ratios": report.ratios,
            "scaling": report.scaling,
            "memory": report.memory,
            "targets": report.targets,
            "notes": report.notes,
            "elapsed_s": elapsed,
            "phases_s": phases,
        }
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=2)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
