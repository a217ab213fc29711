"""Properties of the typed events (``feed_events``, ``add_chunk_events``, ``iter_events``).

- Where the input is cut never changes the events (their types, choices and every public
  attribute, lazy ones read right after the call that returned them).
- The Cython extension and the pure-Python twin give the same events, on generated and on
  corrupted streams (then the same events until the error, and the same error).
- On well-formed streams the events follow the contract: per chunk a ``chunk`` event, then
  per choice its delta events in the delta's key order, its logprobs events, and its done
  events once (when it finishes, or at ``[DONE]``); deltas add up to the done events'
  text, which is the completion's.
- ``feed_events`` of the bytes and ``add_chunk_events`` of the chunks give the same events
  and the same completion as ``feed``.
- Snapshots are read lazily but stay as of their event, however much is fed later.
- ``parse_partial_arguments=True`` parses tool-call arguments as they stream.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterable, Iterator
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import (
    BAD_VALUES,
    SHAPE_PATHS,
    ChatStream,
    canonical,
    chat_streams,
    corrupted_streams,
    damage_chunk,
    describe_error,
    one_byte_pieces,
    pieces,
    random_text,
    seeds,
    sse_bytes,
)

from streamfold import DEFAULT_MAX_EVENT_BYTES, IncompleteStreamError, StreamError

# ---------------------------------------------------------------------------
# Events as comparable data

#: The public attributes of each event type, besides ``type`` and ``choice_index``.
EVENT_ATTRS: dict[str, tuple[str, ...]] = {
    "chunk": ("chunk",),
    "content.delta": ("delta", "snapshot"),
    "refusal.delta": ("delta", "snapshot"),
    "reasoning.delta": ("delta", "snapshot"),
    "tool_calls.function.arguments.delta": ("index", "id", "name", "arguments_delta", "arguments", "parsed_arguments"),
    "logprobs.content.delta": ("content", "snapshot"),
    "logprobs.refusal.delta": ("refusal", "snapshot"),
    "reasoning.done": ("reasoning", "finish_reason"),
    "content.done": ("content", "finish_reason"),
    "refusal.done": ("refusal", "finish_reason"),
    "tool_calls.function.arguments.done": (
        "index",
        "id",
        "name",
        "arguments",
        "parsed_arguments",
        "error",
        "finish_reason",
    ),
    "logprobs.content.done": ("content", "finish_reason"),
    "logprobs.refusal.done": ("refusal", "finish_reason"),
}

#: Delta keys whose text gives events, and the kind of event they give.
TEXT_KEYS = {"content": "content", "refusal": "refusal", "reasoning_content": "reasoning", "reasoning": "reasoning"}

TOOL_DELTA = "tool_calls.function.arguments.delta"
TOOL_DONE = "tool_calls.function.arguments.done"


def resolve(event: Any) -> dict[str, Any]:
    """One event as plain data: class, type, choice and every public attribute, the lazy
    ones read now; an error as (class name, message); a live parsed value copied."""
    names = EVENT_ATTRS[event.type]
    public = {name for name in dir(event) if not name.startswith("_")}
    assert public == {"type", "choice_index", *names}, (event.type, public)
    out: dict[str, Any] = {"class": type(event).__name__, "type": event.type, "choice_index": event.choice_index}
    for name in names:
        value = getattr(event, name)
        if name == "error":
            value = None if value is None else (type(value).__name__, str(value))
        elif name == "parsed_arguments":
            value = copy.deepcopy(value)
        out[name] = value
    return out


class Run:
    """What feeding some pieces through ``feed_events`` did."""

    def __init__(self, acc: Any, raw_events: list[Any], events: list[dict[str, Any]], error: Any) -> None:
        self.acc = acc
        self.raw_events = raw_events  # the event objects themselves
        self.events = events  # resolved right after the call that returned them
        self.error = error

    def key(self) -> str:
        return canonical([self.events, self.error])


def run_feed(impl: SimpleNamespace, parts: Iterable[bytes], **options: Any) -> Run:
    """``feed_events`` each piece; only a ``StreamError`` is caught (and recorded)."""
    acc = impl.ChatAccumulator(**options)
    raw_events: list[Any] = []
    events: list[dict[str, Any]] = []
    error = None
    try:
        for part in parts:
            got = acc.feed_events(part)
            assert type(got) is list
            raw_events += got
            events += [resolve(event) for event in got]
    except StreamError as exc:
        error = describe_error(exc)
    return Run(acc, raw_events, events, error)


def run_chunks(impl: SimpleNamespace, chunks: Iterable[Any], **options: Any) -> Run:
    """``add_chunk_events`` each chunk; only a ``StreamError`` is caught (and recorded)."""
    acc = impl.ChatAccumulator(**options)
    raw_events: list[Any] = []
    events: list[dict[str, Any]] = []
    error = None
    try:
        for chunk in chunks:
            got = acc.add_chunk_events(chunk)
            raw_events += got
            events += [resolve(event) for event in got]
    except StreamError as exc:
        error = describe_error(exc)
    return Run(acc, raw_events, events, error)


def after_error(acc: Any) -> str:
    """What an accumulator does once the feeding is over: its result (or error), its
    snapshot and counters, and what one more ``feed_events`` call gives."""
    outcome: list[Any] = []
    for call in (acc.result, lambda: [resolve(e) for e in acc.feed_events(b'data: {"choices": []}\n\n')]):
        try:
            outcome.append(call())
        except StreamError as exc:
            outcome.append(describe_error(exc))
    outcome.append((acc.snapshot(), acc.chunks, acc.events, acc.ignored, acc.done))
    return canonical(outcome)


def iter_resolved(events: Iterator[Any]) -> tuple[list[dict[str, Any]], Any]:
    """Drain an ``iter_events`` generator, resolving each event as it comes."""
    out: list[dict[str, Any]] = []
    try:
        for event in events:
            out.append(resolve(event))
    except StreamError as exc:
        return out, exc
    return out, None


# ---------------------------------------------------------------------------
# 1. Splits never change the events


@settings(max_examples=80)  # one byte at a time is the slow part
@given(stream=chat_streams(), data=st.data())
def test_events_do_not_depend_on_splits(impl: SimpleNamespace, stream: ChatStream, data: st.DataObject) -> None:
    raw = data.draw(sse_bytes(stream.chunks))
    cut = data.draw(pieces(raw))
    whole = run_feed(impl, [raw])
    assert whole.error is None
    assert whole.events  # at least the chunk events
    assert run_feed(impl, cut).key() == whole.key()
    assert run_feed(impl, one_byte_pieces(raw)).key() == whole.key()

    complete = whole.acc.done or stream.finished
    for source in (raw, iter(cut)):
        events, error = iter_resolved(impl.iter_events(source))
        assert canonical(events) == canonical(whole.events)
        if complete:
            assert error is None
        else:
            assert isinstance(error, IncompleteStreamError)
            assert error.partial == stream.expected


# ---------------------------------------------------------------------------
# 2. The extension and the twin give the same events


@given(stream=chat_streams(), parse=st.booleans(), data=st.data())
def test_c_and_py_give_the_same_events(
    both: tuple[SimpleNamespace, SimpleNamespace], stream: ChatStream, parse: bool, data: st.DataObject
) -> None:
    c, py = both
    raw = data.draw(sse_bytes(stream.chunks))
    cut = data.draw(pieces(raw))
    c_run, py_run = run_feed(c, cut, parse_partial_arguments=parse), run_feed(py, cut, parse_partial_arguments=parse)
    assert c_run.error is None
    assert c_run.key() == py_run.key()
    assert after_error(c_run.acc) == after_error(py_run.acc)
    c_run = run_chunks(c, copy.deepcopy(stream.chunks), parse_partial_arguments=parse)
    py_run = run_chunks(py, copy.deepcopy(stream.chunks), parse_partial_arguments=parse)
    assert c_run.key() == py_run.key()


#: Limits for ``max_event_bytes``: the default, none, and small ones that real events pass.
limits = st.one_of(st.just(DEFAULT_MAX_EVENT_BYTES), st.none(), st.integers(1, 600))


@given(raw=corrupted_streams(), parse=st.booleans(), limit=limits, data=st.data())
def test_c_and_py_give_the_same_events_on_corrupted_streams(
    both: tuple[SimpleNamespace, SimpleNamespace], raw: bytes, parse: bool, limit: int | None, data: st.DataObject
) -> None:
    """The same events up to the error (the events of the call that fails are dropped),
    the same error (class, message, ``.partial``), and the same state afterwards."""
    c, py = both
    cut = data.draw(pieces(raw))
    options = {"parse_partial_arguments": parse, "max_event_bytes": limit}
    c_run, py_run = run_feed(c, cut, **options), run_feed(py, cut, **options)
    assert c_run.key() == py_run.key()
    assert after_error(c_run.acc) == after_error(py_run.acc)


@given(
    stream=chat_streams(),
    seed=seeds,
    path=st.sampled_from(SHAPE_PATHS),
    value=st.sampled_from(BAD_VALUES),
    at=st.integers(0, 50),
)
def test_c_and_py_give_the_same_events_on_damaged_chunks(
    both: tuple[SimpleNamespace, SimpleNamespace],
    stream: ChatStream,
    seed: int,
    path: tuple[Any, ...],
    value: Any,
    at: int,
) -> None:
    c, py = both
    chunks: list[Any] = list(stream.chunks)
    at %= len(chunks)
    chunks[at] = damage_chunk(chunks[at], path, value)
    if seed % 5 == 0:
        chunks.insert(at, copy.deepcopy(value))  # not an object at all
    c_run, py_run = run_chunks(c, copy.deepcopy(chunks)), run_chunks(py, copy.deepcopy(chunks))
    assert c_run.key() == py_run.key()
    assert after_error(c_run.acc) == after_error(py_run.acc)


# ---------------------------------------------------------------------------
# 3. The events of a well-formed stream follow the contract


def _choice_index(choice: dict[str, Any]) -> int:
    index = choice.get("index")
    return 0 if index is None else index


def part_pieces(parts: list[Any], thinking: bool = False) -> list[tuple[str, str]]:
    """The (kind, text) pieces a list of typed parts gives, in order: a text part's text is
    content (reasoning inside a thinking part), a thinking part's text is reasoning."""
    out: list[tuple[str, str]] = []
    for part in parts:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "text" and isinstance(part.get("text"), str) and part["text"]:
            out.append(("reasoning" if thinking else "content", part["text"]))
        elif part.get("type") == "thinking":
            inner = part.get("thinking")
            if isinstance(inner, list):
                out += part_pieces(inner, True)
            elif isinstance(inner, str) and inner:
                out.append(("reasoning", inner))
    return out


