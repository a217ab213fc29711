"""Benchmark of ``streamfold.openai``, the drop-in for users of the official openai client.

Run from the repository root::

    python benchmarks/bench_openai.py              # full run (about a minute)
    python -m benchmarks.bench_openai --quick      # small sizes, a few seconds
    python benchmarks/bench_openai.py --save       # full run, kept in benchmarks/results/openai.*

Three sections:

1. ``state``: ``StreamState`` against openai-python's ``ChatCompletionStreamState`` on the
   same ``ChatCompletionChunk`` objects, built once the way openai's ``Stream`` builds them
   (``construct_type`` over the decoded JSON).  Timed: a new state, ``handle_chunk`` for
   every chunk, ``get_final_completion()``.  ``StreamState`` on plain dicts is shown too.
2. ``client``: whole requests through an ``openai.OpenAI`` client whose transport is an
   in-process mock serving a recorded or generated stream in 16 KiB reads, in process CPU
   time: a bare streaming request (its bytes drained), ``stream_chat`` and
   ``client.chat.completions.stream``, each reading every event and the final completion.
3. ``partial``: one tool call whose arguments (a large JSON object) stream in 8-byte
   fragments, parsed as they arrive (``parse_partial_arguments=True``): the cost per
   argument byte at three sizes must stay flat.  For contrast, re-parsing the text so far
   with jiter at every fragment, as openai-python does.

The conventions are ``bench_core.py``'s: every contender's output is checked before it is
timed (that call is the warm-up); contenders are then timed in rounds, each once per
round, with the garbage collector off; ratios are the median over rounds of the ratio
within a round.  The exit status is always 0; the last lines say which targets pass.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import importlib.metadata
import io
import json
import math
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import orjson

if __package__:
    from . import bench_core, corpus
    from .bench_core import (
        Report,
        Row,
        expect,
        fmt,
        optional_import,
        ratio_of,
        why_missing,
    )
else:  # run as a script: benchmarks/ is sys.path[0]
    import bench_core  # type: ignore[no-redef,import-not-found]
    import corpus  # type: ignore[no-redef,import-not-found]
    from bench_core import (  # type: ignore[no-redef,import-not-found]
        Report,
        Row,
        expect,
        fmt,
        optional_import,
        ratio_of,
        why_missing,
    )

ROOT = Path(__file__).resolve().parent.parent
RECORDED = ROOT / "tests" / "data" / "openai-recorded"
RESULTS = ROOT / "benchmarks" / "results"

# Targets (only the limits; the values are measured).
STATE_MIN_SPEEDUP = 10.0
CLIENT_MIN_SPEEDUP = 20.0
PARTIAL_MAX_SPREAD = 1.5
#: Bytes per tool-call argument fragment (one chunk each) in the partial section.
FRAGMENT_BYTES = 8
#: The jiter contrast is cut down (a smaller document, fewer samples) to stay about this short.
JITER_BUDGET_S = 10.0
JITER_MAX_SAMPLES = 3

#: The request every client contender sends (the mock transport ignores it).
REQUEST: dict[str, Any] = {"model": "gpt-4o", "messages": [{"role": "user", "content": "benchmark"}]}


@dataclass(frozen=True)
class Sizes:
    """Sizes and repetitions of one run (``FULL`` or ``QUICK``)."""

    state_chunks: int  # chunks of the text and tool-call streams of the state section
    long_chunks: int  # chunks of the generated text stream of the client section
    argument_bytes: tuple[int, ...]  # argument sizes of the partial section, smallest first
    rounds: int
    client_sample_s: float  # a client sample repeats its request until it lasts this long (CPU)


FULL = Sizes(state_chunks=2_000, long_chunks=2_000, argument_bytes=(50_000, 100_000, 200_000), rounds=9,
             client_sample_s=0.02)
QUICK = Sizes(state_chunks=200, long_chunks=200, argument_bytes=(5_000, 10_000, 20_000), rounds=3,
              client_sample_s=0.002)

STATE_OBJECTS = "streamfold StreamState"
STATE_DICTS = "streamfold StreamState (dicts)"
OPENAI_STATE = "openai ChatCompletionStreamState"
BARE = "bare request"
STREAM_CHAT = "streamfold stream_chat"
OPENAI_STREAM = "openai .stream()"
PARTIAL = "streamfold partial arguments"
JITER = "jiter re-parse per fragment"


# ---------------------------------------------------------------------------
# Measurement


def sample_ns(call: Callable[[], Any], repeat: int = 1, clock: Callable[[], int] = time.perf_counter_ns) -> int:
    """``repeat`` calls of ``call`` timed together with the garbage collector off; ns per call."""
    gc.collect()
    gc.disable()
    try:
        start = clock()
        for _ in range(repeat):
            call()
        return (clock() - start) // repeat
    finally:
        gc.enable()


Timed = tuple[Row, Callable[[], Any], int]  # a row, its call, calls per sample


def time_in_rounds(timed: Sequence[Timed], rounds: int, clock: Callable[[], int] = time.perf_counter_ns) -> None:
    """One sample of every contender per round, so a slow spell of the machine hits them all."""
    for _ in range(rounds):
        for row, call, repeat in timed:
            row.samples_ns.append(sample_ns(call, repeat, clock))


def check_first(row: Row, call: Callable[[], Any], check: Callable[[Any], None],
                clock: Callable[[], int] = time.perf_counter_ns) -> int | None:
    """Run ``call`` once (the warm-up) and check its output; its duration in ns, or None
    (with ``row.status`` saying what was wrong) if it failed or its output is wrong."""
    try:
        start = clock()
        output = call()
        elapsed = clock() - start
        check(output)
    except Exception as exc:  # noqa: BLE001  (a wrong or failing contender is reported, not timed)
        row.status = f"wrong output: {type(exc).__name__}: {exc}"[:300]
        return None
    return max(elapsed, 1)


def paired(values: Sequence[float]) -> float | None:
    """The median of per-round values (None if there are none)."""
    return statistics.median(values) if values else None


def without_none(value: Any) -> Any:
    """``value`` with None-valued object members removed, recursively."""
    if isinstance(value, dict):
        return {key: without_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [without_none(item) for item in value]
    return value


def summarize(completion: Any) -> dict[str, Any]:
    """What two final completions must agree on: per choice its content, refusal, finish
    reason and tool calls (id, name, arguments); the usage."""
    choices = []
    for choice in sorted(completion.choices, key=lambda c: c.index):
        message = choice.message
        choices.append({
            "index": choice.index,
            "content": message.content,
            "refusal": message.refusal,
            "finish_reason": choice.finish_reason,
            "tool_calls": [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or []],
        })
    usage = completion.usage
    return {"choices": choices, "usage": without_none(usage.to_dict()) if usage is not None else None}


def expected_summary(expected: corpus.Expected) -> dict[str, Any]:
    """``summarize``'s view of what a generated stream must fold to."""
    return {
        "choices": [{
            "index": 0,
            "content": expected.content,
            "refusal": None,
            "finish_reason": expected.finish_reason,
            "tool_calls": [(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in expected.tool_calls],
        }],
        "usage": expected.usage,
    }


def check_summary(completion: Any, reference: dict[str, Any]) -> None:
    """``completion`` agrees with ``reference`` (a ``summarize`` result) field by field."""
    got = summarize(completion)
    for key in ("usage", "choices"):
        if got[key] != reference[key]:
            if key == "choices" and len(got[key]) == len(reference[key]):
                for mine, theirs in zip(got[key], reference[key]):
                    for field, value in mine.items():
                        expect(value == theirs[field], f"choice {mine['index']}: {field} differs")
            raise bench_core.WrongOutput(f"{key} differs")


# ---------------------------------------------------------------------------
# 1. StreamState against ChatCompletionStreamState


def fold_chunks(state_class: type, chunks: list[Any]) -> Callable[[], Any]:
    """A new ``state_class()``, ``handle_chunk`` for every chunk, the final completion."""
    def run() -> Any:
        state = state_class()
        handle = state.handle_chunk
        for chunk in chunks:
            handle(chunk)
        return state.get_final_completion()

    return run


def state_section(report: Report, sizes: Sizes) -> None:
    """Both stream states on the same pre-built chunk objects (and StreamState on dicts)."""
    try:
        from openai._models import construct_type
        from openai.lib.streaming.chat import ChatCompletionStreamState
        from openai.types.chat import ChatCompletionChunk

        from streamfold.openai import StreamState
    except ImportError:
        for name in ("text", "tools"):
            for contender in (STATE_OBJECTS, OPENAI_STATE, STATE_DICTS):
                report.rows.append(Row("state", contender, name, sizes.state_chunks, 0, status="skipped: openai not installed"))
        return
    for name in ("text", "tools"):
        n = sizes.state_chunks
        if name == "text":
            stream, expected = corpus.text_stream(n), corpus.text_expected(n)
        else:
            stream, expected = corpus.tool_call_stream(n), corpus.tool_call_expected(n)
        payloads = corpus.payloads(stream)
        objects: list[Any] = [construct_type(type_=ChatCompletionChunk, value=orjson.loads(p)) for p in payloads]
        dicts = [orjson.loads(p) for p in payloads]
        objects_before = [o.to_dict() for o in objects]
        reference = expected_summary(expected)
        contenders = (
            (STATE_OBJECTS, fold_chunks(StreamState, objects)),
            (OPENAI_STATE, fold_chunks(ChatCompletionStreamState, objects)),
            (STATE_DICTS, fold_chunks(StreamState, dicts)),
        )
        timed: list[Timed] = []
        for contender, call in contenders:
            row = Row("state", contender, name, len(payloads), len(stream))
            report.rows.append(row)
            if check_first(row, call, functools.partial(check_summary, reference=reference)) is not None:
                timed.append((row, call, 1))
        # The same inputs are folded every round: no contender may have changed them.
        if [o.to_dict() for o in objects] != objects_before or dicts != [orjson.loads(p) for p in payloads]:
            for row, _, _ in timed:
                row.status = "wrong output: the input chunks were modified by a fold"
            timed = []
        time_in_rounds(timed, sizes.rounds)


# ---------------------------------------------------------------------------
# 2. Whole requests through the openai client, process CPU time


@dataclass
class ClientStream:
    """A stream served to the client contenders, and the final completion it must give."""

    name: str
    data: bytes
    chunks: int
    expected: corpus.Expected | None = None  # generated streams; recorded ones are checked against openai


def count_chunks(data: bytes) -> int:
    """JSON chunks of a stream (its events but ``[DONE]``), counted by streamfold's decoder."""
    from streamfold import SSEDecoder

    decoder = SSEDecoder()
    events = decoder.feed(data) + decoder.close()
    return sum(1 for e in events if e.data != "[DONE]")


def client_streams(sizes: Sizes) -> list[ClientStream]:
    """The recorded streams (by size) and a long generated text stream."""
    streams = []
    for path in sorted(RECORDED.glob("*.sse")):
        data = path.read_bytes()
        streams.append(ClientStream(path.stem, data, count_chunks(data)))
    streams.sort(key=lambda s: s.chunks)
    n = sizes.long_chunks
    streams.append(ClientStream(f"generated text {n}", corpus.text_stream(n), n, corpus.text_expected(n)))
    return streams


def mock_client(data: bytes) -> Any:
    """An ``openai.OpenAI`` client whose every request gets ``data`` in 16 KiB reads."""
    import openai

    try:
        import httpx2 as httpx  # what openai 3 sends requests with
    except ImportError:  # openai before 3
        import httpx  # type: ignore[no-redef]

    pieces = corpus.split_reads(data)

    def handler(request: Any) -> Any:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=iter(pieces))

    return openai.OpenAI(api_key="x", base_url="http://mock/v1", max_retries=0,
                         http_client=httpx.Client(transport=httpx.MockTransport(handler)))


