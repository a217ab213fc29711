"""The mock OpenAI-compatible server: a plain ASGI application (no framework).

``POST /v1/chat/completions`` (streaming or not), ``GET /v1/models``, ``GET /mock/requests``
(the request log, as JSON: what tests measure achieved rates from) and ``GET /mock/pacing``
(how late the paced writes went out against their schedule).  The server's
``MockConfig`` can be overridden per request by a JSON object in the
``x-streamfold-mock`` header or in a ``mock`` member of the request body.
``MockApp.stats`` counts requests, finished streams and client disconnects, and
``MockApp.requests`` logs every chat request (``LoggedRequest``), so tests can see what the
server saw.  Every chat answer has an ``x-request-id``.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import random
import time
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
    delays,
    encode,
    split_point,
    usage_of,
)
from ._pacer import Lateness, Pacer
from ._providers import SHAPES
from ._ratelimit import RateLimits

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


@dataclass(frozen=True)
class LoggedRequest:
    """One chat request as the server saw it: when it arrived (``time.monotonic()`` of the
    server's process), its ``x-request-id``, the request's ``user`` member (a batch can put
    its custom_id there), the status answered, and the tokens of its answer (as the mock
    counts usage; 0 when refused)."""

    arrived: float
    request_id: str
    user: str | None
    status: int
    prompt_tokens: int
    completion_tokens: int


#: Chat requests the log keeps (the most recent ones).
REQUEST_LOG_SIZE = 100_000
#: Answers kept encoded, by request shape (the most recently used ones).
CACHED_ANSWERS = 256
#: Sleeps at least this long wake early when the client leaves (shorter ones just end).
LONG_SLEEP_S = 0.05


Write = dict[str, Any]  # one prebuilt ASGI body message


@dataclass(frozen=True)
class Answer:
    """One request shape's answer, encoded once: every chunk as an event, and (when the
    answer has no fault, comment or cut write) the whole body as its writes, each an ASGI
    message with the delay to wait before it."""

    events: list[bytes]
    delays: list[float]  # the wait before each event
    plan: list[tuple[float, Write]] | None


#: The ASGI scope's key for when the request began to arrive (``time.monotonic()``).
RECEIVED = "streamfold.received"


class MockApp:
    """ASGI app answering like an OpenAI-compatible server, per ``MockConfig``."""

    def __init__(self, config: MockConfig | None = None) -> None:
        self.config = config or MockConfig()
        self.stats = MockStats()
        self._faults_served: collections.Counter[MockConfig] = collections.Counter()
        self._answers: collections.OrderedDict[tuple[Any, ...], Answer] = collections.OrderedDict()
        self._paced_on: asyncio.AbstractEventLoop | None = None
        self._paced_by: Pacer | None = None
        #: how late the paced writes went out against their schedule (GET /mock/pacing)
        self.lateness = Lateness()
        #: the chat requests, oldest first (at most ``REQUEST_LOG_SIZE``)
        self.requests: collections.deque[LoggedRequest] = collections.deque(maxlen=REQUEST_LOG_SIZE)
        self._limits = RateLimits(self.config.rate_limit_requests, self.config.rate_limit_tokens)
        self._numbered = 0

    def _pacer(self) -> Pacer:
        """The pacer of the running loop (made on first use; a new loop gets a new one)."""
        loop = asyncio.get_running_loop()
        if self._paced_on is not loop:
            self.close()
            self._paced_on, self._paced_by = loop, Pacer(loop, self.lateness, busy_wait=self.config.busy_wait)
        assert self._paced_by is not None
        return self._paced_by

    def close(self) -> None:
        """Release the pacer's timer (a later stream makes a new one)."""
        if self._paced_by is not None:
            self._paced_by.close()
        self._paced_on = self._paced_by = None

    def _answer(self, config: MockConfig, request: dict[str, Any], body: bytes) -> Answer:
        """The answer to this request, from the cache when the same shape was asked before
        (same settings, same body, within the same second: ``created`` is in seconds)."""
        key = (config, body, int(time.time()))
        answer = self._answers.get(key)
        if answer is not None:
            self._answers.move_to_end(key)
            return answer
        chunks = completion_chunks(config, request)
        events = [encode(chunk) for chunk in chunks]
        waits = delays(config, chunks)
        answer = Answer(events, waits, _plan(config, events, waits) if _plain(config) else None)
        self._answers[key] = answer
        if len(self._answers) > CACHED_ANSWERS:
            self._answers.popitem(last=False)
        return answer

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
        elif path.rstrip("/") == "/mock/requests" and method == "GET":
            await _json(send, 200, {"requests": [dataclasses.asdict(entry) for entry in self.requests]})
        elif path.rstrip("/") == "/mock/pacing" and method == "GET":
            await _json(send, 200, self.lateness.summary())
        elif path.rstrip("/").endswith("/models") and method == "GET":
            await _json(
                send,
                200,
                {
                    "object": "list",
                    "data": [
                        {
                            "id": self.config.model or DEFAULT_MODEL,
                            "object": "model",
                            "created": 0,
                            "owned_by": "streamfold",
                        }
                    ],
                },
            )
        else:
            await _json(send, 404, _error(f"no route for {method} {path}", "invalid_request_error"))

    async def _chat(self, scope: Scope, receive: Receive, send: Send) -> None:
        # a paced answer's ttft counts from the request's arrival, as a real server's does: when
        # uvicorn's protocol began parsing it (see _protocol.py), else now
        received = scope.get(RECEIVED) or time.monotonic()
        body = await _read_body(receive)
        try:
            request = orjson.loads(body) if body else {}
            if not isinstance(request, dict):
                raise ValueError("the request body must be a JSON object")
            self.stats.last_headers = {
                name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope.get("headers") or []
            }
            self.stats.last_body = request
            config = self.config.merged(_overrides(scope, request))
        except (ValueError, TypeError) as exc:
            await _json(send, 400, _error(str(exc), "invalid_request_error"))
            return
        config = self._this_time(config)
        self._numbered += 1
        request_id = f"req_mock{self._numbered:08d}"
        headers = [(b"x-request-id", request_id.encode())]
        usage = usage_of(config, request)
        status, retry_after = config.status, config.retry_after
        if status == 200 and self._limits.active:
            wait = self._limits.admit(usage["prompt_tokens"] + usage["completion_tokens"])
            if wait:
                status, retry_after = 429, round(wait, 3)
            headers += self._limits.headers()
        user = request.get("user")
        counted = status == 200
        self.requests.append(
            LoggedRequest(
                arrived=received,
                request_id=request_id,
                user=user if isinstance(user, str) else None,
                status=status,
                prompt_tokens=usage["prompt_tokens"] if counted else 0,
                completion_tokens=usage["completion_tokens"] if counted else 0,
            )
        )
        if status != 200:
            if retry_after is not None:
                headers.append((b"retry-after", str(retry_after).encode()))
            message = "mock rate limit reached" if config.status == 200 else f"mock status {status}"
            await _json(send, status, _error(message, "mock_error"), headers)
            return
        answer = self._answer(config, request, body)
        if not request.get("stream"):
            await _json(send, 200, _whole(answer.events), headers)
            return
        await self._stream(config, answer, receive, send, received, headers)

    def _this_time(self, config: MockConfig) -> MockConfig:
        """The config without its faults once they have hit ``fault_times`` requests."""
        if config.fault_times is None:
            return config
        self._faults_served[config] += 1
        if self._faults_served[config] <= config.fault_times:
            return config
        return dataclasses.replace(
            config, status=200, retry_after=None, error_after=None, close_after=None, stall_after=None
        )

    async def _stream(
        self,
        config: MockConfig,
        answer: Answer,
        receive: Receive,
        send: Send,
        received: float,
        headers: list[tuple[bytes, bytes]],
    ) -> None:
        self.stats.streams_started += 1
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream; charset=utf-8"),
                    (b"cache-control", b"no-cache"),
                    *headers,
                ],
            }
        )
        gone = asyncio.Event()
        paced: asyncio.Future[bool] | None = None
        if answer.plan is not None and config.itl:
            paced = asyncio.get_running_loop().create_future()
        watcher = asyncio.ensure_future(_watch_disconnect(receive, gone, paced))
        try:
            if paced is not None and answer.plan is not None:
                self._pacer().start(
                    answer.plan, send, gone, random.Random(config.seed), config.jitter, paced, since=received
                )
                finished = await paced
            elif answer.plan is not None:
                finished = await self._send_planned(config, answer.plan, send, gone)
            else:
                finished = await self._send_paced(config, answer, send, gone)
            if finished:
                await send({"type": "http.response.body", "body": b""})
                self.stats.streams_finished += 1
        finally:
            watcher.cancel()
            if gone.is_set():
                self.stats.disconnects += 1

    @staticmethod
    async def _send_planned(
        config: MockConfig, plan: list[tuple[float, Write]], send: Send, gone: asyncio.Event
    ) -> bool:
        """The fast path (no fault, comment or cut write): the writes and the waits were
        built with the answer; per write, a sleep (when there is a delay) and a send."""
        rng = random.Random(config.seed)
        jitter = config.jitter
        sleep = asyncio.sleep
        for delay, message in plan:
            if delay:
                if jitter:
                    delay *= 1 + jitter * (2 * rng.random() - 1)
                if delay < LONG_SLEEP_S:
                    await sleep(delay)
                else:
                    await _sleep(delay, gone)
            if gone.is_set():
                return False
            await send(message)
        return True

    async def _send_paced(self, config: MockConfig, answer: Answer, send: Send, gone: asyncio.Event) -> bool:
        """Chunk by chunk: delays, keep-alive comments, split writes and faults.  True when
        the stream ended normally (a ``[DONE]`` was sent)."""
        rng = random.Random(config.seed)
        write_size = config.write_size
        preamble = SHAPES[config.provider].preamble
        pending: list[bytes] = [preamble] if preamble else []
        for number, (event, delay) in enumerate(zip(answer.events, answer.delays)):
            if gone.is_set():
                return False
            if number == config.stall_after:
                await self._write(send, pending, config)
                await gone.wait()  # send nothing more until the client leaves
                return False
            if number == config.close_after:
                await self._write(send, pending, config)
                raise DroppedConnection(f"mock: connection dropped after {number} chunks")
            if number == config.error_after:
                pending.append(
                    encode(
                        {
                            "error": {
                                "message": f"mock error after {number} chunks",
                                "type": "server_error",
                                "code": "mock_error",
                            }
                        }
                    )
                )
                await self._write(send, pending, config)
                await send({"type": "http.response.body", "body": b""})
                return False
            if delay:
                await self._write(send, pending, config)
                if config.jitter:
                    delay *= 1 + config.jitter * (2 * rng.random() - 1)
                await _sleep(delay, gone)
            if config.keepalive_every and number and number % config.keepalive_every == 0:
                pending.append(KEEPALIVE)
            pending.append(event)
            if len(pending) >= write_size:
                await self._write(send, pending, config)
        pending.append(DONE)
        await self._write(send, pending, config)
        return True

    @staticmethod
    async def _write(send: Send, pending: list[bytes], config: MockConfig) -> None:
        if not pending:
            return
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        pending.clear()
        if config.split_writes and len(data) > 1:
            cut = split_point(data)
            await send({"type": "http.response.body", "body": data[:cut], "more_body": True})
            data = data[cut:]
        await send({"type": "http.response.body", "body": data, "more_body": True})