def event_texts(chunks: list[dict[str, Any]], index: int) -> dict[str, str | None]:
    """What a choice's content and thinking-part events add up to: its string content, or
    once a list of parts arrived the text of its text parts (None: no content.done event),
    and the text of its thinking parts (None: no such text)."""
    texts: dict[str, str | None] = {"content": None, "thinking": None}
    as_parts = False
    for chunk in chunks:
        for choice in chunk.get("choices") or []:
            value = (choice.get("delta") or {}).get("content")
            if _choice_index(choice) != index or value is None:
                continue
            if isinstance(value, str):
                if value or not as_parts:  # "" adds nothing to parts, but is string content
                    texts["content"] = (texts["content"] or "") + value
                continue
            as_parts = True
            for kind, piece in part_pieces(value):
                key = "content" if kind == "content" else "thinking"
                texts[key] = (texts[key] or "") + piece
    return texts


def expected_flow(chunks: list[dict[str, Any]], done: bool) -> list[tuple[Any, ...]]:
    """The events the chunks must give, from the contract: ("chunk", chunk), then per
    choice its deltas (type, choice, new text or entries) and a ("done", choice) marker
    where its done events belong (when it first finishes, else at ``[DONE]``)."""
    flow: list[tuple[Any, ...]] = []
    seen: set[int] = set()
    finished: set[int] = set()
    for chunk in chunks:
        flow.append(("chunk", chunk))
        for choice in chunk.get("choices") or []:
            index = _choice_index(choice)
            seen.add(index)
            for key, value in (choice.get("delta") or {}).items():
                if key in TEXT_KEYS and isinstance(value, str) and value:
                    flow.append((TEXT_KEYS[key] + ".delta", index, value))
                elif key == "content" and isinstance(value, list):
                    flow += [(kind + ".delta", index, piece) for kind, piece in part_pieces(value)]
                elif key == "tool_calls" and value:
                    for fragment in value:
                        arguments = (fragment.get("function") or {}).get("arguments")
                        if arguments is None:
                            continue
                        if not isinstance(arguments, str):
                            arguments = orjson.dumps(arguments).decode()
                        if arguments:
                            flow.append((TOOL_DELTA, index, arguments))
            for key, entries in (choice.get("logprobs") or {}).items():
                if key in ("content", "refusal") and entries:
                    flow.append((f"logprobs.{key}.delta", index, entries))
            if choice.get("finish_reason") is not None and index not in finished:
                finished.add(index)
                flow.append(("done", index))
    if done:
        flow += [("done", index) for index in sorted(seen - finished)]
    return flow


