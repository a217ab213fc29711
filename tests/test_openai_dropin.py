"""``streamfold.openai``: the drop-in for users of the official client, against openai-python.

Requests go through the installed openai client and its own mock-transport path
(``MockTransport`` of the HTTP library the client is built on: httpx2 for openai 3,
httpx before), so nothing touches the network.  Every recorded OpenAI stream must give
the same final completion through ``stream_chat`` as through openai-python's own
``.stream()`` helper, for both implementations of the core.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

import orjson
import pytest

openai = pytest.importorskip("openai")

import pydantic  # noqa: E402
from openai.lib.streaming.chat import ChatCompletionStreamState  # noqa: E402
from openai.types.chat import ChatCompletionChunk, ChatCompletionTokenLogprob, ParsedChatCompletion  # noqa: E402

import streamfold  # noqa: E402
from conftest import DATA  # noqa: E402
from streamfold.openai import StreamState, _state, astream_chat, stream_chat  # noqa: E402
from streams import chunk, sse  # noqa: E402
from test_events import content_filter_stream  # noqa: E402
from test_openai_reference import drop_nulls, summary  # noqa: E402

try:
    import httpx2 as http
except ImportError:  # openai-python before 3 is built on httpx
    import httpx as http  # type: ignore[no-redef]

RECORDED = sorted((DATA / "openai-recorded").glob("*.sse"))
MESSAGES = [{"role": "user", "content": "What's the weather like in SF?"}]


class Location(pydantic.BaseModel):
    city: str
    temperature: float
    units: Literal["c", "f"]


class GetWeatherArgs(pydantic.BaseModel):
    city: str
    country: str
    units: Literal["c", "f"] = "c"


class GetStockPrice(pydantic.BaseModel):
    ticker: str
    exchange: str


STRICT_WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "strict": True,
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "state": {"type": "string"}},
            "required": ["city", "state"],
            "additionalProperties": False,
        },
    },
}
LOOSE_WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}

#: What each recorded stream was requested with (as in openai-python's own tests).
REQUESTS: dict[str, dict[str, Any]] = {
    "parse_pydantic_model": {"response_format": Location},
    "parse_pydantic_model_multiple_choices": {"response_format": Location, "n": 3},
    "parse_pydantic_model_refusal": {"response_format": Location},
    "parse_max_tokens_reached": {"response_format": Location, "max_tokens": 1},
    "parse_pydantic_tool": {"tools": [openai.pydantic_function_tool(GetWeatherArgs)]},
    "parse_multiple_pydantic_tools": {
        "tools": [
            openai.pydantic_function_tool(GetWeatherArgs),
            openai.pydantic_function_tool(GetStockPrice, name="get_stock_price"),
        ]
    },
    "parse_strict_tools": {"tools": [STRICT_WEATHER]},
    "allows_non_strict_tools_but_no_parsing": {"tools": [LOOSE_WEATHER]},
    "content_logprobs_events": {"logprobs": True},
    "refusal_logprobs_events": {"logprobs": True, "response_format": Location},
}


@pytest.fixture
def dropin(impl: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """The drop-in running on one implementation of the core (``impl``)."""
    monkeypatch.setattr(_state, "ChatAccumulator", impl.ChatAccumulator)
    return impl


# --------------------------------------------------------------------------- mock server


class Body(http.SyncByteStream, http.AsyncByteStream):  # type: ignore[misc]
    """A response body in pieces that records how far it was read and whether it was closed."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces
        self.sent = 0
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        for piece in self.pieces:
            self.sent += 1
            yield piece

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            self.sent += 1
            yield piece

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


class Server:
    """A mock OpenAI endpoint behind the client's own MockTransport."""

    def __init__(self, body: bytes, *, status: int = 200, piece: int = 0) -> None:
        self.body = body
        self.status = status
        self.piece = piece
        self.requests: list[Any] = []
        self.bodies: list[Body] = []

    def handle(self, request: Any) -> Any:
        self.requests.append(request)
        if self.status != 200:
            return http.Response(self.status, json={"error": {"message": "boom", "type": "server_error"}})
        size = self.piece or len(self.body) or 1
        body = Body([self.body[i : i + size] for i in range(0, len(self.body), size)])
        self.bodies.append(body)
        return http.Response(200, headers={"content-type": "text/event-stream"}, stream=body)

    def client(self, **options: Any) -> Any:
        transport = http.MockTransport(self.handle)
        return openai.OpenAI(
            api_key="sk-test", base_url="http://mock.test/v1", max_retries=0,
            http_client=http.Client(transport=transport), **options,
        )

    def async_client(self, **options: Any) -> Any:
        transport = http.MockTransport(self.handle)
        return openai.AsyncOpenAI(
            api_key="sk-test", base_url="http://mock.test/v1", max_retries=0,
            http_client=http.AsyncClient(transport=transport), **options,
        )

    def sent_json(self, i: int = -1) -> dict[str, Any]:
        return json.loads(self.requests[i].content)


