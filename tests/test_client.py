"""streamfold.Client / AsyncClient against the real mock server over loopback.

Every test here talks to uvicorn on 127.0.0.1 (``MockServer``), with our own httpx client,
a caller's httpx client and a caller's httpx2 client, through both implementations of
the core.  What the server was told to send is compared with what the client folded.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import importlib
import itertools
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from types import ModuleType, SimpleNamespace
from typing import Any

import orjson
import pytest

import streamfold
from streamfold import client as client_module
from streamfold.client import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    RetryPolicy,
    _stream,
)
from streamfold.client._http import DEFAULT_MAX_KEEPALIVE
from streamfold.client._retry import retry_after
from streamfold.mock import MockConfig, MockServer
from streamfold.mock._generate import tool_arguments

pytest.importorskip("uvicorn")

WORDS = "alpha beta gamma"
MESSAGES = [{"role": "user", "content": "tell me about rivers"}]
CALLER_KEEPALIVE = 50
FAST = RetryPolicy(max_retries=2, initial_delay=0.01, max_delay=0.02)


_SEEDS = itertools.count(10_000)


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


@pytest.fixture(params=["own", "httpx", "httpx2"])
def http(request: pytest.FixtureRequest) -> ModuleType | None:
    """Which HTTP client the streamfold client runs on: its own, or a caller's httpx / httpx2."""
    if request.param == "own":
        return None
    return pytest.importorskip(request.param)


@contextlib.contextmanager
def make_client(server: MockServer, http: ModuleType | None, **options: Any) -> Iterator[streamfold.Client]:
    """Our client on ``http`` (None: the one it makes itself); both are closed at the end."""
    own = None if http is None else http.Client(timeout=30)
    try:
        with streamfold.Client(base_url=server.base_url, http_client=own, **options) as client:
            yield client
    finally:
        if own is not None:
            own.close()


@contextlib.asynccontextmanager
async def make_async_client(server: MockServer, http: ModuleType | None,
                            **options: Any) -> AsyncIterator[streamfold.AsyncClient]:
    own = None
    if http is not None:
        limits = http.Limits(max_connections=250, max_keepalive_connections=CALLER_KEEPALIVE)
        own = http.AsyncClient(timeout=30, limits=limits)
    try:
        async with streamfold.AsyncClient(base_url=server.base_url, http_client=own, **options) as client:
            yield client
    finally:
        if own is not None:
            await own.aclose()


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for the server thread to record something (polls a condition, with a deadline)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.002)


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


def test_text_result_and_stats(server: MockServer, http: ModuleType | None, core: SimpleNamespace) -> None:
    with make_client(server, http) as client, client.stream_chat(model="m", messages=MESSAGES) as stream:
        pieces = list(stream.text())
        completion = stream.result()
    assert "".join(pieces) == expected_text(12) and len(pieces) == 12
    assert completion["choices"][0]["message"]["content"] == expected_text(12)
    assert completion["choices"][0]["finish_reason"] == "stop" and completion["model"] == "m"
    stats = stream.stats
    assert stats.usage == completion["usage"] and stats.output_tokens == 12
    assert stats.chunks == 15  # role, 12 texts, finish, usage
    assert stats.attempts == 1 and stats.bytes > 0
    assert stats.time_to_first_byte is not None and stats.time_to_first_content is not None
    assert stats.duration is not None
    assert 0 < stats.time_to_first_byte <= stats.time_to_first_content <= stats.duration
    assert stats.output_tokens_per_second == pytest.approx(12 / stats.duration)
    assert stats.as_dict()["output_tokens"] == 12


def test_async_text_result_and_stats(server: MockServer, http: ModuleType | None, core: SimpleNamespace) -> None:
    async def run() -> tuple[list[str], dict[str, Any], streamfold.StreamStats]:
        async with make_async_client(server, http) as client:
            async with client.stream_chat(model="m", messages=MESSAGES) as stream:
                pieces = [piece async for piece in stream.text()]
                return pieces, await stream.result(), stream.stats

    pieces, completion, stats = asyncio.run(run())
    assert "".join(pieces) == expected_text(12) == completion["choices"][0]["message"]["content"]
    assert stats.chunks == 15 and stats.output_tokens == 12 and stats.attempts == 1


