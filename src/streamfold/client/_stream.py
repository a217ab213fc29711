"""A streamed chat completion: the HTTP answer's bytes read straight into a ``ChatAccumulator``.

``ChatStream`` (sync) and ``AsyncChatStream`` share everything but their I/O: opening the
request (with retries, only until the first byte of the body), reading the body, closing.
The I/O itself is the transport's (``_transport.py``): aiohttp, httpx or httpx2.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, NoReturn

import orjson

from .._errors import (
    IncompleteStreamError,
    StreamAPIError,
    StreamDecodeError,
    StreamError,
    check_truncation,
)
from .._events import ChatEvent
from .._impl import ChatAccumulator
from ._errors import APIConnectionError, APIStatusError, APITimeoutError
from ._retry import RetryPolicy, retryable_status
from ._stats import CONTENT_EVENTS, StreamStats
from ._timeout import Timeout

_NO_EVENTS: list[ChatEvent] = []
#: What an async stream's reading loop gives: its events, the text of its content deltas, or its bytes.
_EVENTS, _TEXT, _BYTES = 0, 1, 2
#: In result(), the bytes of a read folded with events while no content has come yet.
_PROBE_BYTES = 4096


@dataclass(frozen=True)
class Call:
    """Everything needed to send one chat-completion request (and send it again)."""

    transport: Any  # a HttpxTransport or AiohttpTransport
    url: str
    headers: dict[str, str]
    body: bytes
    timeout: Any  # a Timeout, an httpx.Timeout, or None (the HTTP client's own)
    policy: RetryPolicy

    @property
    def total(self) -> float | None:
        """Seconds the whole call may take, retries included (None: no limit)."""
        return self.timeout.total if isinstance(self.timeout, Timeout) else None


@dataclass(frozen=True)
class StreamOptions:
    """How the answer is folded, and who hears of each read."""

    raise_on_truncation: bool = False
    parse_partial_arguments: bool = False
    max_event_bytes: int | None = None
    #: called with (the read's arrival, as time.perf_counter() seconds, the bytes) before they are folded
    on_read: Callable[[float, bytes], object] | None = None


class _StreamBase:
    """State and decisions shared by the sync and async streams."""

    def __init__(self, call: Call, options: StreamOptions) -> None:
        self._call = call
        self._transport = call.transport
        self._raise_on_truncation = options.raise_on_truncation
        self._on_read = options.on_read
        self._acc = ChatAccumulator(
            max_event_bytes=options.max_event_bytes, parse_partial_arguments=options.parse_partial_arguments
        )
        #: Timing and counts, filled in as the stream goes.
        self.stats = StreamStats()
        #: The HTTP library's response (status, headers) once the stream is open, else None.
        self.response: Any = None
        self._read: Any = None
        self._clock: Callable[[], float] = time.perf_counter  # a read's arrival time, from the transport
        self._first = b""
        self._started = 0.0
        self._result: dict[str, Any] | None = None
        self._error: BaseException | None = None
        self._closed = False
        self._released = False
        self._quiet = False  # result() reads the rest: nobody wants the events

    @property
    def status_code(self) -> int | None:
        """The answer's HTTP status once the stream is open, else None."""
        return None if self.response is None else self._transport.status(self.response)

    @property
    def headers(self) -> dict[str, str]:
        """The answer's headers (lower-case names) once the stream is open (``x-request-id``,
        ``x-ratelimit-*``...), else empty."""
        if self.response is None:
            return {}
        return {name.lower(): value for name, value in self._transport.headers(self.response).items()}

    @property
    def partial(self) -> dict[str, Any] | None:
        """The completion folded so far (None before the first chunk)."""
        return self._acc.snapshot() if self._acc.chunks else None

    # -- opening ---------------------------------------------------------------------------

    def _begin_attempt(self) -> None:
        if not self.stats.attempts:
            self._started = time.perf_counter()
        self.stats.attempts += 1

    def _transport_failed(self, exc: BaseException, retries: int) -> float:
        """A try failed before the body began: the wait before the next, or raise."""
        timed_out = self._transport.is_timeout(exc)
        kind = APITimeoutError if timed_out else APIConnectionError
        what = "timed out" if timed_out else "failed"
        error = kind(
            f"POST {self._call.url} {what}: {type(exc).__name__}: {exc or 'no details'}",
            method="POST",
            url=self._call.url,
        )
        delay = self._within_total(self._call.policy.delay(retries))
        if delay is None:
            self._stop_clock(error)
            raise error from exc
        return delay

    def _answered(self, response: Any, content: bytes, retries: int) -> float:
        """A whole non-stream answer: an error status (retry or raise) or JSON instead of events."""
        status = self._transport.status(response)
        if 200 <= status < 300:
            self._stop_clock(None)
            _json_instead_of_events(content)
        error = APIStatusError(status, self._transport.headers(response), content, method="POST", url=self._call.url)
        delay = self._call.policy.delay(retries, error.headers) if retryable_status(error.status_code) else None
        delay = self._within_total(delay)
        if delay is None:
            self._stop_clock(error)
            raise error
        return delay

    def _within_total(self, delay: float | None) -> float | None:
        """``delay``, or None when waiting that long would pass the total timeout."""
        total = self._call.total
        if delay is None or total is None:
            return delay
        return delay if time.perf_counter() - self._started + delay < total else None

    def _opened(self, response: Any, read: Any, first: bytes) -> None:
        self.response = response
        self._read = read
        self._clock = self._transport.read_clock(response)
        self._first = first
        if first:
            arrived = self._clock()
            self.stats.time_to_first_byte = arrived - self._started
            if self._on_read is not None:
                self._on_read(arrived, first)

    def _streaming(self, response: Any) -> bool:
        status = self._transport.status(response)
        content_type = self._transport.headers(response).get("content-type", "")
        return 200 <= status < 300 and not content_type.startswith("application/json")

    def _total_timed_out(self) -> BaseException:
        """The total timeout has passed: before the body an ``APITimeoutError``, else the
        stream is incomplete."""
        total = self._call.total
        if self.response is None:
            error: BaseException = APITimeoutError(
                f"POST {self._call.url} timed out: the total timeout ({total} s) passed",
                method="POST",
                url=self._call.url,
            )
        else:
            error = IncompleteStreamError(
                f"the stream timed out after {self._acc.chunks} chunks: the total timeout ({total} s) passed",
                self.partial,
            )
        self._stop_clock(error)
        return error

    # -- reading ---------------------------------------------------------------------------

    def _check_usable(self) -> bool:
        """True when there is more to read; raises if the stream failed or was closed early."""
        if self._error is not None:
            raise self._error
        if self._result is not None:
            return False
        if self._closed:
            error = IncompleteStreamError("the stream was closed before it ended", self.partial)
            raise error
        return True

    def _take_first(self) -> list[ChatEvent]:
        first, self._first = self._first, b""
        return self._feed(first) if first else []

    def _feed(self, piece: bytes) -> list[ChatEvent]:
        stats = self.stats
        stats.bytes += len(piece)
        if self._quiet:
            if stats.time_to_first_content is None and len(piece) > _PROBE_BYTES:
                # one read may hold the whole answer: events only for its head, to time the first content
                self._feed(piece[:_PROBE_BYTES])
                piece = piece[_PROBE_BYTES:]
            if stats.time_to_first_content is not None:
                # hot loop of result() and chat(): building events nobody reads costs ~40% more
                self._acc.feed(piece)
                stats.chunks = self._acc.chunks
                return _NO_EVENTS
        events: list[ChatEvent] = self._acc.feed_events(piece)
        stats.chunks = self._acc.chunks
        if events:
            stats.events += len(events)
            if stats.time_to_first_content is None:
                for event in events:
                    if event.type in CONTENT_EVENTS:
                        stats.time_to_first_content = time.perf_counter() - self._started
                        break
        return events

    def _feed_text(self, piece: bytes) -> list[str]:
        """``text()``'s fold of one read: the text of its content deltas.  Events are built
        only until the first content (to time it), a few KiB at a time (one read may hold
        the whole answer); then no event is built at all."""
        stats = self.stats
        texts: list[str] = []
        done = 0
        while stats.time_to_first_content is None and done < len(piece):
            head = piece[done : done + _PROBE_BYTES]
            done += _PROBE_BYTES
            texts += [event.delta for event in self._feed(head) if event.type == "content.delta"]  # type: ignore[attr-defined]
        if done < len(piece):
            rest = piece[done:] if done else piece
            stats.bytes += len(rest)
            texts += self._acc.feed_text(rest)
            stats.chunks = self._acc.chunks
        return texts

    def _take_first_text(self) -> list[str]:
        first, self._first = self._first, b""
        return self._feed_text(first) if first else []

    def _lost(self, exc: BaseException) -> IncompleteStreamError:
        """The connection failed mid-body: the stream is incomplete (never retried)."""
        what = "timed out" if self._transport.is_timeout(exc) else "was lost"
        error = IncompleteStreamError(
            f"the connection {what} after {self._acc.chunks} chunks: {type(exc).__name__}: {exc or 'no details'}",
            self.partial,
        )
        self._stop_clock(error)
        return error

    def _failed(self, exc: StreamError) -> None:
        if exc.partial is None:
            exc.partial = self.partial
        self._stop_clock(exc)

    def _finish(self) -> None:
        try:
            result = self._acc.result()
        except StreamError as exc:
            self._failed(exc)
            raise
        self._result = result
        self.stats.chunks = self._acc.chunks
        usage = result.get("usage")
        self.stats.usage = usage if isinstance(usage, dict) else None
        self._stop_clock(None)

    def _final(self) -> dict[str, Any]:
        if self._error is not None:
            raise self._error
        result = self._result
        if result is None:  # pragma: no cover - callers read the stream first
            raise IncompleteStreamError("the stream has not ended", self.partial)
        return check_truncation(result) if self._raise_on_truncation else result

    def _stop_clock(self, error: BaseException | None) -> None:
        if error is not None and self._error is None:
            self._error = error
        if self.stats.duration is None and self._started:
            self.stats.duration = time.perf_counter() - self._started