def bare_request(client: Any) -> Callable[[], int]:
    """The request alone: openai's streaming response, its bytes drained (returns their count)."""
    def run() -> int:
        size = 0
        with client.chat.completions.with_streaming_response.create(stream=True, **REQUEST) as response:
            for piece in response.iter_bytes():
                size += len(piece)
        return size

    return run


def streamfold_request(client: Any) -> Callable[[], Any]:
    """``stream_chat``: every event read, then the final completion."""
    from streamfold.openai import stream_chat

    def run() -> Any:
        with stream_chat(client, **REQUEST) as stream:
            for _ in stream:
                pass
            return stream.get_final_completion()

    return run


def openai_request(client: Any) -> Callable[[], Any]:
    """``client.chat.completions.stream``: every event read, then the final completion (it
    raises ``LengthFinishReasonError`` for ``finish_reason: length``: its completion counts)."""
    from openai import LengthFinishReasonError

    def run() -> Any:
        with client.chat.completions.stream(**REQUEST) as stream:
            for _ in stream:
                pass
            try:
                return stream.get_final_completion()
            except LengthFinishReasonError as exc:
                return exc.completion

    return run


def client_section(report: Report, sizes: Sizes) -> list[dict[str, Any]]:
    """Process CPU per request of the three contenders on each stream; one dict per stream."""
    missing = ""
    try:
        import openai  # noqa: F401

        import streamfold.openai  # noqa: F401
    except ImportError:
        missing = "openai not installed"
    summaries = []
    for stream in client_streams(sizes):
        rows = {name: Row("client", name, stream.name, stream.chunks, len(stream.data))
                for name in (BARE, STREAM_CHAT, OPENAI_STREAM)}
        report.rows += rows.values()
        if missing:
            for row in rows.values():
                row.status = "skipped: " + missing
            repeats: dict[str, int] = {}
        else:
            repeats = measure_client_stream(stream, rows, sizes)
        summaries.append(client_summary(stream, rows, repeats))
    return summaries


