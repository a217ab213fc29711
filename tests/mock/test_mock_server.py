"""The mock OpenAI-compatible server, served by uvicorn on 127.0.0.1 and read over loopback."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest

import streamfold
from streamfold.mock import CONFIG_HEADER, MockApp, MockConfig, MockServer
from streamfold.mock._pacer import Lateness

pytest.importorskip("uvicorn")

MESSAGES = [{"role": "user", "content": "tell me about rivers"}]


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer(MockConfig(output_tokens=12, text="alpha beta gamma")) as running:
        yield running


def post(server: MockServer, body: dict[str, Any], **kwargs: Any) -> httpx.Response:
    return httpx.post(
        server.base_url + "/chat/completions", json={"model": "m", "messages": MESSAGES, **body}, timeout=10, **kwargs
    )


def stream_of(server: MockServer, mock: dict[str, Any] | None = None, **body: Any) -> dict[str, Any]:
    response = post(server, {"stream": True, **body, **({"mock": mock} if mock else {})})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    return streamfold.fold(response.content)


def test_streams_the_configured_text(server: MockServer) -> None:
    completion = stream_of(server)
    assert completion["choices"][0]["message"] == {
        "role": "assistant",
        "content": "alpha beta gamma alpha beta gamma alpha beta gamma alpha beta gamma",
        "refusal": None,
    }
    assert completion["choices"][0]["finish_reason"] == "stop" and completion["model"] == "m"
    assert "usage" not in completion


def test_usage_when_the_request_asks(server: MockServer) -> None:
    completion = stream_of(server, stream_options={"include_usage": True})
    assert completion["usage"]["completion_tokens"] == 12
    assert completion["usage"]["total_tokens"] == completion["usage"]["prompt_tokens"] + 12


def test_echo_n_choices_reasoning_and_chunking(server: MockServer) -> None:
    completion = stream_of(
        server, {"text": "echo", "output_tokens": 4, "reasoning_tokens": 3, "tokens_per_chunk": 2}, n=3
    )
    assert [choice["index"] for choice in completion["choices"]] == [0, 1, 2]
    for choice in completion["choices"]:
        assert choice["message"]["content"] == "tell me about rivers"
        assert len(choice["message"]["reasoning_content"].split()) == 3


def test_parallel_tool_calls(server: MockServer) -> None:
    completion = stream_of(server, {"tool_calls": 3, "tokens_per_chunk": 1})
    choice = completion["choices"][0]
    calls = choice["message"]["tool_calls"]
    assert choice["finish_reason"] == "tool_calls" and len(calls) == 3
    assert len({call["id"] for call in calls}) == 3
    assert [json.loads(call["function"]["arguments"])["call"] for call in calls] == [0, 1, 2]


def test_max_tokens_cuts_with_length(server: MockServer) -> None:
    completion = stream_of(server, max_tokens=5)
    assert completion["choices"][0]["finish_reason"] == "length"
    assert completion["choices"][0]["message"]["content"] == "alpha beta gamma alpha beta"


def test_header_overrides_and_non_streaming(server: MockServer) -> None:
    response = post(server, {}, headers={CONFIG_HEADER: json.dumps({"text": "just this", "output_tokens": 2})})
    body = response.json()
    assert body["object"] == "chat.completion" and body["choices"][0]["message"]["content"] == "just this"


def test_bad_settings_are_a_400(server: MockServer) -> None:
    response = post(server, {"mock": {"output_tokns": 3}})
    assert (
        response.status_code == 400 and "unknown mock setting(s): output_tokns" in response.json()["error"]["message"]
    )
    assert post(server, {"mock": {"tokens_per_chunk": 0}}).status_code == 400


def test_models_and_unknown_routes(server: MockServer) -> None:
    models = httpx.get(server.base_url + "/models").json()
    assert models["object"] == "list" and models["data"][0]["id"] == "mock-gpt"
    assert httpx.get(server.base_url + "/nothing").status_code == 404


def test_status_faults(server: MockServer) -> None:
    response = post(server, {"stream": True, "mock": {"status": 429, "retry_after": 2}})
    assert response.status_code == 429 and response.headers["retry-after"] == "2"
    assert post(server, {"stream": True, "mock": {"status": 500}}).status_code == 500


def test_faults_can_hit_only_the_first_requests(server: MockServer) -> None:
    settings = {"status": 503, "fault_times": 2, "seed": 4242}
    statuses = [post(server, {"stream": True, "mock": settings}).status_code for _ in range(4)]
    assert statuses == [503, 503, 200, 200]
    other = {**settings, "seed": 4243}  # other settings: counted apart
    assert post(server, {"stream": True, "mock": other}).status_code == 503


def test_the_last_request_is_recorded(server: MockServer) -> None:
    post(server, {"stream": True, "temperature": 0.1, "mock": {"output_tokens": 1}}, headers={"X-Probe": "yes"})
    assert server.app.stats.last_body == {"model": "m", "messages": MESSAGES, "stream": True, "temperature": 0.1}
    assert server.app.stats.last_headers["x-probe"] == "yes"


def raw_chunks(server: MockServer, **mock: Any) -> tuple[bytes, list[dict[str, Any]]]:
    content = post(server, {"stream": True, "stream_options": {"include_usage": True}, "mock": mock}).content
    lines = [line[6:] for line in content.split(b"\n") if line.startswith(b"data: {")]
    return content, [orjson.loads(line) for line in lines]


def calls_of(chunks: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The tool_calls list of every chunk that has one."""
    return [
        chunk["choices"][0]["delta"]["tool_calls"]
        for chunk in chunks
        if chunk["choices"] and "tool_calls" in chunk["choices"][0].get("delta", {})
    ]