def _json_instead_of_events(content: bytes) -> NoReturn:
    """A 2xx answer in JSON, not an event stream: an error object, or a server ignoring stream=true."""
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict) and body.get("error"):
        error = body["error"]
        message = error.get("message") if isinstance(error, dict) else None
        message = message if isinstance(message, str) else str(error)
        raise StreamAPIError(f"server error: {message}", error, message=message)
    preview = content[:200].decode("utf-8", "replace")
    raise StreamDecodeError(
        f"the server answered with JSON, not an event stream (did it ignore stream=true?): {preview!r}"
    )


class ChatStream(_StreamBase):
    """A chat completion being streamed; use it as a context manager.

    Iterate it for events (``streamfold`` event objects), or call ``text()`` for the text
    deltas only; ``result()`` reads whatever is left and returns the folded completion;
    ``stats`` has the timings.  Leaving the ``with`` block, or breaking out of a loop over
    it, closes the connection.
    """

    def __enter__(self) -> ChatStream:
        self._open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _open(self) -> None:
        if self.response is not None or not self._check_usable():
            return
        retries = 0
        while True:
            delay = self._attempt(retries)
            if delay is None:
                return
            time.sleep(delay)
            retries += 1

    def _attempt(self, retries: int) -> float | None:
        self._begin_attempt()
        transport, call = self._transport, self._call
        try:
            response = transport.send(call.url, call.headers, call.body, self._attempt_timeout())
        except transport.errors as exc:
            return self._transport_failed(exc, retries)
        try:
            if self._streaming(response):
                read = transport.reader(response)
                self._opened(response, read, read())
                return None
            content = transport.read_all(response)
        except transport.errors as exc:
            transport.close(response)
            return self._transport_failed(exc, retries)
        except BaseException:
            transport.close(response)
            raise
        transport.close(response)
        return self._answered(response, content, retries)

    def _attempt_timeout(self) -> Any:
        """The request's timeout, each read capped by what is left of the total (a blocking
        read cannot be interrupted, so the total is also checked as each read returns)."""
        timeout, total = self._call.timeout, self._call.total
        if total is None:
            return timeout
        left = max(0.001, total - (time.perf_counter() - self._started))

        def capped(limit: float | None) -> float:
            return left if limit is None else min(limit, left)

        return Timeout(connect=capped(timeout.connect), read=capped(timeout.read), total=total)

    def close(self) -> None:
        """Close the connection (safe to call more than once)."""
        self._closed = True
        if self.response is not None and not self._released:
            self._released = True
            self._transport.close(self.response)

    def __iter__(self) -> Iterator[ChatEvent]:
        return self._pump(False)

    def _pump(self, text_only: bool) -> Iterator[Any]:
        """Read the body into the accumulator; yield its events, or (``text_only``) the text
        of its ``content.delta`` events."""
        if not self._check_usable():
            return
        self._open()
        errors = self._transport.errors
        read, total, started = self._read, self._call.total, self._started
        done = False
        try:
            yield from self._take_first_text() if text_only else self._take_first()
            on_read, clock = self._on_read, self._clock
            while True:
                piece = read()
                if not piece:
                    break
                if on_read is not None:
                    on_read(clock(), piece)
                if total is not None and time.perf_counter() - started > total:
                    raise self._total_timed_out()
                yield from self._feed_text(piece) if text_only else self._feed(piece)
            done = True
        except errors as exc:
            raise self._lost(exc) from exc
        except StreamError as exc:
            self._failed(exc)
            raise
        finally:
            self.close()
            if not done:
                self._stop_clock(None)
        self._finish()

    def text(self) -> Iterator[str]:
        """The text deltas of the answer (``content.delta`` events), as they arrive."""
        return self._pump(True)

    def result(self) -> dict[str, Any]:
        """Read the rest of the stream and return the completion (a ``chat.completion`` dict).

        Raises the stream's error if it failed (with ``.partial``), and
        ``IncompleteStreamError`` if it was closed before its end.
        """
        self._quiet = True
        for _ in self:
            pass
        return self._final()


