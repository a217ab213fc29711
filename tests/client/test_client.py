"""streamfold.Client / AsyncClient against the real mock server over loopback, on every transport.

Every test talks to uvicorn on 127.0.0.1 (``MockServer``) through both implementations of
the core, and every promise is checked on every way of running the client (the ``kind``
fixture): the sync ``Client`` on its own httpx client, a caller's httpx and a caller's
httpx2 client; the ``AsyncClient`` on its own aiohttp session, a caller's aiohttp session,
a caller's httpx and a caller's httpx2 client, and a ``TimestampedSession``.  The tests are
coroutines; a sync client is driven through a thin wrapper that calls it directly (the server runs in a thread of its
own, so a blocking call is fine).  What the server was told to send is compared with what
the client folded.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import itertools
import os
import re
import socket
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from types import SimpleNamespace, TracebackType
from typing import Any, TypeVar

import orjson
import pytest

import streamfold
from streamfold import client as client_module
from streamfold.client import APIConnectionError, APIStatusError, APITimeoutError, RetryPolicy, Timeout, _stream
from streamfold.mock import MockConfig, MockServer
from streamfold.mock._generate import tool_arguments

pytest.importorskip("uvicorn")

WORDS = "alpha beta gamma"
MESSAGES = [{"role": "user", "content": "tell me about rivers"}]
FAST = RetryPolicy(max_retries=2, initial_delay=0.01, max_delay=0.02)
SLOW = {"output_tokens": 2000, "itl": 0.002}

_SEEDS = itertools.count(10_000)
E = TypeVar("E", bound=BaseException)


def once(**settings: Any) -> dict[str, Any]:
    """Mock settings whose faults hit ``fault_times`` requests from now: the server counts
    faults per distinct settings, so each call gets a seed of its own."""
    return {**settings, "seed": next(_SEEDS)}


def expected_text(tokens: int) -> str:
    words = WORDS.split()
    return " ".join(words[i % len(words)] for i in range(tokens))


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer(MockConfig(output_tokens=12, text=WORDS)) as running:
        yield running


@pytest.fixture
def core(impl: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """Run the client on ``impl``'s accumulator (the extension or the twin)."""
    monkeypatch.setattr(_stream, "ChatAccumulator", impl.ChatAccumulator)
    return impl


# -- the ways of running the client ------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """One client on one transport, with what that library calls its failures."""

    asynchronous: bool
    http: str  # "own", or the library of the caller's client
    transport: str  # what client.transport says
    refused: str  # the exception name when nobody listens
    dropped: str  # ... when the server closes after the head of its answer

    @property
    def id(self) -> str:
        return f"{'async' if self.asynchronous else 'sync'}-{self.http}"

    @property
    def needs(self) -> str | None:
        """The module the caller's client comes from (None: our own client)."""
        return {"own": None, "timestamped": "httptools"}.get(self.http, self.http)

    def caller_client(self, **limits: int) -> Any:
        """The caller's own HTTP client (None for our own)."""
        if self.http == "own":
            return None
        if self.http == "timestamped":
            return streamfold.client.TimestampedSession(timeout=30)
        if self.http == "aiohttp":
            aiohttp = importlib.import_module("aiohttp")
            return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limits.get("max_connections", 250)))
        library = importlib.import_module(self.http)
        if not self.asynchronous:
            return library.Client(timeout=30)
        return (
            library.AsyncClient(timeout=30, limits=library.Limits(**limits))
            if limits
            else library.AsyncClient(timeout=30)
        )


HTTPX = {"refused": "ConnectError", "dropped": "RemoteProtocolError"}
AIOHTTP = {"refused": "ClientConnectorError", "dropped": "ClientPayloadError"}
TIMESTAMPED = {"refused": "ConnectionRefusedError", "dropped": "ConnectionClosedError"}
KINDS = [
    Kind(False, "own", "httpx", **HTTPX),
    Kind(False, "httpx", "httpx", **HTTPX),
    Kind(False, "httpx2", "httpx2", **HTTPX),
    Kind(True, "own", "aiohttp", **AIOHTTP),
    Kind(True, "aiohttp", "aiohttp", **AIOHTTP),
    Kind(True, "httpx", "httpx", **HTTPX),
    Kind(True, "httpx2", "httpx2", **HTTPX),
    Kind(True, "timestamped", "timestamped", **TIMESTAMPED),
]


@pytest.fixture(params=KINDS, ids=[kind.id for kind in KINDS])
def kind(request: pytest.FixtureRequest) -> Kind:
    chosen: Kind = request.param
    if chosen.needs is not None:
        pytest.importorskip(chosen.needs)
    return chosen


@pytest.fixture(params=[kind for kind in KINDS if kind.asynchronous], ids=[k.id for k in KINDS if k.asynchronous])
def async_kind(request: pytest.FixtureRequest) -> Kind:
    chosen: Kind = request.param
    if chosen.needs is not None:
        pytest.importorskip(chosen.needs)
    return chosen