def actual_flow(events: list[dict[str, Any]]) -> tuple[list[tuple[Any, ...]], dict[int, list[dict[str, Any]]]]:
    """The events in ``expected_flow``'s form, each choice's run of done events replaced by
    one marker; and those runs by choice (a choice with two runs fails here)."""
    flow: list[tuple[Any, ...]] = []
    blocks: dict[int, list[dict[str, Any]]] = {}
    for event in events:
        kind, index = event["type"], event["choice_index"]
        if kind.endswith(".done"):
            if flow and flow[-1] == ("done", index):
                blocks[index].append(event)
            else:
                assert index not in blocks, f"choice {index} gave done events twice"
                blocks[index] = [event]
                flow.append(("done", index))
        elif kind == "chunk":
            assert index == -1
            flow.append(("chunk", event["chunk"]))
        elif kind == TOOL_DELTA:
            flow.append((kind, index, event["arguments_delta"]))
        elif kind.startswith("logprobs."):
            flow.append((kind, index, event[kind.split(".")[1]]))
        else:
            flow.append((kind, index, event["delta"]))
    return flow, blocks


def expected_block(choice: dict[str, Any], chunks: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """A finished choice's done events, from the completion it folds into (and, for
    content as typed parts, from what its chunks sent)."""
    message, finish = choice["message"], choice["finish_reason"]
    texts = event_texts(chunks, choice["index"])
    block: list[tuple[Any, ...]] = []
    for key in ("reasoning_content", "reasoning"):
        if isinstance(message.get(key), str):
            block.append(("reasoning.done", message[key], finish))
    if texts["thinking"] is not None:
        block.append(("reasoning.done", texts["thinking"], finish))
    if isinstance(message["content"], str):
        assert texts["content"] == message["content"]
    if texts["content"] is not None:
        block.append(("content.done", texts["content"], finish))
    if message["refusal"] is not None:
        block.append(("refusal.done", message["refusal"], finish))
    for call in message.get("tool_calls", []):
        block.append((TOOL_DONE, call["id"], call["function"]["name"], call["function"]["arguments"], finish))
    logprobs = choice["logprobs"]
    if logprobs is not None:
        if logprobs["content"] is not None:
            block.append(("logprobs.content.done", logprobs["content"], finish))
        if logprobs["refusal"] is not None:
            block.append(("logprobs.refusal.done", logprobs["refusal"], finish))
    return block


def block_summary(block: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for event in block:
        kind = event["type"]
        if kind == TOOL_DONE:
            out.append((kind, event["id"], event["name"], event["arguments"], event["finish_reason"]))
        else:
            member = kind.split(".")[-2]  # reasoning / content / refusal (also logprobs.X.done)
            out.append((kind, event[member], event["finish_reason"]))
    return out


def check_parsed(event: dict[str, Any]) -> None:
    """A done event's ``parsed_arguments``/``error``: orjson's verdict on the arguments."""
    try:
        parsed = orjson.loads(event["arguments"])
    except orjson.JSONDecodeError as exc:
        assert event["parsed_arguments"] is None
        assert event["error"] is not None and event["error"][0] == type(exc).__name__
    else:
        assert event["error"] is None
        assert event["parsed_arguments"] == parsed


def check_deltas(events: list[dict[str, Any]], choice: dict[str, Any], chunks: list[dict[str, Any]]) -> None:
    """Every delta of one choice: never empty, snapshots are the text so far, and they add
    up to the completion's members (the generated streams never mix thinking parts with a
    reasoning member in one choice)."""
    index, message = choice["index"], choice["message"]
    mine = [event for event in events if event["choice_index"] == index]
    texts = event_texts(chunks, index)
    reasoning = message.get("reasoning_content", message.get("reasoning", texts["thinking"]))
    for kind, text in (("content", texts["content"]), ("refusal", message["refusal"]), ("reasoning", reasoning)):
        deltas = [event for event in mine if event["type"] == kind + ".delta"]
        if text is None:
            assert not deltas
            continue
        so_far = ""
        for event in deltas:
            assert event["delta"]
            so_far += event["delta"]
            assert event["snapshot"] == so_far
        assert so_far == text

    calls = message.get("tool_calls", [])
    tool_deltas = [event for event in mine if event["type"] == TOOL_DELTA]
    assert {event["id"] for event in tool_deltas} <= {call["id"] for call in calls}
    for call in calls:
        so_far = ""
        for event in tool_deltas:
            if event["id"] != call["id"]:
                continue
            assert event["arguments_delta"]
            assert event["name"] == call["function"]["name"]
            assert event["parsed_arguments"] is None  # not asked for
            so_far += event["arguments_delta"]
            assert event["arguments"] == so_far
        assert so_far == call["function"]["arguments"]

    for key in ("content", "refusal"):
        entries: list[Any] = []
        for event in mine:
            if event["type"] == f"logprobs.{key}.delta":
                assert event[key]
                entries += event[key]
                assert event["snapshot"] == entries
        logprobs = choice["logprobs"]
        assert entries == ((logprobs or {}).get(key) or [])


def unfinished(stream: ChatStream) -> ChatStream:
    """The same stream with every finish_reason null: only ``[DONE]`` can finish it."""
    chunks = copy.deepcopy(stream.chunks)
    for chunk in chunks:
        for choice in chunk.get("choices") or []:
            if choice.get("finish_reason") is not None:
                choice["finish_reason"] = None
    expected = copy.deepcopy(stream.expected)
    for choice in expected["choices"]:
        choice["finish_reason"] = None
    return ChatStream(chunks, expected, False)


@given(stream=chat_streams(), strip=st.booleans(), data=st.data())
def test_events_follow_the_contract(
    impl: SimpleNamespace, stream: ChatStream, strip: bool, data: st.DataObject
) -> None:
    """With ``strip``, no choice finishes: all done events come at ``[DONE]``, by choice index."""
    if strip:
        stream = unfinished(stream)
    raw = data.draw(sse_bytes(stream.chunks, done=True if strip else None))
    fed = run_feed(impl, data.draw(pieces(raw)))
    assert fed.error is None
    assert fed.acc.snapshot() == stream.expected
    complete = fed.acc.done or stream.finished
    if complete:
        assert fed.acc.result() == stream.expected
    choices = {choice["index"]: choice for choice in stream.expected["choices"]}

    flow, blocks = actual_flow(fed.events)
    wanted = [
        step
        for step in expected_flow(stream.chunks, fed.acc.done)
        if step[0] != "done" or expected_block(choices[step[1]], stream.chunks)  # a choice with nothing gives no events
    ]
    assert flow == wanted

    for index, choice in choices.items():
        check_deltas(fed.events, choice, stream.chunks)
        block = blocks.get(index)
        if block is None:
            assert not (complete and expected_block(choice, stream.chunks)), f"choice {index} gave no done events"
            continue
        assert block_summary(block) == expected_block(choice, stream.chunks)
        for event in block:
            assert event["choice_index"] == index
            if event["type"] == TOOL_DONE:
                check_parsed(event)
        # done events come after every delta event of their choice
        positions = [i for i, event in enumerate(fed.events) if event["choice_index"] == index]
        first_done = next(i for i in positions if fed.events[i]["type"].endswith(".done"))
        assert all(fed.events[i]["type"].endswith(".done") for i in positions if i > first_done)


# ---------------------------------------------------------------------------
# 4. feed_events of the bytes == add_chunk_events of the chunks; both fold like feed


@given(stream=chat_streams(), data=st.data())
def test_feed_events_is_add_chunk_events(impl: SimpleNamespace, stream: ChatStream, data: st.DataObject) -> None:
    raw = data.draw(sse_bytes(stream.chunks))
    cut = data.draw(pieces(raw))
    fed = run_feed(impl, cut)
    chunks = copy.deepcopy(stream.chunks)
    added = run_chunks(impl, chunks)
    assert chunks == stream.chunks  # add_chunk_events does not change what it is given
    plain = impl.ChatAccumulator()
    for part in cut:
        plain.feed(part)
    assert fed.acc.snapshot() == added.acc.snapshot() == plain.snapshot() == stream.expected
    if stream.finished:  # no choice waits for [DONE] to give its done events
        assert fed.key() == added.key()
        assert fed.acc.result() == added.acc.result() == plain.result()
    else:
        with pytest.raises(IncompleteStreamError):
            added.acc.result()
        # everything but the done events [DONE] may have added at the end
        assert canonical(fed.events[: len(added.events)]) == canonical(added.events)
        assert all(event["type"].endswith(".done") for event in fed.events[len(added.events) :])


# ---------------------------------------------------------------------------
# 5. Snapshots are lazy and stable


def _late(events: list[Any]) -> list[dict[str, Any]]:
    return [resolve(event) for event in events]


@given(stream=chat_streams(), data=st.data())
def test_snapshots_stay_as_of_their_event(impl: SimpleNamespace, stream: ChatStream, data: st.DataObject) -> None:
    raw = data.draw(sse_bytes(stream.chunks, done=False))
    fed = run_feed(impl, data.draw(pieces(raw)))
    added = run_chunks(impl, stream.chunks)
    fed.acc.snapshot()  # joining the text for a snapshot changes nothing either
    # more text for every choice, after the events were returned
    extra = {
        "choices": [
            {"index": c["index"], "delta": {"content": "+", "refusal": "-", "reasoning_content": "~"}}
            for c in stream.expected["choices"]
        ]
    }
    fed.acc.feed_events(b"data: " + orjson.dumps(extra) + b"\n\n")
    added.acc.add_chunk_events(extra)
    assert canonical(_late(fed.raw_events)) == canonical(fed.events)
    assert canonical(_late(added.raw_events)) == canonical(added.events)
    assert canonical(_late(fed.raw_events)) == canonical(fed.events)  # reading twice is the same


@settings(max_examples=5)
@given(seed=seeds, count=st.integers(900, 2600))
def test_snapshots_across_text_blocks(impl: SimpleNamespace, seed: int, count: int) -> None:
    """Long texts are merged into blocks every 1024 pieces: snapshots read at the end still
    end where their event was."""
    rng = random.Random(seed)
    chunks: list[dict[str, Any]] = [
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "role": "assistant",
                        "tool_calls": [
                            {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}
                        ],
                    },
                }
            ]
        }
    ]
    for _ in range(count):
        kind = rng.choice(["content", "refusal", "reasoning_content", "tool"])
        if kind == "tool":
            delta: dict[str, Any] = {"tool_calls": [{"index": 0, "function": {"arguments": random_text(rng)}}]}
        else:
            delta = {kind: random_text(rng)}
        chunks.append({"choices": [{"index": 0, "delta": delta}]})
    chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    raw = b"".join(b"data: " + orjson.dumps(chunk) + b"\n\n" for chunk in chunks)

    for run in (run_chunks(impl, chunks), run_feed(impl, [raw[: len(raw) // 3], raw[len(raw) // 3 :]])):
        assert run.error is None
        assert canonical(_late(run.raw_events)) == canonical(run.events)
        texts: dict[str, str] = {}
        for event in run.events:
            if event["type"].endswith(".delta"):
                kind = event["type"].split(".")[0]
                texts[kind] = texts.get(kind, "") + event.get("delta", event.get("arguments_delta", ""))
                assert event.get("snapshot", event.get("arguments")) == texts[kind]
        message = run.acc.result()["choices"][0]["message"]
        assert texts.get("content", "") == (message["content"] or "")
        assert texts.get("tool_calls", "") == message["tool_calls"][0]["function"]["arguments"]


# ---------------------------------------------------------------------------
# 6. parse_partial_arguments

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=4)),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(max_size=6), json_values, max_size=5)


@st.composite
def split_text(draw: st.DrawFn, text: str) -> list[str]:
    """``text`` cut at hypothesis-chosen points (empty fragments included)."""
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=12)))
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:])]


