"""``streamfold.openai.stream_chat``: what ``client.chat.completions.stream(...)`` does.

The reference is the installed openai-python itself: the same recorded OpenAI streams go
through openai's ``.stream()`` and through ``stream_chat``, served in one read, one read
per event, or 61-byte reads, and everything the caller can observe must be identical
(every event's class, fields, ``repr`` and JSON; the completion snapshot at every event;
the final completion, or the error).  Both implementations of the core (``dropin``).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

openai = pytest.importorskip("openai")

from conftest import DATA, ROOT  # noqa: E402
from openai.lib.streaming import chat as openai_chat  # noqa: E402
from openai_mock import (  # noqa: E402
    LOOSE_WEATHER,
    MESSAGES,
    RECORDED,
    REQUESTS,
    STRICT_WEATHER,
    GetWeatherArgs,
    Location,
    Server,
    arecord,
    dump,
    record,
    recorded,
    stream_helper,
)
from streams import chunk, sse  # noqa: E402

import streamfold  # noqa: E402
import streamfold.openai as dropin_module  # noqa: E402
from streamfold.openai import _state, astream_chat, stream_chat  # noqa: E402


def ours(client: Any, **request: Any) -> Any:
    return stream_chat(client, model="gpt-4o", messages=MESSAGES, **request)


def theirs(client: Any, **request: Any) -> Any:
    return stream_helper(client)(model="gpt-4o", messages=MESSAGES, **request)


# --------------------------------------------------------------------------- openai's own sequence


@pytest.mark.parametrize("reads", ["whole", "per-event", 61])
@pytest.mark.parametrize("path", RECORDED, ids=[path.stem for path in RECORDED])
def test_recorded_stream_is_observed_as_openai_stream_helper(dropin: SimpleNamespace, path: Any, reads: Any) -> None:
    """Read whole, a snapshot must still be as of its event (all the events of a read are
    folded before openai's would be, unless folding waits for each chunk's turn)."""
    request = REQUESTS.get(path.stem, {})
    server = Server(path.read_bytes(), reads=reads)
    mine = record(lambda: ours(server.client(), **request))
    reference = record(lambda: theirs(server.client(), **request))
    assert mine[0], path.stem
    assert len(mine[0]) == len(reference[0])
    for i, (event, expected) in enumerate(zip(mine[0], reference[0], strict=True)):
        assert event == expected, (path.stem, i)
    assert mine[1] == reference[1]


@pytest.mark.parametrize("line_end", [b"\r\n", b"\r"], ids=["CRLF", "CR"])
def test_other_line_ends_are_observed_as_openai_stream_helper(dropin: SimpleNamespace, line_end: bytes) -> None:
    """Read whole, a stream whose lines end with CR LF or CR alone is still folded a chunk
    at a time (snapshots as of each event)."""
    server = Server(recorded("parse_pydantic_model").replace(b"\n", line_end))
    mine = record(lambda: ours(server.client(), response_format=Location))
    reference = record(lambda: theirs(server.client(), response_format=Location))
    assert mine[0] and mine == reference


@pytest.mark.parametrize("reads", ["whole", "per-event"])
@pytest.mark.parametrize("path", RECORDED, ids=[path.stem for path in RECORDED])
def test_recorded_stream_async_is_observed_as_openai_stream_helper(
    dropin: SimpleNamespace, path: Any, reads: Any
) -> None:
    request = REQUESTS.get(path.stem, {})
    server = Server(path.read_bytes(), reads=reads)

    async def both() -> tuple[Any, Any]:
        mine = await arecord(lambda: astream_chat(server.async_client(), model="gpt-4o", messages=MESSAGES, **request))
        reference = await arecord(
            lambda: stream_helper(server.async_client())(model="gpt-4o", messages=MESSAGES, **request)
        )
        return mine, reference

    mine, reference = asyncio.run(both())
    assert mine[0] and mine == reference
    assert all(body.closed for body in server.bodies)


def test_events_are_openais_classes_and_dump_as_openais(dropin: SimpleNamespace) -> None:
    server = Server(recorded("content_logprobs_events"))
    with ours(server.client(), logprobs=True) as stream:
        events = list(stream)
    with theirs(server.client(), logprobs=True) as stream:
        reference = list(stream)
    for event, expected in zip(events, reference, strict=True):
        assert isinstance(event, type(expected)) and type(event).__name__ == type(expected).__name__
        assert event.model_dump_json() == expected.model_dump_json()
        assert event.to_dict() == expected.to_dict() and event.to_json() == expected.to_json()
        assert repr(event) == repr(expected)
    kinds = {type(event).__name__ for event in events}
    assert kinds == {
        "ChunkEvent",
        "ContentDeltaEvent",
        "ContentDoneEvent",
        "LogprobsContentDeltaEvent",
        "LogprobsContentDoneEvent",
    }
    assert all(isinstance(event, getattr(openai_chat, type(event).__name__)) for event in events)


# --------------------------------------------------------------------------- the stream object


def test_the_stream_is_an_iterator_that_resumes_after_a_break(dropin: SimpleNamespace) -> None:
    body = recorded("parse_nothing")
    server = Server(body, reads="per-event")
    reference = record(lambda: theirs(server.client()))[0]
    with ours(server.client()) as stream:
        assert iter(stream) is iter(stream)  # one iterator: each loop carries on where the last stopped
        first = next(stream)
        assert first.type == "chunk"
        taken = [first]
        for event in stream:
            taken.append(event)
            if event.type == "content.delta" and len(taken) > 6:
                break
        assert not server.bodies[-1].closed  # a break leaves the response open, as openai's does
        for event in stream:  # a second loop carries on where the first stopped
            taken.append(event)
            break
        rest = list(stream)
        final = stream.get_final_completion()
    assert [e.type for e in taken + rest] == [observed[0] for observed in reference]
    assert final.choices[0].message.content == streamfold.fold(body)["choices"][0]["message"]["content"]
    assert server.bodies[-1].closed and next(stream, None) is None


def test_until_done_after_a_break_and_get_final_completion(dropin: SimpleNamespace) -> None:
    server = Server(recorded("parse_pydantic_model"), reads="per-event")
    with ours(server.client(), response_format=Location) as stream:
        for event in stream:
            if event.type == "content.delta":
                break
        assert stream.until_done() is stream
        completion = stream.get_final_completion()
    assert completion.choices[0].message.parsed == Location(city="San Francisco", temperature=61, units="f")


def test_async_stream_is_an_async_iterator(dropin: SimpleNamespace) -> None:
    server = Server(recorded("parse_nothing"), reads="per-event")

    async def run() -> tuple[list[str], Any]:
        async with astream_chat(server.async_client(), model="gpt-4o", messages=MESSAGES) as stream:
            assert stream.__aiter__() is stream.__aiter__()
            types = [(await stream.__anext__()).type, (await anext(stream)).type]
            async for event in stream:
                types.append(event.type)
                break
            assert not server.bodies[-1].closed
            async for event in stream:
                types.append(event.type)
            await stream.until_done()
            return types, await stream.get_final_completion()

    types, final = asyncio.run(run())
    assert types == [observed[0] for observed in record(lambda: theirs(server.client()))[0]]
    assert final.choices[0].finish_reason == "stop" and server.bodies[0].closed


def test_leaving_the_block_closes_the_response_and_reading_on_says_so(dropin: SimpleNamespace) -> None:
    server = Server(recorded("parse_nothing"), reads=100)
    with ours(server.client()) as stream:
        assert stream.response is not None and stream.response.status_code == 200
        next(stream)
    assert server.bodies[0].closed and server.bodies[0].sent < len(server.bodies[0].pieces)
    with pytest.raises(streamfold.IncompleteStreamError) as caught:
        stream.get_final_completion()
    assert caught.value.partial is not None and caught.value.partial["id"] == "chatcmpl-ABfw031mOJeYCSHe4yI2ZjOA6kMJL"

    async def run() -> None:
        async with astream_chat(server.async_client(), model="gpt-4o", messages=MESSAGES) as stream:
            await anext(stream)

    asyncio.run(run())
    assert server.bodies[1].closed and server.bodies[1].sent < len(server.bodies[1].pieces)


# --------------------------------------------------------------------------- the request


def test_the_request_is_openais_stream_request(dropin: SimpleNamespace) -> None:
    server = Server(recorded("parse_pydantic_model"))
    tools = [openai.pydantic_function_tool(GetWeatherArgs)]
    for make in (ours, theirs):
        with make(
            server.client(default_headers={"X-Team": "batch"}),
            response_format=Location,
            tools=tools,
            temperature=0.5,
            stream_options={"include_usage": True},
        ) as stream:
            stream.until_done()
    mine, reference = server.requests
    assert mine.method == reference.method == "POST"
    assert str(mine.url) == str(reference.url) == "http://mock.test/v1/chat/completions"
    assert server.sent_json(0) == server.sent_json(1)
    assert server.sent_json(0)["response_format"]["type"] == "json_schema" and server.sent_json(0)["stream"] is True
    assert mine.headers["X-Stainless-Helper-Method"] == "chat.completions.stream"
    assert mine.headers["x-team"] == "batch" and mine.headers["authorization"] == "Bearer sk-test"
    assert "x-stainless-raw-response" not in mine.headers
    volatile = {"x-stainless-retry-count", "x-stainless-read-timeout", "x-stainless-timeout"}
    assert {k: v for k, v in mine.headers.items() if k not in volatile} == {
        k: v for k, v in reference.headers.items() if k not in volatile
    }


def test_the_callers_helper_header_wins(dropin: SimpleNamespace) -> None:
    server = Server(recorded("parse_nothing"))
    with ours(server.client(), extra_headers={"X-Stainless-Helper-Method": "mine"}) as stream:
        stream.until_done()
    assert server.requests[0].headers["X-Stainless-Helper-Method"] == "mine"
    with pytest.raises(ValueError, match="always streams"):
        ours(server.client(), stream=False)


def test_generator_tools_are_read_once_for_the_request_and_the_parsing(dropin: SimpleNamespace) -> None:
    server = Server(recorded("parse_pydantic_tool"))
    with ours(server.client(), tools=(tool for tool in [openai.pydantic_function_tool(GetWeatherArgs)])) as stream:
        done = [event for event in stream if event.type == "tool_calls.function.arguments.done"]
    sent = server.sent_json()["tools"]
    assert [tool["function"]["name"] for tool in sent] == ["GetWeatherArgs"] and sent[0]["function"]["strict"]
    assert done[0].parsed_arguments == GetWeatherArgs(city="Edinburgh", country="UK", units="c")


# --------------------------------------------------------------------------- parsed types


def test_snapshots_hold_the_parsed_types_once_done(dropin: SimpleNamespace) -> None:
    server = Server(recorded("parse_pydantic_model"), reads="per-event")
    parsed_at: dict[str, Any] = {}
    with ours(server.client(), response_format=Location) as stream:
        for event in stream:
            if event.type == "content.delta" and event.snapshot.startswith('{"city":"San Francisco",'):
                snapshot = stream.current_completion_snapshot
                parsed_at.setdefault("delta", (event.parsed, snapshot.choices[0].message.parsed))
            elif event.type == "content.done":
                parsed_at["done"] = (event.parsed, stream.current_completion_snapshot.choices[0].message.parsed)
    location = Location(city="San Francisco", temperature=61, units="f")
    assert parsed_at["delta"][0] == parsed_at["delta"][1] == {"city": "San Francisco"}
    assert parsed_at["done"] == (location, location) and isinstance(parsed_at["done"][1], Location)


@pytest.mark.parametrize(
    ("name", "tools", "partial", "final"),
    [
        (
            "parse_pydantic_tool",
            [openai.pydantic_function_tool(GetWeatherArgs)],
            True,
            GetWeatherArgs(city="Edinburgh", country="UK", units="c"),
        ),
        ("parse_strict_tools", [STRICT_WEATHER], True, {"city": "San Francisco", "state": "CA"}),
        ("allows_non_strict_tools_but_no_parsing", [LOOSE_WEATHER], False, None),
    ],
)
def test_tool_arguments_are_parsed_as_openai_parses_them(
    dropin: SimpleNamespace, name: str, tools: Any, partial: bool, final: Any
) -> None:
    server = Server(recorded(name))
    with ours(server.client(), tools=tools) as stream:
        deltas = [(e.arguments, e.parsed_arguments) for e in stream if e.type == "tool_calls.function.arguments.delta"]
        snapshot = stream.current_completion_snapshot.choices[0].message.tool_calls[0]
    if partial:  # strict and pydantic tools: the partial parse of the arguments so far
        assert deltas[-1][1] == json.loads(deltas[-1][0])
        halfway = deltas[len(deltas) // 2]
        assert isinstance(halfway[1], dict) and halfway[1] != deltas[-1][1]
    else:
        assert all(parsed is None for _, parsed in deltas)
    assert snapshot.function.parsed_arguments == final and type(snapshot.function.parsed_arguments) is type(final)
    assert snapshot.index == 0  # openai keeps each call's index


# --------------------------------------------------------------------------- finish reasons


def test_length_raises_mid_stream_only_with_parseable_input(dropin: SimpleNamespace) -> None:
    server = Server(recorded("parse_max_tokens_reached"))
    seen: list[str] = []
    with pytest.raises(openai.LengthFinishReasonError) as caught:
        with ours(server.client(), response_format=Location) as stream:
            for event in stream:
                seen.append(event.type)
    # the events of the chunks before the one that finished with "length", none of its own
    assert seen == ["chunk", "content.delta"] * 2
    assert seen == [observed[0] for observed in record(lambda: theirs(server.client(), response_format=Location))[0]]
    assert caught.value.completion.choices[0].message.content == '{"'
    assert server.bodies[-1].closed
    assert list(stream) == []  # nothing more comes after the error, as from openai's stream
    with pytest.raises(openai.LengthFinishReasonError):
        stream.get_final_completion()
    # without a response format or strict tools, iterating is fine; the final raises, as openai's does
    with ours(server.client()) as stream:
        types = [event.type for event in stream]
        with pytest.raises(openai.LengthFinishReasonError):
            stream.get_final_completion()
    assert types == [observed[0] for observed in record(lambda: theirs(server.client()))[0]]
    with ours(server.client(), raise_on_truncation=False, response_format=Location) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].finish_reason == "length" and final.choices[0].message.parsed is None


# --------------------------------------------------------------------------- streamfold's fixes


def interleaved_calls_n2() -> bytes:
    """Two choices; choice 0 interleaves two tool calls, an empty content piece first."""

    def call(index: int, **function: Any) -> dict[str, Any]:
        return {"index": index, "function": function}

    return sse(
        chunk(choices=[{"index": 0, "delta": {"role": "assistant", "content": ""}}]),
        chunk(choices=[{"index": 1, "delta": {"role": "assistant", "content": "Sure"}}]),
        chunk(
            choices=[
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "call_a",
                                "type": "function",
                                "function": {"name": "get_weather", "arguments": ""},
                            }
                        ]
                    },
                }
            ]
        ),
        chunk(choices=[{"index": 0, "delta": {"tool_calls": [call(0, arguments='{"city": ')]}}]),
        chunk(
            choices=[
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {
                                "index": 1,
                                "id": "call_b",
                                "type": "function",
                                "function": {"name": "get_weather", "arguments": '{"ci'},
                            }
                        ]
                    },
                }
            ]
        ),
        chunk(choices=[{"index": 0, "delta": {"tool_calls": [call(0, arguments='"Paris", "state": "FR"}')]}}]),
        chunk(choices=[{"index": 0, "delta": {"tool_calls": [call(1, arguments='ty": "Rome", "state": "IT"}')]}}]),
        chunk(choices=[{"index": 1, "delta": {"content": ". Done"}, "finish_reason": "length"}]),
        chunk(choices=[{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]),
    )


def test_openais_sequence_on_interleaved_calls_and_n2(dropin: SimpleNamespace) -> None:
    """By default even openai's quirks are kept: an empty delta, a call done before it is."""
    server = Server(interleaved_calls_n2())
    mine, reference = record(lambda: ours(server.client())), record(lambda: theirs(server.client()))
    assert mine == reference
    done = [observed[2] for observed in mine[0] if observed[0] == "tool_calls.function.arguments.done"]
    assert done[0]["arguments"] == '{"city": '  # openai: call 0 is "done" when call 1 starts