def _plain(config: MockConfig) -> bool:
    """Whether the answer's writes can be planned when it is built: no comment, no cut
    write, no fault."""
    return (
        not config.keepalive_every
        and not config.split_writes
        and config.stall_after is None
        and config.close_after is None
        and config.error_after is None
    )


def _plan(config: MockConfig, events: list[bytes], waits: list[float]) -> list[tuple[float, Write]]:
    """The body's writes and the wait before each, grouped as ``_send_paced`` groups them:
    ``write_size`` items a write (the provider's preamble counts as one), what is pending
    written before each delay, ``[DONE]`` with the last ones."""
    plan: list[tuple[float, Write]] = []
    preamble = SHAPES[config.provider].preamble
    pending: list[bytes] = [preamble] if preamble else []
    wait = 0.0

    def flush() -> None:
        nonlocal wait
        if pending:
            plan.append((wait, {"type": "http.response.body", "body": b"".join(pending), "more_body": True}))
            pending.clear()
            wait = 0.0

    size = config.write_size
    for event, delay in zip(events, waits):
        if delay:
            flush()
            wait = delay
        pending.append(event)
        if len(pending) >= size:
            flush()
    pending.append(DONE)
    flush()
    return plan


def _whole(events: list[bytes]) -> dict[str, Any]:
    """The non-streaming answer: the stream folded by streamfold itself."""
    from .._api import fold

    return fold(b"".join(events) + DONE)


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


async def _watch_disconnect(receive: Receive, gone: asyncio.Event, paced: asyncio.Future[bool] | None) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            gone.set()
            if paced is not None and not paced.done():
                paced.set_result(False)  # the stream's task goes on at once; the pacer drops it
            return


async def _sleep(seconds: float, gone: asyncio.Event) -> None:
    """Sleep; a long sleep wakes early if the client leaves.  A short one is a plain sleep
    (waiting on the event as well costs a task and a timer per chunk: most of the server's
    CPU at a real inter-token latency); the caller checks ``gone`` right after it."""
    if seconds < LONG_SLEEP_S:
        await asyncio.sleep(max(0.0, seconds))
        return
    try:
        await asyncio.wait_for(gone.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        pass


def _error(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


async def _json(send: Send, status: int, payload: Any, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = orjson.dumps(payload)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