def test_events_are_the_cores_events(server: MockServer, http: ModuleType | None, core: SimpleNamespace) -> None:
    with make_client(server, http) as client, client.stream_chat(model="m", messages=MESSAGES) as stream:
        events = list(stream)
        completion = stream.result()
    body = server.app.stats.last_body
    recorded = list(core.iter_events(_replay(server, body)))
    assert [event.type for event in events] == [event.type for event in recorded]
    assert stream.stats.events == len(events)
    deltas = [event.delta for event in events if event.type == "content.delta"]
    assert "".join(deltas) == completion["choices"][0]["message"]["content"]
    [done] = [event for event in events if event.type == "content.done"]
    assert done.content == expected_text(12)
    assert events[-1].type == "chunk" and events[-1].chunk["usage"] == completion["usage"]  # the usage chunk


def _replay(server: MockServer, body: dict[str, Any]) -> bytes:
    """The same request's stream fetched with plain httpx (the reference bytes)."""
    import httpx

    response = httpx.post(server.base_url + "/chat/completions", content=orjson.dumps(body), timeout=10)
    assert response.status_code == 200
    return response.content


def test_parallel_tool_calls_equal_what_the_server_sent(server: MockServer, http: ModuleType | None,
                                                       core: SimpleNamespace) -> None:
    settings = {"tool_calls": 3, "seed": 7}
    with make_client(server, http) as client:
        with client.stream_chat(model="m", messages=MESSAGES, mock=settings) as stream:
            done = [event for event in stream if event.type == "tool_calls.function.arguments.done"]
            completion = stream.result()
    plan = MockConfig(**settings)
    choice = completion["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert [call["function"]["arguments"] for call in choice["message"]["tool_calls"]] == [
        tool_arguments(plan, index) for index in range(3)
    ]
    assert [call["id"] for call in choice["message"]["tool_calls"]] == ["call_mock0000", "call_mock0001", "call_mock0002"]
    assert {call["function"]["name"] for call in choice["message"]["tool_calls"]} == {"get_weather"}
    assert [event.parsed_arguments["call"] for event in done] == [0, 1, 2]


@pytest.mark.parametrize(
    "provider", ["openai", "azure", "groq", "deepseek", "openrouter", "ollama", "vllm", "gemini", "mistral", "writer"]
)
@pytest.mark.parametrize("answer", ["text", "tools"])
def test_every_provider_shape_folds_to_the_same_message(server: MockServer, core: SimpleNamespace,
                                                        provider: str, answer: str) -> None:
    settings: dict[str, Any] = {"reasoning_tokens": 3, "tokens_per_chunk": 2, "provider": provider}
    if answer == "tools":
        settings["tool_calls"] = 2
    with make_client(server, None) as client:
        completion = client.chat(model="m", messages=MESSAGES, mock=settings)
        reference = client.chat(model="m", messages=MESSAGES, mock={**settings, "provider": "openai"})
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


def test_n_choices_and_write_patterns(server: MockServer, core: SimpleNamespace) -> None:
    settings = {"n": 3, "split_writes": True, "events_per_write": 3, "keepalive_every": 2, "text": "café 東京 🙂"}
    with make_client(server, None) as client:
        completion = client.chat(model="m", messages=MESSAGES, mock=settings)
    text = " ".join(["café", "東京", "🙂"] * 4)
    assert [choice["message"]["content"] for choice in completion["choices"]] == [text] * 3
    assert completion["usage"]["completion_tokens"] == 36


