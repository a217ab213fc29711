"""The drop-in section: ``streamfold.openai`` against openai-python itself, in one process.

Three parts, each with a target (its limit is in ``targets.py``, which judges the run):

- ``state``: ``StreamState`` against openai's ``ChatCompletionStreamState`` on the same
  ``ChatCompletionChunk`` objects, built once the way openai's ``Stream`` builds them
  (``construct_type`` over the decoded JSON): a new state, ``handle_chunk`` for every
  chunk, ``get_final_completion()``.  Target: at least 10 x less time.  ``StreamState``
  with ``fixes=True`` and on plain dicts are shown too.
- ``client``: whole requests through an ``openai.OpenAI`` client whose transport is an
  in-process mock serving the stream in 16 KiB reads, in process CPU time: the bare
  request (``create(stream=True)``, its bytes drained: what both pay), ``stream_chat``
  and ``client.chat.completions.stream``, each reading every event and the final
  completion.  Streams: the recorded OpenAI streams of ``tests/data/openai-recorded`` and
  a long generated one.  Target: at least 20 x less CPU per request on the long stream
  and on the largest recorded one.
- ``partial``: one strict tool call whose arguments (a large JSON object) stream in 8-byte
  fragments, through ``StreamState(parse_partial_arguments=True)``, ``parsed_arguments``
  read at every delta: the cost per argument byte at three sizes must stay flat (target:
  largest / smallest at most 1.5).  For contrast, jiter re-parsing the text so far at every
  fragment, which is what openai-python (and the drop-in without that option) does when
  the value is read at every delta: its cost per byte grows with the size.

Conventions (those of the harness): every contender's first call is checked against the
expected result (and is its warm-up); a wrong one is reported, not timed.  Contenders are
timed in rounds, each once per round, garbage collector off; ratios are the median over
rounds of the ratio within a round.  Run alone: ``python -m benchmarks --only dropin``.
"""

from __future__ import annotations

import gc
import json
import math
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

if __package__:
    from . import corpus
    from .timing import Cell, paired_ratio
else:  # benchmarks/ on sys.path
    import corpus  # type: ignore[no-redef]
    from timing import Cell, paired_ratio  # type: ignore[no-redef]

RECORDED = Path(__file__).resolve().parent.parent / "tests" / "data" / "openai-recorded"

#: Bytes per tool-call argument fragment (one chunk each) in the partial part.
FRAGMENT_BYTES = 8
#: The jiter contrast is cut down (a smaller document, fewer samples) to last about this long.
JITER_BUDGET_S = 10.0


@dataclass(frozen=True)
class Plan:
    """Sizes and repetitions of a run."""

    state_chunks: int  # chunks of the text and tool-call streams of the state part
    long_chunks: int  # chunks of the generated stream of the client part
    argument_bytes: tuple[int, ...]  # argument sizes of the partial part, smallest first
    rounds: int
    client_sample_s: float  # a client sample repeats its request until it lasts this long (CPU)


FULL = Plan(
    state_chunks=2_000, long_chunks=2_000, argument_bytes=(50_000, 100_000, 200_000), rounds=9, client_sample_s=0.05
)
QUICK = Plan(state_chunks=200, long_chunks=200, argument_bytes=(5_000, 10_000, 20_000), rounds=3, client_sample_s=0.002)

STATE = "streamfold StreamState"
STATE_FIXES = "streamfold StreamState(fixes=True)"
STATE_DICTS = "streamfold StreamState on dicts"
OPENAI_STATE = "openai ChatCompletionStreamState"
BARE = "bare request"
STREAM_CHAT = "streamfold stream_chat"
OPENAI_STREAM = "openai .stream()"
PARTIAL = "StreamState(parse_partial_arguments=True)"
GENERATED = "generated text"  # the client part's long stream
JITER = "jiter re-parse per fragment"

#: The request every client contender sends (the mock transport ignores it).
REQUEST: dict[str, Any] = {"model": "gpt-4o", "messages": [{"role": "user", "content": "benchmark"}]}