def test_fixes_switch_to_streamfolds_sequence(dropin: SimpleNamespace) -> None:
    server = Server(interleaved_calls_n2())
    with ours(server.client(), fixes=True, tools=[STRICT_WEATHER]) as stream:
        events = list(stream)
        final = stream.get_final_completion()  # length is returned, not raised
    assert all(e.delta for e in events if e.type == "content.delta")  # no empty deltas
    done = [
        (e.choice_index, e.index, e.arguments, e.parsed_arguments, e.id, e.finish_reason)
        for e in events
        if e.type == "tool_calls.function.arguments.done"
    ]
    assert done == [
        (0, 0, '{"city": "Paris", "state": "FR"}', {"city": "Paris", "state": "FR"}, "call_a", "tool_calls"),
        (0, 1, '{"city": "Rome", "state": "IT"}', {"city": "Rome", "state": "IT"}, "call_b", "tool_calls"),
    ]
    assert [(e.choice_index, e.content, e.finish_reason) for e in events if e.type == "content.done"] == [
        (1, "Sure. Done", "length"),
        (0, "", "tool_calls"),
    ]
    assert [c.finish_reason for c in final.choices] == ["tool_calls", "length"]
    assert [e.choice_index for e in events if e.type == "chunk"] == [-1] * 9
    assert all(e.choice_index in (0, 1) for e in events if e.type != "chunk")
    with pytest.raises(openai.LengthFinishReasonError):
        with ours(server.client(), fixes=True, raise_on_truncation=True) as stream:
            stream.get_final_completion()