def test_chat_calls_back_per_delta(server: MockServer, core: SimpleNamespace) -> None:
    seen: list[str] = []
    with make_client(server, None) as client:
        completion = client.chat(model="m", messages=MESSAGES, on_delta=seen.append)
    assert len(seen) == 12 and "".join(seen) == completion["choices"][0]["message"]["content"]


def test_async_chat_awaits_a_coroutine_callback(server: MockServer, http: ModuleType | None,
                                               core: SimpleNamespace) -> None:
    seen: list[str] = []

    async def on_delta(text: str) -> None:
        await asyncio.sleep(0)
        seen.append(text)

    async def run() -> dict[str, Any]:
        async with make_async_client(server, http) as client:
            return await client.chat(model="m", messages=MESSAGES, on_delta=on_delta)

    completion = asyncio.run(run())
    assert "".join(seen) == completion["choices"][0]["message"]["content"] == expected_text(12)


# -- the request ---------------------------------------------------------------------------


def test_request_body_and_headers(server: MockServer, http: ModuleType | None) -> None:
    with make_client(server, http, api_key="sk-test", headers={"X-Team": "a"}) as client:
        client.chat(model="m", messages=MESSAGES, temperature=0.5, extra_headers={"X-Trace": "t1"})
    body, headers = server.app.stats.last_body, server.app.stats.last_headers
    assert body == {"model": "m", "messages": MESSAGES, "temperature": 0.5, "stream": True,
                    "stream_options": {"include_usage": True}}
    assert headers["authorization"] == "Bearer sk-test"
    assert headers["x-team"] == "a" and headers["x-trace"] == "t1"
    assert headers["accept"] == "text/event-stream" and headers["content-type"] == "application/json"
    assert headers["user-agent"].startswith("streamfold/")


def test_the_callers_stream_options_win(server: MockServer) -> None:
    with make_client(server, None) as client:
        completion = client.chat(model="m", messages=MESSAGES, stream_options={"include_usage": False})
        assert server.app.stats.last_body["stream_options"] == {"include_usage": False}
        assert "usage" not in completion
        client.chat(model="m", messages=MESSAGES, stream_options=None)
        assert "stream_options" not in server.app.stats.last_body
        with pytest.raises(ValueError, match="always stream"):
            client.stream_chat(model="m", messages=MESSAGES, stream=False)


def test_base_url_and_key_from_the_environment(server: MockServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url + "/")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    with streamfold.Client() as client:
        assert client.base_url == server.base_url
        client.chat(model="m", messages=MESSAGES)
    assert server.app.stats.last_headers["authorization"] == "Bearer sk-env"
    monkeypatch.delenv("OPENAI_BASE_URL")
    monkeypatch.delenv("OPENAI_API_KEY")
    with streamfold.Client() as client:
        assert client.base_url == "https://api.openai.com/v1" and client.api_key is None


def test_http_client_must_fit(server: MockServer) -> None:
    httpx = importlib.import_module("httpx")
    with pytest.raises(TypeError, match=r"httpx\.Client or httpx2\.Client"):
        streamfold.Client(http_client=httpx.AsyncClient())
    with pytest.raises(TypeError, match=r"httpx\.AsyncClient or httpx2\.AsyncClient"):
        streamfold.AsyncClient(http_client=httpx.Client())
    with pytest.raises(TypeError, match="builtins.object"):
        streamfold.Client(http_client=object())


def test_only_its_own_http_client_is_closed(server: MockServer, http: ModuleType | None) -> None:
    if http is None:
        with streamfold.Client(base_url=server.base_url) as client:
            client.chat(model="m", messages=MESSAGES)
        assert client.http_client.is_closed  # its own client: closed with it
        return
    with http.Client(timeout=30) as own:
        with streamfold.Client(base_url=server.base_url, http_client=own) as client:
            client.chat(model="m", messages=MESSAGES)
        assert not own.is_closed


# -- faults and retries --------------------------------------------------------------------