def measure_client_stream(stream: ClientStream, rows: dict[str, Row], sizes: Sizes) -> dict[str, int]:
    """Check, then time the three contenders on one stream; returns requests per sample."""
    clock = time.process_time_ns
    client = mock_client(stream.data)
    calls = {BARE: bare_request(client), STREAM_CHAT: streamfold_request(client), OPENAI_STREAM: openai_request(client)}
    # The reference is the plan for a generated stream; streamfold must also agree with openai.
    reference = expected_summary(stream.expected) if stream.expected else None
    openai_final: list[Any] = []

    def check_openai(completion: Any) -> None:
        if reference is not None:
            check_summary(completion, reference)
        openai_final.append(completion)

    def check_streamfold(completion: Any) -> None:
        if reference is not None:
            check_summary(completion, reference)
        expect(bool(openai_final), "openai's final is missing: nothing to compare with")
        check_summary(completion, summarize(openai_final[0]))

    def check_bare(size: int) -> None:
        expect(size == len(stream.data), f"{size} bytes drained, {len(stream.data)} served")

    checks = {BARE: check_bare, OPENAI_STREAM: check_openai, STREAM_CHAT: check_streamfold}
    timed: list[Timed] = []
    for name in (BARE, OPENAI_STREAM, STREAM_CHAT):  # openai's final first: streamfold's is checked against it
        row, call = rows[name], calls[name]
        if check_first(row, call, checks[name], clock) is None:
            continue
        once = sample_ns(call, 1, clock)  # a warm call, to size the samples
        timed.append((row, call, max(1, math.ceil(sizes.client_sample_s * 1e9 / max(once, 1)))))
    time_in_rounds(timed, sizes.rounds, clock)
    client.close()
    return {row.contender: repeat for row, _, repeat in timed}


