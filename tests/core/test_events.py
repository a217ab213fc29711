"""Stream events: what fires when, for both implementations (issue: events and drop-in)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from conftest import DATA
from streams import chunk, sse

import streamfold
from streamfold import IncompleteStreamError, StreamDecodeError


def events_of(impl: SimpleNamespace, data: bytes, **options: Any) -> list[Any]:
    acc = impl.ChatAccumulator(**options)
    return acc.feed_events(data)


def kinds(events: list[Any]) -> list[tuple[str, int]]:
    return [(e.type, e.choice_index) for e in events if e.type != "chunk"]


def test_text_stream_events_in_order(impl: SimpleNamespace) -> None:
    data = sse(chunk("", role="assistant"), chunk("Hel"), chunk("lo"), chunk(None, finish="stop"))
    events = events_of(impl, data)
    assert [e.type for e in events] == [
        "chunk",
        "chunk",
        "content.delta",
        "chunk",
        "content.delta",
        "chunk",
        "content.done",
    ]
    deltas = [e for e in events if e.type == "content.delta"]
    assert [(d.delta, d.snapshot, d.choice_index) for d in deltas] == [("Hel", "Hel", 0), ("lo", "Hello", 0)]
    done = events[-1]
    assert isinstance(done, streamfold.ContentDoneEvent)
    assert (done.content, done.finish_reason, done.choice_index) == ("Hello", "stop", 0)
    assert events[0].chunk["choices"][0]["delta"] == {"role": "assistant", "content": ""}


def test_no_delta_event_for_an_empty_string(impl: SimpleNamespace) -> None:
    data = sse(chunk("", role="assistant"), chunk(""), chunk("x"), chunk("", finish="stop"))
    assert kinds(events_of(impl, data)) == [("content.delta", 0), ("content.done", 0)]


def test_snapshot_is_as_of_the_event_and_computed_on_demand(impl: SimpleNamespace) -> None:
    acc = impl.ChatAccumulator()
    first = [e for e in acc.feed_events(sse(chunk("ab"), done=False)) if e.type == "content.delta"][0]
    acc.feed_events(sse(chunk("cd"), chunk("ef", finish="stop"), done=False))
    assert first.snapshot == "ab"  # read late, still the text at its own time
    assert acc.result()["choices"][0]["message"]["content"] == "abcdef"


def test_interleaved_tool_calls_are_done_once_each_at_the_finish(impl: SimpleNamespace) -> None:
    def call(index: int, arguments: str, **first: Any) -> dict[str, Any]:
        fragment: dict[str, Any] = {"index": index, "function": {"arguments": arguments}}
        if first:
            fragment["id"] = first["id"]
            fragment["type"] = "function"
            fragment["function"]["name"] = first["name"]
        return fragment

    data = sse(
        chunk(None, role="assistant", tool_calls=[call(0, "", id="call_a", name="a")]),
        chunk(None, tool_calls=[call(1, "", id="call_b", name="b")]),
        chunk(None, tool_calls=[call(0, '{"x": ')]),
        chunk(None, tool_calls=[call(1, '{"y": ')]),
        chunk(None, tool_calls=[call(0, "1}")]),
        chunk(None, tool_calls=[call(1, "2}")]),
        chunk(None, finish="tool_calls"),
    )
    events = [e for e in events_of(impl, data) if e.type != "chunk"]
    assert [(e.type.rsplit(".", 1)[1], e.index) for e in events] == [
        ("delta", 0),
        ("delta", 1),
        ("delta", 0),
        ("delta", 1),
        ("done", 0),
        ("done", 1),
    ]
    first_delta = events[0]
    assert (first_delta.id, first_delta.name, first_delta.arguments_delta, first_delta.arguments) == (
        "call_a",
        "a",
        '{"x": ',
        '{"x": ',
    )
    done_a, done_b = events[-2:]
    assert (done_a.id, done_a.name, done_a.arguments, done_a.parsed_arguments, done_a.error) == (
        "call_a",
        "a",
        '{"x": 1}',
        {"x": 1},
        None,
    )
    assert (done_b.arguments, done_b.parsed_arguments, done_b.finish_reason) == ('{"y": 2}', {"y": 2}, "tool_calls")


def test_arguments_that_are_not_json_keep_the_error(impl: SimpleNamespace) -> None:
    fragment = {"index": 0, "id": "c", "type": "function", "function": {"name": "f", "arguments": "{not json"}}
    events = events_of(impl, sse(chunk(None, tool_calls=[fragment]), chunk(None, finish="tool_calls")))
    done = events[-1]
    assert done.type == "tool_calls.function.arguments.done"
    assert done.parsed_arguments is None
    assert isinstance(done.error, orjson.JSONDecodeError) and isinstance(done.error, ValueError)


def test_every_choice_of_n_2_gets_its_done_events(impl: SimpleNamespace) -> None:
    data = sse(
        chunk("a", index=0),
        chunk("b", index=1),
        chunk("c", index=0, finish="stop"),
        chunk("d", index=1, finish="length"),
    )
    done = [(e.choice_index, e.content, e.finish_reason) for e in events_of(impl, data) if e.type == "content.done"]
    assert done == [(0, "ac", "stop"), (1, "bd", "length")]


def test_done_at_done_marker_for_choices_without_finish_reason(impl: SimpleNamespace) -> None:
    data = sse(chunk("a", index=1), chunk("b", index=0))  # [DONE] but no finish_reason
    assert [(e.type, e.choice_index, e.finish_reason) for e in events_of(impl, data) if e.type.endswith(".done")] == [
        ("content.done", 0, None),
        ("content.done", 1, None),
    ]


def test_length_and_content_filter_are_reported_not_raised(impl: SimpleNamespace) -> None:
    for reason in ("length", "content_filter"):
        acc = impl.ChatAccumulator()
        events = acc.feed_events(sse(chunk("partial answer"), chunk(None, finish=reason)))
        assert events[-1].finish_reason == reason
        assert acc.result()["choices"][0]["finish_reason"] == reason


def test_refusal_reasoning_and_logprobs_events(impl: SimpleNamespace) -> None:
    token = {"token": "No", "logprob": -0.1, "bytes": [78, 111], "top_logprobs": []}
    data = sse(
        chunk(None, delta={"reasoning_content": "think"}),
        chunk(None, delta={"reasoning": "ing"}),
        {"id": "x", "choices": [{"index": 0, "delta": {"refusal": "No"}, "logprobs": {"refusal": [token]}}]},
        chunk(None, finish="stop"),
    )
    events = [e for e in events_of(impl, data) if e.type != "chunk"]
    assert [e.type for e in events] == [
        "reasoning.delta",
        "reasoning.delta",
        "refusal.delta",
        "logprobs.refusal.delta",
        "reasoning.done",
        "reasoning.done",
        "refusal.done",
        "logprobs.refusal.done",
    ]
    assert [e.delta for e in events[:3]] == ["think", "ing", "No"]
    assert events[3].refusal == [token] and events[3].snapshot == [token]
    assert [e.reasoning for e in events[4:6]] == ["think", "ing"]  # one per member it came in
    assert events[6].refusal == "No" and events[7].refusal == [token]


def test_partial_arguments_are_opt_in_and_grow(impl: SimpleNamespace) -> None:
    pieces = ['{"city": "Edin', 'burgh", "days": [1', ", 2]}"]
    fragments = [{"index": 0, "function": {"arguments": p}} for p in pieces]
    fragments[0].update(id="c", type="function")
    data = sse(*(chunk(None, tool_calls=[f]) for f in fragments), chunk(None, finish="tool_calls"))

    plain = [e for e in events_of(impl, data) if e.type == "tool_calls.function.arguments.delta"]
    assert [e.parsed_arguments for e in plain] == [None, None, None]

    acc = impl.ChatAccumulator(parse_partial_arguments=True)
    seen = []
    for piece in [data[i : i + 40] for i in range(0, len(data), 40)]:
        for event in acc.feed_events(piece):
            if event.type == "tool_calls.function.arguments.delta":
                seen.append(orjson.loads(orjson.dumps(event.parsed_arguments)))  # a copy: the value is live
    # "1" is left out until something ends it: it could still become "12"
    assert seen == [{}, {"city": "Edinburgh", "days": []}, {"city": "Edinburgh", "days": [1, 2]}]


def test_partial_parsing_of_a_200kb_argument_in_8_byte_fragments(impl: SimpleNamespace) -> None:
    arguments = orjson.dumps({"rows": [{"id": i, "text": "x" * 20} for i in range(5000)]}).decode()
    assert len(arguments) > 200_000
    acc = impl.ChatAccumulator(parse_partial_arguments=True)
    acc.add_chunk_events(
        chunk(
            None, tool_calls=[{"index": 0, "id": "c", "type": "function", "function": {"name": "f", "arguments": ""}}]
        )
    )
    last = None
    for i in range(0, len(arguments), 8):
        (_, event) = acc.add_chunk_events(
            chunk(None, tool_calls=[{"index": 0, "function": {"arguments": arguments[i : i + 8]}}])
        )
        last = event
    assert last is not None and last.parsed_arguments == orjson.loads(arguments)
    done = acc.add_chunk_events(chunk(None, finish="tool_calls"))[-1]
    assert done.parsed_arguments == orjson.loads(arguments)


def test_feed_events_and_add_chunk_events_agree(impl: SimpleNamespace) -> None:
    chunks = [
        chunk("a", role="assistant"),
        chunk("b", index=1),
        chunk("c", finish="stop"),
        chunk("d", index=1, finish="stop"),
    ]
    from_bytes = impl.ChatAccumulator().feed_events(sse(*chunks, done=False))
    acc = impl.ChatAccumulator()
    from_chunks = [e for c in chunks for e in acc.add_chunk_events(c)]
    assert [repr(e) for e in from_bytes] == [repr(e) for e in from_chunks]


def test_iter_events_and_aiter_events(impl: SimpleNamespace) -> None:
    data = sse(chunk("Hel"), chunk("lo", finish="stop"))
    pieces = [data[i : i + 7] for i in range(0, len(data), 7)]
    texts = [e.delta for e in impl.iter_events(pieces) if e.type == "content.delta"]
    assert "".join(texts) == "Hello"

    async def source() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece

    async def collect() -> list[str]:
        return [e.type async for e in impl.aiter_events(source())]

    assert asyncio.run(collect())[-1] == "content.done"
    with pytest.raises(TypeError):
        impl.iter_events("not bytes")


def test_iter_events_raises_on_an_unfinished_stream_with_the_partial(impl: SimpleNamespace) -> None:
    seen: list[str] = []
    with pytest.raises(IncompleteStreamError) as info:
        for event in impl.iter_events(sse(chunk("cut"), done=False)):
            seen.append(event.type)
    assert seen == ["chunk", "content.delta"]  # the events came before the error
    assert info.value.partial["choices"][0]["message"]["content"] == "cut"


def test_errors_while_producing_events_keep_the_partial(impl: SimpleNamespace) -> None:
    acc = impl.ChatAccumulator()
    acc.feed_events(sse(chunk("kept"), done=False))
    with pytest.raises(StreamDecodeError) as info:
        acc.feed_events(b"data: {broken\n\n")
    assert info.value.partial["choices"][0]["message"]["content"] == "kept"


def test_every_event_type_named_like_openai_python_plus_reasoning(impl: SimpleNamespace) -> None:
    token = {"token": "t", "logprob": -1.0, "bytes": [116], "top_logprobs": []}
    data = sse(
        chunk(None, delta={"reasoning_content": "hmm"}),
        {"choices": [{"index": 0, "delta": {"content": "t"}, "logprobs": {"content": [token]}}]},
        {"choices": [{"index": 0, "delta": {"refusal": "t"}, "logprobs": {"refusal": [token]}}]},
        chunk(
            None, tool_calls=[{"index": 0, "id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
        ),
        chunk(None, finish="stop"),
    )
    produced = {e.type for e in events_of(impl, data)}
    assert produced == {
        "chunk",
        "content.delta",
        "content.done",
        "refusal.delta",
        "refusal.done",
        "tool_calls.function.arguments.delta",
        "tool_calls.function.arguments.done",
        "logprobs.content.delta",
        "logprobs.content.done",
        "logprobs.refusal.delta",
        "logprobs.refusal.done",
        "reasoning.delta",
        "reasoning.done",
    }
    assert streamfold.ContentDeltaEvent.__module__ == "streamfold._events"  # one set of types for both


# --------------------------------------------------------------------------- raise_on_truncation


def content_filter_stream() -> bytes:
    return sse(
        chunk(choices=[{"index": 0, "delta": {"role": "assistant", "content": "Once"}}]),
        chunk(choices=[{"index": 1, "delta": {"role": "assistant", "content": "Fine"}, "finish_reason": "stop"}]),
        chunk(choices=[{"index": 0, "delta": {}, "finish_reason": "content_filter"}]),
    )


def test_length_raises_only_on_request(impl: SimpleNamespace) -> None:
    raw = (DATA / "openai-recorded" / "parse_max_tokens_reached.sse").read_bytes()
    folded = impl.fold(raw)
    assert folded["choices"][0]["finish_reason"] == "length"
    with pytest.raises(streamfold.TruncatedCompletionError) as caught:
        impl.fold(raw, raise_on_truncation=True)
    assert caught.value.finish_reason == "length" and caught.value.choice_index == 0
    assert caught.value.partial == folded


def test_content_filter_raises_only_on_request_after_every_event(impl: SimpleNamespace) -> None:
    events = list(impl.iter_events(content_filter_stream()))
    assert [(e.choice_index, e.finish_reason) for e in events if e.type == "content.done"] == [
        (1, "stop"),
        (0, "content_filter"),
    ]
    seen: list[Any] = []
    with pytest.raises(streamfold.TruncatedCompletionError) as caught:
        seen.extend(impl.iter_events(content_filter_stream(), raise_on_truncation=True))
    assert caught.value.finish_reason == "content_filter" and caught.value.partial is not None
    assert [e.type for e in seen] == [e.type for e in events]

    async def source() -> AsyncIterator[bytes]:
        yield content_filter_stream()

    async def drain() -> None:
        async for _ in impl.aiter_events(source(), raise_on_truncation=True):
            pass

    with pytest.raises(streamfold.TruncatedCompletionError):
        asyncio.run(drain())
    with pytest.raises(streamfold.TruncatedCompletionError):
        asyncio.run(impl.afold(source(), raise_on_truncation=True))