@st.composite
def object_argument_streams(draw: st.DrawFn) -> tuple[list[dict[str, Any]], dict[tuple[int, int], Any]]:
    """Chunks whose tool calls stream JSON objects in fragments; and each call's object by
    (choice, call index)."""
    objects: dict[tuple[int, int], Any] = {}
    scripts: list[list[dict[str, Any]]] = []
    for choice in range(draw(st.integers(1, 2))):
        script: list[dict[str, Any]] = []
        for call in range(draw(st.integers(1, 3))):
            value = draw(json_objects)
            objects[choice, call] = value
            text = json.dumps(
                value,
                ensure_ascii=draw(st.booleans()),
                indent=draw(st.sampled_from([None, 1])),
                separators=draw(st.sampled_from([(",", ":"), (", ", ": ")])),
            )
            script.append(
                {
                    "index": call,
                    "id": f"call_{choice}_{call}",
                    "type": "function",
                    "function": {"name": "f", "arguments": ""},
                }
            )
            script += [{"index": call, "function": {"arguments": part}} for part in draw(split_text(text))]
        scripts.append(script)
    order = draw(st.permutations([c for c, script in enumerate(scripts) for _ in script]))
    iters = [iter(script) for script in scripts]
    chunks = [{"choices": [{"index": c, "delta": {"tool_calls": [next(iters[c])]}}]} for c in order]
    chunks += [{"choices": [{"index": c, "delta": {}, "finish_reason": "tool_calls"}]} for c in range(len(scripts))]
    return chunks, objects