def client_summary(stream: ClientStream, rows: dict[str, Row], repeats: dict[str, int]) -> dict[str, Any]:
    """Per-request CPU of each contender and the two ratios, for one stream."""
    bare, mine, theirs = rows[BARE], rows[STREAM_CHAT], rows[OPENAI_STREAM]
    above = above_best = None
    if bare.ok and mine.ok and theirs.ok:
        # A round where stream_chat cost no more than the bare request counts as infinite (its
        # extra CPU is within the noise); if that is the median, there is no figure (None).
        rounds = zip(theirs.samples_ns, mine.samples_ns, bare.samples_ns)
        above = paired([(t - b) / (m - b) if m > b else math.inf for t, m, b in rounds])
        if above is not None and math.isinf(above):
            above = None
        if mine.best_ns > bare.best_ns:
            above_best = (theirs.best_ns - bare.best_ns) / (mine.best_ns - bare.best_ns)
    return {
        "stream": stream.name,
        "recorded": stream.expected is None,
        "chunks": stream.chunks,
        "bytes": len(stream.data),
        "requests_per_sample": repeats,
        "ms_per_request": {r.contender: r.best_ns / 1e6 if r.ok else None for r in (bare, mine, theirs)},
        "median_ms_per_request": {
            r.contender: statistics.median(r.samples_ns) / 1e6 if r.ok else None for r in (bare, mine, theirs)
        },
        "whole_ratio": ratio_of(theirs, mine),
        "whole_best_ratio": bench_core.best_ratio_of(theirs, mine),
        "above_bare_ratio": above,
        "above_bare_best_ratio": above_best,
        "status": why_missing(bare, mine, theirs) or "ok",
    }


# ---------------------------------------------------------------------------
# 3. Partial parsing of tool-call arguments

_NOTES = ('says "hello"', "two\nlines", "caf\u00e9 cr\u00e8me", "tab\there", "C:\\path\\to", "plain note", "\u2192 next")


def arguments_text(size: int, seed: int = 0) -> str:
    """A JSON object of about ``size`` bytes: records with strings (escapes included) and
    numbers, as ASCII (``\\u`` escapes), so a byte is a character."""
    rng = random.Random(seed)
    records: list[dict[str, Any]] = []
    length = len('{"records": [], "count": 000000}')
    while length < size:
        record = {
            "id": len(records),
            "sku": f"A-{rng.randrange(100_000):05d}",
            "name": " ".join(rng.choices(("blue", "small", "steel", "lamp", "desk", "kit", "pro"), k=3)),
            "price": round(rng.uniform(1, 1000), 2),
            "qty": rng.randint(1, 99),
            "weight_kg": rng.random() * 40,
            "tags": rng.sample(("new", "sale", "eco", "bulk", "gift"), k=2),
            "note": rng.choice(_NOTES),
            "active": rng.random() < 0.5,
            "discount": None,
        }
        length += len(json.dumps(record)) + 2
        records.append(record)
    return json.dumps({"records": records, "count": len(records)})