class WrongOutput(Exception):
    """A contender's output is not what the stream must give."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise WrongOutput(message)


# --------------------------------------------------------------------------- measuring


def sample_ns(call: Callable[[], Any], repeat: int, clock: Callable[[], int]) -> int:
    """``repeat`` calls timed together with the garbage collector off; ns per call."""
    gc.collect()
    gc.disable()
    try:
        start = clock()
        for _ in range(repeat):
            call()
        return (clock() - start) // repeat
    finally:
        gc.enable()


Timed = tuple[Cell, Callable[[], Any], int]  # a cell, its call, calls per sample


def check_first(cell: Cell, call: Callable[[], Any], check: Callable[[Any], None], clock: Callable[[], int]) -> int:
    """The first call (the warm-up), checked; its ns, or 0 with ``cell.status`` saying what was wrong."""
    try:
        start = clock()
        output = call()
        elapsed = clock() - start
        check(output)
    except Exception as exc:  # a wrong or failing contender is reported, not timed
        cell.status = f"wrong output: {type(exc).__name__}: {exc}"[:300]
        return 0
    return max(elapsed, 1)


def time_in_rounds(timed: Sequence[Timed], rounds: int, clock: Callable[[], int]) -> None:
    """One sample of every contender per round, so a slow spell of the machine hits them all."""
    for _ in range(rounds):
        for cell, call, repeat in timed:
            cell.samples_ns.append(sample_ns(call, repeat, clock))


def summarize(completion: Any) -> dict[str, Any]:
    """What two final completions must agree on: per choice its text, refusal, finish reason
    and tool calls (id, name, arguments); the usage."""
    choices = [
        {
            "content": c.message.content,
            "refusal": c.message.refusal,
            "finish_reason": c.finish_reason,
            "tool_calls": [(t.id, t.function.name, t.function.arguments) for t in c.message.tool_calls or []],
        }
        for c in sorted(completion.choices, key=lambda c: c.index)
    ]
    usage = completion.usage.model_dump(exclude_none=True) if completion.usage is not None else None
    return {"choices": choices, "usage": usage}


def expected_summary(expected: corpus.Expected) -> dict[str, Any]:
    calls = [(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in expected.tool_calls]
    usage = {key: value for key, value in expected.usage.items() if value is not None} if expected.usage else None
    return {
        "choices": [
            {"content": expected.content, "refusal": None, "finish_reason": expected.finish_reason, "tool_calls": calls}
        ],
        "usage": _without_none(usage),
    }


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_none(item) for key, item in value.items() if item is not None}
    return value


def agrees_with(reference: dict[str, Any]) -> Callable[[Any], None]:
    def check(completion: Any) -> None:
        got = summarize(completion)
        got["usage"] = _without_none(got["usage"])
        expect(got == reference, "the final completion differs from the expected one")

    return check


# --------------------------------------------------------------------------- state


def _fold_chunks(make_state: Callable[[], Any], chunks: list[Any]) -> Callable[[], Any]:
    def run() -> Any:
        state = make_state()
        handle = state.handle_chunk
        for chunk in chunks:
            handle(chunk)
        return state.get_final_completion()

    return run


def state_part(plan: Plan) -> list[Cell]:
    from openai._models import construct_type
    from openai.lib.streaming.chat import ChatCompletionStreamState
    from openai.types.chat import ChatCompletionChunk

    from streamfold.openai import StreamState

    cells = []
    clock = time.perf_counter_ns
    for name in ("text", "tools"):
        n = plan.state_chunks
        stream, expected = (
            (corpus.text_stream(n), corpus.text_expected(n))
            if name == "text"
            else (corpus.tool_call_stream(n), corpus.tool_call_expected(n))
        )
        payloads = corpus.payloads(stream)
        objects = [construct_type(type_=ChatCompletionChunk, value=orjson.loads(p)) for p in payloads]
        dicts = [orjson.loads(p) for p in payloads]
        contenders = (
            (STATE, _fold_chunks(StreamState, objects)),
            (OPENAI_STATE, _fold_chunks(ChatCompletionStreamState, objects)),
            (STATE_FIXES, _fold_chunks(lambda: StreamState(fixes=True), objects)),
            (STATE_DICTS, _fold_chunks(StreamState, dicts)),
        )
        before = [o.to_dict() for o in objects]
        timed: list[Timed] = []
        for contender, call in contenders:
            cell = Cell(
                contender, name, "chunk objects" if contender != STATE_DICTS else "dicts", len(payloads), len(stream)
            )
            cells.append(cell)
            if check_first(cell, call, agrees_with(expected_summary(expected)), clock):
                timed.append((cell, call, 1))
        # the same chunks are folded every round: no contender may change them
        if [o.to_dict() for o in objects] != before:
            for cell, _, _ in timed:
                cell.status = "wrong output: a fold modified the chunks it was given"
            timed = []
        time_in_rounds(timed, plan.rounds, clock)
    return cells


# --------------------------------------------------------------------------- client


def _http() -> Any:
    try:
        import httpx2 as http  # what openai-python 3 sends requests with
    except ImportError:  # openai-python before 3
        import httpx as http  # type: ignore[no-redef]
    return http


def mock_client(data: bytes) -> Any:
    """An ``openai.OpenAI`` client whose every request gets ``data`` in 16 KiB reads."""
    import openai

    http = _http()
    pieces = corpus.split_reads(data)

    def handler(request: Any) -> Any:
        return http.Response(200, headers={"content-type": "text/event-stream"}, content=iter(pieces))

    return openai.OpenAI(
        api_key="x",
        base_url="http://mock/v1",
        max_retries=0,
        http_client=http.Client(transport=http.MockTransport(handler)),
    )


def _final(stream: Any) -> Any:
    """The final completion (openai raises ``LengthFinishReasonError`` for ``length``, by
    default the drop-in too: the completion it carries counts)."""
    from openai import LengthFinishReasonError

    try:
        return stream.get_final_completion()
    except LengthFinishReasonError as exc:
        return exc.completion


def _requests(client: Any) -> dict[str, Callable[[], Any]]:
    from streamfold.openai import stream_chat

    def bare() -> int:
        size = 0
        raw = client.chat.completions.create(stream=True, **REQUEST)
        for piece in raw.response.iter_bytes():
            size += len(piece)
        raw.response.close()
        return size

    def ours() -> Any:
        with stream_chat(client, **REQUEST) as stream:
            for _ in stream:
                pass
            return _final(stream)

    def theirs() -> Any:
        with client.chat.completions.stream(**REQUEST) as stream:
            for _ in stream:
                pass
            return _final(stream)

    return {BARE: bare, STREAM_CHAT: ours, OPENAI_STREAM: theirs}


def client_streams(plan: Plan) -> list[tuple[str, bytes, int, corpus.Expected | None]]:
    """(name, bytes, chunks, expected): the recorded streams by size, then a long generated one."""
    streams = []
    for path in sorted(RECORDED.glob("*.sse")):
        data = path.read_bytes()
        streams.append((path.stem, data, len(corpus.payloads(data)), None))
    streams.sort(key=lambda s: s[2])
    n = plan.long_chunks
    streams.append((GENERATED, corpus.text_stream(n), n, corpus.text_expected(n)))
    return streams


def client_part(plan: Plan) -> list[Cell]:
    cells = []
    clock = time.process_time_ns
    for name, data, chunks, expected in client_streams(plan):
        client = mock_client(data)
        calls = _requests(client)
        reference: list[dict[str, Any]] = [expected_summary(expected)] if expected is not None else []

        def check_openai(completion: Any, reference: list[dict[str, Any]] = reference) -> None:
            if reference:
                agrees_with(reference[0])(completion)
            else:
                reference.append(_without_none(summarize(completion)))

        def check_ours(completion: Any, reference: list[dict[str, Any]] = reference) -> None:
            expect(bool(reference), "openai's final is missing: nothing to compare with")
            agrees_with(reference[0])(completion)

        def check_bare(size: int, data: bytes = data) -> None:
            expect(size == len(data), f"{size} bytes drained, {len(data)} served")

        checks = {BARE: check_bare, OPENAI_STREAM: check_openai, STREAM_CHAT: check_ours}
        timed: list[Timed] = []
        for contender in (BARE, OPENAI_STREAM, STREAM_CHAT):  # openai's final first: ours is checked against it
            cell = Cell(contender, name, "16KiB", chunks, len(data))
            cells.append(cell)
            if check_first(cell, calls[contender], checks[contender], clock):
                once = sample_ns(calls[contender], 1, clock)  # a warm call, to size the samples
                timed.append((cell, calls[contender], max(1, math.ceil(plan.client_sample_s * 1e9 / max(once, 1)))))
        time_in_rounds(timed, plan.rounds, clock)
        client.close()
    return cells


# --------------------------------------------------------------------------- partial

_NOTES = (
    'says "hello"',
    "two\nlines",
    "caf\u00e9 cr\u00e8me",
    "tab\there",
    "C:\\path\\to",
    "plain note",
    "\u2192 next",
)
SAVE_RECORDS = {
    "type": "function",
    "function": {
        "name": "save_records",
        "strict": True,
        "parameters": {
            "type": "object",
            "properties": {"records": {"type": "array"}, "count": {"type": "integer"}},
            "required": ["records", "count"],
            "additionalProperties": False,
        },
    },
}


def arguments_text(size: int, seed: int = 0) -> str:
    """A JSON object of about ``size`` bytes: records with strings (escapes included) and
    numbers, in ASCII (``\\u`` escapes), so that a byte is a character."""
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


def one_call_stream(arguments: str) -> tuple[bytes, int]:
    """(stream, chunks): one ``save_records`` call whose arguments come ``FRAGMENT_BYTES`` a chunk."""
    head = {
        "id": "chatcmpl-partial0arguments",
        "object": "chat.completion.chunk",
        "created": corpus.CREATED,
        "model": corpus.MODEL,
        "system_fingerprint": corpus.FINGERPRINT,
    }

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return b"data: " + orjson.dumps({**head, "choices": [choice]}) + b"\n\n"

    start = {
        "index": 0,
        "id": "call_partial0arguments00000",
        "type": "function",
        "function": {"name": "save_records", "arguments": ""},
    }
    chunks = [chunk({"role": "assistant", "content": None, "tool_calls": [start]})]
    for i in range(0, len(arguments), FRAGMENT_BYTES):
        fragment = {"index": 0, "function": {"arguments": arguments[i : i + FRAGMENT_BYTES]}}
        chunks.append(chunk({"tool_calls": [fragment]}))
    chunks.append(chunk({}, "tool_calls"))
    return b"".join(chunks) + corpus.DONE, len(chunks)


def _fold_partial(reads: list[bytes]) -> Callable[[], tuple[Any, Any, int]]:
    """Fold, touching every delta's ``parsed_arguments``; (last value, done event, deltas)."""
    from streamfold.openai import StreamState

    def run() -> tuple[Any, Any, int]:
        state = StreamState(input_tools=[SAVE_RECORDS], parse_partial_arguments=True)
        value = done = None
        deltas = 0
        for read in reads:
            for event in state.iter_feed(read):
                if event.type == "tool_calls.function.arguments.delta":
                    value = event.parsed_arguments
                    deltas += 1
                elif event.type == "tool_calls.function.arguments.done":
                    done = event
        state.get_final_completion()
        return value, done, deltas

    return run


