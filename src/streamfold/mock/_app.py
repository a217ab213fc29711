"""The mock OpenAI-compatible server: a plain ASGI application (no framework).

``POST /v1/chat/completions`` (streaming or not) and ``GET /v1/models``.  The server's
``MockConfig`` can be overridden per request by a JSON object in the
``x-streamfold-mock`` header or in a ``mock`` member of the request body.
``MockApp.stats`` counts requests, finished streams and client disconnects, so tests can
see what the server saw.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import random
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from ._config import CONFIG_FIELD, CONFIG_HEADER, MockConfig
from ._generate import (
    DEFAULT_MODEL,
    DONE,
    KEEPALIVE,
    completion_chunks,
    encode,
    split_point,
)
from ._providers import SHAPES

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class DroppedConnection(Exception):
    """Raised inside the app to make the ASGI server drop the connection mid-body."""


@dataclass
class MockStats:
    """What the server has seen (counters only grow)."""

    requests: int = 0
    streams_started: int = 0
    streams_finished: int = 0
    disconnects: int = 0
    #: the last chat request: its headers (lower-case names) and its JSON body
    last_headers: dict[str, str] = field(default_factory=dict)
    last_body: Any = None


class MockApp:
    """ASGI app answering like an OpenAI-compatible server, per ``MockConfig``."""

    def __init__(self, config: MockConfig | None = None) -> None:
        self.config = config or MockConfig()
        self.stats = MockStats()
        self._faults_served: collections.Counter[MockConfig] = collections.Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        self.stats.requests += 1
        path, method = scope["path"], scope["method"]
        if path.rstrip("/").endswith("/chat/completions"):
            if method != "POST":
                await _json(send, 405, _error("method not allowed", "invalid_request_error"))
                return
            await self._chat(scope, receive, send)
        elif path.rstrip("/").endswith("/models") and method == "GET":
            await _json(send, 200, {"object": "list", "data": [
                {"id": self.config.model or DEFAULT_MODEL, "object": "model", "created": 0, "owned_by": "streamfold"}
            ]})
        else:
            await _json(send, 404, _error(f"no route for {method} {path}", "invalid_request_error"))

    async def _chat(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_body(receive)
        try:
            request = orjson.loads(body) if body else {}
            if not isinstance(request, dict):
                raise ValueError("the request body must be a JSON object")
            self.stats.last_headers = {name.decode("latin-1").lower(): value.decode("latin-1")
                                       for name, value in scope.get("headers") or []}
            self.stats.last_body = request
            config = self.config.merged(_overrides(scope, request))
        except (ValueError, TypeError) as exc:
            await _json(send, 400, _error(str(exc), "invalid_request_error"))
            return
        config = self._this_time(config)
        if config.status != 200:
            headers = [] if config.retry_after is None else [(b"retry-after", str(config.retry_after).encode())]
            await _json(send, config.status, _error(f"mock status {config.status}", "mock_error"), headers)
            return
        chunks = completion_chunks(config, request)
        if not request.get("stream"):
            await _json(send, 200, _whole(chunks))
            return
        await self._stream(config, chunks, receive, send)

    def _this_time(self, config: MockConfig) -> MockConfig:
        """The config without its faults once they have hit ``fault_times`` requests."""
        if config.fault_times is None:
            return config
        self._faults_served[config] += 1
        if self._faults_served[config] <= config.fault_times:
            return config
        return dataclasses.replace(config, status=200, retry_after=None, error_after=None, close_after=None,
                                   stall_after=None)

    async def _stream(self, config: MockConfig, chunks: list[dict[str, Any]], receive: Receive, send: Send) -> None:
        self.stats.streams_started += 1
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache"),
        ]})
        gone = asyncio.Event()
        watcher = asyncio.ensure_future(_watch_disconnect(receive, gone))
        rng = random.Random(config.seed)
        try:
            preamble = SHAPES[config.provider].preamble
            pending: list[bytes] = [preamble] if preamble else []
            for number, item in enumerate(chunks):
                if gone.is_set():
                    break
                if number == config.stall_after:
                    await gone.wait()  # send nothing more until the client leaves
                    break
                if number == config.close_after:
                    await self._write(send, pending, config)
                    raise DroppedConnection(f"mock: connection dropped after {number} chunks")
                if number == config.error_after:
                    pending.append(encode({"error": {"message": f"mock error after {number} chunks",
                                                     "type": "server_error", "code": "mock_error"}}))
                    await self._write(send, pending, config)
                    await send({"type": "http.response.body", "body": b""})
                    return
                delay = config.ttft if number == 0 else config.itl
                if delay:
                    await self._write(send, pending, config)
                    pending = []
                    await _sleep(delay * (1 + config.jitter * (2 * rng.random() - 1)), gone)
                if config.keepalive_every and number and number % config.keepalive_every == 0:
                    pending.append(KEEPALIVE)
                pending.append(encode(item))
                if len(pending) >= config.events_per_write:
                    await self._write(send, pending, config)
                    pending = []
            else:
                pending.append(DONE)
                await self._write(send, pending, config)
                await send({"type": "http.response.body", "body": b""})
                self.stats.streams_finished += 1
        finally:
            watcher.cancel()
            if gone.is_set():
                self.stats.disconnects += 1

    @staticmethod
    async def _write(send: Send, pending: list[bytes], config: MockConfig) -> None:
        if not pending:
            return
        data = b"".join(pending)
        pending.clear()
        parts = [data]
        if config.split_writes and len(data) > 1:
            cut = split_point(data)
            parts = [data[:cut], data[cut:]]
        for part in parts:
            await send({"type": "http.response.body", "body": part, "more_body": True})


def _whole(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """The non-streaming answer: the stream folded by streamfold itself."""
    from .._api import fold

    return fold(b"".join(encode(chunk) for chunk in chunks) + DONE)


def _overrides(scope: Scope, request: dict[str, Any]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for name, value in scope.get("headers") or []:
        if name.decode("latin-1").lower() == CONFIG_HEADER:
            parsed = orjson.loads(value)
            if not isinstance(parsed, dict):
                raise ValueError(f"{CONFIG_HEADER} must be a JSON object")
            overrides.update(parsed)
    field = request.pop(CONFIG_FIELD, None)
    if field is not None:
        if not isinstance(field, dict):
            raise ValueError(f"the {CONFIG_FIELD!r} member must be a JSON object")
        overrides.update(field)
    return overrides


async def _read_body(receive: Receive) -> bytes:
    parts = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        parts.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(parts)


async def _watch_disconnect(receive: Receive, gone: asyncio.Event) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            gone.set()
            return


async def _sleep(seconds: float, gone: asyncio.Event) -> None:
    """Sleep, waking early if the client leaves."""
    try:
        await asyncio.wait_for(gone.wait(), timeout=max(0.0, seconds))
    except asyncio.TimeoutError:
        pass


def _error(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


async def _json(send: Send, status: int, payload: Any, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = orjson.dumps(payload)
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *(headers or []),
    ]})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