class SyncStream:
    """A ``ChatStream`` behind the ``AsyncChatStream`` interface (each call runs directly)."""

    def __init__(self, stream: streamfold.ChatStream) -> None:
        self.inner = stream

    @property
    def stats(self) -> streamfold.StreamStats:
        return self.inner.stats

    @property
    def partial(self) -> dict[str, Any] | None:
        return self.inner.partial

    async def __aenter__(self) -> SyncStream:
        self.inner.__enter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.inner.__exit__(exc_type, exc, tb)

    async def __aiter__(self) -> AsyncIterator[Any]:
        for event in self.inner:
            yield event

    async def text(self) -> AsyncIterator[str]:
        for piece in self.inner.text():
            yield piece

    async def result(self) -> dict[str, Any]:
        return self.inner.result()


class SyncClient:
    """A ``Client`` behind the ``AsyncClient`` interface."""

    def __init__(self, client: streamfold.Client) -> None:
        self.inner = client

    @property
    def transport(self) -> str:
        return self.inner.transport

    def stream_chat(self, **request: Any) -> SyncStream:
        return SyncStream(self.inner.stream_chat(**request))

    async def chat(self, **request: Any) -> dict[str, Any]:
        return self.inner.chat(**request)


@contextlib.asynccontextmanager
async def make_client(server: Any, kind: Kind, **options: Any) -> AsyncIterator[Any]:
    """Our client of ``kind`` on ``server``; the caller's HTTP client, if any, is closed after."""
    own = kind.caller_client()
    try:
        if kind.asynchronous:
            async with streamfold.AsyncClient(base_url=server.base_url, http_client=own, **options) as client:
                assert client.transport == kind.transport
                yield client
        else:
            with streamfold.Client(base_url=server.base_url, http_client=own, **options) as sync_client:
                assert sync_client.transport == kind.transport
                yield SyncClient(sync_client)
    finally:
        await close_caller_client(own)


async def close_caller_client(own: Any) -> None:
    """Close a caller's client: httpx's ``aclose()`` / ``close()``, aiohttp's ``close()`` coroutine."""
    if own is None:
        return
    outcome = own.aclose() if hasattr(own, "aclose") else own.close()
    if inspect.isawaitable(outcome):
        await outcome


def run(scenario: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return asyncio.run(scenario())


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for the server thread to record something (polls a condition, with a deadline)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.002)


async def until(condition: Callable[[], bool]) -> None:
    await asyncio.to_thread(wait_until, condition)


def established_to(port: int) -> int:
    """Open TCP connections from this machine to ``port`` (the client's side of them)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        with open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                if fields[3] == "01" and int(fields[2].rsplit(":", 1)[1], 16) == port:
                    count += 1
    return count


needs_proc = pytest.mark.skipif(not os.path.exists("/proc/net/tcp"), reason="counts sockets through /proc/net/tcp")


# -- content -------------------------------------------------------------------------------


def test_text_result_and_stats(server: MockServer, kind: Kind, core: SimpleNamespace) -> None:
    async def scenario() -> tuple[list[str], dict[str, Any], streamfold.StreamStats]:
        async with make_client(server, kind) as client, client.stream_chat(model="m", messages=MESSAGES) as stream:
            pieces = [piece async for piece in stream.text()]
            return pieces, await stream.result(), stream.stats

    pieces, completion, stats = run(scenario)
    assert "".join(pieces) == expected_text(12) and len(pieces) == 12
    assert completion["choices"][0]["message"]["content"] == expected_text(12)
    assert completion["choices"][0]["finish_reason"] == "stop" and completion["model"] == "m"
    assert stats.usage == completion["usage"] and stats.output_tokens == 12
    assert stats.chunks == 15  # role, 12 texts, finish, usage
    assert stats.attempts == 1 and stats.bytes > 0
    assert stats.time_to_first_byte is not None and stats.time_to_first_content is not None
    assert stats.duration is not None
    assert 0 < stats.time_to_first_byte <= stats.time_to_first_content <= stats.duration
    assert stats.output_tokens_per_second == pytest.approx(12 / stats.duration)
    assert stats.as_dict()["output_tokens"] == 12


def test_events_are_the_cores_events(server: MockServer, kind: Kind, core: SimpleNamespace) -> None:
    async def scenario() -> tuple[list[Any], dict[str, Any], streamfold.StreamStats]:
        async with make_client(server, kind) as client, client.stream_chat(model="m", messages=MESSAGES) as stream:
            events = [event async for event in stream]
            return events, await stream.result(), stream.stats

    events, completion, stats = run(scenario)
    recorded = list(core.iter_events(_replay(server, server.app.stats.last_body)))
    assert [event.type for event in events] == [event.type for event in recorded]
    assert stats.events == len(events)
    deltas = [event.delta for event in events if event.type == "content.delta"]
    assert "".join(deltas) == completion["choices"][0]["message"]["content"]
    [done] = [event for event in events if event.type == "content.done"]
    assert done.content == expected_text(12)
    assert events[-1].type == "chunk" and events[-1].chunk["usage"] == completion["usage"]  # the usage chunk


def without_created(stream: bytes) -> bytes:
    """A stream without its ``created`` times (two requests can fall in different seconds)."""
    return re.sub(rb'"created":\d+,', b"", stream)


def _replay(server: MockServer, body: dict[str, Any]) -> bytes:
    """The same request's stream fetched with plain httpx (the reference bytes)."""
    import httpx

    response = httpx.post(server.base_url + "/chat/completions", content=orjson.dumps(body), timeout=10)
    assert response.status_code == 200
    return response.content