@settings(max_examples=100)
@given(pair=object_argument_streams(), data=st.data())
def test_partial_arguments_are_parsed(impl: SimpleNamespace, pair: Any, data: st.DataObject) -> None:
    chunks, objects = pair
    raw = data.draw(sse_bytes(chunks))
    cut = data.draw(pieces(raw))
    on = run_feed(impl, cut, parse_partial_arguments=True)
    assert on.error is None
    last: dict[tuple[int, int], Any] = {}
    for event in on.raw_events:
        if event.type == TOOL_DELTA:
            last[event.choice_index, event.index] = event
    for event in on.events:
        if event["type"] == TOOL_DELTA:
            assert isinstance(event["parsed_arguments"], dict)  # the root object has begun
        elif event["type"] == TOOL_DONE:
            assert event["error"] is None
            assert event["parsed_arguments"] == objects[event["choice_index"], event["index"]]
    assert set(last) == set(objects)  # every call has text, so it has delta events
    for key, event in last.items():  # the value is live: compare at the end
        assert event.parsed_arguments == orjson.loads(event.arguments) == objects[key]

    off = run_feed(impl, cut)
    assert all(event.get("parsed_arguments") is None for event in off.events if event["type"] == TOOL_DELTA)
    strip = [
        {k: v for k, v in event.items() if k != "parsed_arguments" or event["type"] == TOOL_DONE} for event in on.events
    ]
    assert canonical(strip) == canonical(
        [
            {k: v for k, v in event.items() if k != "parsed_arguments" or event["type"] == TOOL_DONE}
            for event in off.events
        ]
    )