def stream_helper(client: Any) -> Any:
    """openai-python's ``.stream()`` (under ``client.beta`` before openai 1.92)."""
    completions = client.chat.completions
    return completions.stream if hasattr(completions, "stream") else client.beta.chat.completions.stream


def openai_final(server: Server, **request: Any) -> ParsedChatCompletion[Any]:
    """openai-python's own ``.stream()`` helper over the same server; its ``length`` and
    ``content_filter`` refusal returns the completion it carries."""
    try:
        with stream_helper(server.client())(model="gpt-4o", messages=MESSAGES, **request) as stream:
            for _ in stream:
                pass
            return stream.get_final_completion()
    except (openai.LengthFinishReasonError, openai.ContentFilterFinishReasonError) as exc:
        assert exc.completion is not None
        return exc.completion  # type: ignore[no-any-return]


def openai_events(server: Server, **request: Any) -> list[Any]:
    with stream_helper(server.client())(model="gpt-4o", messages=MESSAGES, **request) as stream:
        return list(stream)


def both_events(name: str, piece: int = 0, **request: Any) -> tuple[list[Any], list[Any], Server]:
    """The events of a recorded stream through ``stream_chat`` and through openai's ``.stream()``."""
    server = Server((DATA / "openai-recorded" / f"{name}.sse").read_bytes(), piece=piece)
    with stream_chat(server.client(), model="gpt-4o", messages=MESSAGES, **request) as stream:
        ours = list(stream)
    return ours, openai_events(server, **request), server


def ours_final(server: Server, **request: Any) -> ParsedChatCompletion[Any]:
    with stream_chat(server.client(), model="gpt-4o", messages=MESSAGES, **request) as stream:
        for _ in stream:
            pass
        return stream.get_final_completion()


def as_dict(completion: Any) -> dict[str, Any]:
    # warnings off: openai-python's own ParsedChatCompletion[ResponseFormatT] warns when dumped
    return completion.model_dump(mode="json", warnings=False)  # type: ignore[no-any-return]


def comparable(completion: Any, *, usage: bool = True) -> dict[str, Any]:
    """The members openai-python gets right, without nulls (its dumps list unset fields)."""
    fields = drop_nulls(summary(as_dict(completion) if not isinstance(completion, dict) else completion))
    if not usage:
        fields.pop("usage", None)
    return fields  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- recorded streams


@pytest.mark.parametrize("path", RECORDED, ids=[path.stem for path in RECORDED])
def test_recorded_stream_final_equals_openai_stream_helper(dropin: SimpleNamespace, path: Path) -> None:
    request = REQUESTS.get(path.stem, {})
    server = Server(path.read_bytes(), piece=61)  # reads that cut lines, JSON and UTF-8
    ours = ours_final(server, **request)
    theirs = openai_final(server, **request)
    assert isinstance(ours, ParsedChatCompletion) and isinstance(ours, openai.types.chat.ChatCompletion)
    # openai-python raises on finish_reason "length" at that chunk, so its completion lacks
    # the usage that came after (a known bug); compare usage with the recorded SDK fold instead
    truncated = any(choice.finish_reason == "length" for choice in ours.choices)
    assert comparable(ours, usage=not truncated) == comparable(theirs, usage=not truncated)
    # what openai-python parses (content into response_format, arguments of strict and
    # pydantic tools), ours parses the same, except a choice cut short (see below)
    for mine, its in zip(ours.choices, theirs.choices, strict=True):
        if mine.finish_reason != "length":
            assert mine.message.parsed == its.message.parsed
        for call, its_call in zip(mine.message.tool_calls or [], its.message.tool_calls or [], strict=True):
            assert call.function.parsed_arguments == its_call.function.parsed_arguments
    # and it agrees with the SDK output recorded with the stream
    sdk = json.loads(path.with_name(path.stem + ".openai-sdk-final.json").read_text(encoding="utf-8"))
    assert comparable(ours) == comparable(sdk)