class AsyncChatStream(_StreamBase):
    """``ChatStream`` for ``async with`` / ``async for``; ``await stream.result()``.

    Cancelling the task that reads it closes the connection as well.  The total timeout
    is a timer that cancels the read (or the wait) in progress when it fires.
    """

    def __init__(self, call: Call, options: StreamOptions) -> None:
        super().__init__(call, options)
        self._task: asyncio.Task[Any] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._waiting = False  # in a read, a send or a wait the total timeout may interrupt
        self._expired = False

    async def __aenter__(self) -> AsyncChatStream:
        await self._open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # -- the total timeout ---------------------------------------------------------------------

    def _expire(self) -> None:
        self._expired = True
        if self._waiting and self._task is not None:
            self._task.cancel()

    def _timed_out(self) -> BaseException:
        """Our own cancellation, from the total timeout: undo it and say what happened."""
        self._expired = False  # raised once; the stream's error is kept in _error
        if self._task is not None and hasattr(self._task, "uncancel"):  # Python 3.11+
            self._task.uncancel()
        return self._total_timed_out()

    def _stop_clock(self, error: BaseException | None) -> None:
        super()._stop_clock(error)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- opening ---------------------------------------------------------------------------

    async def _open(self) -> None:
        if self.response is not None or not self._check_usable():
            return
        self._task = asyncio.current_task()
        retries = 0
        try:
            while True:
                delay = await self._attempt(retries)
                if delay is None:
                    return
                self._waiting = True
                await asyncio.sleep(delay)
                self._waiting = False
                retries += 1
        except asyncio.CancelledError:
            self._waiting = False
            if not self._expired:
                raise
            raise self._timed_out() from None

    async def _attempt(self, retries: int) -> float | None:
        self._begin_attempt()
        total = self._call.total
        if total is not None and self._timer is None and self.stats.attempts == 1:
            self._timer = asyncio.get_running_loop().call_later(total, self._expire)
        transport, call = self._transport, self._call
        self._waiting = True
        try:
            response = await transport.asend(call.url, call.headers, call.body, call.timeout)
        except transport.errors as exc:
            self._waiting = False
            return self._transport_failed(exc, retries)
        try:
            if self._streaming(response):
                read = transport.areader(response)
                self._opened(response, read, await read())
                self._waiting = False
                return None
            content = await transport.aread_all(response)
            self._waiting = False
        except transport.errors as exc:
            self._waiting = False
            await transport.aclose_response(response, False)
            return self._transport_failed(exc, retries)
        except BaseException:
            self._waiting = False
            await transport.aclose_response(response, False)
            raise
        await transport.aclose_response(response, True)
        return self._answered(response, content, retries)

    async def aclose(self) -> None:
        """Close the connection (safe to call more than once)."""
        self._closed = True
        if self.response is not None and not self._released:
            self._released = True
            await self._transport.aclose_response(self.response, self._result is not None)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def __aiter__(self) -> AsyncIterator[ChatEvent]:
        return self._pump(_EVENTS)

    def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body's bytes as they arrive, unchanged (to relay them): each piece is given,
        then folded, so ``partial``, ``result()`` and ``stats`` hold as when iterating
        events; a bad piece is passed on, and its error raised at the next read."""
        self._quiet = True
        return self._pump(_BYTES)

    async def _pump(self, what: int) -> AsyncIterator[Any]:
        """Read the body into the accumulator; yield its events, the text of its
        ``content.delta`` events (``_TEXT``), or the bytes read (``_BYTES``): one generator,
        not one over the other, as each level of async generator costs a resumption per item."""
        if not self._check_usable():
            return
        await self._open()
        self._task = asyncio.current_task()
        errors = self._transport.errors
        read = self._read
        on_read, clock = self._on_read, self._clock
        done = False
        try:
            if what == _BYTES:
                if self._first:
                    yield self._first
                self._take_first()
            elif what == _TEXT:
                for text in self._take_first_text():
                    yield text
            else:
                for event in self._take_first():
                    yield event
            while True:
                # hot loop: one read, one feed; _waiting lets the total timeout cancel the read only
                self._waiting = True
                piece = await read()
                self._waiting = False
                if not piece:
                    break
                if on_read is not None:
                    on_read(clock(), piece)
                if self._expired:
                    raise self._timed_out()
                if what == _EVENTS:
                    for event in self._feed(piece):
                        yield event
                elif what == _TEXT:
                    for text in self._feed_text(piece):
                        yield text
                else:
                    yield piece
                    self._feed(piece)
            done = True
        except errors as exc:
            self._waiting = False
            raise self._lost(exc) from exc
        except StreamError as exc:
            self._failed(exc)
            raise
        except asyncio.CancelledError:
            self._waiting = False
            if not self._expired:
                raise
            raise self._timed_out() from None
        finally:
            if done:
                self._finish_quietly()
            await self.aclose()
            if not done:
                self._stop_clock(None)
        if self._error is not None:
            raise self._error

    def _finish_quietly(self) -> None:
        """Fold the end before closing (so the connection goes back to the pool); a failure
        is kept in ``_error`` and raised after the close."""
        try:
            self._finish()
        except StreamError:
            pass

    def text(self) -> AsyncIterator[str]:
        """The text deltas of the answer, as they arrive."""
        return self._pump(_TEXT)

    async def result(self) -> dict[str, Any]:
        """Read the rest of the stream and return the completion (see ``ChatStream.result``)."""
        self._quiet = True
        async for _ in self:
            pass
        return self._final()