def test_provider_shapes_on_the_wire(server: MockServer) -> None:
    _, chunks = raw_chunks(server, provider="openai")
    assert all("obfuscation" in chunk for chunk in chunks) and chunks[-1]["choices"] == []
    _, chunks = raw_chunks(server, provider="azure")
    assert chunks[0]["choices"] == [] and chunks[0]["id"] == "" and "prompt_filter_results" in chunks[0]
    assert "content_filter_results" in chunks[1 + 1]["choices"][0]
    _, chunks = raw_chunks(server, provider="groq", tool_calls=2)
    assert all(chunk["choices"][0]["delta"]["role"] == "assistant" for chunk in chunks)
    calls = calls_of(chunks)
    assert len(calls) == 2 and all(orjson.loads(call[0]["function"]["arguments"]) for call in calls)  # whole calls
    assert "usage" not in chunks[-1] and chunks[-1]["x_groq"]["usage"]["completion_tokens"] > 0
    _, chunks = raw_chunks(server, provider="deepseek", reasoning_tokens=2)
    assert chunks[1]["choices"][0]["delta"] == {"role": "assistant", "reasoning_content": "alpha", "content": None}
    content, chunks = raw_chunks(server, provider="openrouter", reasoning_tokens=2)
    assert content.startswith(b": OPENROUTER PROCESSING\n\n") and "reasoning" in chunks[1]["choices"][0]["delta"]
    _, chunks = raw_chunks(server, provider="ollama", tool_calls=3)
    [calls] = calls_of(chunks)
    assert [call["index"] for call in calls] == [0, 0, 0] and len({call["id"] for call in calls}) == 3
    _, chunks = raw_chunks(server, provider="vllm", tool_calls=1)
    fragments = [fragments[0] for fragments in calls_of(chunks)]
    assert len(fragments) > 2 and all(fragment["id"] == "call_mock0000" for fragment in fragments)
    _, chunks = raw_chunks(server, provider="gemini", tool_calls=2)
    calls = [fragments[0] for fragments in calls_of(chunks)]
    assert (
        len(calls) == 2
        and all("index" not in call for call in calls)
        and chunks[-2]["choices"][0]["finish_reason"] == "stop"
    )