# ---------------------------------------------------------------------------
# Text that is a str subclass (add_chunk_events of chunks decoded by other means)


class _Str(str):
    """A str subclass, as a decoder or an enum may hand over."""


def _subclassed(value: Any) -> Any:
    """``value`` with every string value (not key) a ``_Str``."""
    if isinstance(value, str):
        return _Str(value)
    if isinstance(value, dict):
        return {key: _subclassed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_subclassed(item) for item in value]
    return value


def test_str_subclass_text_gives_delta_events(impl: SimpleNamespace) -> None:
    call = {"index": 0, "id": "c", "function": {"arguments": "{}"}}
    delta = {"content": "hi", "refusal": "no", "reasoning_content": "r", "tool_calls": [call]}
    chunk = {"choices": [{"index": 0, "delta": delta, "finish_reason": "stop"}]}
    plain = run_chunks(impl, [chunk])
    subclassed = run_chunks(impl, [_subclassed(chunk)])
    assert [e["type"] for e in plain.events] == [
        "chunk",
        "content.delta",
        "refusal.delta",
        "reasoning.delta",
        TOOL_DELTA,
        "reasoning.done",
        "content.done",
        "refusal.done",
        TOOL_DONE,
    ]
    assert subclassed.acc.result() == plain.acc.result()
    assert subclassed.key() == plain.key()