def test_status_error_is_typed_and_retried(server: MockServer, http: ModuleType | None) -> None:
    before = server.app.stats.requests
    with make_client(server, http, max_retries=FAST) as client:
        stream = client.stream_chat(model="m", messages=MESSAGES, mock={"status": 500})
        with pytest.raises(APIStatusError) as caught:
            with stream:
                pass
    error = caught.value
    assert error.status_code == 500 and error.headers["content-type"] == "application/json"
    assert error.body["error"]["message"] == "mock status 500" and error.message == "mock status 500"
    assert "HTTP 500" in str(error) and error.partial is None
    assert stream.stats.attempts == 3 and server.app.stats.requests - before == 3


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_client_errors_are_not_retried(server: MockServer, status: int) -> None:
    with make_client(server, None, max_retries=FAST) as client:
        stream = client.stream_chat(model="m", messages=MESSAGES, mock={"status": status})
        with pytest.raises(APIStatusError) as caught, stream:
            pass
    assert caught.value.status_code == status and stream.stats.attempts == 1


@pytest.mark.parametrize("status", [408, 429, 502, 503])
def test_retryable_statuses_then_success(server: MockServer, http: ModuleType | None, status: int) -> None:
    settings = once(status=status, fault_times=2)
    with make_client(server, http, max_retries=FAST) as client:
        with client.stream_chat(model="m", messages=MESSAGES, mock=settings) as stream:
            completion = stream.result()
    assert completion["choices"][0]["message"]["content"] == expected_text(12)
    assert stream.stats.attempts == 3


def test_retry_after_is_honoured(server: MockServer) -> None:
    settings = once(status=429, retry_after=0.3, fault_times=1)
    with make_client(server, None, max_retries=FAST) as client:
        started = time.perf_counter()
        with client.stream_chat(model="m", messages=MESSAGES, mock=settings) as stream:
            stream.result()
        waited = time.perf_counter() - started
    assert stream.stats.attempts == 2
    assert waited >= 0.3  # FAST alone would have waited 0.01 s


def test_a_long_retry_after_is_not_waited_for(server: MockServer) -> None:
    with make_client(server, None, max_retries=FAST) as client:
        stream = client.stream_chat(model="m", messages=MESSAGES, mock={"status": 429, "retry_after": 3600})
        with pytest.raises(APIStatusError) as caught, stream:
            pass
    assert caught.value.status_code == 429 and caught.value.headers["retry-after"] == "3600"
    assert stream.stats.attempts == 1


def test_in_band_error_keeps_the_partial(server: MockServer, http: ModuleType | None, core: SimpleNamespace) -> None:
    with make_client(server, http, max_retries=FAST) as client:
        stream = client.stream_chat(model="m", messages=MESSAGES, mock={"error_after": 5})
        received: list[str] = []
        with pytest.raises(streamfold.StreamAPIError) as caught, stream:
            received.extend(stream.text())
    error = caught.value
    assert error.message == "mock error after 5 chunks" and error.error["code"] == "mock_error"
    assert received == ["alpha", " beta", " gamma", " alpha"]  # the 4 texts after the role chunk
    assert error.partial is not None and error.partial["choices"][0]["message"]["content"] == expected_text(4)
    assert stream.stats.attempts == 1  # text was delivered: never retried
    with pytest.raises(streamfold.StreamAPIError):
        stream.result()  # the same failure again
    assert stream.partial == error.partial


def test_dropped_connection_mid_body_is_incomplete_and_not_retried(server: MockServer, http: ModuleType | None,
                                                                   core: SimpleNamespace) -> None:
    before = server.app.stats.requests
    with make_client(server, http, max_retries=FAST) as client:
        stream = client.stream_chat(model="m", messages=MESSAGES, mock={"close_after": 6})
        with pytest.raises(streamfold.IncompleteStreamError) as caught, stream:
            stream.result()
    error = caught.value
    assert "connection was lost after 6 chunks" in str(error)
    assert error.partial is not None and error.partial["choices"][0]["message"]["content"] == expected_text(5)
    assert http is None or isinstance(error.__cause__, (http.TransportError,))
    assert stream.stats.attempts == 1 and server.app.stats.requests - before == 1
    assert stream.stats.duration is not None


