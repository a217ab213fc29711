"""The engine of a batch: requests in, one output record out per request, on one ``AsyncClient``.

``fold_requests`` holds no global state and handles no signal: a caller stops it with the
``stop`` event (no new request is sent; those in flight finish) and ``abandon`` (those in
flight are cut off too).  A request stopped before its answer finished gets no record, so
a run that resumes from the output sends it again.  A Ray actor runs it on its share of the
input with its share of the limits.

Retries are the runner's own (the client is made with ``max_retries=0``), so that a 429 can
pause the whole run: only before the body of an answer begins (connection errors, 408,
429, 5xx); once a stream has begun, its failure is written with its partial completion.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Container, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from .._errors import IncompleteStreamError, StreamAPIError, StreamError
from ..client import AsyncClient, RetryPolicy, Timeout
from ..client._errors import APIConnectionError, APIStatusError, APITimeoutError
from ..client._retry import retry_after, retryable_status
from ._input import InvalidLine, Request
from ._limits import Limiter, Reservation, estimate_tokens
from ._output import ReorderBuffer, error_of, line_key, record_for, record_for_invalid
from ._summary import Summary

T = TypeVar("T")
Item = Request | InvalidLine
Emit = Callable[[dict[str, Any]], None]

#: Parameters of ``AsyncClient.stream_chat`` that a request body cannot carry as members.
RESERVED_MEMBERS = frozenset(
    {"extra_headers", "timeout", "raise_on_truncation", "parse_partial_arguments", "max_event_bytes", "on_read"}
)


@dataclass
class BatchOptions:
    """How a batch runs.

    ``base_url`` / ``api_key``: the server (default ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY``);
    ``concurrency``: requests in flight at most; ``rpm`` / ``tpm``: requests and tokens per
    minute (None: no limit but the server's ``x-ratelimit-*`` headers); ``max_retries``:
    tries after the first, before an answer's body begins; ``ordered``: records in input
    order (at most ``ordered_window`` started and not yet written; default 4 x
    concurrency); ``timeout``: seconds to wait for each read of an answer (a stalled stream
    fails after that long); ``connect_timeout``: seconds to connect; ``headers``: sent with
    every request; ``http_client``: the caller's, for ``AsyncClient``; ``retry_delay``:
    the first wait before a retry (doubling up to ``max_retry_delay``); ``limit_share``:
    this process's part of the server's limits, which scales what its ``x-ratelimit-*``
    headers say (a Ray actor's is 1 / actors, as its ``rpm`` and ``tpm`` are).
    """

    base_url: str | None = None
    api_key: str | None = None
    concurrency: int = 64
    rpm: float | None = None
    tpm: float | None = None
    max_retries: int = 5
    ordered: bool = False
    ordered_window: int | None = None
    timeout: float | None = 600.0
    connect_timeout: float = 10.0
    headers: Mapping[str, str] | None = None
    http_client: Any = None
    retry_delay: float = 0.5
    max_retry_delay: float = 8.0
    limit_share: float = 1.0

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {self.concurrency}")
        for name in ("rpm", "tpm"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be > 0 (or None for no limit), got {value}")
        if not 0 < self.limit_share <= 1:
            raise ValueError(f"limit_share must be in (0, 1], got {self.limit_share}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")

    @property
    def window(self) -> int:
        return self.ordered_window or 4 * self.concurrency

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(self.max_retries, initial_delay=self.retry_delay, max_delay=self.max_retry_delay)

    def client(self) -> AsyncClient:
        return AsyncClient(
            base_url=self.base_url,
            api_key=self.api_key,
            headers=self.headers,
            timeout=Timeout(connect=self.connect_timeout, read=self.timeout),
            max_retries=0,
            http_client=self.http_client,
        )


async def fold_requests(
    requests: Iterable[Item] | AsyncIterable[Item],
    options: BatchOptions,
    emit: Emit,
    *,
    skip: Container[str] = (),
    stop: asyncio.Event | None = None,
    abandon: asyncio.Event | None = None,
    live: Summary | None = None,
) -> Summary:
    """Run ``requests`` and call ``emit(record)`` for each one finished and for each invalid line.

    ``skip``: custom_ids (and ``line_key`` of invalid lines) already written, not run again.
    ``stop`` set: no new request starts, those in flight finish; ``abandon`` set: those in
    flight are cancelled too (no record).  ``live``: a ``Summary`` to fill as records come
    (for a progress display); the returned summary is it, or a new one.
    """
    run = _Run(options, emit, stop or asyncio.Event(), abandon or asyncio.Event(), live or Summary())
    return await run.fold(requests, skip)


class _Run:
    """One call of ``fold_requests``: its limits, its client, its tasks."""

    def __init__(
        self, options: BatchOptions, emit: Emit, stop: asyncio.Event, abandon: asyncio.Event, summary: Summary
    ) -> None:
        self.options = options
        self.stop = stop
        self.abandon = abandon
        self.summary = summary
        self.limiter = Limiter(
            concurrency=options.concurrency, rpm=options.rpm, tpm=options.tpm, share=options.limit_share
        )
        self.policy = options.retry_policy()
        self.reorder = ReorderBuffer(emit, options.window) if options.ordered else None
        self._emit = emit
        self.client: AsyncClient | None = None

    def _write(self, index: int, record: dict[str, Any] | None) -> None:
        if record is not None:
            self.summary.record(record)
        if self.reorder is not None:
            self.reorder.put(index, record)
        elif record is not None:
            self._emit(record)

    async def fold(self, requests: Iterable[Item] | AsyncIterable[Item], skip: Container[str]) -> Summary:
        started = time.perf_counter()
        tasks: set[asyncio.Task[None]] = set()
        index = 0
        async with self.options.client() as client:
            self.client = client
            try:
                async for item in _each(requests):
                    if self.stop.is_set():
                        break
                    if (line_key(item.line) if isinstance(item, InvalidLine) else item.custom_id) in skip:
                        self.summary.skipped += 1
                        continue
                    if self.reorder is not None and not await self._unless_stopped(self.reorder.admit(index)):
                        break
                    if isinstance(item, InvalidLine):
                        self._write(index, record_for_invalid(item))
                    else:
                        if not await self._unless_stopped(self.limiter.slots.acquire()):
                            break
                        task = asyncio.create_task(self._one(item, index))
                        tasks.add(task)
                        task.add_done_callback(tasks.discard)
                    index += 1
                await self._drain(tasks)
            finally:
                for task in tasks:
                    task.cancel()
                if tasks:
                    await asyncio.gather(*tasks, return_exceptions=True)
                if self.reorder is not None:
                    self.reorder.flush()
                self.summary.elapsed_s += time.perf_counter() - started
        return self.summary

    async def _drain(self, tasks: set[asyncio.Task[None]]) -> None:
        """Wait for the tasks in flight, unless ``abandon`` is set first."""
        abandoned = asyncio.ensure_future(self.abandon.wait())
        try:
            while tasks and not self.abandon.is_set():
                await asyncio.wait({*tasks, abandoned}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            abandoned.cancel()

    async def _unless_stopped(self, waiting: Awaitable[T]) -> bool:
        """Await ``waiting`` unless ``stop`` is set first: True when it finished."""
        if self.stop.is_set():
            if asyncio.iscoroutine(waiting):
                waiting.close()
            return False
        task = asyncio.ensure_future(waiting)
        stopped = asyncio.ensure_future(self.stop.wait())
        try:
            await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
        if task.done() and not task.cancelled() and task.exception() is None and not self.stop.is_set():
            return True
        task.cancel()
        if task.done() and not task.cancelled() and task.exception() is None:
            _undo(task.result(), self.limiter)
        return False

    async def _one(self, request: Request, index: int) -> None:
        """One request, to its record (none when the run stops before its answer ends)."""
        record: dict[str, Any] | None = None
        self.summary.in_flight += 1
        try:
            record = await self._attempts(request)
        finally:
            self.summary.in_flight -= 1
            self.limiter.slots.release()
            self._write(index, record)

    async def _attempts(self, request: Request) -> dict[str, Any] | None:
        if RESERVED_MEMBERS & request.body.keys():
            names = ", ".join(sorted(RESERVED_MEMBERS & request.body.keys()))
            return _failed(request, 0, 0.0, None, None, None, "invalid_body", f"body members not sent: {names}")
        estimate = estimate_tokens(request.body)
        started = time.perf_counter()
        retries = 0
        while True:
            reservation = await self._reserve(estimate)
            if reservation is None:
                return None
            outcome = await self._attempt(request, reservation, started, retries + 1)
            if isinstance(outcome, dict):
                return outcome
            retries += 1
            if outcome > 0 and not await self._unless_stopped(asyncio.sleep(outcome)):
                return None

    async def _reserve(self, estimate: int) -> Reservation | None:
        reserving = asyncio.ensure_future(self.limiter.reserve(estimate))
        if not await self._unless_stopped(reserving):
            return None
        return reserving.result()

    async def _attempt(
        self, request: Request, reservation: Reservation, started: float, attempts: int
    ) -> dict[str, Any] | float:
        """One try: its record, or the seconds to wait before the next try."""
        assert self.client is not None
        limiter = self.limiter
        attempt_started = time.perf_counter()
        stream = self.client.stream_chat(**request.body)
        try:
            async with stream:
                limiter.observe(stream.headers)
                completion = await stream.result()
        except APIStatusError as exc:
            limiter.observe(exc.headers)
            limiter.settle(reservation, None, sent=False)
            delay = self.policy.delay(attempts - 1, exc.headers) if retryable_status(exc.status_code) else None
            if exc.status_code == 429:
                asked = retry_after(exc.headers)
                limiter.pause(min(asked if asked is not None else (delay or 0.0), self.policy.max_retry_after))
                delay = 0.0 if delay is not None else None  # the pause is the wait
            if delay is not None:
                return delay
            return _failed(
                request, attempts, started, exc.status_code, exc.headers.get("x-request-id"), exc.body,
                "http_error", exc.message,
            )  # fmt: skip
        except APIConnectionError as exc:
            limiter.settle(reservation, None, sent=False)
            delay = self.policy.delay(attempts - 1)
            if delay is not None:
                return delay
            code = "timeout" if isinstance(exc, APITimeoutError) else "connection_error"
            return _failed(request, attempts, started, None, None, None, code, str(exc))
        except StreamError as exc:
            limiter.settle(reservation, _total_tokens(exc.partial))
            code = (
                "stream_error"
                if isinstance(exc, StreamAPIError)
                else "incomplete_stream"
                if isinstance(exc, IncompleteStreamError)
                else "decode_error"
            )
            stats = _stats(stream.stats, attempts, started, attempt_started, exc.partial)
            return record_for(
                request.custom_id,
                line=request.line,
                status_code=stream.status_code,
                request_id=stream.headers.get("x-request-id"),
                body=exc.partial,
                error=error_of(code, str(exc)),
                stats=stats,
            )
        limiter.settle(reservation, _total_tokens(completion))
        return record_for(
            request.custom_id,
            line=request.line,
            status_code=stream.status_code,
            request_id=stream.headers.get("x-request-id"),
            body=completion,
            error=None,
            stats=_stats(stream.stats, attempts, started, attempt_started, completion),
        )


def _undo(result: object, limiter: Limiter) -> None:
    """A wait that finished as the run stopped: give back what it took."""
    if isinstance(result, Reservation):
        limiter.settle(result, None, sent=False)
    elif result is True:  # a concurrency slot
        limiter.slots.release()


async def _each(requests: Iterable[Item] | AsyncIterable[Item]) -> AsyncIterable[Item]:
    if isinstance(requests, AsyncIterable):
        async for item in requests:
            yield item
    else:
        for number, item in enumerate(requests):
            yield item
            if number % 256 == 255:
                await asyncio.sleep(0)  # a long run of skipped lines lets the tasks in flight go on


def _total_tokens(completion: dict[str, Any] | None) -> int | None:
    usage = (completion or {}).get("usage")
    total = usage.get("total_tokens") if isinstance(usage, dict) else None
    return total if isinstance(total, int) else None


def _stats(
    stats: Any, attempts: int, started: float, attempt_started: float, completion: dict[str, Any] | None
) -> dict[str, Any]:
    duration = time.perf_counter() - started
    ttft = stats.time_to_first_content
    usage = (completion or {}).get("usage")
    output = usage.get("completion_tokens") if isinstance(usage, dict) else None
    return {
        "attempts": attempts,
        "ttft_s": None if ttft is None else attempt_started - started + ttft,
        "duration_s": duration,
        "chunks": stats.chunks,
        "output_tokens_per_s": output / duration if isinstance(output, int) and duration > 0 else None,
    }


def _failed(
    request: Request,
    attempts: int,
    started: float,
    status_code: int | None,
    request_id: str | None,
    body: Any,
    code: str,
    message: str,
) -> dict[str, Any]:
    duration = time.perf_counter() - started if started else 0.0
    return record_for(
        request.custom_id,
        line=request.line,
        status_code=status_code,
        request_id=request_id,
        body=body,
        error=error_of(code, message),
        stats={"attempts": attempts, "ttft_s": None, "duration_s": duration, "chunks": 0, "output_tokens_per_s": None},
    )