def test_in_band_error_after_n_chunks(server: MockServer) -> None:
    response = post(server, {"stream": True, "mock": {"error_after": 4}})
    with pytest.raises(streamfold.StreamAPIError) as caught:
        streamfold.fold(response.content)
    assert caught.value.message == "mock error after 4 chunks"
    assert caught.value.partial is not None
    assert caught.value.partial["choices"][0]["message"]["content"] == "alpha beta gamma"  # role chunk + 3 tokens


def test_abrupt_close_after_n_chunks(server: MockServer) -> None:
    acc = streamfold.ChatAccumulator()
    with (
        pytest.raises(httpx.RemoteProtocolError),
        httpx.stream(
            "POST",
            server.base_url + "/chat/completions",
            json={"stream": True, "messages": MESSAGES, "mock": {"close_after": 3}},
        ) as response,
    ):
        for piece in response.iter_bytes():
            acc.feed(piece)
    assert acc.snapshot()["choices"][0]["message"]["content"] == "alpha beta"


def wait_for(condition: Any, seconds: float = 10.0) -> bool:
    """Poll ``condition`` until it holds (the server notices a disconnect on its own loop)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_stall_then_the_server_sees_the_client_leave(server: MockServer) -> None:
    before = server.app.stats.disconnects
    with httpx.stream(
        "POST",
        server.base_url + "/chat/completions",
        json={"stream": True, "messages": MESSAGES, "mock": {"stall_after": 2}},
    ) as response:
        reads = response.iter_raw()
        first = next(reads)
        assert first.startswith(b"data: ")
    assert wait_for(lambda: server.app.stats.disconnects > before)


def test_keepalive_comments_and_delays(server: MockServer) -> None:
    response = post(server, {"stream": True, "mock": {"keepalive_every": 3, "itl": 0.001, "jitter": 0.5}})
    assert response.content.count(b": keep-alive\n\n") == 4  # 14 chunks: before chunks 3, 6, 9, 12
    assert streamfold.fold(response.content)["choices"][0]["finish_reason"] == "stop"


def receiving(body: dict[str, Any]) -> Callable[[], Awaitable[dict[str, Any]]]:
    """An ASGI ``receive`` giving ``body`` as the request, then waiting: the client never leaves."""
    incoming = [{"type": "http.request", "body": orjson.dumps(body), "more_body": False}]

    async def receive() -> dict[str, Any]:
        if incoming:
            return incoming.pop()
        await asyncio.Event().wait()
        return {"type": "http.disconnect"}

    return receive


def asgi_writes(config: MockConfig, body: dict[str, Any]) -> list[bytes]:
    """The body writes the app makes for one request (the ASGI interface, no network), with
    the ``created`` time left out (two requests can fall in different seconds)."""
    sent: list[dict[str, Any]] = []
    receive = receiving(body)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "path": "/v1/chat/completions", "method": "POST", "headers": []}
    asyncio.run(MockApp(config)(scope, receive, send))  # type: ignore[arg-type]
    return [
        re.sub(rb'"created":\d+,', b"", message["body"])
        for message in sent
        if message["type"] == "http.response.body" and message["body"]
    ]


def test_write_patterns() -> None:
    body = {"stream": True, "messages": MESSAGES}
    one = asgi_writes(MockConfig(output_tokens=8, text="né", events_per_write=1), body)
    assert len(one) == 11  # role, 8 tokens, finish, [DONE]
    grouped = asgi_writes(MockConfig(output_tokens=8, text="né", events_per_write=4), body)
    assert len(grouped) == 3 and b"".join(grouped) == b"".join(one)
    split = asgi_writes(MockConfig(output_tokens=8, text="né", events_per_write=1, split_writes=True), body)
    assert len(split) == 2 * len(one) and b"".join(split) == b"".join(one)
    cut_inside_a_character = [part for part in split if not _is_utf8(part)]
    assert len(cut_inside_a_character) >= 16  # every token write "né" is cut inside the é


def test_several_events_per_write_by_default_only_without_delay() -> None:
    body = {"stream": True, "messages": MESSAGES}
    burst = asgi_writes(MockConfig(output_tokens=40), body)  # 42 chunks + [DONE], 16 events a write
    assert [write.count(b"data: ") for write in burst] == [16, 16, 11]
    paced = asgi_writes(MockConfig(output_tokens=40, itl=0.0001), body)  # as real servers: one a write
    assert [write.count(b"data: ") for write in paced] == [1] * 43
    assert b"".join(burst) == b"".join(paced)
    # the prebuilt writes and the paced path cut the same bytes the same way
    prebuilt = asgi_writes(MockConfig(output_tokens=40, events_per_write=5, provider="openrouter"), body)
    stepped = asgi_writes(
        MockConfig(output_tokens=40, events_per_write=5, provider="openrouter", keepalive_every=1000), body
    )
    assert prebuilt == stepped and prebuilt[0].startswith(b": OPENROUTER PROCESSING\n\n")
    for timing in ({"itl": 0.0001, "ttft": 0.001, "jitter": 0.5}, {"itl": 0.0001, "events_per_write": 3}):
        settings = {"output_tokens": 12, "provider": "openrouter", **timing}
        planned = asgi_writes(MockConfig(**settings), body)
        assert planned == asgi_writes(MockConfig(**settings, keepalive_every=1000), body)
        counts = [write.count(b"data: ") for write in planned]
        if "events_per_write" not in timing:  # one event a write at itl > 0, as real servers
            assert counts == [0] * (len(planned) - 15) + [1] * 15 and planned[-1] == b"data: [DONE]\n\n"
        else:  # what is pending is written before each delay: one token a write, the role chunk
            # (after the preamble) with the first, the finish chunk and [DONE] with the last
            assert counts == [2] + [1] * 10 + [3] and planned[0].startswith(b": OPENROUTER PROCESSING\n\n")


def test_paced_writes_wait_for_a_full_connection() -> None:
    """A send that has to wait (the socket's buffer is full) holds that stream's later writes
    back and is resumed when it can go on, as a task would resume it."""
    config = MockConfig(output_tokens=9, itl=0.001)
    body = {"stream": True, "messages": MESSAGES}
    incoming = [{"type": "http.request", "body": orjson.dumps(body), "more_body": False}]
    written: list[tuple[bytes, int]] = []
    waits = 0

    async def receive() -> dict[str, Any]:
        if incoming:
            return incoming.pop()
        await asyncio.Event().wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal waits
        if message["type"] == "http.response.body" and len(written) % 3 == 1:
            waits += 1
            drained = asyncio.Event()
            asyncio.get_running_loop().call_later(0.003, drained.set)
            await drained.wait()  # as uvicorn waits for its transport to drain
        if message["type"] == "http.response.body" and message["body"]:
            written.append((message["body"], waits))

    scope = {"type": "http", "path": "/v1/chat/completions", "method": "POST", "headers": []}
    app = MockApp(config)
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    assert waits >= 3 and app.stats.streams_finished == 1
    bodies = [re.sub(rb'"created":\d+,', b"", data) for data, _ in written]
    assert bodies == asgi_writes(config, body)  # the same writes, in order, none lost
    assert [count for _, count in written] == sorted(count for _, count in written)


def test_answers_are_encoded_once_per_shape() -> None:
    app = MockApp(MockConfig(output_tokens=5))
    request = {"model": "m", "messages": MESSAGES, "stream": True}
    first = app._answer(app.config, request, orjson.dumps(request))
    assert app._answer(app.config, request, orjson.dumps(request)) is first  # the same bytes, not rebuilt
    other = {**request, "model": "n"}
    assert app._answer(app.config, other, orjson.dumps(other)) is not first
    assert streamfold.fold(b"".join(first.events) + b"data: [DONE]\n\n")["choices"][0]["finish_reason"] == "stop"


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def test_serve_command_runs_the_server() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamfold", "serve", "--port", "0", "--text", "from the cli", "--output-tokens", "3"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        port = None
        for line in proc.stderr:
            found = re.search(r"http://127\.0\.0\.1:(\d+)", line)
            if found:
                port = int(found.group(1))
                break
        assert port is not None
        response = httpx.post(
            f"http://127.0.0.1:{port}/v1/chat/completions", json={"stream": True, "messages": MESSAGES}, timeout=10
        )
        assert streamfold.fold(response.content)["choices"][0]["message"]["content"] == "from the cli"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        assert proc.stderr is not None
        proc.stderr.close()


def test_the_mock_is_an_attribute_of_the_package_imported_on_first_use() -> None:
    code = (
        "import sys, streamfold\n"
        "assert 'streamfold.mock' not in sys.modules\n"
        "config = streamfold.mock.MockConfig(output_tokens=3)\n"
        "assert streamfold.mock.MockServer.__name__ == 'MockServer' and config.output_tokens == 3\n"
        "assert 'uvicorn' not in sys.modules  # only a running server needs it\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_the_lateness_histogram_arithmetic() -> None:
    lateness = Lateness()
    assert lateness.percentile(50) is None and lateness.summary()["max_us"] is None
    for late in [0.0] * 50 + [0.000_015] * 49 + [0.25]:  # 50 on time, 49 in the 10-20 µs bin, one past 100 ms
        lateness.add(late)
    lateness.add(-0.001)  # early (a coarse timer): counted as on time
    assert lateness.writes == 101
    assert lateness.percentile(50) == pytest.approx(1e-5)  # the first bin's upper edge
    assert lateness.percentile(99) == pytest.approx(2e-5)
    assert lateness.percentile(100) == 0.25  # past the last bin: the largest seen
    assert lateness.summary() == {
        "writes": 101,
        "p50_us": 10.0,
        "p99_us": 20.0,
        "p99.9_us": 250000.0,
        "max_us": 250000.0,
    }


def test_the_mock_says_how_late_its_paced_writes_went_out() -> None:
    with MockServer(MockConfig(output_tokens=6, itl=0.002, ttft=0.005)) as paced:
        before = httpx.get(f"http://{paced.host}:{paced.port}/mock/pacing").json()
        assert before["writes"] == 0
        for _ in range(3):
            stream_of(paced)
        after = httpx.get(f"http://{paced.host}:{paced.port}/mock/pacing").json()
    # each stream: the first token after ttft, five more after an itl each (usage and [DONE] ride along)
    assert after["writes"] == 3 * 6
    assert 0 <= after["p50_us"] <= after["p99_us"] <= after["max_us"]


def test_ttft_counts_from_when_the_request_arrived() -> None:
    """The protocol puts the request's arrival in the scope; a paced answer's first write is due TTFT after it."""
    from streamfold.mock._app import RECEIVED

    times: list[float] = []
    receive = receiving({"stream": True, "messages": MESSAGES})

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and message["body"]:
            times.append(time.monotonic())

    began = time.monotonic()
    scope = {"type": "http", "path": "/v1/chat/completions", "method": "POST", "headers": [], RECEIVED: began - 0.5}
    asyncio.run(MockApp(MockConfig(output_tokens=2, ttft=0.6, itl=0.01))(scope, receive, send))  # type: ignore[arg-type]
    assert began + 0.1 <= times[0] < began + 0.4  # 0.6 s after the arrival, not after the app began


def test_the_served_mock_times_requests_as_they_arrive() -> None:
    pytest.importorskip("httptools")
    from streamfold.mock._protocol import ReceiptTimedProtocol
    from streamfold.mock._server import _http_protocol

    assert _http_protocol() is ReceiptTimedProtocol