def test_dropped_before_the_body_is_retried(server: MockServer, http: ModuleType | None, core: SimpleNamespace) -> None:
    settings = once(close_after=0, fault_times=1)
    with make_client(server, http, max_retries=FAST) as client:
        with client.stream_chat(model="m", messages=MESSAGES, mock=settings) as stream:
            completion = stream.result()
    assert completion["choices"][0]["message"]["content"] == expected_text(12)
    assert stream.stats.attempts == 2


def test_always_dropped_before_the_body_is_a_connection_error(server: MockServer, http: ModuleType | None) -> None:
    with make_client(server, http, max_retries=FAST) as client:
        stream = client.stream_chat(model="m", messages=MESSAGES, mock={"close_after": 0})
        with pytest.raises(APIConnectionError) as caught, stream:
            pass
    assert not isinstance(caught.value, APITimeoutError)
    assert "RemoteProtocolError" in str(caught.value) and caught.value.partial is None
    assert stream.stats.attempts == 3


def test_stall_mid_body_times_out_with_the_partial(server: MockServer, http: ModuleType | None,
                                                   core: SimpleNamespace) -> None:
    disconnects = server.app.stats.disconnects
    with make_client(server, http, max_retries=FAST, timeout=0.3) as client:
        stream = client.stream_chat(model="m", messages=MESSAGES, mock={"stall_after": 4})
        with pytest.raises(streamfold.IncompleteStreamError) as caught, stream:
            stream.result()
    assert "timed out after 4 chunks" in str(caught.value)
    assert caught.value.partial["choices"][0]["message"]["content"] == expected_text(3)
    assert stream.stats.attempts == 1
    wait_until(lambda: server.app.stats.disconnects == disconnects + 1)


def test_slow_first_byte_times_out_and_is_retried(server: MockServer, http: ModuleType | None) -> None:
    with make_client(server, http, max_retries=RetryPolicy(1, initial_delay=0.01)) as client:
        stream = client.stream_chat(model="m", messages=MESSAGES, mock={"ttft": 5}, timeout=0.2)
        with pytest.raises(APITimeoutError) as caught, stream:
            pass
    assert "timed out" in str(caught.value) and stream.stats.attempts == 2


def test_nobody_listening_is_a_connection_error(http: ModuleType | None) -> None:
    import socket

    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = SimpleNamespace(base_url=f"http://127.0.0.1:{port}/v1")
    with make_client(server, http, max_retries=FAST) as client:  # type: ignore[arg-type]
        stream = client.stream_chat(model="m", messages=MESSAGES)
        with pytest.raises(APIConnectionError) as caught, stream:
            pass
    assert "ConnectError" in str(caught.value) and stream.stats.attempts == 3


def test_async_faults(server: MockServer, http: ModuleType | None, core: SimpleNamespace) -> None:
    async def run() -> list[BaseException]:
        failures: list[BaseException] = []
        async with make_async_client(server, http, max_retries=FAST, timeout=0.3) as client:
            for settings in ({"status": 503}, {"error_after": 3}, {"close_after": 3}, {"stall_after": 3}):
                try:
                    await client.chat(model="m", messages=MESSAGES, mock=settings)
                except Exception as exc:
                    failures.append(exc)
            retried = client.stream_chat(model="m", messages=MESSAGES, mock=once(status=429, fault_times=1))
            async with retried:
                assert (await retried.result())["choices"][0]["message"]["content"] == expected_text(12)
            assert retried.stats.attempts == 2
        return failures

    status, in_band, dropped, stalled = asyncio.run(run())
    assert isinstance(status, APIStatusError) and status.status_code == 503
    assert isinstance(in_band, streamfold.StreamAPIError)
    assert isinstance(dropped, streamfold.IncompleteStreamError) and "lost" in str(dropped)
    assert isinstance(stalled, streamfold.IncompleteStreamError) and "timed out" in str(stalled)
    for error in (in_band, dropped, stalled):
        assert error.partial["choices"][0]["message"]["content"] == expected_text(2)  # type: ignore[attr-defined]


