"""A streamed chat completion: the HTTP answer's bytes read straight into a ``ChatAccumulator``.

``ChatStream`` (sync) and ``AsyncChatStream`` share everything but their I/O: opening the
request (with retries, only until the first byte of the body), reading the body, closing.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from types import ModuleType, TracebackType
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


_NO_EVENTS: list[ChatEvent] = []


@dataclass(frozen=True)
class Call:
    """Everything needed to send one chat-completion request (and send it again)."""

    http_client: Any
    library: ModuleType
    url: str
    headers: dict[str, str]
    body: bytes
    timeout: Any
    policy: RetryPolicy

    def build(self) -> Any:
        options = {} if self.timeout is None else {"timeout": self.timeout}
        return self.http_client.build_request("POST", self.url, content=self.body, headers=self.headers, **options)


@dataclass(frozen=True)
class StreamOptions:
    """How the answer is folded."""

    raise_on_truncation: bool = False
    parse_partial_arguments: bool = False
    max_event_bytes: int | None = None


class _StreamBase:
    """State and decisions shared by the sync and async streams."""

    def __init__(self, call: Call, options: StreamOptions) -> None:
        self._call = call
        self._raise_on_truncation = options.raise_on_truncation
        self._acc = ChatAccumulator(
            max_event_bytes=options.max_event_bytes, parse_partial_arguments=options.parse_partial_arguments
        )
        #: Timing and counts, filled in as the stream goes.
        self.stats = StreamStats()
        #: The HTTP response (status, headers) once the stream is open, else None.
        self.response: Any = None
        self._pieces: Any = None
        self._first = b""
        self._started = 0.0
        self._result: dict[str, Any] | None = None
        self._error: BaseException | None = None
        self._closed = False
        self._quiet = False  # result() reads the rest: nobody wants the events

    @property
    def partial(self) -> dict[str, Any] | None:
        """The completion folded so far (None before the first chunk)."""
        return self._acc.snapshot() if self._acc.chunks else None

    # -- opening ---------------------------------------------------------------------------

    def _begin_attempt(self) -> Any:
        if not self.stats.attempts:
            self._started = time.perf_counter()
        self.stats.attempts += 1
        return self._call.build()

    def _transport_failed(self, exc: Exception, retries: int) -> float:
        """A try failed before the body began: the wait before the next, or raise."""
        kind = APITimeoutError if isinstance(exc, self._call.library.TimeoutException) else APIConnectionError
        what = "timed out" if kind is APITimeoutError else "failed"
        error = kind(f"POST {self._call.url} {what}: {type(exc).__name__}: {exc or 'no details'}",
                     method="POST", url=self._call.url)
        delay = self._call.policy.delay(retries)
        if delay is None:
            self._stop_clock(error)
            raise error from exc
        return delay

    def _answered(self, response: Any, content: bytes, retries: int) -> float:
        """A whole non-stream answer: an error status (retry or raise) or JSON instead of events."""
        if response.is_success:
            self._stop_clock(None)
            _json_instead_of_events(content)
        error = APIStatusError(response.status_code, response.headers, content, method="POST", url=self._call.url)
        delay = self._call.policy.delay(retries, error.headers) if retryable_status(error.status_code) else None
        if delay is None:
            self._stop_clock(error)
            raise error
        return delay

    def _opened(self, response: Any, pieces: Any, first: bytes) -> None:
        self.response = response
        self._pieces = pieces
        self._first = first
        if first:
            self.stats.time_to_first_byte = time.perf_counter() - self._started

    def _streaming(self, response: Any) -> bool:
        content_type = response.headers.get("content-type", "")
        return bool(response.is_success) and not content_type.startswith("application/json")

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
        if self._quiet and stats.time_to_first_content is not None:
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

    def _lost(self, exc: Exception) -> IncompleteStreamError:
        """The connection failed mid-body: the stream is incomplete (never retried)."""
        what = "timed out" if isinstance(exc, self._call.library.TimeoutException) else "was lost"
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
    raise StreamDecodeError(f"the server answered with JSON, not an event stream (did it ignore stream=true?): {preview!r}")


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

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
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
        request = self._begin_attempt()
        transport_error = self._call.library.TransportError
        try:
            response = self._call.http_client.send(request, stream=True)
        except transport_error as exc:
            return self._transport_failed(exc, retries)
        try:
            if self._streaming(response):
                pieces = response.iter_bytes()
                self._opened(response, pieces, next(pieces, b""))
                return None
            content = response.read()
        except transport_error as exc:
            response.close()
            return self._transport_failed(exc, retries)
        except BaseException:
            response.close()
            raise
        response.close()
        return self._answered(response, content, retries)

    def close(self) -> None:
        """Close the connection (safe to call more than once)."""
        self._closed = True
        if self.response is not None:
            self.response.close()

    def __iter__(self) -> Iterator[ChatEvent]:
        if not self._check_usable():
            return
        self._open()
        transport_error = self._call.library.TransportError
        done = False
        try:
            yield from self._take_first()
            for piece in self._pieces:
                yield from self._feed(piece)
            done = True
        except transport_error as exc:
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
        for event in self:
            if event.type == "content.delta":
                yield event.delta  # type: ignore[attr-defined]

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

    Cancelling the task that reads it closes the connection as well.
    """

    async def __aenter__(self) -> AsyncChatStream:
        await self._open()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    async def _open(self) -> None:
        if self.response is not None or not self._check_usable():
            return
        retries = 0
        while True:
            delay = await self._attempt(retries)
            if delay is None:
                return
            import asyncio  # here, not at the top: `import streamfold` stays light

            await asyncio.sleep(delay)
            retries += 1

    async def _attempt(self, retries: int) -> float | None:
        request = self._begin_attempt()
        transport_error = self._call.library.TransportError
        try:
            response = await self._call.http_client.send(request, stream=True)
        except transport_error as exc:
            return self._transport_failed(exc, retries)
        try:
            if self._streaming(response):
                pieces = response.aiter_bytes()
                self._opened(response, pieces, await anext(pieces, b""))
                return None
            content = await response.aread()
        except transport_error as exc:
            await response.aclose()
            return self._transport_failed(exc, retries)
        except BaseException:
            await response.aclose()
            raise
        await response.aclose()
        return self._answered(response, content, retries)

    async def aclose(self) -> None:
        """Close the connection (safe to call more than once)."""
        self._closed = True
        if self.response is not None:
            await self.response.aclose()

    def __aiter__(self) -> AsyncIterator[ChatEvent]:
        return self._pump(False)

    def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body's bytes as they arrive, unchanged (to relay them): each piece is given,
        then folded, so ``partial``, ``result()`` and ``stats`` hold as when iterating
        events; a bad piece is passed on, and its error raised at the next read."""
        self._quiet = True
        return self._pump(True)

    async def _pump(self, raw: bool) -> AsyncIterator[Any]:
        """Read the body into the accumulator; yield its events, or (``raw``) the bytes read."""
        if not self._check_usable():
            return
        await self._open()
        transport_error = self._call.library.TransportError
        done = False
        try:
            if raw and self._first:
                yield self._first
            events = self._take_first()
            for event in () if raw else events:
                yield event
            async for piece in self._pieces:
                if raw:
                    yield piece
                    self._feed(piece)
                    continue
                for event in self._feed(piece):
                    yield event
            done = True
        except transport_error as exc:
            raise self._lost(exc) from exc
        except StreamError as exc:
            self._failed(exc)
            raise
        finally:
            await self.aclose()
            if not done:
                self._stop_clock(None)
        self._finish()

    async def text(self) -> AsyncIterator[str]:
        """The text deltas of the answer, as they arrive."""
        async for event in self:
            if event.type == "content.delta":
                yield event.delta  # type: ignore[attr-defined]

    async def result(self) -> dict[str, Any]:
        """Read the rest of the stream and return the completion (see ``ChatStream.result``)."""
        self._quiet = True
        async for _ in self:
            pass
        return self._final()