def test_fixes_add_reasoning_events(dropin: SimpleNamespace) -> None:
    body = sse(
        chunk(choices=[{"index": 0, "delta": {"role": "assistant", "content": None, "reasoning_content": "Think"}}]),
        chunk(choices=[{"index": 0, "delta": {"reasoning_content": " hard"}}]),
        chunk(choices=[{"index": 0, "delta": {"content": "42"}, "finish_reason": "stop"}]),
    )
    server = Server(body)
    with ours(server.client(), fixes=True) as stream:
        events = [e for e in stream if e.type.startswith("reasoning.")]
        final = stream.get_final_completion()
    assert [(e.type, getattr(e, "delta", None)) for e in events] == [
        ("reasoning.delta", "Think"),
        ("reasoning.delta", " hard"),
        ("reasoning.done", None),
    ]
    assert events[1].snapshot == "Think hard" and events[2].reasoning == "Think hard"
    assert dump(events[1]) == {"type": "reasoning.delta", "delta": " hard", "snapshot": "Think hard"}
    assert events[1].to_json(indent=None) == '{"type":"reasoning.delta","delta":" hard","snapshot":"Think hard"}'
    assert final.choices[0].message.reasoning_content == "Think hard"  # type: ignore[attr-defined]
    with ours(server.client()) as stream:  # openai's sequence has no reasoning events
        assert not [e for e in stream if e.type.startswith("reasoning.")]