@pytest.mark.parametrize("path", RECORDED, ids=[path.stem for path in RECORDED])
def test_recorded_stream_async_final_equals_sync(dropin: SimpleNamespace, path: Path) -> None:
    request = REQUESTS.get(path.stem, {})
    server = Server(path.read_bytes(), piece=97)

    async def run() -> tuple[list[str], ParsedChatCompletion[Any]]:
        async with astream_chat(server.async_client(), model="gpt-4o", messages=MESSAGES, **request) as stream:
            types = [event.type async for event in stream]
            return types, await stream.get_final_completion()

    types, final = asyncio.run(run())
    with stream_chat(server.client(), model="gpt-4o", messages=MESSAGES, **request) as stream:
        assert [event.type for event in stream] == types
        assert as_dict(stream.get_final_completion()) == as_dict(final)
    assert all(body.closed for body in server.bodies)


@pytest.mark.parametrize("path", RECORDED, ids=[path.stem for path in RECORDED])
def test_stream_state_on_openai_chunk_objects(dropin: SimpleNamespace, path: Path) -> None:
    """``StreamState`` takes the ``ChatCompletionChunk`` objects openai-python builds (or
    dicts) and folds them as openai's ``ChatCompletionStreamState`` does."""
    request = REQUESTS.get(path.stem, {})
    server = Server(path.read_bytes())
    with server.client().chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True) as chunks:
        objects = list(chunks)
    assert objects and all(isinstance(obj, ChatCompletionChunk) for obj in objects)
    tools, response_format = request.get("tools"), request.get("response_format")

    from_objects = StreamState(input_tools=tools, response_format=response_format)
    for obj in objects:
        events = from_objects.handle_chunk(obj)
        assert events[0].type == "chunk" and events[0].chunk is obj  # the very object given
    from_dicts = StreamState(input_tools=tools, response_format=response_format)
    for obj in objects:
        from_dicts.handle_chunk(obj.to_dict())
    reference: ChatCompletionStreamState[Any] = ChatCompletionStreamState(
        input_tools=tools or openai.NOT_GIVEN, response_format=response_format or openai.NOT_GIVEN
    )
    truncated = False
    try:
        for obj in objects:
            reference.handle_chunk(obj)
        theirs = reference.get_final_completion()
    except openai.LengthFinishReasonError as exc:  # raised from handle_chunk, before the usage chunk
        theirs, truncated = exc.completion, True
    final = from_objects.get_final_completion()
    assert as_dict(from_dicts.get_final_completion()) == as_dict(final)
    assert comparable(final, usage=not truncated) == comparable(theirs, usage=not truncated)


# --------------------------------------------------------------------------- events


def test_events_carry_openai_types_and_match_its_deltas(dropin: SimpleNamespace) -> None:
    ours, theirs, _ = both_events("content_logprobs_events", piece=33, logprobs=True)
    chunks = [event for event in ours if event.type == "chunk"]
    their_chunks = [event for event in theirs if event.type == "chunk"]
    assert [event.chunk.to_dict() for event in chunks] == [event.chunk.to_dict() for event in their_chunks]
    assert all(isinstance(event.chunk, ChatCompletionChunk) for event in chunks)
    assert isinstance(chunks[-1].snapshot, ParsedChatCompletion)
    assert chunks[-1].snapshot.choices[0].message.content == "Foo!"

    def deltas(events: list[Any], kind: str) -> list[Any]:
        """(delta, snapshot) of each event of a kind; openai-python's extra events for an
        empty string (the role chunk) are left out: streamfold does not fire those."""
        picked = [event for event in events if event.type == kind]
        if kind == "content.delta":
            return [(event.delta, event.snapshot) for event in picked if event.delta]
        return [([x.token for x in event.content], [x.token for x in event.snapshot]) for event in picked if event.content]

    for kind in ("content.delta", "logprobs.content.delta"):
        assert deltas(ours, kind) == deltas(theirs, kind) and deltas(ours, kind)
        assert len(deltas(ours, kind)) == len([event for event in ours if event.type == kind])
    entry = next(event for event in ours if event.type == "logprobs.content.delta").content[0]
    assert isinstance(entry, ChatCompletionTokenLogprob) and entry.token == "Foo"
    done = [event for event in ours if event.type in ("content.done", "logprobs.content.done")]
    assert [event.type for event in done] == ["content.done", "logprobs.content.done"]
    assert done[0].content == "Foo!" and done[0].parsed is None and done[0].choice_index == 0
    assert [entry.token for entry in done[1].content] == ["Foo", "!"]