def test_truncation_can_raise(server: MockServer, core: SimpleNamespace) -> None:
    with make_client(server, None) as client:
        completion = client.chat(model="m", messages=MESSAGES, max_tokens=5)
        assert completion["choices"][0]["finish_reason"] == "length"
        with pytest.raises(streamfold.TruncatedCompletionError) as caught:
            client.chat(model="m", messages=MESSAGES, max_tokens=5, raise_on_truncation=True)
    assert caught.value.partial["choices"][0]["message"]["content"] == expected_text(5)


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

SLOW = {"output_tokens": 2000, "itl": 0.002}


def test_leaving_the_block_closes_the_connection(server: MockServer, http: ModuleType | None) -> None:
    disconnects = server.app.stats.disconnects
    with make_client(server, http) as client:
        with client.stream_chat(model="m", messages=MESSAGES, mock=SLOW) as stream:
            next(iter(stream))
        wait_until(lambda: server.app.stats.disconnects == disconnects + 1)
        with pytest.raises(streamfold.IncompleteStreamError, match="closed before it ended") as caught:
            stream.result()
    assert caught.value.partial is not None


def test_breaking_out_of_the_loop_closes_the_connection(server: MockServer, http: ModuleType | None) -> None:
    disconnects = server.app.stats.disconnects
    with make_client(server, http) as client, client.stream_chat(model="m", messages=MESSAGES, mock=SLOW) as stream:
        for count, _ in enumerate(stream.text()):
            if count == 3:
                break
        wait_until(lambda: server.app.stats.disconnects == disconnects + 1)  # still inside the block
        assert stream.partial["choices"][0]["message"]["content"] == expected_text(4)
        assert stream.stats.duration is not None


def test_async_break_and_exit_close_the_connection(server: MockServer, http: ModuleType | None) -> None:
    async def run() -> None:
        async with make_async_client(server, http) as client:
            disconnects = server.app.stats.disconnects
            async with client.stream_chat(model="m", messages=MESSAGES, mock=SLOW) as stream:
                async for _ in stream:
                    break
            await asyncio.to_thread(wait_until, lambda: server.app.stats.disconnects == disconnects + 1)
            with pytest.raises(streamfold.IncompleteStreamError):
                await stream.result()

    asyncio.run(run())


def test_cancelling_the_task_closes_the_connection(server: MockServer, http: ModuleType | None) -> None:
    async def run() -> None:
        async with make_async_client(server, http) as client:
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
            await asyncio.to_thread(wait_until, lambda: server.app.stats.disconnects == disconnects + 1)

    asyncio.run(run())


# -- many streams --------------------------------------------------------------------------


@needs_proc
def test_a_thousand_sequential_streams(server: MockServer) -> None:
    finished = server.app.stats.streams_finished
    peak = 0
    with make_client(server, None) as client:
        for number in range(1000):
            completion = client.chat(model="m", messages=MESSAGES, mock={"output_tokens": 4 + number % 7})
            assert completion["choices"][0]["message"]["content"] == expected_text(4 + number % 7)
            assert completion["usage"]["completion_tokens"] == 4 + number % 7
            if number % 100 == 0:
                peak = max(peak, established_to(server.port))
    assert peak == 1  # one connection, reused
    assert established_to(server.port) == 0
    wait_until(lambda: server.app.stats.streams_finished == finished + 1000)