# --------------------------------------------------------------------------- callbacks


def test_on_callbacks_are_driven_by_until_done(dropin: SimpleNamespace) -> None:
    server = Server(recorded("parse_strict_tools"))
    calls: list[tuple[str, Any]] = []
    with ours(server.client(), tools=[STRICT_WEATHER]) as stream:
        returned = stream.on("tool_calls.function.arguments.done", lambda e: calls.append((e.type, e.parsed_arguments)))
        stream.on("chunk", lambda e: calls.append((e.type, None)))
        stream.on("content.delta", print).off("content.delta", print)
        assert returned is stream
        stream.until_done()
    assert calls.count(("chunk", None)) == 13
    done = ("tool_calls.function.arguments.done", {"city": "San Francisco", "state": "CA"})
    assert calls[-3:] == [("chunk", None), done, ("chunk", None)]
    with pytest.raises(ValueError, match=r"unknown event type 'content\.deltas'"):
        stream.on("content.deltas", print)

    async def coroutine(event: Any) -> None:
        pass

    with pytest.raises(TypeError, match="astream_chat"):
        stream.on("chunk", coroutine)


def test_async_on_callbacks_may_be_coroutines(dropin: SimpleNamespace) -> None:
    server = Server(recorded("parse_nothing"))
    texts: list[str] = []

    async def on_delta(event: Any) -> None:
        await asyncio.sleep(0)
        texts.append(event.delta)

    async def run() -> Any:
        async with astream_chat(server.async_client(), model="gpt-4o", messages=MESSAGES) as stream:
            stream.on("content.delta", on_delta).on("content.done", lambda e: texts.append("|done"))
            return await stream.get_final_completion()

    final = asyncio.run(run())
    assert "".join(texts) == final.choices[0].message.content + "|done"


