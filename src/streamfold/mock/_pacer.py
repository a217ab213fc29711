"""One clock for every paced stream of the mock: a heap of the writes due, and one timer
armed at the earliest.

With a task per stream sleeping between chunks, each chunk of each stream costs a timer, a
future and a task wake-up before its write; at 1,024 streams and 20 ms between chunks
that was most of the server's CPU.  Here a stream hands its planned writes to the pacer
and waits for the end; the pacer keeps the due writes in a heap and, when its timer fires,
makes every write that is due by running the ASGI ``send`` coroutine itself.  A send that
must wait (the connection's buffer is full) is resumed when its future is done, as a task
would, and that stream's later writes wait for it.

The timer is ``PreciseTimer`` (a timerfd on Linux), so a write goes out within tens of
microseconds of its time, and each stream keeps to its own schedule (a write made late does
not push back the ones after it): the configured ``ttft`` and ``itl`` are what a client
sees, which a benchmark of a client's distortion relies on.  Without a timerfd the loop's
millisecond timers stand in, and writes due within the next millisecond go together.

When the loop falls behind (a stall of the machine, or many writes due at once), two rules
keep what a client measures close to what was configured: a stream's first write (its TTFT)
goes before later writes that were due earlier, and the timer makes at most
``WRITES_PER_TURN`` writes before the loop reads its sockets again, so that a request
arriving meanwhile is timed from when it came, not from when the backlog was cleared
(measured together, 1,024 streams at 100 ms on this project's 2-vCPU machine, three runs
each: a client's TTFT error p99 0.53-1.09 ms before, 0.42-0.52 ms after).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import random
import time
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from typing import Any

from .._timer import PreciseTimer

Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Plan = list[tuple[float, dict[str, Any]]]

#: Without a precise timer, writes due this soon are made together (the loop's timer resolution).
COARSE_SLACK_S = 0.001
#: Writes made per turn of the loop before it reads its sockets again (see the docstring).
WRITES_PER_TURN = 4


class Lateness:
    """How late the paced writes went out against their schedule: a histogram of 10 µs
    bins up to 100 ms (one more for anything later), so a long run keeps a fixed size."""

    BIN_S = 1e-5
    BINS = 10_000

    def __init__(self) -> None:
        self.counts = [0] * (self.BINS + 1)
        self.writes = 0
        self.largest = 0.0  # seconds: the latest write yet

    def add(self, late: float) -> None:
        # hot loop: once per paced write
        self.counts[min(int(late / self.BIN_S) if late > 0 else 0, self.BINS)] += 1
        self.writes += 1
        if late > self.largest:
            self.largest = late

    def percentile(self, p: float) -> float | None:
        """The ``p``-th percentile (nearest rank) in seconds, to the bin's upper edge."""
        if not self.writes:
            return None
        rank = max(1, -(-self.writes * p // 100))
        seen = 0
        for index, count in enumerate(self.counts):
            seen += count
            if seen >= rank:
                return min((index + 1) * self.BIN_S, self.largest) if index < self.BINS else self.largest
        return self.largest

    def summary(self) -> dict[str, float | int | None]:
        """Writes counted and their lateness in µs: p50, p99, p99.9, max."""

        def us(value: float | None) -> float | None:
            return None if value is None else round(value * 1e6, 1)

        return {
            "writes": self.writes,
            "p50_us": us(self.percentile(50)),
            "p99_us": us(self.percentile(99)),
            "p99.9_us": us(self.percentile(99.9)),
            "max_us": us(self.largest) if self.writes else None,
        }


class _Paced:
    """One stream being paced: its plan, where it is, and the future its task waits on."""

    __slots__ = ("plan", "position", "send", "gone", "finished", "rng", "jitter", "due")

    def __init__(
        self,
        plan: Plan,
        send: Send,
        gone: asyncio.Event,
        finished: asyncio.Future[bool],
        rng: random.Random,
        jitter: float,
    ) -> None:
        self.plan = plan
        self.position = 0
        self.send = send
        self.gone = gone
        self.finished = finished
        self.rng = rng
        self.jitter = jitter
        self.due = 0.0  # when its last write was due (time.monotonic())


class Pacer:
    """Runs the planned writes of many streams on one event loop."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, lateness: Lateness | None = None, *, busy_wait: float = 0.0
    ) -> None:
        self._loop = loop
        self.lateness = lateness if lateness is not None else Lateness()
        self._due: list[tuple[float, int, _Paced]] = []  # (time, order, stream): a heap
        self._first: list[tuple[float, int, _Paced]] = []  # the same for first writes, made first
        self._order = itertools.count()
        self._timer = PreciseTimer(loop, self._fire, busy_wait=busy_wait)
        self._armed: float | None = None  # the deadline the timer is set to
        self._firing = False
        self._slack = 0.0 if self._timer.precise else COARSE_SLACK_S

    def close(self) -> None:
        """Release the timer (streams still paced are dropped with it)."""
        self._timer.close()
        self._due.clear()
        self._first.clear()

    def start(
        self,
        plan: Plan,
        send: Send,
        gone: asyncio.Event,
        rng: random.Random,
        jitter: float,
        finished: asyncio.Future[bool],
        *,
        since: float | None = None,
    ) -> None:
        """Make ``plan``'s writes at their times, the first delay counted from ``since``
        (a ``time.monotonic()``; default now); ``finished`` gets True when all were made,
        False when the client left first (whoever sees it leave may settle it: the pacer
        then drops the stream at its next write)."""
        stream = _Paced(plan, send, gone, finished, rng, jitter)
        stream.due = time.monotonic() if since is None else since
        self._next(stream)

    def _next(self, stream: _Paced) -> None:
        """Schedule the stream's next write, its delay after the last one was due (or end it)."""
        if stream.position == len(stream.plan):
            _settle(stream.finished, True)
            return
        delay = stream.plan[stream.position][0]
        if delay and stream.jitter:
            delay *= 1 + stream.jitter * (2 * stream.rng.random() - 1)
        if delay <= 0:
            self._write(stream)
            return
        stream.due += delay
        heap = self._first if stream.position == 0 else self._due
        heapq.heappush(heap, (stream.due, next(self._order), stream))
        if not self._firing and (self._armed is None or stream.due < self._armed):
            self._armed = stream.due
            self._timer.at(stream.due)

    def _fire(self) -> None:
        first, due = self._first, self._due
        self._firing = True
        try:
            limit = time.monotonic() + self._slack
            add = self.lateness.add
            for _ in range(WRITES_PER_TURN):
                if first and first[0][0] <= limit:
                    heap = first
                elif due and due[0][0] <= limit:
                    heap = due
                else:
                    break
                when, _, stream = heapq.heappop(heap)
                add(time.monotonic() - when)
                self._write(stream)
        finally:
            self._firing = False
        soonest = min(first[0][0] if first else math.inf, due[0][0] if due else math.inf)
        self._armed = None if soonest == math.inf else soonest
        if self._armed is not None:
            self._timer.at(self._armed)  # a time passed (more were due): at the next turn of the loop

    def _write(self, stream: _Paced) -> None:
        while True:  # writes without a delay (the [DONE] after the last chunk) go at once
            if stream.gone.is_set() or stream.finished.done():
                _settle(stream.finished, False)
                return
            message = stream.plan[stream.position][1]
            stream.position += 1
            if not self._step(stream, stream.send(message)):
                return  # the send waits for the socket; _step goes on when it can
            if stream.position == len(stream.plan) or stream.plan[stream.position][0]:
                self._next(stream)
                return

    def _step(self, stream: _Paced, send: Coroutine[Any, Any, None] | Awaitable[None]) -> bool:
        """Run the send coroutine until it ends (True) or waits on a future (False: it is
        resumed from that future's callback, and the stream goes on from there)."""
        coroutine: Any = send
        try:
            waiting = coroutine.send(None)
        except StopIteration:
            return True
        except BaseException as exc:
            if not stream.finished.done():
                stream.finished.set_exception(exc)
            return False
        if waiting is None:  # a bare yield (sleep(0)): go on at the next turn of the loop
            self._loop.call_soon(self._resume, stream, coroutine)
        else:  # a future, as a task would handle it
            waiting._asyncio_future_blocking = False
            waiting.add_done_callback(lambda _: self._resume(stream, coroutine))
        return False

    def _resume(self, stream: _Paced, coroutine: Any) -> None:
        if self._step(stream, coroutine):
            if stream.position == len(stream.plan) or stream.plan[stream.position][0]:
                self._next(stream)
            else:
                self._write(stream)


def _settle(finished: asyncio.Future[bool], value: bool) -> None:
    if not finished.done():
        finished.set_result(value)