@needs_proc
def test_two_hundred_concurrent_streams(server: MockServer, http: ModuleType | None) -> None:
    finished = server.app.stats.streams_finished

    async def run() -> tuple[list[dict[str, Any]], int]:
        async with make_async_client(server, http) as client:
            async def one(number: int) -> dict[str, Any]:
                return await client.chat(model="m", messages=MESSAGES, mock={"output_tokens": 20, "itl": 0.001,
                                                                              "seed": number})
            results = await asyncio.gather(*(one(number) for number in range(200)))
            open_after = established_to(server.port)
        return results, open_after

    results, open_after = asyncio.run(run())
    assert [completion["choices"][0]["message"]["content"] for completion in results] == [expected_text(20)] * 200
    assert sorted(completion["id"] for completion in results) == sorted(f"chatcmpl-mock{n:06d}" for n in range(200))
    assert 0 < open_after <= (CALLER_KEEPALIVE if http else DEFAULT_MAX_KEEPALIVE)  # the idle pool, no more
    assert established_to(server.port) == 0
    wait_until(lambda: server.app.stats.streams_finished == finished + 200)


def test_client_module_exports() -> None:
    assert streamfold.Client is client_module.Client and streamfold.APIStatusError is APIStatusError


# -- the retry policy on its own -----------------------------------------------------------


def test_backoff_doubles_with_jitter_and_stops() -> None:
    policy = RetryPolicy(max_retries=4, initial_delay=0.5, max_delay=3.0)
    for retries_done, full in enumerate([0.5, 1.0, 2.0, 3.0]):
        delays = {policy.delay(retries_done) for _ in range(200)}
        assert all(d is not None and 0.75 * full <= d <= full for d in delays)
        assert len(delays) > 1  # jittered
    assert policy.delay(4) is None
    assert RetryPolicy(max_retries=0).delay(0) is None
    with pytest.raises(ValueError, match="max_retries"):
        RetryPolicy(max_retries=-1)


@pytest.mark.parametrize(("headers", "expected"), [
    ({"retry-after": "2"}, 2.0),
    ({"retry-after": "0.25"}, 0.25),
    ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
    ({"retry-after": "-3"}, 0.0),
    ({"retry-after": "soon"}, None),
    ({}, None),
])
def test_retry_after_values(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after(headers) == expected


def test_retry_after_as_an_http_date() -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    seconds = retry_after({"retry-after": when})
    assert seconds is not None and 28 <= seconds <= 30
    policy = RetryPolicy(max_retries=3, max_retry_after=10)
    assert policy.delay(0, {"retry-after": when}) is None  # longer than we wait for: give up
    assert policy.delay(0, {"retry-after": "4"}) == 4.0


def test_errors_survive_pickling() -> None:
    import pickle

    error = APIStatusError(429, {"Retry-After": "2"}, b'{"error": {"message": "slow down"}}', method="POST", url="u")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is APIStatusError and str(copy) == str(error)
    assert (copy.status_code, copy.headers, copy.body, copy.message) == (429, {"retry-after": "2"},
                                                                          {"error": {"message": "slow down"}}, "slow down")
    timeout = pickle.loads(pickle.dumps(APITimeoutError("late", method="POST", url="u")))
    assert isinstance(timeout, APIConnectionError) and timeout.url == "u" and str(timeout) == "late"
    assert APIStatusError(500, {}, b"").message == "(empty body)"
    assert APIStatusError(502, {}, b"<html>bad gateway</html>").body == "<html>bad gateway</html>"


def test_result_alone_skips_building_events(server: MockServer, http: ModuleType | None, core: SimpleNamespace) -> None:
    with make_client(server, http) as client, client.stream_chat(model="m", messages=MESSAGES,
                                                                  mock={"output_tokens": 40}) as stream:
        completion = stream.result()
    assert completion["choices"][0]["message"]["content"] == expected_text(40)
    stats = stream.stats
    assert stats.chunks == 43 and stats.usage == completion["usage"]
    assert stats.time_to_first_content is not None and stats.time_to_first_byte is not None
    assert stats.time_to_first_byte <= stats.time_to_first_content <= stats.duration  # type: ignore[operator]
    assert 0 < stats.events < 10  # events only until the first content arrived
