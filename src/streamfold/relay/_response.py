"""``RelayResponse``: an upstream chat stream forwarded to the browser while it is folded.

The upstream is read by a task of its own (the pump: read, fold, write) while the request's
task watches the browser (a disconnect cancels the pump, which closes the upstream) and
the clock (keep-alive comments on idle, coalesced text that is due).  Writes go through
one lock, so a comment or a timed batch never lands inside another write.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Mapping
from typing import Any, Literal

import orjson
from starlette.background import BackgroundTask
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from .._coalesce import Coalescer
from .._contract import DEFAULT_MAX_EVENT_BYTES
from .._errors import StreamAPIError, StreamError
from .._events import ChatEvent
from .._impl import ChatAccumulator
from .._records import event_record
from ._source import Source, check_source, opened
from ._wire import (
    DONE,
    KEEPALIVE,
    ClientDisconnected,
    data_event,
    ends_an_event,
    error_object,
    expected,
    failure_status,
)

Mode = Literal["passthrough", "text", "events"]
MODES: tuple[Mode, ...] = ("passthrough", "text", "events")
#: ``on_complete(completion, error)``: a plain function or a coroutine function.
OnComplete = Callable[[Any, Any], object]
#: Seconds without a write after which a keep-alive comment is sent.
DEFAULT_KEEPALIVE = 15.0

logger = logging.getLogger("streamfold.relay")


class RelayResponse(Response):
    """A response that forwards ``source`` to the browser as it arrives, folding it
    (``relay(...)`` is this class).  A Starlette response, which a FastAPI or Starlette route
    returns, and an ASGI app (``await response(scope, receive, send)``); it is sent once.

    ``source``: ``AsyncClient.stream_chat(...)`` or ``streamfold.openai.astream_chat(...)``
    not yet entered (the relay sends its request as the response is being sent, and closes
    it), an httpx response opened with ``stream=True``, or any async iterable of bytes.

    ``mode``: ``"passthrough"`` sends the upstream bytes unchanged; ``"text"`` sends
    ``data: {"content": "..."}`` for each piece of the answer's text (the first choice's),
    then ``data: [DONE]``; ``"events"`` sends each streamfold event as JSON (``{"type":
    "content.delta", "choice_index": 0, "delta": "..."}``, every type but ``chunk``), then
    ``{"type": "completion", "completion": {...}, "chunks": N}`` and ``data: [DONE]``.
    ``coalesce`` (text mode): a ``Coalescer`` joining deltas into fewer events.

    The response is ``text/event-stream`` with ``cache-control: no-cache``, started at the
    first bytes to send, with a ``: keep-alive`` comment after ``keepalive`` seconds
    without a write (between events only; None: never).  A failure before any chunk came
    is answered with status 502 (504 for a timeout) and ``{"error": {"message",
    "type"}}``; after that, with that object as a last event (text: ``{"error": ...}``;
    events: ``{"type": "error", "error": ..., "partial": ...}``; passthrough: as text
    mode, unless the upstream sent its own error or was cut inside an event), and no
    ``[DONE]``.

    ``on_complete(completion, error)``, a function or a coroutine function, is called
    once after the last write: with the folded completion and None, or with the partial
    completion (None if no chunk came) and the error: the stream's (a ``StreamError``,
    ``.partial`` set), the upstream's (``streamfold.APIError``), or ``ClientDisconnected``
    when the browser went away.  ``background`` runs after it (FastAPI sets its own).
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        source: Source,
        mode: Mode = "passthrough",
        *,
        on_complete: OnComplete | None = None,
        coalesce: Coalescer | None = None,
        keepalive: float | None = DEFAULT_KEEPALIVE,
        headers: Mapping[str, str] | None = None,
        max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES,
        parse_partial_arguments: bool = False,
        background: BackgroundTask | None = None,
    ) -> None:
        check_source(source)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if coalesce is not None and mode != "text":
            raise ValueError("coalesce= applies to mode='text' only")
        if keepalive is not None and keepalive <= 0:
            raise ValueError(f"keepalive must be > 0 seconds (or None), got {keepalive}")
        self.source = source
        self.mode = mode
        self.on_complete = on_complete
        self.coalesce = coalesce
        self.keepalive = keepalive
        self.max_event_bytes = max_event_bytes
        self.parse_partial_arguments = parse_partial_arguments
        self.status_code = 200
        self.background = background
        self.init_headers({"cache-control": "no-cache", "x-accel-buffering": "no", **(headers or {})})
        self._sent = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._sent:
            raise RuntimeError("a RelayResponse can be sent only once (its upstream is read as it is sent)")
        self._sent = True
        await _Relay(self, send).run(receive)
        if self.background is not None:
            await self.background()