def _jiter_reparse(fragments: list[str]) -> Callable[[], Any]:
    from jiter import from_json

    def run() -> Any:
        text = ""
        value = None
        for fragment in fragments:
            text += fragment
            value = from_json(text.encode(), partial_mode=True)
        return value

    return run


def partial_part(plan: Plan) -> tuple[list[Cell], dict[str, Any]]:
    cells = []
    checked: list[tuple[Cell, Callable[[], Any], int]] = []
    clock = time.perf_counter_ns
    for size in plan.argument_bytes:
        arguments = arguments_text(size)
        stream, chunks = one_call_stream(arguments)
        cell = Cell(PARTIAL, f"{size // 1000} KB", "16KiB", chunks, len(arguments))
        cells.append(cell)
        value = orjson.loads(arguments)

        def check(output: tuple[Any, Any, int], value: Any = value, fragments: int = chunks - 1) -> None:
            live, done, deltas = output
            expect(deltas == fragments, f"{deltas} delta events, {fragments} fragments")
            expect(done is not None and done.parsed_arguments == value, "arguments.done parsed_arguments is wrong")
            expect(live == value, "the last delta's parsed_arguments != the arguments")

        call = _fold_partial(corpus.split_reads(stream))
        elapsed = check_first(cell, call, check, clock)
        if elapsed:
            checked.append((cell, call, elapsed))
    # every sample lasts about as long as one fold of the largest size (smaller ones repeated):
    # a short sample can fall between two bursts of noise, a long one cannot
    longest = max((elapsed for _, _, elapsed in checked), default=1)
    time_in_rounds(
        [(cell, call, max(1, round(longest / elapsed))) for cell, call, elapsed in checked], plan.rounds, clock
    )
    small, large = cells[0], cells[-1]
    spread = None
    if small.ok and large.ok:
        spread = statistics.median(
            (lg / large.nbytes) / (sm / small.nbytes) for lg, sm in zip(large.samples_ns, small.samples_ns)
        )
    jiter = _jiter_cell(plan.argument_bytes[0], clock)
    cells.append(jiter)
    versus = None
    if jiter.ok and small.ok and jiter.corpus == small.corpus:
        versus = (jiter.median_ns / jiter.nbytes) / (small.median_ns / small.nbytes)
    return cells, {"spread": spread, "jiter_x_per_byte": versus}


