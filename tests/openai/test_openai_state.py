"""``streamfold.openai.StreamState`` against openai-python's ``ChatCompletionStreamState``.

Both get the same ``ChatCompletionChunk`` objects (openai's own, from its ``Stream``) and
everything code can observe must be identical: each chunk's events (class, fields,
``repr``, JSON), the snapshot after each chunk, the final completion or the error.  Plain
dicts and raw bytes (``feed``, ``iter_feed``) must give the same.  Both implementations.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

openai = pytest.importorskip("openai")

from openai.lib.streaming.chat import ChatCompletionStreamState  # noqa: E402
from openai.types.chat import ChatCompletionChunk  # noqa: E402
from openai_mock import (  # noqa: E402
    RECORDED,
    REQUESTS,
    STRICT_WEATHER,
    Location,
    Server,
    dump,
    observe,
    outcome,
    per_event,
    recorded,
)
from streams import chunk, sse  # noqa: E402

import streamfold  # noqa: E402
from streamfold.openai import StreamState  # noqa: E402


def chunk_objects(body: bytes) -> list[ChatCompletionChunk]:
    """The chunks openai-python's own ``Stream`` builds from a stream's bytes."""
    with Server(body).client().chat.completions.create(model="gpt-4o", messages=[], stream=True) as chunks:
        return list(chunks)


def replay(state: Any, chunks: list[Any]) -> tuple[list[tuple[Any, ...]], tuple[Any, ...]]:
    """Every event of every chunk, observed after its chunk, then the final outcome."""
    seen: list[tuple[Any, ...]] = []
    try:
        for item in chunks:
            for event in state.handle_chunk(item):
                seen.append(observe(event, state))
    except (openai.LengthFinishReasonError, openai.ContentFilterFinishReasonError) as exc:
        return seen, (type(exc), dump(exc.completion))
    return seen, outcome(state.get_final_completion)


def states(request: dict[str, Any]) -> tuple[StreamState[Any], ChatCompletionStreamState[Any]]:
    tools, response_format = request.get("tools"), request.get("response_format")
    return (
        StreamState(input_tools=tools, response_format=response_format),
        ChatCompletionStreamState(
            input_tools=tools or openai.NOT_GIVEN, response_format=response_format or openai.NOT_GIVEN
        ),
    )


@pytest.mark.parametrize("path", RECORDED, ids=[path.stem for path in RECORDED])
def test_recorded_stream_is_observed_as_openais_state(dropin: SimpleNamespace, path: Any) -> None:
    request = REQUESTS.get(path.stem, {})
    objects = chunk_objects(path.read_bytes())
    before = [obj.to_dict() for obj in objects]
    ours, theirs = states(request)
    mine, reference = replay(ours, objects), replay(theirs, objects)
    assert mine[0] and mine == reference
    # plain dicts fold the same
    ours, _ = states(request)
    assert replay(ours, [obj.to_dict() for obj in objects]) == reference
    assert [obj.to_dict() for obj in objects] == before  # the chunks handed in are left as they were


def test_chunk_events_hold_the_very_chunk_given(dropin: SimpleNamespace) -> None:
    objects = chunk_objects(recorded("parse_nothing"))
    state: StreamState[Any] = StreamState()
    for obj in objects:
        assert state.handle_chunk(obj)[0].chunk is obj


@pytest.mark.parametrize("path", RECORDED, ids=[path.stem for path in RECORDED])
def test_raw_bytes_fold_as_the_chunk_objects(dropin: SimpleNamespace, path: Any) -> None:
    """``feed`` per event, and ``iter_feed`` over the whole body, read at every event."""
    request = REQUESTS.get(path.stem, {})
    body = path.read_bytes()
    reference = replay(states(request)[1], chunk_objects(body))

    def fed(pieces: list[bytes], each: Any) -> tuple[list[tuple[Any, ...]], tuple[Any, ...]]:
        state = states(request)[0]
        seen: list[tuple[Any, ...]] = []
        try:
            for piece in pieces:
                for event in each(state, piece):
                    seen.append(observe(event, state))
        except (openai.LengthFinishReasonError, openai.ContentFilterFinishReasonError) as exc:
            return seen, (type(exc), dump(exc.completion))
        return seen, outcome(state.get_final_completion)

    assert fed(per_event(body), StreamState.feed) == reference
    assert fed([body], StreamState.iter_feed) == reference


def test_feed_of_a_whole_stream_gives_snapshots_as_of_the_read(dropin: SimpleNamespace) -> None:
    """One ``feed`` folds everything first: its chunk events' snapshots are the end's."""
    state: StreamState[Any] = StreamState()
    events = state.feed(recorded("parse_nothing"))
    first = events[0].snapshot.choices[0].message.content
    assert first == state.get_final_completion().choices[0].message.content


def test_the_surface_openai_code_relies_on(dropin: SimpleNamespace) -> None:
    state = StreamState[Location](response_format=Location)
    reference = ChatCompletionStreamState[Location](response_format=Location)
    for before_any_chunk in (lambda s: s.current_completion_snapshot, lambda s: s.get_final_completion()):
        with pytest.raises(AssertionError):
            before_any_chunk(state)
        with pytest.raises(AssertionError):
            before_any_chunk(reference)
    with pytest.raises(TypeError, match="ChatCompletionChunk or a dict"):
        state.handle_chunk("data: {}")  # type: ignore[arg-type]
    first = chunk(choices=[{"index": 0, "delta": {"role": "assistant", "content": '{"city": "Paris", '}}])
    events = state.handle_chunk(first)
    assert [e.type for e in events] == ["chunk", "content.delta"]
    assert events[1].parsed is None  # openai parses nothing in the stream's first chunk
    last = chunk(
        choices=[{"index": 0, "delta": {"content": '"temperature": 20, "units": "c"}'}, "finish_reason": "stop"}]
    )
    events = state.handle_chunk(last)
    assert [e.type for e in events] == ["chunk", "content.delta", "content.done"]
    assert events[1].parsed == {"city": "Paris", "temperature": 20, "units": "c"}
    assert events[2].parsed == Location(city="Paris", temperature=20, units="c")
    assert state.get_final_completion().choices[0].message.parsed == events[2].parsed
    with pytest.raises(streamfold.StreamDecodeError):
        state.handle_chunk({"choices": "nope"})


def test_fixes_mode_on_chunks(dropin: SimpleNamespace) -> None:
    usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    raw = [
        chunk(choices=[{"index": 0, "delta": {"role": "assistant", "content": "", "reasoning_content": "Think"}}]),
        chunk(choices=[{"index": 0, "delta": {"content": "Yes"}, "finish_reason": "length"}], x_groq={"usage": usage}),
    ]
    state: StreamState[Any] = StreamState(fixes=True)
    events = [e for data in raw for e in state.handle_chunk(ChatCompletionChunk.model_validate(data))]
    assert [(e.type, e.choice_index) for e in events] == [
        ("chunk", -1),
        ("reasoning.delta", 0),
        ("chunk", -1),
        ("content.delta", 0),
        ("reasoning.done", 0),
        ("content.done", 0),
    ]
    assert events[-1].finish_reason == "length"
    final = state.get_final_completion()  # length: returned
    assert final.choices[0].message.reasoning_content == "Think"  # type: ignore[attr-defined]
    assert final.usage is not None and final.usage.total_tokens == 5
    assert final.x_groq == {"usage": usage}  # type: ignore[attr-defined]
    state = StreamState(fixes=True, raise_on_truncation=True)
    for data in raw:
        state.handle_chunk(data)
    with pytest.raises(openai.LengthFinishReasonError):
        state.get_final_completion()


def test_partial_arguments_from_the_linear_parser(dropin: SimpleNamespace) -> None:
    """``parse_partial_arguments=True``: strict tools' deltas carry streamfold's live value
    (unfinished numbers left out) instead of a re-parse; other tools still get None."""
    body = recorded("parse_strict_tools")
    for tools, expect_parsed, fixes in (
        ([STRICT_WEATHER], True, False),
        ([STRICT_WEATHER], True, True),
        ([], False, False),
    ):
        state: StreamState[Any] = StreamState(input_tools=tools, fixes=fixes, parse_partial_arguments=True)
        deltas = [e for e in state.feed(body) if e.type == "tool_calls.function.arguments.delta"]
        assert deltas
        if expect_parsed:
            assert deltas[-1].parsed_arguments == {"city": "San Francisco", "state": "CA"}
            live = [e.parsed_arguments for e in deltas if e.arguments]
            assert live and all(value is deltas[-1].parsed_arguments for value in live)  # one live value
        else:
            assert all(e.parsed_arguments is None for e in deltas)


def test_azure_filter_chunks_give_no_events_in_the_stream_path(dropin: SimpleNamespace) -> None:
    """openai's stream skips chunks of another ``object`` (Azure's prompt filter results);
    ``feed`` does too, by default, and folds them all the same."""
    filters = {
        "id": "",
        "object": "",
        "created": 0,
        "model": "",
        "choices": [],
        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}],
    }
    body = sse(filters, chunk("Hi", role="assistant", finish="stop"))
    events = StreamState().feed(body)
    assert [e.type for e in events] == ["chunk", "content.delta", "content.done"]
    assert StreamState(fixes=True).feed(body)[0].chunk.object == ""
    state: StreamState[Any] = StreamState()
    state.feed(body)
    final = state.get_final_completion()
    assert final.prompt_filter_results == filters["prompt_filter_results"]  # type: ignore[attr-defined]


def test_completions_openais_types_would_reject_are_built_as_openai_builds_them(dropin: SimpleNamespace) -> None:
    """A provider's own finish reason (TGI's ``eos_token``) and role fail openai's types; the
    completion is still built, leniently, as openai's own construction builds it."""
    raw = [
        chunk(choices=[{"index": 0, "delta": {"role": "model", "content": "Hi"}}]),
        chunk(
            choices=[{"index": 0, "delta": {}, "finish_reason": "eos_token"}],
            usage={"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2, "queue_ms": 7},
        ),
    ]
    ours, theirs = StreamState(), ChatCompletionStreamState()
    for data in raw:
        ours.handle_chunk(data)
        theirs.handle_chunk(ChatCompletionChunk.construct(**data))
    for completion in (ours.get_final_completion(), ours.current_completion_snapshot):
        assert completion.choices[0].finish_reason == "eos_token" and completion.choices[0].message.role == "model"
        assert completion.usage is not None and completion.usage.queue_ms == 7  # type: ignore[attr-defined]
    assert dump(ours.get_final_completion()) == dump(theirs.get_final_completion())
