"""streamfold.relay over loopback: the real mock server upstream, a Starlette app relaying it, and
httpx as the browser.

One uvicorn (``MockServer(wrap=...)``) serves both the mock (``/v1``) and the relay routes in
front of it; every relay reads the mock over a real TCP connection.  Each source the relay
takes is tried: ``AsyncClient.stream_chat``, the openai drop-in's ``astream_chat``, and a
plain async generator of bytes.  What the source gave is recorded as it passes, so the
browser's bytes and ``on_complete``'s completion are compared with exactly what came in.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import itertools
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from types import SimpleNamespace, TracebackType
from typing import Any

import httpx
import orjson
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from conftest import ROOT
from relayed import wait_until
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

import streamfold
from streamfold.client import _stream
from streamfold.mock import MockConfig, MockServer
from streamfold.relay import ClientDisconnected, Coalescer, _response, _wire, relay

WORDS = "alpha beta gamma"
MESSAGES = [{"role": "user", "content": "tell me about rivers"}]
SOURCES = ("client", "openai", "bytes")
_IDS = itertools.count()


class Results:
    """What the server side saw, per request id: the source's bytes, and on_complete's call."""

    def __init__(self) -> None:
        self.recorded: dict[str, list[bytes]] = {}
        self.completed: dict[str, list[tuple[Any, Any]]] = {}
        self._signals: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def _signal(self, test_id: str) -> threading.Event:
        with self._lock:
            return self._signals.setdefault(test_id, threading.Event())

    def record(self, test_id: str, piece: bytes) -> None:
        self.recorded.setdefault(test_id, []).append(piece)

    def on_complete(self, test_id: str, *, asynchronous: bool = True) -> Callable[[Any, Any], Any]:
        def complete(completion: Any, error: Any) -> None:
            self.completed.setdefault(test_id, []).append((completion, error))
            self._signal(test_id).set()

        async def acomplete(completion: Any, error: Any) -> None:  # a coroutine function, awaited
            await asyncio.sleep(0)
            complete(completion, error)

        return acomplete if asynchronous else complete

    def outcome(self, test_id: str, timeout: float = 20.0) -> tuple[Any, Any]:
        """on_complete's arguments, once it has been called (exactly once)."""
        assert self._signal(test_id).wait(timeout), "on_complete was not called"
        calls = self.completed[test_id]
        assert len(calls) == 1, calls
        return calls[0]

    def upstream(self, test_id: str) -> bytes:
        return b"".join(self.recorded.get(test_id, []))


class Recording:
    """A streamfold stream (client or drop-in) whose bytes are recorded as the relay reads them."""

    def __init__(self, stream: Any, record: Callable[[bytes], None]) -> None:
        self.stream = stream
        self._record = record

    async def __aenter__(self) -> Recording:
        await self.stream.__aenter__()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stream.__aexit__(kind, exc, tb)

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        async for piece in self.stream.aiter_bytes():
            self._record(piece)
            yield piece