# --------------------------------------------------------------------------- errors


def test_http_errors_are_openais(dropin: SimpleNamespace) -> None:
    server = Server(b"", status=500)
    with pytest.raises(openai.InternalServerError), ours(server.client()):
        pass


IN_STREAM_ERRORS = {
    "a chunk": sse(
        chunk(choices=[{"index": 0, "delta": {"role": "assistant", "content": "Half an"}}]),
        {"error": {"message": "overloaded", "type": "server_error", "code": "busy"}},
    ),
    "groq's event: error": (DATA / "providers" / "groq-error.sse").read_bytes(),
}


@pytest.mark.parametrize("body", IN_STREAM_ERRORS.values(), ids=IN_STREAM_ERRORS)
def test_an_error_in_the_stream_is_openais_api_error_with_the_partial(dropin: SimpleNamespace, body: bytes) -> None:
    server = Server(body)
    seen = []
    with pytest.raises(openai.APIError) as caught, ours(server.client()) as mine:
        for event in mine:
            seen.append(event.type)
    reference_seen = []
    with pytest.raises(openai.APIError) as reference, theirs(server.client()) as stream:
        for event in stream:
            reference_seen.append(event.type)
    error = caught.value
    assert list(mine) == []  # the stream ends at its error, as openai's does
    with pytest.raises(openai.APIError):
        mine.get_final_completion()
    assert isinstance(error, streamfold.StreamAPIError) and isinstance(error, dropin_module.StreamAPIError)
    assert (str(error), error.message, error.body, error.code, error.type) == (
        str(reference.value),
        reference.value.message,
        reference.value.body,
        reference.value.code,
        reference.value.type,
    )
    assert error.request is not None and error.error == error.body
    assert error.partial is not None and error.partial["choices"][0]["message"]["content"]
    assert seen == reference_seen and server.bodies[0].closed