def test_refusal_events_match_openai(dropin: SimpleNamespace) -> None:
    ours, theirs, _ = both_events("refusal_logprobs_events", logprobs=True, response_format=Location)
    # openai-python also fires a refusal.delta for an empty string; streamfold does not
    pick = lambda events, kind: [(e.delta, e.snapshot) for e in events if e.type == kind and e.delta]  # noqa: E731
    assert pick(ours, "refusal.delta") == pick(theirs, "refusal.delta") != []
    assert all(e.delta for e in ours if e.type == "refusal.delta")
    refusal = [e.refusal for e in ours if e.type == "refusal.done"]
    assert refusal == [e.refusal for e in theirs if e.type == "refusal.done"]
    tokens = [[x.token for x in e.refusal] for e in ours if e.type == "logprobs.refusal.done"]
    assert tokens == [[x.token for x in e.refusal] for e in theirs if e.type == "logprobs.refusal.done"]


def test_structured_output_events_parse_like_openai(dropin: SimpleNamespace) -> None:
    ours, theirs, server = both_events("parse_pydantic_model", piece=40, response_format=Location)
    final = _state.StreamState(response_format=Location)
    for event in ours:
        if event.type == "chunk":
            final.handle_chunk(event.chunk)
    # content.delta.parsed: the JSON parsed so far
    ours_parsed = [e.parsed for e in ours if e.type == "content.delta"]
    assert ours_parsed[-1] == {"city": "San Francisco", "temperature": 61, "units": "f"}
    assert ours_parsed[-1] == [e.parsed for e in theirs if e.type == "content.delta"][-1]
    done = next(e for e in ours if e.type == "content.done")
    assert done.parsed == Location(city="San Francisco", temperature=61, units="f")
    assert final.get_final_completion().choices[0].message.parsed == done.parsed
    # the request carried the JSON schema openai-python's .stream() sends for that type
    assert server.sent_json(0)["response_format"] == server.sent_json(1)["response_format"]
    assert server.sent_json(1)["response_format"]["type"] == "json_schema"
    assert server.sent_json(1)["stream"] is True


def test_pydantic_tool_arguments_done_is_the_model(dropin: SimpleNamespace) -> None:
    path = DATA / "openai-recorded" / "parse_pydantic_tool.sse"
    tools = [openai.pydantic_function_tool(GetWeatherArgs)]
    server = Server(path.read_bytes())
    with stream_chat(server.client(), model="gpt-4o", messages=MESSAGES, tools=tools) as stream:
        done = [e for e in stream if e.type == "tool_calls.function.arguments.done"]
    assert [(e.name, e.index, e.parsed_arguments) for e in done] == [
        ("GetWeatherArgs", 0, GetWeatherArgs(city="Edinburgh", country="UK", units="c"))
    ]
    sent = server.sent_json()["tools"][0]["function"]
    assert sent["name"] == "GetWeatherArgs" and sent["strict"] is True


def test_non_strict_tool_arguments_are_decoded_in_events_but_not_in_the_completion(dropin: SimpleNamespace) -> None:
    """openai-python parses arguments of strict tools only; the done event decodes any
    call's JSON, the final completion keeps openai's rule."""
    path = DATA / "openai-recorded" / "allows_non_strict_tools_but_no_parsing.sse"
    server = Server(path.read_bytes())
    with stream_chat(server.client(), model="gpt-4o", messages=MESSAGES, tools=[LOOSE_WEATHER]) as stream:
        done = [e for e in stream if e.type == "tool_calls.function.arguments.done"]
        final = stream.get_final_completion()
    assert done[0].parsed_arguments == {"city": "New York City"}
    assert final.choices[0].message.tool_calls[0].function.parsed_arguments is None


# --------------------------------------------------------------------------- finish reasons