def _jiter_cell(size: int, clock: Callable[[], int]) -> Cell:
    """jiter re-parsing per fragment at ``size`` bytes, or a smaller size that fits the budget."""
    try:
        import jiter  # noqa: F401
    except ImportError:
        return Cell(JITER, f"{size // 1000} KB", "16KiB", 0, size, status="skipped: jiter is not installed")
    probe = max(size // 4, 1_000)
    probe_ns = sample_ns(_jiter_reparse(_fragments(arguments_text(probe))), 1, clock)
    while size > probe and probe_ns / 1e9 * (size / probe) ** 2 * 2 > JITER_BUDGET_S:  # quadratic
        size //= 2
    arguments = arguments_text(size)
    fragments = _fragments(arguments)
    cell = Cell(JITER, f"{size // 1000} KB", "16KiB", len(fragments) + 2, len(arguments))
    value = orjson.loads(arguments)
    call = _jiter_reparse(fragments)
    if check_first(cell, call, lambda v: expect(v == value, "jiter's last value != the arguments"), clock):
        time_in_rounds([(cell, call, 1)], 3, clock)
    return cell


def _fragments(arguments: str) -> list[str]:
    return [arguments[i : i + FRAGMENT_BYTES] for i in range(0, len(arguments), FRAGMENT_BYTES)]


# --------------------------------------------------------------------------- the section


def run(plan: Plan, progress: Callable[[str], None] = print) -> dict[str, Any]:
    """Every part, and its ratios over openai-python."""
    started = time.perf_counter()
    gc.freeze()  # the modules and corpora alive now: out of the collector's sight
    try:
        state = state_part(plan)
        progress(f"  dropin: state done ({time.perf_counter() - started:.0f} s)")
        client = client_part(plan)
        progress(f"  dropin: client done ({time.perf_counter() - started:.0f} s)")
        partial, partial_figures = partial_part(plan)
        progress(f"  dropin: partial done ({time.perf_counter() - started:.0f} s)")
    finally:
        gc.unfreeze()
    return {
        "state": [c.as_dict() for c in state],
        "client": [c.as_dict() for c in client],
        "partial": [c.as_dict() for c in partial],
        "partial_figures": partial_figures,
        "ratios": ratios_of(state, client),
        "judged_streams": judged_streams(client),
        "rounds": plan.rounds,
        "fragment_bytes": FRAGMENT_BYTES,
    }


def _find(cells: list[Cell], contender: str, corpus_name: str) -> Cell | None:
    return next((c for c in cells if c.contender == contender and c.corpus == corpus_name), None)


def ratios_of(state: list[Cell], client: list[Cell]) -> dict[str, Any]:
    """The paired ratios over openai-python (``targets.py`` judges some of them)."""
    ratios: dict[str, Any] = {"state": {}, "client": {}}
    for name in ("text", "tools"):
        ratios["state"][name] = {
            contender: paired_ratio(_find(state, OPENAI_STATE, name), _find(state, contender, name))
            for contender in (STATE, STATE_FIXES, STATE_DICTS)
        }
    for name in dict.fromkeys(c.corpus for c in client):
        bare, ours, theirs = (_find(client, c, name) for c in (BARE, STREAM_CHAT, OPENAI_STREAM))
        above = None
        if bare is not None and ours is not None and theirs is not None and bare.ok and ours.ok and theirs.ok:
            # a round where stream_chat cost no more than the bare request has no figure
            rounds = [
                (t - b) / (m - b) for t, m, b in zip(theirs.samples_ns, ours.samples_ns, bare.samples_ns) if m > b
            ]
            above = statistics.median(rounds) if len(rounds) * 2 > len(bare.samples_ns) else None
        ratios["client"][name] = {"whole": paired_ratio(theirs, ours), "above_bare": above}
    return ratios


def judged_streams(client: list[Cell]) -> list[str]:
    """The streams the client target is judged on: the long generated one, the largest recorded one."""
    recorded = sorted({(c.chunks, c.corpus) for c in client if c.corpus != GENERATED})
    return [GENERATED, *[name for _, name in recorded[-1:]]]


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def markdown(section: dict[str, Any]) -> str:
    """The three tables."""
    out = [
        "#### StreamState against ChatCompletionStreamState (the same pre-built chunks; µs per chunk)\n",
        "| corpus | contender | µs/chunk | spread | x less time than openai |",
        "|---|---|---:|---:|---:|",
    ]
    for cell in section["state"]:
        ratio = section["ratios"]["state"][cell["corpus"]].get(cell["contender"])
        if cell["status"] != "ok":
            out.append(f"| {cell['corpus']} | {cell['contender']} | {cell['status']} | | |")
            continue
        out.append(
            f"| {cell['corpus']} ({cell['chunks']:,} chunks) | {cell['contender']} | {cell['us_per_chunk']:.2f} "
            f"| {cell['spread'] * 100:.0f}% | {_fmt(ratio, 1)} |"
        )
    out += [
        "",
        "#### Client CPU per request: stream_chat against .stream() (openai client, mock transport, "
        "16 KiB reads; ms)\n",
        "| stream | chunks | bare request | stream_chat | .stream() | whole x | above bare x |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, ratio in section["ratios"]["client"].items():
        cells = {c["contender"]: c for c in section["client"] if c["corpus"] == name}
        ms = {k: (c["median_ns"] / 1e6 if c["status"] == "ok" else None) for k, c in cells.items()}
        chunks = next(iter(cells.values()))["chunks"]
        bad = sorted({c["status"] for c in cells.values() if c["status"] != "ok"})
        if bad:
            out.append(f"| {name} | {chunks} | {'; '.join(bad)} | | | | |")
            continue
        out.append(
            f"| {name} | {chunks:,} | {_fmt(ms[BARE], 3)} | {_fmt(ms[STREAM_CHAT], 3)} "
            f"| {_fmt(ms[OPENAI_STREAM], 3)} | {_fmt(ratio['whole'], 1)} | {_fmt(ratio['above_bare'], 1)} |"
        )
    out += [
        "",
        "bare request: `create(stream=True)`, its bytes drained (what both pay); whole x: .stream() / "
        "stream_chat; above bare x: (.stream() - bare) / (stream_chat - bare).  Medians over rounds.",
        "",
    ]
    out += [
        f"#### Partial arguments ({section['fragment_bytes']}-byte fragments, parsed_arguments read at every delta)\n",
        "| contender | arguments | chunks | ms | ns per byte |",
        "|---|---:|---:|---:|---:|",
    ]
    for cell in section["partial"]:
        if cell["status"] != "ok":
            out.append(f"| {cell['contender']} | {cell['corpus']} | | {cell['status']} | |")
            continue
        out.append(
            f"| {cell['contender']} | {cell['corpus']} | {cell['chunks']:,} | {cell['median_ns'] / 1e6:.1f} "
            f"| {cell['median_ns'] / cell['bytes']:,.0f} |"
        )
    figures = section["partial_figures"]
    out += [
        "",
        f"Cost per byte, largest / smallest size: {_fmt(figures['spread'], 2)}; jiter's re-parse costs "
        f"{_fmt(figures['jiter_x_per_byte'], 1)} x as much per byte at the smallest size, and grows with it.",
    ]
    return "\n".join(out) + "\n"