def relay_routes(mock: ASGIApp, results: Results) -> Starlette:
    """``POST /relay`` with ``{"id", "source", "mode", "mock", "coalesce", "keepalive"}``: a relay
    of this same server's mock, read through the named source."""
    clients: dict[str, Any] = {}

    def source(kind: str, upstream: str, settings: dict[str, Any], record: Callable[[bytes], None]) -> Any:
        request = {"model": "m", "messages": MESSAGES, "stream_options": {"include_usage": True}}
        if kind == "client":
            client = clients.get("client") or clients.setdefault(
                "client", streamfold.AsyncClient(base_url=upstream, max_retries=0)
            )
            return Recording(client.stream_chat(**request, mock=settings), record)
        if kind == "openai":
            import openai

            from streamfold.openai import astream_chat

            client = clients.get("openai") or clients.setdefault(
                "openai", openai.AsyncOpenAI(base_url=upstream, api_key="test", max_retries=0)
            )
            return Recording(astream_chat(client, **request, extra_body={"mock": settings}), record)
        if kind == "script":
            return _scripted(settings["pieces"], record)
        http = clients.get("httpx") or clients.setdefault("httpx", httpx.AsyncClient(timeout=30))
        return _byte_generator(http, upstream, {**request, "stream": True, "mock": settings}, record)

    async def relayed(request: Request) -> Response:
        body = await request.json()
        host, port = request.scope["server"]
        test_id = body["id"]
        coalesce = Coalescer(*body["coalesce"]) if body.get("coalesce") else None
        upstream = source(
            body["source"],
            f"http://{host}:{port}/v1",
            body.get("mock", {}),
            lambda piece: results.record(test_id, piece),
        )
        on_complete = results.on_complete(test_id, asynchronous=not body.get("plain_callback"))
        return relay(
            upstream, body["mode"], on_complete=on_complete, coalesce=coalesce, keepalive=body.get("keepalive", 15.0)
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        for client in clients.values():
            await (client.close() if hasattr(client, "with_options") else client.aclose())

    return Starlette(routes=[Route("/relay", relayed, methods=["POST"]), Mount("/", app=mock)], lifespan=lifespan)


async def _byte_generator(
    http: httpx.AsyncClient, upstream: str, body: dict[str, Any], record: Callable[[bytes], None]
) -> AsyncIterator[bytes]:
    """The plain source: an async generator of the upstream's bytes."""
    async with http.stream("POST", f"{upstream}/chat/completions", json=body) as response:
        async for piece in response.aiter_raw():
            record(piece)
            yield piece


async def _scripted(pieces: list[tuple[str, float]], record: Callable[[bytes], None]) -> AsyncIterator[bytes]:
    """A source that gives these pieces, each after waiting its delay."""
    for text, delay in pieces:
        await asyncio.sleep(delay)
        record(text.encode())
        yield text.encode()


@pytest.fixture(scope="module")
def results() -> Results:
    return Results()


@pytest.fixture(scope="module")
def server(results: Results) -> Iterator[MockServer]:
    config = MockConfig(output_tokens=24, text=WORDS)
    with MockServer(config, wrap=lambda mock: relay_routes(mock, results)) as running:
        yield running


@pytest.fixture
def core(impl: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """Fold on ``impl``'s accumulator (the extension or the twin), in the relay and the client."""
    monkeypatch.setattr(_response, "ChatAccumulator", impl.ChatAccumulator)
    monkeypatch.setattr(_stream, "ChatAccumulator", impl.ChatAccumulator)
    return impl


def url(server: MockServer) -> str:
    return f"http://127.0.0.1:{server.port}/relay"


def ask(server: MockServer, source: str, mode: str, **options: Any) -> tuple[str, httpx.Response]:
    """One relayed request, read whole: its id and the response."""
    test_id = f"t{next(_IDS)}"
    response = httpx.post(url(server), json={"id": test_id, "source": source, "mode": mode, **options}, timeout=30)
    return test_id, response


def events_of(body: bytes) -> list[Any]:
    """The data of each event the browser got (JSON parsed, ``[DONE]`` as the string)."""
    decoder = streamfold.SSEDecoder()
    events = decoder.feed(body)
    decoder.close()
    return [event.data if event.data == "[DONE]" else orjson.loads(event.data) for event in events]


def content_of(completion: dict[str, Any]) -> str:
    content: str = completion["choices"][0]["message"]["content"]
    return content


@pytest.mark.parametrize("source", SOURCES)
def test_passthrough_sends_the_upstream_bytes_unchanged(
    server: MockServer, results: Results, core: SimpleNamespace, source: str
) -> None:
    # lorem text has accents and emoji; split writes 5 ms apart cut them (and the JSON) between reads
    test_id, response = ask(
        server,
        source,
        "passthrough",
        mock={"text": "lorem", "split_writes": True, "events_per_write": 3, "itl": 0.005, "seed": 3},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    upstream = results.upstream(test_id)
    assert len(results.recorded[test_id]) > 2 and upstream.endswith(b"data: [DONE]\n\n")
    assert response.content == upstream
    completion, error = results.outcome(test_id)
    assert error is None
    assert completion == core.fold(upstream)


@pytest.mark.parametrize("mode", ["passthrough", "text", "events"])
@pytest.mark.parametrize("source", SOURCES)
def test_on_complete_gets_the_completion_a_direct_fold_gives(
    server: MockServer, results: Results, core: SimpleNamespace, source: str, mode: str
) -> None:
    test_id, response = ask(server, source, mode, mock={"tool_calls": 2, "reasoning_tokens": 3, "seed": 4})
    assert response.status_code == 200
    completion, error = results.outcome(test_id)
    assert error is None
    direct = core.fold(results.upstream(test_id))
    assert completion == direct
    assert len(direct["choices"][0]["message"]["tool_calls"]) == 2 and direct["usage"]["completion_tokens"] > 0


@pytest.mark.parametrize("source", SOURCES)
def test_text_events_reassemble_to_the_content(
    server: MockServer, results: Results, core: SimpleNamespace, source: str
) -> None:
    test_id, response = ask(server, source, "text", mock={"text": "lorem", "seed": 5})
    events = events_of(response.content)
    assert events[-1] == "[DONE]" and all(set(event) == {"content"} for event in events[:-1])
    completion, _ = results.outcome(test_id)
    deltas = [
        e.delta
        for e in core.iter_events([results.upstream(test_id)])
        if e.type == "content.delta" and e.choice_index == 0
    ]
    assert [event["content"] for event in events[:-1]] == deltas  # one event per delta
    assert "".join(deltas) == content_of(completion) == content_of(core.fold(results.upstream(test_id)))


def test_text_mode_coalesces_deltas(server: MockServer, results: Results, core: SimpleNamespace) -> None:
    test_id, response = ask(server, "client", "text", mock={"output_tokens": 23}, coalesce=[5, 60.0])
    events = events_of(response.content)
    completion, _ = results.outcome(test_id)
    texts = [event["content"] for event in events[:-1]]
    # 23 deltas in batches of 5 (the delay never passes): four full batches, and three at the end
    assert len(texts) == 5 and "".join(texts) == content_of(completion)
    expected = [e.delta for e in core.iter_events([results.upstream(test_id)]) if e.type == "content.delta"]
    assert len(expected) == 23 and texts[0] == "".join(expected[:5]) and texts[-1] == "".join(expected[20:])


def test_a_coalesced_batch_goes_out_on_time_while_the_upstream_is_idle(server: MockServer, results: Results) -> None:
    # 4 chunks (a role, then 3 words) and nothing more: only the batch's timer can send them
    test_id = f"t{next(_IDS)}"
    body = {
        "id": test_id,
        "source": "client",
        "mode": "text",
        "mock": {"stall_after": 4},
        "coalesce": [100, 0.05],
        "keepalive": None,
    }
    received = b""
    with httpx.stream("POST", url(server), json=body, timeout=30) as response:
        for piece in response.iter_raw():
            received += piece
            if "".join(event["content"] for event in events_of(received)) == "alpha beta gamma":
                break
    assert len(events_of(received)) < 3  # coalesced
    assert isinstance(results.outcome(test_id)[1], ClientDisconnected)


@pytest.mark.parametrize("source", SOURCES)
def test_events_mode_sends_the_fold_events_then_the_completion(
    server: MockServer, results: Results, core: SimpleNamespace, source: str
) -> None:
    from streamfold._records import event_record

    test_id, response = ask(server, source, "events", mock={"tool_calls": 1, "n": 2, "seed": 6})
    events = events_of(response.content)
    completion, _ = results.outcome(test_id)
    expected = [
        orjson.loads(orjson.dumps(event_record(e)))
        for e in core.iter_events([results.upstream(test_id)])
        if e.type != "chunk"
    ]
    assert events[:-2] == expected
    assert {e["type"] for e in expected} >= {"tool_calls.function.arguments.done", "content.done"}
    _, chunks = folded_so_far(core, results.upstream(test_id))
    assert events[-2] == {"type": "completion", "completion": orjson.loads(orjson.dumps(completion)), "chunks": chunks}
    assert events[-1] == "[DONE]"


def folded_so_far(core: SimpleNamespace, body: bytes) -> tuple[dict[str, Any], int]:
    """The snapshot of ``body`` folded by ``core``, and its number of chunks."""
    acc = core.ChatAccumulator()
    acc.feed(body)
    return acc.snapshot(), acc.chunks


@pytest.mark.parametrize("mode", ["passthrough", "text", "events"])
@pytest.mark.parametrize("source", ["client", "bytes"])
def test_browser_disconnect_cancels_the_upstream_and_keeps_the_partial(
    server: MockServer, results: Results, core: SimpleNamespace, source: str, mode: str
) -> None:
    # the mock sends 6 chunks and then nothing, until its client leaves: only the relay's
    # reaction to the browser leaving can end that upstream request
    disconnects = server.app.stats.disconnects
    test_id = f"t{next(_IDS)}"
    body = {"id": test_id, "source": source, "mode": mode, "mock": {"stall_after": 6}}
    # what the 6 chunks (a role chunk, then a word each) make in each mode
    events_before_the_stall = {"passthrough": 6, "text": 5, "events": 5}[mode]
    received = b""
    with httpx.stream("POST", url(server), json=body, timeout=30) as response:
        for piece in response.iter_raw():
            received += piece
            if received.count(b"\n\n") >= events_before_the_stall:
                break
    completion, error = results.outcome(test_id)
    assert isinstance(error, ClientDisconnected) and error.partial == completion
    assert completion == folded_so_far(core, results.upstream(test_id))[0]
    assert completion["choices"][0]["finish_reason"] is None
    assert content_of(completion) == "alpha beta gamma alpha beta"
    wait_until(lambda: server.app.stats.disconnects == disconnects + 1)


def test_keepalive_comments_on_idle_between_events(server: MockServer, results: Results) -> None:
    test_id = f"t{next(_IDS)}"
    body = {"id": test_id, "source": "client", "mode": "passthrough", "mock": {"stall_after": 3}, "keepalive": 0.05}
    received = b""
    with httpx.stream("POST", url(server), json=body, timeout=30) as response:
        for piece in response.iter_raw():
            received += piece
            if received.count(_wire.KEEPALIVE) >= 2:
                break
    # the comments came between events only (or first, if the upstream was slow to answer)
    parts = received.split(_wire.KEEPALIVE)
    assert len(parts) >= 3 and all(part == b"" or part.endswith(b"\n\n") for part in parts[:-1])
    assert b"".join(parts) == results.upstream(test_id)
    assert isinstance(results.outcome(test_id)[1], ClientDisconnected)


@pytest.mark.parametrize("mode", ["passthrough", "text", "events"])
def test_an_error_before_the_body_is_an_error_status(server: MockServer, results: Results, mode: str) -> None:
    test_id, response = ask(server, "client", mode, mock={"status": 500})
    assert response.status_code == 502 and response.headers["content-type"] == "application/json"
    assert response.json() == {"error": {"message": "mock status 500", "type": "upstream_status", "status_code": 500}}
    completion, error = results.outcome(test_id)
    assert completion is None and isinstance(error, streamfold.APIStatusError) and error.status_code == 500


@pytest.mark.parametrize("mode", ["passthrough", "text", "events"])
@pytest.mark.parametrize("source", SOURCES)
def test_an_error_in_the_stream_is_the_last_event_and_nothing_is_lost(
    server: MockServer, results: Results, core: SimpleNamespace, source: str, mode: str
) -> None:
    # the error comes in the same read as the three chunks before it
    test_id, response = ask(server, source, mode, mock={"error_after": 3, "events_per_write": 8})
    assert response.status_code == 200
    completion, error = results.outcome(test_id)
    assert isinstance(error, streamfold.StreamAPIError) and error.message == "mock error after 3 chunks"
    assert content_of(completion) == "alpha beta" and error.partial == completion
    events = events_of(response.content)
    assert "[DONE]" not in events
    upstream_error = {"message": "mock error after 3 chunks", "type": "server_error", "code": "mock_error"}
    if mode == "passthrough":  # the upstream's own error event, as it came
        assert response.content == results.upstream(test_id) and events[-1] == {"error": upstream_error}
    elif mode == "text":  # the text of the failed read is not dropped with its events
        assert events == [{"content": "alpha beta"}, {"error": upstream_error}]
    else:
        assert events == [{"type": "error", "error": upstream_error, "partial": orjson.loads(orjson.dumps(completion))}]


@pytest.mark.parametrize("mode", ["passthrough", "text", "events"])
def test_a_dropped_upstream_is_an_incomplete_stream(
    server: MockServer, results: Results, core: SimpleNamespace, mode: str
) -> None:
    test_id, response = ask(server, "client", mode, mock={"close_after": 4})
    completion, error = results.outcome(test_id)
    assert isinstance(error, streamfold.IncompleteStreamError) and content_of(completion) == "alpha beta gamma"
    last = events_of(response.content)[-1]
    error_object = last["error"]
    assert error_object["type"] == "incomplete_stream" and "after 4 chunks" in error_object["message"]
    assert "127.0.0.1" not in response.text  # the upstream's address is not told to the browser


def test_keepalive_waits_for_the_end_of_a_cut_event(server: MockServer, results: Results) -> None:
    chunk = orjson.dumps({"id": "c", "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}]})
    event = b"data: " + chunk + b"\r\n\r\n"
    cut = 9  # inside the JSON: a comment there would change the event
    pieces = [(event[:cut].decode(), 0.0), (event[cut:].decode(), 0.3), ("data: [DONE]\n\n", 0.3)]
    test_id, response = ask(
        server, "script", "passthrough", mock={"pieces": pieces}, keepalive=0.02, plain_callback=True
    )
    parts = response.content.split(_wire.KEEPALIVE)
    assert len(parts) > 2, "no keep-alive comment while the source was idle"
    assert all(part == b"" or part.endswith((b"\n\n", b"\r\n\r\n")) for part in parts[:-1])
    assert b"".join(parts) == results.upstream(test_id)
    completion, error = results.outcome(test_id)
    assert error is None and content_of(completion) == "hi"


def test_two_hundred_concurrent_relays_lose_nothing(server: MockServer, results: Results) -> None:
    kinds = [(source, mode) for source in SOURCES for mode in ("passthrough", "text", "events")]

    async def one(number: int) -> tuple[str, str, bytes]:
        source, mode = kinds[number % len(kinds)]
        test_id = f"many{number}"
        body = {
            "id": test_id,
            "source": source,
            "mode": mode,
            "mock": {"text": "lorem", "output_tokens": 30, "itl": 0.002, "seed": number},
        }
        status, content = await post_on_its_own_connection(server.port, orjson.dumps(body))
        assert status == 200
        return test_id, mode, content

    async def run() -> list[tuple[str, str, bytes]]:
        return await asyncio.gather(*(one(number) for number in range(200)))

    answers = asyncio.run(run())
    contents = set()
    for test_id, mode, body in answers:
        completion, error = results.outcome(test_id)
        assert error is None
        upstream = results.upstream(test_id)
        assert completion == streamfold.fold(upstream) and completion["usage"]["completion_tokens"] == 30
        events = events_of(body)
        if mode == "passthrough":
            assert body == upstream
        elif mode == "text":
            assert "".join(event["content"] for event in events[:-1]) == content_of(completion)
        else:
            assert events[-2]["completion"] == orjson.loads(orjson.dumps(completion))
        contents.add(content_of(completion))
    assert len(contents) == 200  # every seed its own answer: no stream got another's bytes


async def post_on_its_own_connection(port: int, body: bytes) -> tuple[int, bytes]:
    """``POST /relay`` on a connection of its own, read whole (h11 over asyncio: httpx's pool
    costs grow with the square of the requests in flight, and this test is about the server)."""
    import h11

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    connection = h11.Connection(h11.CLIENT)
    headers = [
        ("host", "127.0.0.1"),
        ("content-type", "application/json"),
        ("content-length", str(len(body))),
        ("connection", "close"),
    ]
    writer.write(
        connection.send(h11.Request(method="POST", target="/relay", headers=headers))
        + connection.send(h11.Data(data=body))
        + connection.send(h11.EndOfMessage())
    )
    status, parts = 0, []
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            connection.receive_data(await reader.read(65536))
        elif isinstance(event, h11.Response):
            status = event.status_code
        elif isinstance(event, h11.Data):
            parts.append(bytes(event.data))
        elif isinstance(event, h11.EndOfMessage):
            break
    writer.close()
    await writer.wait_closed()
    return status, b"".join(parts)


def test_bad_arguments() -> None:
    async def pieces() -> AsyncIterator[bytes]:
        yield b""

    with pytest.raises(TypeError, match="aiter_bytes"):
        relay([b"data: [DONE]\n\n"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mode must be one of passthrough, text, events"):
        relay(pieces(), "json")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="text"):
        relay(pieces(), "events", coalesce=Coalescer())
    with pytest.raises(ValueError, match="keepalive"):
        relay(pieces(), keepalive=0)


@pytest.mark.parametrize(
    ("tail", "between"),
    [
        (b"", True),
        (b"data: x\n\n", True),
        (b"x\r\n\r\n", True),
        (b"x\r\r", True),
        (b"x\n\r\n", True),
        (b"data: x\n", False),
        (b"data: x", False),
        (b"x\r\n", False),
        (b"\r", False),
    ],
)
def test_where_a_comment_may_go(tail: bytes, between: bool) -> None:
    assert _wire.ends_an_event(tail[-4:]) is between


@pytest.mark.parametrize("kind", ["client", "openai"])
def test_a_stream_gives_its_bytes_and_still_folds(server: MockServer, core: SimpleNamespace, kind: str) -> None:
    """The hook the relay reads: ``aiter_bytes()`` of the client's and the drop-in's streams."""
    request = {"model": "m", "messages": MESSAGES}

    async def run(settings: dict[str, Any]) -> tuple[bytes, Any]:
        pieces: list[bytes] = []
        if kind == "client":
            async with streamfold.AsyncClient(base_url=server.base_url, max_retries=0) as client:
                async with client.stream_chat(**request, mock=settings) as stream:
                    try:
                        async for piece in stream.aiter_bytes():
                            pieces.append(piece)
                    except streamfold.StreamError as exc:
                        return b"".join(pieces), exc
                    return b"".join(pieces), (await stream.result(), stream.stats.chunks)
        import openai

        from streamfold.openai import astream_chat

        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="test", max_retries=0) as client:
            async with astream_chat(client, **request, extra_body={"mock": settings}) as dropin:
                try:
                    async for piece in dropin.aiter_bytes():
                        pieces.append(piece)
                except streamfold.StreamError as exc:
                    return b"".join(pieces), exc
                final = await dropin.get_final_completion()
                return b"".join(pieces), (final.choices[0].message.content, None)

    body, (folded, chunks) = asyncio.run(run({"split_writes": True}))
    assert body.endswith(b"data: [DONE]\n\n")
    direct = core.fold(body)
    if kind == "client":
        assert folded == direct and chunks == folded_so_far(core, body)[1]
    else:
        assert folded == content_of(direct)
    body, error = asyncio.run(run({"error_after": 3}))
    assert b"mock error after 3 chunks" in body  # the bad piece was given before its error was raised
    assert isinstance(error, streamfold.StreamAPIError) and content_of(error.partial) == "alpha beta"


EXAMPLE = ROOT / "examples" / "relay_fastapi.py"


def test_the_fastapi_example_streams_and_saves_every_answer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """examples/relay_fastapi.py (the README's example), its route served by uvicorn, its
    upstream a mock whose first answer stalls after 3 chunks: that one is left half way,
    the next read whole, and both are saved."""
    pytest.importorskip("fastapi")
    with MockServer(MockConfig(output_tokens=24, text=WORDS, stall_after=3, fault_times=1)) as upstream:
        monkeypatch.setenv("OPENAI_BASE_URL", upstream.base_url)
        monkeypatch.setenv("ANSWERS_DB", str(tmp_path / "answers.db"))
        monkeypatch.setenv("MODEL", "mock-model")
        spec = importlib.util.spec_from_file_location("relay_fastapi", EXAMPLE)
        assert spec is not None and spec.loader is not None
        example = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(example)

        def rows() -> list[tuple[Any, ...]]:
            return list(example.database.execute("SELECT * FROM answers"))

        with MockServer(wrap=lambda _: example.app) as app:
            chat = f"http://127.0.0.1:{app.port}/chat"
            with httpx.stream("POST", chat, json={"question": "And a lake?"}, timeout=30) as stream:
                next(stream.iter_raw())
            wait_until(lambda: len(rows()) == 1)
            response = httpx.post(chat, json={"question": "What is a river?"}, timeout=30)
            texts = [event["content"] for event in events_of(response.content)[:-1]]
            wait_until(lambda: len(rows()) == 2)
        assert upstream.app.stats.last_body["model"] == "mock-model"
    example.database.close()
    question, partial, finish, error = _saved(tmp_path)[0]
    assert (question, partial, finish) == ("And a lake?", "alpha beta", None)
    assert error.startswith("ClientDisconnected(")
    answer = "alpha beta gamma " * 7 + "alpha beta gamma"
    assert "".join(texts) == answer and 1 < len(texts) < 24  # coalesced, not one event per token
    assert _saved(tmp_path)[1] == ("What is a river?", answer, "stop", None)


def _saved(tmp_path: Path) -> list[tuple[Any, ...]]:
    import sqlite3

    with contextlib.closing(sqlite3.connect(tmp_path / "answers.db")) as database:
        return list(database.execute("SELECT * FROM answers"))


def test_the_readme_shows_the_example() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Serving a web page") :]
    assert block_of(section, "python").count("\n") > 10 and block_of(section, "python") in EXAMPLE.read_text()
    commands = block_of(section, "sh").splitlines()
    assert commands and all(line in EXAMPLE.read_text() for line in commands)  # the docstring has them


def block_of(text: str, language: str) -> str:
    """The first fenced code block of ``language`` in ``text``."""
    start = text.index(f"```{language}\n") + len(f"```{language}\n")
    return text[start : text.index("```\n", start)]