def test_parallel_tool_calls_equal_what_the_server_sent(server: MockServer, kind: Kind, core: SimpleNamespace) -> None:
    settings = {"tool_calls": 3, "seed": 7}

    async def scenario() -> tuple[list[Any], dict[str, Any]]:
        async with make_client(server, kind) as client:
            async with client.stream_chat(model="m", messages=MESSAGES, mock=settings) as stream:
                done = [event async for event in stream if event.type == "tool_calls.function.arguments.done"]
                return done, await stream.result()

    done, completion = run(scenario)
    plan = MockConfig(**settings)
    choice = completion["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert [call["function"]["arguments"] for call in choice["message"]["tool_calls"]] == [
        tool_arguments(plan, index) for index in range(3)
    ]
    assert [call["id"] for call in choice["message"]["tool_calls"]] == [
        "call_mock0000",
        "call_mock0001",
        "call_mock0002",
    ]
    assert {call["function"]["name"] for call in choice["message"]["tool_calls"]} == {"get_weather"}
    assert [event.parsed_arguments["call"] for event in done] == [0, 1, 2]


@pytest.mark.parametrize(
    "provider", ["openai", "azure", "groq", "deepseek", "openrouter", "ollama", "vllm", "gemini", "mistral", "writer"]
)
@pytest.mark.parametrize("answer", ["text", "tools"])
def test_every_provider_shape_folds_to_the_same_message(
    server: MockServer, core: SimpleNamespace, provider: str, answer: str
) -> None:
    settings: dict[str, Any] = {"reasoning_tokens": 3, "tokens_per_chunk": 2, "provider": provider}
    if answer == "tools":
        settings["tool_calls"] = 2

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        async with make_client(server, KINDS[3]) as client:  # our own aiohttp: the default
            return (
                await client.chat(model="m", messages=MESSAGES, mock=settings),
                await client.chat(model="m", messages=MESSAGES, mock={**settings, "provider": "openai"}),
            )

    completion, reference = run(scenario)
    message, expected = completion["choices"][0]["message"], reference["choices"][0]["message"]
    reasoning = expected.pop("reasoning_content")
    if provider == "mistral":  # reasoning and text as typed parts, in the non-streaming answer's shape
        parts, text = message.pop("content"), expected.pop("content")  # text is "" beside tool calls
        assert parts[0] == {"type": "thinking", "thinking": [{"type": "text", "text": reasoning}]}
        assert parts[1:] == ([{"type": "text", "text": text}] if text else [])
    else:
        assert message.pop("reasoning" if provider == "openrouter" else "reasoning_content") == reasoning
    assert message == expected
    assert completion["id"] == reference["id"] and completion["model"] == "m"
    assert completion["usage"] == reference["usage"]  # Groq's x_groq.usage included
    if answer == "tools":
        assert completion["choices"][0]["finish_reason"] == ("stop" if provider == "gemini" else "tool_calls")


def test_n_choices_and_write_patterns(server: MockServer, kind: Kind, core: SimpleNamespace) -> None:
    settings = {"n": 3, "split_writes": True, "events_per_write": 3, "keepalive_every": 2, "text": "café 東京 🙂"}

    async def scenario() -> dict[str, Any]:
        async with make_client(server, kind) as client:
            return await client.chat(model="m", messages=MESSAGES, mock=settings)

    completion = run(scenario)
    text = " ".join(["café", "東京", "🙂"] * 4)
    assert [choice["message"]["content"] for choice in completion["choices"]] == [text] * 3
    assert completion["usage"]["completion_tokens"] == 36


def test_an_event_of_12_mib(server: MockServer, kind: Kind, core: SimpleNamespace) -> None:
    word = "ab" * (6 * 2**20)  # one token, one event of a little over 12 MiB

    async def scenario() -> dict[str, Any]:
        async with make_client(server, kind, timeout=60) as client:
            return await client.chat(model="m", messages=MESSAGES, mock={"text": word, "output_tokens": 1})

    completion = run(scenario)
    assert completion["choices"][0]["message"]["content"] == word


def test_chat_calls_back_per_delta(server: MockServer, kind: Kind, core: SimpleNamespace) -> None:
    seen: list[str] = []

    async def scenario() -> dict[str, Any]:
        async with make_client(server, kind) as client:
            return await client.chat(model="m", messages=MESSAGES, on_delta=seen.append)

    completion = run(scenario)
    assert len(seen) == 12 and "".join(seen) == completion["choices"][0]["message"]["content"] == expected_text(12)


def test_async_chat_awaits_a_coroutine_callback(server: MockServer, async_kind: Kind, core: SimpleNamespace) -> None:
    seen: list[str] = []

    async def on_delta(text: str) -> None:
        await asyncio.sleep(0)
        seen.append(text)

    async def scenario() -> dict[str, Any]:
        async with make_client(server, async_kind) as client:
            return await client.chat(model="m", messages=MESSAGES, on_delta=on_delta)

    completion = run(scenario)
    assert "".join(seen) == completion["choices"][0]["message"]["content"] == expected_text(12)