def one_call_stream(arguments: str, fragment: int = FRAGMENT_BYTES) -> tuple[bytes, int]:
    """(stream, JSON chunks): one tool call whose arguments arrive ``fragment`` bytes a chunk."""
    head = (b'data: {"id":"chatcmpl-partial0arguments0benchmark","object":"chat.completion.chunk","created":'
            + str(corpus.CREATED).encode() + b',"model":"' + corpus.MODEL.encode() + b'","system_fingerprint":"'
            + corpus.FINGERPRINT.encode() + b'","choices":[')

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return head + orjson.dumps(choice) + b"]}\n\n"

    start = {"index": 0, "id": "call_partial0arguments00000", "type": "function",
             "function": {"name": "save_records", "arguments": ""}}
    chunks = [chunk({"role": "assistant", "content": None, "tool_calls": [start]})]
    for i in range(0, len(arguments), fragment):
        chunks.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": arguments[i : i + fragment]}}]}))
    chunks.append(chunk({}, "tool_calls"))
    return b"".join(chunks) + corpus.DONE, len(chunks)


def fold_partial(accumulator_class: type, reads: list[bytes]) -> Callable[[], tuple[Any, Any, int]]:
    """Fold with partial arguments, touching each delta event's ``parsed_arguments``; returns
    (the last live value, the ``arguments.done`` event, the number of delta events)."""
    def run() -> tuple[Any, Any, int]:
        acc = accumulator_class(parse_partial_arguments=True)
        live = done = None
        deltas = 0
        for read in reads:
            for event in acc.feed_events(read):
                kind = event.type
                if kind == "tool_calls.function.arguments.delta":
                    live = event.parsed_arguments
                    deltas += 1
                elif kind == "tool_calls.function.arguments.done":
                    done = event
        acc.result()
        return live, done, deltas

    return run


def jiter_reparse(fragments: list[str]) -> Callable[[], Any]:
    """openai-python's way: the text so far re-parsed by jiter at every fragment.

    openai-python passes ``partial_mode=True`` (unfinished strings left out, as streamfold
    does); ``"trailing-strings"`` shows them; both cost about the same.
    """
    from jiter import from_json

    def run() -> Any:
        text = ""
        value = None
        for fragment in fragments:
            text += fragment
            value = from_json(text.encode(), partial_mode="trailing-strings")
        return value

    return run


def partial_section(report: Report, sizes: Sizes) -> dict[str, Any]:
    """Cost per argument byte at each size (samples of equal length), and the jiter contrast."""
    from streamfold import ChatAccumulator

    points = []
    checked: list[tuple[Row, Callable[[], Any], int]] = []  # row, call, ns of its checked run
    for size in sizes.argument_bytes:
        arguments = arguments_text(size)
        stream, n_chunks = one_call_stream(arguments)
        fragments = n_chunks - 2
        row = Row("partial", PARTIAL, f"{size // 1000} KB", n_chunks, len(arguments))
        report.rows.append(row)
        value = orjson.loads(arguments)

        def check(output: tuple[Any, Any, int], value: Any = value, fragments: int = fragments) -> None:
            live, done, deltas = output
            expect(deltas == fragments, f"{deltas} delta events, {fragments} fragments")
            expect(done is not None and done.error is None, "no arguments.done event, or an error")
            expect(done.parsed_arguments == value, "arguments.done parsed_arguments != orjson.loads(arguments)")
            expect(live == value, "the live parsed_arguments at the end != orjson.loads(arguments)")

        call = fold_partial(ChatAccumulator, corpus.split_reads(stream))
        elapsed = check_first(row, call, check)
        if elapsed is not None:
            checked.append((row, call, elapsed))
        points.append(row)
    # Every sample lasts about as long as one fold of the largest size (the smaller ones are
    # repeated): a short sample can fall between two bursts of noise, a long one cannot.
    longest = max((elapsed for _, _, elapsed in checked), default=1)
    timed = [(row, call, max(1, round(longest / elapsed))) for row, call, elapsed in checked]
    time_in_rounds(timed, sizes.rounds)

    small, large = points[0], points[-1]
    spread = best_spread = None
    if small.ok and large.ok:
        spread = paired([(lg / large.nbytes) / (sm / small.nbytes)
                         for lg, sm in zip(large.samples_ns, small.samples_ns)])
        best_spread = (large.best_ns / large.nbytes) / (small.best_ns / small.nbytes)
    report.ratios.append({"name": f"partial arguments ns/byte, {large.corpus} / {small.corpus}",
                          "value": spread, "best_value": best_spread, "unit": "x"})
    report.target(
        f"partial arguments cost per byte, {large.corpus} / {small.corpus} <= {PARTIAL_MAX_SPREAD:g} (linear)",
        spread, PARTIAL_MAX_SPREAD, True, why_missing(small, large),
    )
    return {
        "fragment_bytes": FRAGMENT_BYTES,
        "calls_per_sample": {row.corpus: repeat for row, _, repeat in timed},
        "spread": spread,
        "best_spread": best_spread,
        "jiter": jiter_contrast(report, sizes.argument_bytes[0], small),
    }