class _Relay:
    """One relay in progress."""

    def __init__(self, response: RelayResponse, send: Send) -> None:
        self._response = response
        self._mode = response.mode
        self._send = send
        self._acc = ChatAccumulator(
            max_event_bytes=response.max_event_bytes, parse_partial_arguments=response.parse_partial_arguments
        )
        self._coalescer = response.coalesce
        self._keepalive = response.keepalive
        self._loop = asyncio.get_running_loop()
        self._lock = asyncio.Lock()
        self._started = False  # http.response.start sent
        self._ended = False  # the last body message sent
        self._tail = b""  # the last bytes sent: a keep-alive comment goes only between events
        self._last_write = self._loop.time()
        self._completion: dict[str, Any] | None = None
        self._text_out = 0  # text mode: characters of the answer sent or waiting in the coalescer
        #: set by the pump when a coalesced batch begins: the watcher's timer must be set sooner
        self._new_deadline: asyncio.Future[None] = self._loop.create_future()

    # -- the request's task: watching ---------------------------------------------------------

    async def run(self, receive: Receive) -> None:
        pump = asyncio.ensure_future(self._pump())
        gone = asyncio.ensure_future(_disconnected(receive))
        try:
            error = await self._watch(pump, gone)
            if error is not None and not isinstance(error, ClientDisconnected):
                await self._fail(error)
        except asyncio.CancelledError as exc:  # the server is stopping: still nothing lost
            await _stop(pump)
            await self._complete(exc)
            raise
        finally:
            gone.cancel()
        await self._complete(error)

    async def _watch(self, pump: asyncio.Future[None], gone: asyncio.Future[None]) -> BaseException | None:
        """Wait for the pump to end (its error, or None), or the browser to leave."""
        while True:
            await asyncio.wait(
                (pump, gone, self._new_deadline), timeout=self._next_timer(), return_when=asyncio.FIRST_COMPLETED
            )
            if pump.done():
                return pump.exception()
            if self._new_deadline.done():
                self._new_deadline = self._loop.create_future()
                continue
            if not gone.done():
                try:
                    await self._on_timer()
                    continue
                except ClientDisconnected:  # the timer's write found the browser gone
                    pass
            await _stop(pump)  # closes the upstream, at once
            return ClientDisconnected(f"the client went away after {self._acc.chunks} chunks")

    def _next_timer(self) -> float | None:
        waits = []
        if self._keepalive is not None:
            waits.append(self._last_write + self._keepalive - self._loop.time())
        coalescer = self._coalescer
        if coalescer is not None and coalescer.deadline is not None:
            waits.append(coalescer.deadline - coalescer.clock())
        return max(0.0, min(waits)) if waits else None

    async def _on_timer(self) -> None:
        async with self._lock:
            if self._ended:
                return
            batch = self._coalescer.due() if self._coalescer is not None else None
            if batch:
                await self._write(data_event({"content": batch}))
            elif self._keepalive is not None and self._loop.time() - self._last_write >= self._keepalive:
                if ends_an_event(self._tail):
                    await self._write(KEEPALIVE)
                else:  # inside an upstream event (passthrough): try again an interval later
                    self._last_write = self._loop.time()

    # -- the pump's task: reading, folding, writing -------------------------------------------

    async def _pump(self) -> None:
        passthrough = self._mode == "passthrough"
        async with opened(self._response.source) as pieces:
            async for piece in pieces:
                if passthrough:  # the bytes go out first, unchanged; a bad piece too
                    async with self._lock:
                        await self._write(piece)
                    self._acc.feed(piece)
                    continue
                events = self._acc.feed_events(piece)
                async with self._lock:
                    data = self._encode(events)
                    if data:
                        await self._write(data)
        self._completion = self._acc.result()
        async with self._lock:
            await self._write(self._ending(self._completion), more=False)

    def _encode(self, events: list[ChatEvent]) -> bytes:
        if self._mode == "events":
            return b"".join(data_event(event_record(event)) for event in events if event.type != "chunk")
        parts = []
        coalescer = self._coalescer
        for event in events:
            if event.type == "content.delta" and event.choice_index == 0:
                delta: str = event.delta  # type: ignore[attr-defined]
                self._text_out += len(delta)
                text = delta if coalescer is None else coalescer.add(delta)
                if text:
                    parts.append(data_event({"content": text}))
                elif coalescer is not None and coalescer.pending == 1 and not self._new_deadline.done():
                    self._new_deadline.set_result(None)
        return b"".join(parts)

    def _ending(self, completion: dict[str, Any]) -> bytes:
        if self._mode == "text":
            return self._pending_text() + DONE
        if self._mode == "events":
            return data_event({"type": "completion", "completion": completion, "chunks": self._acc.chunks}) + DONE
        return b""  # passthrough: the upstream's own [DONE] has gone out

    def _pending_text(self) -> bytes:
        rest = self._coalescer.flush() if self._coalescer is not None else ""
        return data_event({"content": rest}) if rest else b""

    async def _write(self, data: bytes, *, more: bool = True) -> None:
        """Send body bytes (starting the response first); the lock is held."""
        try:
            if not self._started:
                self._started = True
                await self._send(
                    {
                        "type": "http.response.start",
                        "status": self._response.status_code,
                        "headers": self._response.raw_headers,
                    }
                )
            await self._send({"type": "http.response.body", "body": data, "more_body": more})
        except OSError as exc:  # an ASGI server that raises on a closed connection
            raise ClientDisconnected(f"the client went away after {self._acc.chunks} chunks") from exc
        self._ended = not more
        self._last_write = self._loop.time()
        if data:
            self._tail = (self._tail + data)[-4:]

    # -- the end --------------------------------------------------------------------------------

    async def _fail(self, error: BaseException) -> None:
        """Tell the browser: an error status when no chunk came (nothing was sent), else an
        error event after what is left to send."""
        async with self._lock:
            if self._ended:
                return
            pending = self._pending_text() + self._unsent_text() if self._mode == "text" else b""
            try:
                if not self._started and not self._acc.chunks:
                    await self._error_response(error)
                else:
                    await self._write(pending + self._error_event(error), more=False)
            except ClientDisconnected:
                pass

    def _unsent_text(self) -> bytes:
        """The answer's text folded but not sent: the fold drops the events of a read that
        fails, not what that read held before the failure."""
        partial = self._partial()
        first = next((choice for choice in partial["choices"] if choice["index"] == 0), None) if partial else None
        content = first["message"].get("content") if first else None
        if isinstance(content, str) and len(content) > self._text_out:
            return data_event({"content": content[self._text_out :]})
        return b""

    def _partial(self) -> dict[str, Any] | None:
        return self._acc.snapshot() if self._acc.chunks else None

    def _error_event(self, error: BaseException) -> bytes:
        if self._mode == "events":  # the events of the failed read are dropped, but not the partial
            return data_event({"type": "error", "error": error_object(error), "partial": self._partial()})
        if self._mode == "text":
            return data_event({"error": error_object(error)})
        # passthrough: an upstream's error event has gone out as it came; after a cut-off
        # event nothing can be added without changing it
        if isinstance(error, StreamAPIError) or not ends_an_event(self._tail):
            return b""
        return data_event({"error": error_object(error)})

    async def _error_response(self, error: BaseException) -> None:
        body = orjson.dumps({"error": error_object(error)})
        self._started = True
        await self._send(
            {
                "type": "http.response.start",
                "status": failure_status(error),
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"no-cache"),
                ],
            }
        )
        await self._send({"type": "http.response.body", "body": body})
        self._ended = True

    async def _complete(self, error: BaseException | None) -> None:
        """``on_complete``, once: the completion, or what had arrived and the error."""
        completion = self._completion
        if error is not None:
            completion = self._partial()
            if isinstance(error, StreamError) and error.partial is None:
                error.partial = completion
            _log(error, self._acc.chunks)
        on_complete = self._response.on_complete
        if on_complete is not None:
            outcome = on_complete(completion, error)
            if inspect.isawaitable(outcome):
                await outcome


def _log(error: BaseException, chunks: int) -> None:
    if isinstance(error, ClientDisconnected):
        logger.info("relay: %s", error)
    elif expected(error):
        logger.warning("relay: the stream failed after %d chunks: %s", chunks, error)
    elif not isinstance(error, asyncio.CancelledError):
        logger.error("relay: unexpected error after %d chunks", chunks, exc_info=error)


async def _disconnected(receive: Receive) -> None:
    """Return when the client goes away (the request's body, if unread, is skipped)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _stop(task: asyncio.Future[None]) -> None:
    """Cancel a task and wait for it to end, whatever it ends with."""
    task.cancel()
    await asyncio.wait((task,))
    if not task.cancelled():
        task.exception()  # retrieved: nobody else will