def test_length_is_reported_by_default_and_raised_on_request(dropin: SimpleNamespace) -> None:
    path = DATA / "openai-recorded" / "parse_max_tokens_reached.sse"
    server = Server(path.read_bytes())
    final = ours_final(server, response_format=Location)
    assert final.choices[0].finish_reason == "length" and final.choices[0].message.content == '{"'
    assert final.choices[0].message.parsed is None
    client = server.client()
    with stream_chat(client, model="gpt-4o", messages=MESSAGES, raise_on_truncation=True) as stream:
        done = [e for e in stream if e.type == "content.done"]
        assert done[0].finish_reason == "length"
        with pytest.raises(openai.LengthFinishReasonError) as caught:
            stream.get_final_completion()
    assert caught.value.completion.choices[0].message.content == '{"'




def test_content_filter_is_reported_by_default_and_raised_on_request(dropin: SimpleNamespace) -> None:
    server = Server(content_filter_stream())
    final = ours_final(server, n=2)
    assert [c.finish_reason for c in final.choices] == ["content_filter", "stop"]
    with pytest.raises(openai.ContentFilterFinishReasonError):
        with stream_chat(server.client(), model="gpt-4o", messages=MESSAGES, raise_on_truncation=True) as stream:
            stream.get_final_completion()


# --------------------------------------------------------------------------- the request and the connection


def test_the_request_goes_through_the_callers_client(dropin: SimpleNamespace) -> None:
    server = Server((DATA / "openai-recorded" / "parse_nothing.sse").read_bytes())
    client = server.client(default_headers={"X-Team": "batch"})
    with stream_chat(client, model="gpt-4o", messages=MESSAGES, temperature=0.5, stream_options={"include_usage": True}):
        pass
    request = server.requests[0]
    assert request.method == "POST" and str(request.url) == "http://mock.test/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test" and request.headers["x-team"] == "batch"
    assert server.sent_json() == {
        "model": "gpt-4o", "messages": MESSAGES, "stream": True, "temperature": 0.5,
        "stream_options": {"include_usage": True},
    }
    with pytest.raises(ValueError, match="always streams"):
        stream_chat(client, model="gpt-4o", messages=MESSAGES, stream=False)


def test_break_closes_the_response_and_keeps_the_partial(dropin: SimpleNamespace) -> None:
    server = Server((DATA / "openai-recorded" / "parse_nothing.sse").read_bytes(), piece=200)
    stream = stream_chat(server.client(), model="gpt-4o", messages=MESSAGES)
    for event in stream:
        if event.type == "content.delta":
            break
    body = server.bodies[0]
    assert body.closed and body.sent < len(body.pieces)
    with pytest.raises(streamfold.IncompleteStreamError) as caught:
        stream.get_final_completion()
    assert caught.value.partial is not None and caught.value.partial["choices"][0]["message"]["content"]


def test_leaving_the_block_closes_the_response(dropin: SimpleNamespace) -> None:
    server = Server((DATA / "openai-recorded" / "parse_nothing.sse").read_bytes(), piece=100)
    with stream_chat(server.client(), model="gpt-4o", messages=MESSAGES) as stream:
        assert stream.response is not None and stream.response.status_code == 200
        next(iter(stream))
    assert server.bodies[0].closed and server.bodies[0].sent < len(server.bodies[0].pieces)

    async def run() -> None:
        async with astream_chat(server.async_client(), model="gpt-4o", messages=MESSAGES) as stream:
            async for _ in stream:
                break

    asyncio.run(run())
    assert server.bodies[1].closed and server.bodies[1].sent < len(server.bodies[1].pieces)


def test_http_errors_are_openais(dropin: SimpleNamespace) -> None:
    server = Server(b"", status=500)
    with pytest.raises(openai.InternalServerError):
        with stream_chat(server.client(), model="gpt-4o", messages=MESSAGES):
            pass


def test_an_error_mid_stream_keeps_the_partial(dropin: SimpleNamespace) -> None:
    body = sse(
        chunk(choices=[{"index": 0, "delta": {"role": "assistant", "content": "Half an"}}]),
        {"error": {"message": "overloaded", "type": "server_error"}},
    )
    server = Server(body)
    with stream_chat(server.client(), model="gpt-4o", messages=MESSAGES) as stream:
        seen = []
        with pytest.raises(streamfold.StreamAPIError) as caught:
            for event in stream:
                seen.append(event.type)
    assert caught.value.message == "overloaded"
    assert caught.value.partial is not None and caught.value.partial["choices"][0]["message"]["content"] == "Half an"
    assert server.bodies[0].closed


