"""Coalescing text deltas into fewer, larger pieces, as chat UIs do so as not to re-render per token.

``Coalescer`` holds the rule (a batch is due after ``max_deltas`` deltas or once its first
delta has waited ``max_delay`` seconds, and at the end); ``coalesce`` applies it to an
iterable as the deltas arrive, ``acoalesce`` to an async iterable with a timer, so a batch
is let out on time even while no delta comes.  The relay's ``text`` mode uses it too.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio

#: Defaults: at most 16 deltas, or 50 ms, in one batch (a 60 Hz screen redraws every 17 ms).
DEFAULT_MAX_DELTAS = 16
DEFAULT_MAX_DELAY = 0.05


class Coalescer:
    """Joins text deltas into batches.

    A batch is due when it holds ``max_deltas`` deltas, or when its first delta has waited
    ``max_delay`` seconds, whichever comes first.  ``add(delta)`` returns the batch when
    that delta makes it due (else None); ``due()`` returns it once its time has passed
    (``deadline`` says when, for a timer); ``flush()`` returns whatever is pending, at the
    end.  Empty deltas are ignored.  ``clock`` gives the time in seconds (monotonic).
    """

    __slots__ = ("max_deltas", "max_delay", "clock", "_parts", "_since")

    def __init__(
        self,
        max_deltas: int = DEFAULT_MAX_DELTAS,
        max_delay: float = DEFAULT_MAX_DELAY,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_deltas < 1:
            raise ValueError(f"max_deltas must be >= 1, got {max_deltas}")
        if max_delay < 0:
            raise ValueError(f"max_delay must be >= 0, got {max_delay}")
        self.max_deltas = max_deltas
        self.max_delay = max_delay
        self.clock = clock
        self._parts: list[str] = []
        self._since = 0.0

    @property
    def pending(self) -> int:
        """How many deltas wait in the batch."""
        return len(self._parts)

    @property
    def deadline(self) -> float | None:
        """When the pending batch is due (on ``clock``), or None when nothing is pending."""
        return self._since + self.max_delay if self._parts else None

    def add(self, delta: str) -> str | None:
        """Add a delta; the batch (its deltas joined) if it is now due, else None."""
        if not delta:
            return None
        now = self.clock()
        if not self._parts:
            self._since = now
        self._parts.append(delta)
        if len(self._parts) >= self.max_deltas or now - self._since >= self.max_delay:
            return self.flush()
        return None

    def due(self) -> str | None:
        """The pending batch if its time has passed, else None."""
        if self._parts and self.clock() - self._since >= self.max_delay:
            return self.flush()
        return None

    def flush(self) -> str:
        """The pending deltas joined ("" when none), now."""
        text = "".join(self._parts)
        self._parts.clear()
        return text


def coalesce(
    deltas: Iterable[str], max_deltas: int = DEFAULT_MAX_DELTAS, max_delay: float = DEFAULT_MAX_DELAY
) -> Iterator[str]:
    """The deltas of ``deltas`` in batches (see ``Coalescer``), and what is left at the end.

    Time is checked as each delta arrives: a batch whose time passes while none arrives
    waits for the next one (``acoalesce`` has a timer)."""
    coalescer = Coalescer(max_deltas, max_delay)
    for delta in deltas:
        batch = coalescer.add(delta)
        if batch is not None:
            yield batch
    rest = coalescer.flush()
    if rest:
        yield rest


#: What the reading task puts in the queue when the source ends, and when a batch is due.
_END = object()
_TICK = object()


async def acoalesce(
    deltas: AsyncIterable[str], max_deltas: int = DEFAULT_MAX_DELTAS, max_delay: float = DEFAULT_MAX_DELAY
) -> AsyncIterator[str]:
    """The deltas of an async iterable in batches (see ``Coalescer``), each let out when due
    even if no delta follows, and what is left at the end.

    The source is read by a task of its own (so waiting for a delta never cancels it);
    closing this generator, or cancelling its reader, cancels that task, which closes the
    source.  An error of the source is raised here, after the deltas that came before it.
    """
    import asyncio  # here, not at the top: `import streamfold` stays light

    loop = asyncio.get_running_loop()
    coalescer = Coalescer(max_deltas, max_delay, clock=loop.time)
    queue: asyncio.Queue[object] = asyncio.Queue()

    async def read() -> None:
        try:
            async for delta in deltas:
                queue.put_nowait(delta)
        except BaseException as exc:  # handed to the reader of the batches, which raises it
            queue.put_nowait(exc)
            if not isinstance(exc, Exception):
                raise
        else:
            queue.put_nowait(_END)

    reader = asyncio.ensure_future(read())
    timer: asyncio.TimerHandle | None = None
    try:
        while True:
            item = await queue.get()
            if item is _TICK:
                timer = None
                batch = coalescer.due()
            elif isinstance(item, str):
                batch = coalescer.add(item)
            else:
                break
            if batch is not None:
                if timer is not None:
                    timer.cancel()
                    timer = None
                yield batch
            deadline = coalescer.deadline
            if deadline is not None and timer is None:
                timer = loop.call_at(deadline, queue.put_nowait, _TICK)
        rest = coalescer.flush()
        if rest:
            yield rest
        if isinstance(item, BaseException):
            raise item
    finally:
        if timer is not None:
            timer.cancel()
        if not reader.done():
            reader.cancel()
            try:
                await reader
            except asyncio.CancelledError:
                pass