def test_result_alone_skips_building_events(server: MockServer, kind: Kind, core: SimpleNamespace) -> None:
    # itl > 0: one event per write, so the events arrive in reads of their own
    completion, stats = completed(server, kind, mock={"output_tokens": 40, "itl": 0.001})
    assert completion["choices"][0]["message"]["content"] == expected_text(40)
    assert stats.chunks == 43 and stats.usage == completion["usage"]
    assert stats.time_to_first_content is not None and stats.time_to_first_byte is not None
    assert stats.time_to_first_byte <= stats.time_to_first_content <= stats.duration  # type: ignore[operator]
    assert 0 < stats.events < 10  # events only until the first content arrived


@pytest.mark.parametrize("itl", [0.001, 0], ids=["a-read-per-event", "bursts"])
def test_text_builds_no_events_after_the_first_content(
    server: MockServer, kind: Kind, core: SimpleNamespace, itl: float
) -> None:
    # itl 0: the mock writes 16 events at a time, so one read may hold most of the answer
    async def scenario() -> tuple[list[str], dict[str, Any], streamfold.StreamStats]:
        async with (
            make_client(server, kind) as client,
            client.stream_chat(model="m", messages=MESSAGES, mock={"output_tokens": 200, "itl": itl}) as stream,
        ):
            pieces = [piece async for piece in stream.text()]
            return pieces, await stream.result(), stream.stats

    pieces, completion, stats = run(scenario)
    assert "".join(pieces) == completion["choices"][0]["message"]["content"] == expected_text(200)
    assert all(pieces) and len(pieces) == 200  # one piece per content delta, however the reads fell
    assert stats.chunks == 203 and stats.time_to_first_content is not None
    assert 0 < stats.events < 30  # events only for the first few KiB, to time the first content


def test_every_read_is_reported_as_it_arrives(server: MockServer, kind: Kind, core: SimpleNamespace) -> None:
    reads: list[tuple[float, bytes, int]] = []

    async def scenario() -> tuple[list[str], bytes, streamfold.StreamStats, float]:
        async with make_client(server, kind) as client:
            started = time.perf_counter()
            texts: list[str] = []
            holder: list[Any] = []

            def on_read(arrived: float, piece: bytes) -> None:
                reads.append((arrived, piece, holder[0].stats.chunks if holder else -1))

            stream = client.stream_chat(model="m", messages=MESSAGES, mock={"itl": 0.002}, on_read=on_read)
            holder.append(stream)
            async with stream:
                async for text in stream.text():
                    texts.append(text)
            return texts, _replay(server, server.app.stats.last_body), stream.stats, started

    texts, wire, stats, started = run(scenario)
    got = b"".join(piece for _, piece, _ in reads)
    assert without_created(got) == without_created(wire)  # every byte, once, in order
    assert len(reads) > 1 and stats.bytes == len(got)
    times = [arrived for arrived, _, _ in reads]
    assert times == sorted(times) and stats.time_to_first_byte is not None
    assert times[0] - started >= stats.time_to_first_byte  # the same clock reading, from a later start
    folded_before = [chunks for _, _, chunks in reads]
    assert folded_before[0] == 0 and folded_before == sorted(folded_before)  # told before the read is folded
    assert "".join(texts) == expected_text(12)


# -- the request ---------------------------------------------------------------------------