def test_a_cut_stream_is_incomplete(dropin: SimpleNamespace) -> None:
    raw = (DATA / "openai-recorded" / "parse_nothing.sse").read_bytes()
    server = Server(raw[: len(raw) // 2])
    with stream_chat(server.client(), model="gpt-4o", messages=MESSAGES) as stream:
        with pytest.raises(streamfold.IncompleteStreamError) as caught:
            stream.get_final_completion()
    assert caught.value.partial is not None


# --------------------------------------------------------------------------- StreamState alone


def test_stream_state_surface(dropin: SimpleNamespace) -> None:
    state = StreamState()
    with pytest.raises(RuntimeError):
        state.current_completion_snapshot  # noqa: B018
    with pytest.raises(TypeError, match="ChatCompletionChunk or a dict"):
        state.handle_chunk("data: {}")  # type: ignore[arg-type]
    events = state.handle_chunk(chunk(choices=[{"index": 0, "delta": {"role": "assistant", "content": "Hi"}}]))
    assert [e.type for e in events] == ["chunk", "content.delta"]
    assert isinstance(events[0].chunk, ChatCompletionChunk) and events[0].chunk.choices[0].delta.content == "Hi"
    assert state.current_completion_snapshot.choices[0].message.content == "Hi"
    events = state.handle_chunk(chunk(choices=[{"index": 0, "delta": {"content": " there"}, "finish_reason": "stop"}]))
    assert [e.type for e in events] == ["chunk", "content.delta", "content.done"]
    assert events[1].snapshot == "Hi there" and events[2].content == "Hi there"
    final = state.get_final_completion()
    assert final.choices[0].message.content == "Hi there" and final.choices[0].finish_reason == "stop"
    with pytest.raises(streamfold.StreamDecodeError):
        state.handle_chunk({"choices": "nope"})


def test_stream_state_feed_takes_raw_bytes(dropin: SimpleNamespace) -> None:
    raw = (DATA / "openai-recorded" / "parse_strict_tools.sse").read_bytes()
    state = StreamState(input_tools=[STRICT_WEATHER])
    events = [event for i in range(0, len(raw), 7) for event in state.feed(raw[i : i + 7])]
    done = [e for e in events if e.type == "tool_calls.function.arguments.done"]
    assert [e.parsed_arguments for e in done] == [{"city": "San Francisco", "state": "CA"}]
    final = state.get_final_completion()
    assert final.choices[0].message.tool_calls[0].function.parsed_arguments == {"city": "San Francisco", "state": "CA"}
    assert orjson.loads(final.choices[0].message.tool_calls[0].function.arguments) == done[0].parsed_arguments


def test_the_readme_example_runs_offline() -> None:
    import os
    import subprocess
    import sys

    env = {key: value for key, value in os.environ.items() if not key.startswith("OPENAI_")}
    script = Path(__file__).parent.parent / "examples" / "openai_client.py"
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    sample = (Path(streamfold.__file__).parent / "data" / "sample.sse").read_bytes()
    expected = streamfold.fold(sample)
    assert proc.stdout.splitlines()[0] == expected["choices"][0]["message"]["content"]
    assert f"finish_reason={expected['choices'][0]['finish_reason']}" in proc.stdout
    assert "offline" in proc.stderr and "bundled sample" in proc.stderr  # never passed off as an answer


def test_members_openai_does_not_declare_survive_the_objects(dropin: SimpleNamespace) -> None:
    """Provider members kept by openai's models as extras (``reasoning_content``, Groq's
    ``x_groq.usage``) reach the fold when ``ChatCompletionChunk`` objects are handed in."""
    usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    raw = [
        chunk(choices=[{"index": 0, "delta": {"role": "assistant", "reasoning_content": "Think"}}]),
        chunk(choices=[{"index": 0, "delta": {"content": "Yes"}, "finish_reason": "stop"}], x_groq={"usage": usage}),
    ]
    state = StreamState()
    events = [e for data in raw for e in state.handle_chunk(ChatCompletionChunk.model_validate(data))]
    assert [(e.type, getattr(e, "delta", None)) for e in events if e.type.endswith(".delta")] == [
        ("reasoning.delta", "Think"), ("content.delta", "Yes"),
    ]
    final = state.get_final_completion()
    assert final.choices[0].message.reasoning_content == "Think"  # type: ignore[attr-defined]
    assert final.usage is not None and final.usage.total_tokens == 5
    assert final.x_groq == {"usage": usage}  # type: ignore[attr-defined]
