"""One clock for every paced stream of the mock: the writes of all streams due in the same
millisecond are made by one timer callback.

With a task per stream sleeping between chunks, each chunk of each stream costs a timer, a
future and a task wake-up before its write; at 1,024 streams and 20 ms between chunks
that was most of the server's CPU.  Here a stream hands its planned writes to the pacer
and waits for the end; the pacer keeps the due writes in buckets of one millisecond (one
timer per bucket) and makes each write by running the ASGI ``send`` coroutine itself.  A
send that must wait (the connection's buffer is full) is resumed when its future is done,
as a task would, and that stream's later writes wait for it.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from typing import Any

Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Plan = list[tuple[float, dict[str, Any]]]

#: Width of a bucket of due writes, in seconds (uvloop's timers have this resolution anyway).
TICK_S = 0.001


class _Paced:
    """One stream being paced: its plan, where it is, and the future its task waits on."""

    __slots__ = ("plan", "position", "send", "gone", "finished", "rng", "jitter")

    def __init__(self, plan: Plan, send: Send, gone: asyncio.Event, finished: asyncio.Future[bool],
                 rng: random.Random, jitter: float) -> None:
        self.plan = plan
        self.position = 0
        self.send = send
        self.gone = gone
        self.finished = finished
        self.rng = rng
        self.jitter = jitter


class Pacer:
    """Runs the planned writes of many streams on one event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._buckets: dict[int, list[_Paced]] = {}

    def start(self, plan: Plan, send: Send, gone: asyncio.Event, rng: random.Random, jitter: float,
              finished: asyncio.Future[bool]) -> None:
        """Make ``plan``'s writes at their times; ``finished`` gets True when all were made,
        False when the client left first (whoever sees it leave may settle it: the pacer
        then drops the stream at its next write)."""
        self._next(_Paced(plan, send, gone, finished, rng, jitter), self._loop.time())

    def _next(self, stream: _Paced, now: float) -> None:
        """Schedule the stream's next write (or end it)."""
        if stream.position == len(stream.plan):
            _settle(stream.finished, True)
            return
        delay = stream.plan[stream.position][0]
        if delay and stream.jitter:
            delay *= 1 + stream.jitter * (2 * stream.rng.random() - 1)
        if delay <= 0:
            self._write(stream)
            return
        tick = math.ceil((now + delay) / TICK_S)
        bucket = self._buckets.get(tick)
        if bucket is None:
            bucket = self._buckets[tick] = []
            self._loop.call_at(tick * TICK_S, self._due, tick)
        bucket.append(stream)

    def _due(self, tick: int) -> None:
        for stream in self._buckets.pop(tick, ()):
            self._write(stream)

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
                self._next(stream, self._loop.time())
                return

    def _step(self, stream: _Paced, send: Coroutine[Any, Any, None] | Awaitable[None]) -> bool:
        """Run the send coroutine until it ends (True) or waits on a future (False: it is
        resumed from that future's callback, and the stream goes on from there)."""
        coroutine: Any = send
        try:
            waiting = coroutine.send(None)
        except StopIteration:
            return True
        except BaseException as exc:  # noqa: BLE001 - the stream's task raises it
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
                self._next(stream, self._loop.time())
            else:
                self._write(stream)


def _settle(finished: asyncio.Future[bool], value: bool) -> None:
    if not finished.done():
        finished.set_result(value)