# ---------------------------------------------------------------------------
# feed_text: the text of the content.delta events, and nothing else built


def run_text(impl: SimpleNamespace, parts: Iterable[bytes]) -> tuple[list[str], Any, Any]:
    acc = impl.ChatAccumulator()
    texts: list[str] = []
    error = None
    try:
        for part in parts:
            got = acc.feed_text(part)
            assert type(got) is list and all(type(text) is str or isinstance(text, str) for text in got)
            texts += got
    except StreamError as exc:
        error = describe_error(exc)
    return texts, error, acc.snapshot() if error is None else None


@given(stream=chat_streams(), data=st.data())
def test_feed_text_is_the_text_of_the_content_deltas(
    impl: SimpleNamespace, stream: ChatStream, data: st.DataObject
) -> None:
    raw = data.draw(sse_bytes(stream.chunks))
    cuts = data.draw(pieces(raw))
    fed = run_feed(impl, cuts)
    texts, error, snapshot = run_text(impl, data.draw(pieces(raw)))
    assert error == fed.error
    assert texts == [event["delta"] for event in fed.events if event["type"] == "content.delta"]
    if error is None:
        assert snapshot == fed.acc.snapshot()


@given(raw=corrupted_streams(), data=st.data())
def test_feed_text_agrees_between_c_and_py(
    both: tuple[SimpleNamespace, SimpleNamespace], raw: bytes, data: st.DataObject
) -> None:
    c, py = both
    cuts = data.draw(pieces(raw))
    assert canonical(run_text(c, cuts)) == canonical(run_text(py, cuts))