def test_a_connection_lost_mid_body_is_openais_connection_error_with_the_partial(dropin: SimpleNamespace) -> None:
    server = Server(recorded("parse_nothing"), reads="per-event", fail_after=5)
    with pytest.raises(openai.APIConnectionError) as caught, ours(server.client()) as stream:
        stream.until_done()
    with pytest.raises(openai.APIConnectionError), theirs(server.client()) as stream:
        stream.until_done()
    assert not isinstance(caught.value, openai.APITimeoutError)
    partial = caught.value.partial["choices"][0]["message"]["content"]  # type: ignore[attr-defined]
    whole = streamfold.fold(recorded("parse_nothing"))["choices"][0]["message"]["content"]
    assert partial and whole.startswith(partial) and partial != whole
    assert server.bodies[0].closed


def test_a_cut_stream_is_incomplete(dropin: SimpleNamespace) -> None:
    raw = recorded("parse_nothing")
    server = Server(raw[: len(raw) // 2])
    with ours(server.client()) as stream, pytest.raises(streamfold.IncompleteStreamError) as caught:
        stream.get_final_completion()
    assert caught.value.partial is not None


# --------------------------------------------------------------------------- cost


def test_no_snapshot_is_built_unless_read(dropin: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[bool] = []
    completion_model = _state.completion_model
    monkeypatch.setattr(
        _state, "completion_model", lambda data, final: built.append(final) or completion_model(data, final=final)
    )
    server = Server(recorded("parse_pydantic_model_multiple_choices"))
    with ours(server.client(), response_format=Location) as stream:
        events = list(stream)
        assert built == []  # 97 events, no completion snapshot
        events[0].snapshot  # noqa: B018
        assert built == [False]
        stream.get_final_completion()
    assert built == [False, True]


def test_the_readme_example_runs_offline() -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OPENAI_")}
    script = ROOT / "examples" / "openai_client.py"
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    sample = (Path(streamfold.__file__).parent / "data" / "sample.sse").read_bytes()
    expected = streamfold.fold(sample)
    assert proc.stdout.splitlines()[0] == expected["choices"][0]["message"]["content"]
    assert f"finish_reason={expected['choices'][0]['finish_reason']}" in proc.stdout
    assert "offline" in proc.stderr and "bundled sample" in proc.stderr  # never passed off as an answer


@pytest.mark.parametrize("fixes", [False, True])
def test_content_as_typed_parts_streams_its_text_and_keeps_the_parts(dropin: SimpleNamespace, fixes: bool) -> None:
    """Mistral's reasoning models send content as typed parts (thinking, then text): the
    events carry the text parts' text (and, with fixes, the thinking as reasoning), and the
    completion keeps the parts, as the fold does (and as openai keeps them in a
    non-streaming answer)."""
    stream_file = DATA / "providers" / "mistral-magistral.sse"
    expected = json.loads(stream_file.with_name("mistral-magistral.expected.json").read_text(encoding="utf-8"))
    server = Server(stream_file.read_bytes(), reads="per-event")
    with ours(server.client(), fixes=fixes, response_format=Location) as stream:  # parts are never parsed
        events = list(stream)
        snapshot = stream.current_completion_snapshot
        final = stream.get_final_completion()
    text = "".join(e.delta for e in events if e.type == "content.delta")
    assert text == expected["content_text"]
    assert [e.content for e in events if e.type == "content.done"] == [expected["content_text"]]
    reasoning = "".join(e.delta for e in events if e.type == "reasoning.delta")
    assert reasoning == (expected["reasoning_text"] if fixes else "")
    parts = expected["completion"]["choices"][0]["message"]["content"]
    for completion in (snapshot, final):
        assert completion.choices[0].message.content == parts and completion.choices[0].message.parsed is None
        assert dump(completion)["choices"][0]["message"]["content"] == parts
    assert final.usage is not None and final.usage.total_tokens == expected["completion"]["usage"]["total_tokens"]