def test_request_body_and_headers(server: MockServer, kind: Kind) -> None:
    async def scenario() -> None:
        async with make_client(server, kind, api_key="sk-test", headers={"X-Team": "a"}) as client:
            await client.chat(model="m", messages=MESSAGES, temperature=0.5, extra_headers={"X-Trace": "t1"})

    run(scenario)
    body, headers = server.app.stats.last_body, server.app.stats.last_headers
    assert body == {
        "model": "m",
        "messages": MESSAGES,
        "temperature": 0.5,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    assert headers["authorization"] == "Bearer sk-test"
    assert headers["x-team"] == "a" and headers["x-trace"] == "t1"
    assert headers["accept"] == "text/event-stream" and headers["content-type"] == "application/json"
    assert headers["user-agent"].startswith("streamfold/")


def test_the_callers_stream_options_win(server: MockServer, kind: Kind) -> None:
    async def scenario() -> None:
        async with make_client(server, kind) as client:
            completion = await client.chat(model="m", messages=MESSAGES, stream_options={"include_usage": False})
            assert server.app.stats.last_body["stream_options"] == {"include_usage": False}
            assert "usage" not in completion
            await client.chat(model="m", messages=MESSAGES, stream_options=None)
            assert "stream_options" not in server.app.stats.last_body
            with pytest.raises(ValueError, match="always stream"):
                client.stream_chat(model="m", messages=MESSAGES, stream=False)

    run(scenario)


def test_base_url_and_key_from_the_environment(server: MockServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url + "/")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    with streamfold.Client() as client:
        assert client.base_url == server.base_url
        client.chat(model="m", messages=MESSAGES)
    assert server.app.stats.last_headers["authorization"] == "Bearer sk-env"

    async def scenario() -> None:
        async with streamfold.AsyncClient() as client:
            assert client.base_url == server.base_url
            await client.chat(model="m", messages=MESSAGES, extra_headers={"x-from": "async"})

    run(scenario)
    assert server.app.stats.last_headers["authorization"] == "Bearer sk-env"
    assert server.app.stats.last_headers["x-from"] == "async"
    monkeypatch.delenv("OPENAI_BASE_URL")
    monkeypatch.delenv("OPENAI_API_KEY")
    with streamfold.Client() as client:
        assert client.base_url == "https://api.openai.com/v1" and client.api_key is None


def test_http_client_must_fit() -> None:
    httpx = importlib.import_module("httpx")
    with pytest.raises(TypeError, match=r"httpx\.Client or httpx2\.Client"):
        streamfold.Client(http_client=httpx.AsyncClient())
    with pytest.raises(
        TypeError,
        match=r"aiohttp\.ClientSession, httpx\.AsyncClient, httpx2\.AsyncClient or a streamfold TimestampedSession",
    ):
        streamfold.AsyncClient(http_client=httpx.Client())
    with pytest.raises(TypeError, match=r"builtins\.object"):
        streamfold.Client(http_client=object())

    async def scenario() -> None:
        aiohttp = importlib.import_module("aiohttp")
        async with aiohttp.ClientSession() as session:
            with pytest.raises(TypeError, match=r"httpx\.Client or httpx2\.Client"):
                streamfold.Client(http_client=session)

    run(scenario)


def test_its_own_session_belongs_to_one_event_loop(server: MockServer) -> None:
    client = streamfold.AsyncClient(base_url=server.base_url)

    async def ask() -> str:
        completion = await client.chat(model="m", messages=MESSAGES)
        return str(completion["choices"][0]["message"]["content"])

    async def in_another_loop_meanwhile() -> None:
        assert await ask() == expected_text(12)
        with pytest.raises(RuntimeError, match="made in another event loop"):
            await asyncio.to_thread(asyncio.run, ask())
        await client.aclose()

    async def then_closed_and_used_again() -> str:
        async with client:
            return await ask()

    asyncio.run(in_another_loop_meanwhile())
    assert asyncio.run(then_closed_and_used_again()) == expected_text(12)  # a new session, in the new loop


def test_only_its_own_http_client_is_closed(server: MockServer, kind: Kind) -> None:
    async def scenario() -> tuple[Any, Any]:
        own = kind.caller_client()
        if kind.asynchronous:
            async with streamfold.AsyncClient(base_url=server.base_url, http_client=own) as client:
                assert (client.http_client is None) == (own is None)  # our own session: made on first use
                await client.chat(model="m", messages=MESSAGES)
                used = client.http_client
        else:
            with streamfold.Client(base_url=server.base_url, http_client=own) as sync_client:
                sync_client.chat(model="m", messages=MESSAGES)
                used = sync_client.http_client
        closed = used.closed if hasattr(used, "closed") else used.is_closed
        await close_caller_client(own)
        return own, closed

    own, closed = run(scenario)
    assert closed is (own is None)  # its own client is closed with it, the caller's is left open


def completed(
    server: Any, kind: Kind, *, client_options: dict[str, Any] | None = None, **request: Any
) -> tuple[dict[str, Any], streamfold.StreamStats]:
    """Stream a request to its end with ``result()``: the completion and the stats."""

    async def scenario() -> tuple[dict[str, Any], streamfold.StreamStats]:
        async with make_client(server, kind, **(client_options or {})) as client:
            async with client.stream_chat(model="m", messages=MESSAGES, **request) as stream:
                return await stream.result(), stream.stats

    return run(scenario)


def refused(
    server: Any, kind: Kind, expected: type[E], *, client_options: dict[str, Any] | None = None, **request: Any
) -> tuple[E, streamfold.StreamStats]:
    """Open a stream that must fail before its body with ``expected``: the error and the stats."""

    async def scenario() -> tuple[E, streamfold.StreamStats]:
        async with make_client(server, kind, **(client_options or {})) as client:
            stream = client.stream_chat(model="m", messages=MESSAGES, **request)
            with pytest.raises(expected) as caught:
                async with stream:
                    pass
            return caught.value, stream.stats

    return run(scenario)


# -- faults and retries --------------------------------------------------------------------


def test_status_error_is_typed_and_retried(server: MockServer, kind: Kind) -> None:
    before = server.app.stats.requests
    error, stats = refused(server, kind, APIStatusError, client_options={"max_retries": FAST}, mock={"status": 500})
    assert error.status_code == 500 and error.headers["content-type"] == "application/json"
    assert error.body["error"]["message"] == "mock status 500" and error.message == "mock status 500"
    assert "HTTP 500" in str(error) and error.partial is None
    assert stats.attempts == 3 and server.app.stats.requests - before == 3


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_client_errors_are_not_retried(server: MockServer, status: int) -> None:
    error, stats = refused(
        server, KINDS[3], APIStatusError, client_options={"max_retries": FAST}, mock={"status": status}
    )
    assert error.status_code == status and stats.attempts == 1


@pytest.mark.parametrize("status", [408, 429, 502, 503])
def test_retryable_statuses_then_success(server: MockServer, kind: Kind, status: int) -> None:
    completion, stats = completed(
        server, kind, client_options={"max_retries": FAST}, mock=once(status=status, fault_times=2)
    )
    assert completion["choices"][0]["message"]["content"] == expected_text(12)
    assert stats.attempts == 3


def test_retry_after_is_honoured(server: MockServer, kind: Kind) -> None:
    settings = once(status=429, retry_after=0.3, fault_times=1)

    async def scenario() -> tuple[float, streamfold.StreamStats]:
        async with make_client(server, kind, max_retries=FAST) as client:
            started = time.perf_counter()
            async with client.stream_chat(model="m", messages=MESSAGES, mock=settings) as stream:
                await stream.result()
            return time.perf_counter() - started, stream.stats

    waited, stats = run(scenario)
    assert stats.attempts == 2
    assert waited >= 0.3  # FAST alone would have waited 0.01 s


def test_a_long_retry_after_is_not_waited_for(server: MockServer, kind: Kind) -> None:
    error, stats = refused(
        server, kind, APIStatusError, client_options={"max_retries": FAST}, mock={"status": 429, "retry_after": 3600}
    )
    assert error.status_code == 429 and error.headers["retry-after"] == "3600"
    assert stats.attempts == 1


def test_in_band_error_keeps_the_partial(server: MockServer, kind: Kind, core: SimpleNamespace) -> None:
    received: list[str] = []

    async def scenario() -> tuple[streamfold.StreamAPIError, Any]:
        async with make_client(server, kind, max_retries=FAST) as client:
            stream = client.stream_chat(model="m", messages=MESSAGES, mock={"error_after": 5})
            with pytest.raises(streamfold.StreamAPIError) as caught:
                async with stream:
                    async for piece in stream.text():
                        received.append(piece)
            with pytest.raises(streamfold.StreamAPIError):
                await stream.result()  # the same failure again
            return caught.value, stream

    error, stream = run(scenario)
    assert error.message == "mock error after 5 chunks" and error.error["code"] == "mock_error"
    # the 4 texts after the role chunk; those that came in the same read as the error are in
    # .partial only (the core raises for that read), and aiohttp reads the whole answer at once
    assert received == ["alpha", " beta", " gamma", " alpha"][: len(received)]
    assert error.partial is not None and error.partial["choices"][0]["message"]["content"] == expected_text(4)
    assert stream.stats.attempts == 1  # text was delivered: never retried
    assert stream.partial == error.partial


def test_dropped_connection_mid_body_is_incomplete_and_not_retried(
    server: MockServer, kind: Kind, core: SimpleNamespace
) -> None:
    before = server.app.stats.requests

    async def scenario() -> tuple[streamfold.IncompleteStreamError, streamfold.StreamStats]:
        async with make_client(server, kind, max_retries=FAST) as client:
            stream = client.stream_chat(model="m", messages=MESSAGES, mock={"close_after": 6})
            with pytest.raises(streamfold.IncompleteStreamError) as caught:
                async with stream:
                    await stream.result()
            return caught.value, stream.stats

    error, stats = run(scenario)
    assert "connection was lost after 6 chunks" in str(error)
    assert error.partial is not None and error.partial["choices"][0]["message"]["content"] == expected_text(5)
    assert error.__cause__ is not None and not isinstance(error.__cause__, streamfold.StreamError)
    assert stats.attempts == 1 and server.app.stats.requests - before == 1
    assert stats.duration is not None


def test_dropped_before_the_body_is_retried(server: MockServer, kind: Kind, core: SimpleNamespace) -> None:
    completion, stats = completed(
        server, kind, client_options={"max_retries": FAST}, mock=once(close_after=0, fault_times=1)
    )
    assert completion["choices"][0]["message"]["content"] == expected_text(12)
    assert stats.attempts == 2


def test_always_dropped_before_the_body_is_a_connection_error(server: MockServer, kind: Kind) -> None:
    error, stats = refused(
        server, kind, APIConnectionError, client_options={"max_retries": FAST}, mock={"close_after": 0}
    )
    assert not isinstance(error, APITimeoutError)
    assert kind.dropped in str(error) and error.partial is None
    assert stats.attempts == 3


def test_stall_mid_body_times_out_with_the_partial(server: MockServer, kind: Kind, core: SimpleNamespace) -> None:
    disconnects = server.app.stats.disconnects

    async def scenario() -> tuple[streamfold.IncompleteStreamError, streamfold.StreamStats]:
        async with make_client(server, kind, max_retries=FAST, timeout=0.3) as client:
            stream = client.stream_chat(model="m", messages=MESSAGES, mock={"stall_after": 4})
            with pytest.raises(streamfold.IncompleteStreamError) as caught:
                async with stream:
                    await stream.result()
            return caught.value, stream.stats

    error, stats = run(scenario)
    assert "timed out after 4 chunks" in str(error)
    assert error.partial is not None and error.partial["choices"][0]["message"]["content"] == expected_text(3)
    assert stats.attempts == 1
    wait_until(lambda: server.app.stats.disconnects == disconnects + 1)


def test_slow_first_byte_times_out_and_is_retried(server: MockServer, kind: Kind) -> None:
    error, stats = refused(
        server,
        kind,
        APITimeoutError,
        client_options={"max_retries": RetryPolicy(1, initial_delay=0.01)},
        mock={"ttft": 5},
        timeout=0.2,
    )
    assert "timed out" in str(error) and stats.attempts == 2


def test_the_total_timeout_ends_a_long_stream(server: MockServer, kind: Kind, core: SimpleNamespace) -> None:
    disconnects = server.app.stats.disconnects

    async def scenario() -> tuple[streamfold.IncompleteStreamError, float, streamfold.StreamStats]:
        async with make_client(server, kind) as client:
            started = time.perf_counter()
            # a total long enough for the body to begin even on a loaded machine, far below the stream's 4 s
            stream = client.stream_chat(model="m", messages=MESSAGES, mock=SLOW, timeout=Timeout(read=5, total=1.0))
            with pytest.raises(streamfold.IncompleteStreamError) as caught:
                async with stream:
                    await stream.result()
            return caught.value, time.perf_counter() - started, stream.stats

    error, took, stats = run(scenario)
    assert "total timeout (1.0 s)" in str(error)
    assert error.partial is not None and error.partial["choices"][0]["message"]["content"]
    assert 1.0 <= took < 3.0 and stats.attempts == 1
    wait_until(lambda: server.app.stats.disconnects == disconnects + 1)


def test_the_total_timeout_counts_the_wait_for_the_first_byte(server: MockServer, kind: Kind) -> None:
    async def scenario() -> tuple[APITimeoutError, float, streamfold.StreamStats]:
        async with make_client(server, kind, max_retries=FAST) as client:
            started = time.perf_counter()
            stream = client.stream_chat(
                model="m", messages=MESSAGES, mock={"ttft": 5}, timeout=Timeout(read=30, total=0.3)
            )
            with pytest.raises(APITimeoutError) as caught:
                async with stream:
                    pass
            return caught.value, time.perf_counter() - started, stream.stats

    error, took, stats = run(scenario)
    assert "timed out" in str(error) and 0.3 <= took < 2.0
    assert stats.attempts == 1  # no time left for another try


def test_nobody_listening_is_a_connection_error(kind: Kind) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    nowhere = SimpleNamespace(base_url=f"http://127.0.0.1:{port}/v1")
    error, stats = refused(nowhere, kind, APIConnectionError, client_options={"max_retries": FAST})
    assert not isinstance(error, APITimeoutError)
    assert kind.refused in str(error) and stats.attempts == 3


def test_truncation_can_raise(server: MockServer, kind: Kind, core: SimpleNamespace) -> None:
    async def scenario() -> streamfold.TruncatedCompletionError:
        async with make_client(server, kind) as client:
            completion = await client.chat(model="m", messages=MESSAGES, max_tokens=5)
            assert completion["choices"][0]["finish_reason"] == "length"
            with pytest.raises(streamfold.TruncatedCompletionError) as caught:
                await client.chat(model="m", messages=MESSAGES, max_tokens=5, raise_on_truncation=True)
            return caught.value

    error = run(scenario)
    assert error.partial["choices"][0]["message"]["content"] == expected_text(5)


def test_json_instead_of_an_event_stream() -> None:
    """A proxy answering 200 with JSON: said plainly (the only test on a patched transport)."""
    import httpx

    def answer(request: httpx.Request) -> httpx.Response:
        if b"ignored" in request.content:
            return httpx.Response(200, json={"object": "chat.completion", "choices": []})
        return httpx.Response(200, json={"error": {"message": "quota exceeded"}})

    with httpx.Client(transport=httpx.MockTransport(answer)) as transport:
        client = streamfold.Client(base_url="http://proxy/v1", http_client=transport)
        with pytest.raises(streamfold.StreamAPIError, match="quota exceeded"):
            client.chat(model="m", messages=MESSAGES)
        with pytest.raises(streamfold.StreamDecodeError, match="ignore stream=true"):
            client.chat(model="ignored", messages=MESSAGES)


# -- closing -------------------------------------------------------------------------------


def test_leaving_the_block_closes_the_connection(server: MockServer, kind: Kind) -> None:
    disconnects = server.app.stats.disconnects

    async def scenario() -> streamfold.IncompleteStreamError:
        async with make_client(server, kind) as client:
            async with client.stream_chat(model="m", messages=MESSAGES, mock=SLOW) as stream:
                await stream.__aiter__().__anext__()
            await until(lambda: server.app.stats.disconnects == disconnects + 1)
            with pytest.raises(streamfold.IncompleteStreamError, match="closed before it ended") as caught:
                await stream.result()
            return caught.value

    assert run(scenario).partial is not None


def test_breaking_out_of_the_loop_closes_the_connection(server: MockServer, kind: Kind) -> None:
    disconnects = server.app.stats.disconnects

    async def scenario() -> None:
        async with (
            make_client(server, kind) as client,
            client.stream_chat(model="m", messages=MESSAGES, mock=SLOW) as stream,
        ):
            count = 0
            async for _ in stream.text():
                count += 1
                if count == 4:
                    break
            await until(lambda: server.app.stats.disconnects == disconnects + 1)  # still inside the block
            assert stream.partial["choices"][0]["message"]["content"].startswith(expected_text(4))
            assert stream.stats.duration is not None

    run(scenario)


def test_cancelling_the_task_closes_the_connection(server: MockServer, async_kind: Kind) -> None:
    async def scenario() -> None:
        async with make_client(server, async_kind) as client:
            disconnects = server.app.stats.disconnects
            reading = asyncio.Event()

            async def consume() -> None:
                async with client.stream_chat(model="m", messages=MESSAGES, mock=SLOW) as stream:
                    async for _ in stream.text():
                        reading.set()

            task = asyncio.ensure_future(consume())
            await reading.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await until(lambda: server.app.stats.disconnects == disconnects + 1)

    run(scenario)


def test_on_uvloop(server: MockServer, async_kind: Kind, core: SimpleNamespace) -> None:
    pytest.importorskip("uvloop")

    async def scenario() -> tuple[str, dict[str, Any]]:
        async with make_client(server, async_kind) as client:
            return type(asyncio.get_running_loop()).__module__, await client.chat(model="m", messages=MESSAGES)

    loop_module, completion = streamfold.run(scenario())
    assert loop_module.startswith("uvloop")
    assert completion["choices"][0]["message"]["content"] == expected_text(12)


# -- many streams --------------------------------------------------------------------------


@needs_proc
def test_a_thousand_sequential_streams_reuse_one_connection(server: MockServer, kind: Kind) -> None:
    finished = server.app.stats.streams_finished

    async def scenario() -> tuple[int, int]:
        peak = 0
        async with make_client(server, kind) as client:
            for number in range(1000):
                completion = await client.chat(model="m", messages=MESSAGES, mock={"output_tokens": 4 + number % 7})
                assert completion["choices"][0]["message"]["content"] == expected_text(4 + number % 7)
                assert completion["usage"]["completion_tokens"] == 4 + number % 7
                if number % 100 == 0:
                    peak = max(peak, established_to(server.port))
            open_before_close = established_to(server.port)
        return peak, open_before_close

    peak, open_before_close = run(scenario)
    assert peak == 1 and open_before_close == 1  # one connection, reused
    wait_until(lambda: established_to(server.port) == 0)  # closed with the client
    wait_until(lambda: server.app.stats.streams_finished == finished + 1000)


@needs_proc
def test_three_hundred_concurrent_streams_and_no_hidden_cap(server: MockServer, async_kind: Kind) -> None:
    """More streams than aiohttp's and httpx's default pools (100) all run at once with our own
    session; a caller's client keeps its own limits.  Nothing is left open afterwards."""
    finished = server.app.stats.streams_finished
    in_flight = 300

    async def scenario() -> tuple[list[dict[str, Any]], int]:
        own = async_kind.caller_client(max_connections=in_flight + 10)
        started: list[int] = []
        all_started = asyncio.Event()

        async with streamfold.AsyncClient(base_url=server.base_url, http_client=own) as client:

            async def one(number: int) -> dict[str, Any]:
                async with client.stream_chat(
                    model="m", messages=MESSAGES, mock={"output_tokens": 20, "ttft": 0.0, "itl": 0.001, "seed": number}
                ) as stream:
                    started.append(number)  # the answer's head arrived: this stream has a connection
                    if len(started) == in_flight:
                        all_started.set()
                    await asyncio.wait_for(all_started.wait(), 30)  # every stream open at the same time
                    return await stream.result()

            results = await asyncio.gather(*(one(number) for number in range(in_flight)))
            open_after = established_to(server.port)
        await close_caller_client(own)
        return results, open_after

    results, open_after = run(scenario)
    assert [completion["choices"][0]["message"]["content"] for completion in results] == [expected_text(20)] * in_flight
    assert sorted(completion["id"] for completion in results) == sorted(
        f"chatcmpl-mock{n:06d}" for n in range(in_flight)
    )
    assert open_after <= in_flight  # idle ones kept for reuse, never more than were used
    wait_until(lambda: established_to(server.port) == 0)
    wait_until(lambda: server.app.stats.streams_finished == finished + in_flight)


def test_client_module_exports() -> None:
    assert streamfold.Client is client_module.Client and streamfold.APIStatusError is APIStatusError
    assert client_module.Timeout is Timeout and streamfold.run is not None


def test_an_open_stream_has_its_status_and_headers(server: MockServer) -> None:
    async def main() -> tuple[int | None, dict[str, str], dict[str, str]]:
        async with streamfold.AsyncClient(base_url=server.base_url) as client:
            stream = client.stream_chat(model="m", messages=[{"role": "user", "content": "hi"}])
            before = stream.headers
            async with stream:
                await stream.result()
                return stream.status_code, before, stream.headers

    status, before, headers = asyncio.run(main())
    assert status == 200 and before == {}
    assert headers["x-request-id"].startswith("req_mock") and headers["content-type"].startswith("text/event-stream")