def jiter_contrast(report: Report, size: int, streamfold_row: Row) -> dict[str, Any]:
    """Re-parse per fragment with jiter at ``size`` bytes (smaller if that would last more than
    ``JITER_BUDGET_S``), reported per byte, beside streamfold's cost per byte (info only)."""
    module, why = optional_import("jiter")
    if module is None:
        row = Row("partial", JITER, f"{size // 1000} KB", 0, size, status="skipped: " + why)
        report.rows.append(row)
        return {"status": row.status}
    # Probe a quarter of the size (1/16 of the work: the cost is quadratic), then halve the
    # size until a checked run and the samples fit in the budget.
    probe_size = max(size // 4, 1_000)
    probe_ns = sample_ns(jiter_reparse(fragments_of(arguments_text(probe_size))))

    def estimate(n: int) -> float:
        """Seconds one re-parse run of ``n`` bytes should take."""
        return probe_ns / 1e9 * (n / probe_size) ** 2

    while size > probe_size and estimate(size) * 2 > JITER_BUDGET_S:
        size //= 2
    samples = max(1, min(JITER_MAX_SAMPLES, int(JITER_BUDGET_S / max(estimate(size), 1e-9)) - 1))
    arguments = arguments_text(size)
    fragments = fragments_of(arguments)
    row = Row("partial", JITER, f"{size // 1000} KB", len(fragments) + 2, len(arguments))
    report.rows.append(row)
    value = orjson.loads(arguments)
    call = jiter_reparse(fragments)
    if check_first(row, call, lambda v: expect(v == value, "final jiter value != orjson.loads(arguments)")) is not None:
        time_in_rounds([(row, call, 1)], samples)
    same_size = streamfold_row.ok and row.ok and streamfold_row.corpus == row.corpus
    versus = row.best_ns / row.nbytes / (streamfold_row.best_ns / streamfold_row.nbytes) if same_size else None
    report.ratios.append({"name": f"jiter re-parse / partial arguments, ns/byte ({row.corpus})",
                          "value": versus, "best_value": versus, "unit": "x"})
    return {"status": row.status, "size": row.corpus, "samples": samples, "x_streamfold_per_byte": versus}


def fragments_of(arguments: str) -> list[str]:
    """``arguments`` cut into ``FRAGMENT_BYTES`` pieces."""
    return [arguments[i : i + FRAGMENT_BYTES] for i in range(0, len(arguments), FRAGMENT_BYTES)]


# ---------------------------------------------------------------------------
# Targets and output


def judge(report: Report, client: list[dict[str, Any]]) -> None:
    """Ratios and targets of the state and client sections."""
    for name in ("text", "tools"):
        mine = report.find("state", STATE_OBJECTS, name)
        theirs = report.find("state", OPENAI_STATE, name)
        value = report.ratio(f"ChatCompletionStreamState / StreamState per chunk ({name})", theirs, mine)
        report.target(f"StreamState >= {STATE_MIN_SPEEDUP:g} x faster than ChatCompletionStreamState ({name})",
                      value, STATE_MIN_SPEEDUP, False, why_missing(mine, theirs))
        report.ratio(f"StreamState on chunk objects / on dicts ({name})", mine, report.find("state", STATE_DICTS, name))
    recorded = [s for s in client if s["recorded"]]
    judged = [s for s in client if not s["recorded"]]
    if recorded:
        judged.append(max(recorded, key=lambda s: s["chunks"]))
    else:
        report.target(f"stream_chat >= {CLIENT_MIN_SPEEDUP:g} x less CPU per request than .stream() "
                      "(largest recorded stream)", None, CLIENT_MIN_SPEEDUP, False, f"no stream in {RECORDED}")
    for s in judged:
        theirs = report.find("client", OPENAI_STREAM, s["stream"])
        mine = report.find("client", STREAM_CHAT, s["stream"])
        report.ratios.append({"name": f"request CPU openai/streamfold ({s['stream']})",
                              "value": s["whole_ratio"], "best_value": s["whole_best_ratio"], "unit": "x"})
        report.target(
            f"stream_chat >= {CLIENT_MIN_SPEEDUP:g} x less CPU per request than .stream() "
            f"({s['stream']}, {s['chunks']} chunks)",
            s["whole_ratio"], CLIENT_MIN_SPEEDUP, False, why_missing(mine, theirs),
        )


def print_state(report: Report) -> None:
    """The state section's table: us per chunk, best and median."""
    print("\n[state: handle_chunk for every pre-built chunk, then get_final_completion()]")
    print(f"{'contender':<34}  {'corpus':<6}  {'chunks':>7}  {'us/chunk':>9}  {'median':>9}")
    for row in (r for r in report.rows if r.section == "state"):
        cells = f"{row.contender:<34}  {row.corpus:<6}  {row.chunks:>7,}"
        if row.ok:
            print(f"{cells}  {row.us_per_chunk:>9.3f}  {row.median_us_per_chunk:>9.3f}")
        else:
            print(f"{cells}  {row.status}")


def print_client(client: list[dict[str, Any]], report: Report) -> None:
    """The client section's table: CPU ms per request and the two ratios."""
    print("\n[client: process CPU ms per request (best sample), openai client over a mock transport, 16 KiB reads]")
    header = (f"{'stream':<40} {'chunks':>6} {'bare':>7} {'stream_chat':>11} {'.stream()':>9}"
              f" {'whole x':>8} {'above-bare x':>12}")
    print(header)
    print("-" * len(header))
    for s in client:
        ms = s["ms_per_request"]
        if None in ms.values():
            reasons = {r.status for r in report.rows if r.section == "client" and r.corpus == s["stream"] and not r.ok}
            print(f"{s['stream']:<40} {s['chunks']:>6} {'; '.join(sorted(reasons))}")
            continue
        print(f"{s['stream']:<40} {s['chunks']:>6} {ms[BARE]:>7.3f} {ms[STREAM_CHAT]:>11.3f} {ms[OPENAI_STREAM]:>9.3f}"
              f" {fmt(s['whole_ratio']):>8} {fmt(s['above_bare_ratio']):>12}")
    print("bare = the request alone (with_streaming_response, bytes drained); stream_chat = streamfold; "
          ".stream() = openai's helper\n"
          "whole x = .stream() / stream_chat, whole requests; above-bare x = (.stream() - bare) / "
          "(stream_chat - bare), the CPU each adds\n"
          "  to the bare request; both the median over rounds of the ratio within a round "
          "('-': stream_chat's extra is within the noise)\n"
          "On tiny streams both pay the openai client's own request cost (the bare column), "
          "so the whole-request ratio is small there.")


def print_partial(report: Report, partial: dict[str, Any]) -> None:
    """The partial section: ns per argument byte at each size, and the jiter contrast."""
    print(f"\n[partial: one tool call, arguments in {partial['fragment_bytes']}-byte fragments (a chunk each), "
          "parse_partial_arguments=True, parsed_arguments read at every delta]")
    print(f"{'contender':<30} {'arguments':>9} {'chunks':>8} {'ms':>9} {'ns/byte':>9} {'median':>9}")
    for row in (r for r in report.rows if r.section == "partial"):
        cells = f"{row.contender:<30} {row.corpus:>9} {row.chunks:>8,}"
        if row.ok:
            median = statistics.median(row.samples_ns) / row.nbytes
            print(f"{cells} {row.best_ns / 1e6:>9.1f} {row.best_ns / row.nbytes:>9.1f} {median:>9.1f}")
        else:
            print(f"{cells} {row.status}")
    print(f"per-byte cost, largest / smallest size: {fmt(partial['spread'], 3)} "
          f"(median over rounds; best / best: {fmt(partial['best_spread'], 3)})")
    jiter = partial["jiter"]
    if jiter.get("x_streamfold_per_byte") is not None:
        print(f"jiter re-parse (openai-python's approach; the parse alone, no stream decoding) at {jiter['size']}: "
              f"{fmt(jiter['x_streamfold_per_byte'], 1)} x streamfold's cost per byte, and growing with the size")


def machine() -> dict[str, Any]:
    """``bench_core.machine_info()`` with the versions this benchmark adds."""
    info = bench_core.machine_info()
    for dist in ("httpx2", "jiter", "pydantic-core"):
        try:
            info["versions"][dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            info["versions"][dist] = None
    return info


class Tee(io.TextIOBase):
    """A text stream writing to several others (the printed report, kept for ``--save``)."""

    def __init__(self, *streams: TextIO) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every section, printed as it is reported; returns the JSON document."""
    sizes = QUICK if args.quick else FULL
    started = time.perf_counter()
    info = machine()
    v = info["versions"]
    print(
        f"streamfold.openai benchmark{' (quick)' if args.quick else ''}\n"
        f"python {info['python']} ({info['python_implementation']}) on {info['platform']}\n"
        f"cpu {info['cpu']} x{info['cpu_count']}; streamfold {v['streamfold']} [{info['streamfold_implementation']}, "
        f"extension built: {info['cython_extension_built']}], openai {v['openai']}, httpx2 {v['httpx2']}, "
        f"pydantic {v['pydantic']}, orjson {v['orjson']}, jiter {v['jiter']}\n"
        f"output checked (the warm-up), then {sizes.rounds} rounds, each contender timed once per round, "
        "gc disabled while timing;\nratios (and targets): median over rounds of the ratio within a round"
    )
    # Import everything now, then hide those long-lived objects from the collector: each
    # sample starts with gc.collect(), which would otherwise walk pydantic's and openai's graphs.
    for module in ("orjson", "jiter", "openai", "openai.lib.streaming.chat", "streamfold", "streamfold.openai",
                   "httpx2"):
        optional_import(module)
    gc.collect()
    gc.freeze()

    report = Report()
    phases: dict[str, float] = {}
    mark = time.perf_counter()
    state_section(report, sizes)
    phases["state"], mark = time.perf_counter() - mark, time.perf_counter()
    client = client_section(report, sizes)
    phases["client"], mark = time.perf_counter() - mark, time.perf_counter()
    judge(report, client)
    partial = partial_section(report, sizes)  # judges its own figures
    phases["partial"] = time.perf_counter() - mark

    print_state(report)
    print_client(client, report)
    print_partial(report, partial)
    bench_core.print_summary(report)
    elapsed = time.perf_counter() - started
    print(f"elapsed: {elapsed:.1f} s (" + ", ".join(f"{k} {t:.1f} s" for k, t in phases.items()) + ")")

    def rows(section: str) -> list[dict[str, Any]]:
        out = []
        for row in report.rows:
            if row.section == section:
                data = row.as_dict()
                if row.ok:
                    data["ms_per_sample_call"] = row.best_ns / 1e6
                    data["ns_per_byte"] = row.best_ns / row.nbytes
                out.append(data)
        return out

    return {
        "machine": info,
        "config": {
            "quick": args.quick, "read_size": corpus.READ_SIZE, "rounds": sizes.rounds,
            "state_chunks": sizes.state_chunks, "long_chunks": sizes.long_chunks,
            "argument_bytes": list(sizes.argument_bytes), "fragment_bytes": FRAGMENT_BYTES,
            "client_sample_s": sizes.client_sample_s, "request": REQUEST,
            "timers": {"state": "time.perf_counter_ns", "client": "time.process_time_ns",
                       "partial": "time.perf_counter_ns"},
            "statistic": "ratios: median of per-round ratios; times: best and median",
        },
        "sections": {
            "state": {"rows": rows("state")},
            "client": {"rows": rows("client"), "streams": client},
            "partial": {"rows": rows("partial"), **partial},
        },
        "ratios": report.ratios,
        "targets": report.targets,
        "notes": report.notes,
        "elapsed_s": elapsed,
        "phases_s": phases,
    }


def shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; always returns 0 (the targets are reported, not enforced)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a few seconds (a smoke test)")
    parser.add_argument("--json", metavar="PATH", help="also write every figure and machine info as JSON")
    parser.add_argument("--save", action="store_true",
                        help="keep the printed report and the JSON in benchmarks/results/openai.{txt,json}")
    args = parser.parse_args(argv)
    if args.save and args.quick:
        parser.error("--save keeps the full run's figures: drop --quick")

    printed = io.StringIO()
    with contextlib.redirect_stdout(Tee(sys.stdout, printed) if args.save else sys.stdout):
        out = run(args)
        paths = [Path(args.json)] if args.json else []
        if args.save:
            paths.append(RESULTS / "openai.json")
        for path in paths:
            path.write_text(json.dumps(out, indent=2), encoding="utf-8")
            print(f"wrote {shown(path)}")
        if args.save:
            print(f"wrote {shown(RESULTS / 'openai.txt')}")
    if args.save:
        (RESULTS / "openai.txt").write_text(printed.getvalue(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
