"""A timer for an asyncio event loop that fires within microseconds of its deadline.

uvloop's timers count whole milliseconds from a clock read once per turn of the loop, and
asyncio's wait in epoll with a timeout rounded up to the millisecond, so a callback asked
for at time T runs up to a millisecond or two after T.  That is too coarse for the mock
server's pacing (its inter-token latency must be known to well under a millisecond) and
for the benchmark's event-loop lag probe.  On Linux a ``timerfd`` armed at T (on
``CLOCK_MONOTONIC``, the clock of ``time.monotonic()`` and ``time.perf_counter()``) and
watched by the loop like a socket wakes it within tens of microseconds of T.  Elsewhere the
loop's own ``call_at`` stands in (``precise`` is then False).

A deadline closer than ``busy_wait`` seconds is not given to the kernel at all: the loop is
kept turning (a callback that puts itself back on the ready queue, so the loop polls its
sockets without blocking between turns) until the deadline passes.  On a virtual machine
arming a timer and waking a halted CPU each go through the hypervisor (measured on this
project's 2-vCPU VM: timerfd_settime was 12 % of the mock server's CPU at 1,024 paced
streams); turning the loop costs a core but none of that, and fires within a turn of the
loop of its deadline.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import sys
import time
from collections.abc import Callable

#: Flags of timerfd_create / timerfd_settime (the values of Linux's ABI).
_TFD_NONBLOCK = os.O_NONBLOCK
_TFD_CLOEXEC = 0o2000000
_TFD_TIMER_ABSTIME = 1
_CLOCK_MONOTONIC = 1


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


def _timerfd() -> tuple[int, Callable[[float], None]] | None:
    """A non-blocking timerfd and the function arming it at a ``time.monotonic()`` deadline
    (0 disarms it), or None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        create, settime = libc.timerfd_create, libc.timerfd_settime
    except (OSError, AttributeError):
        return None
    settime.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.POINTER(_Itimerspec), ctypes.c_void_p]
    fd = create(_CLOCK_MONOTONIC, _TFD_NONBLOCK | _TFD_CLOEXEC)
    if fd < 0:
        return None
    spec = _Itimerspec()

    def arm_libc(deadline: float) -> None:
        nanoseconds = max(0, int(deadline * 1e9))
        spec.it_value.tv_sec, spec.it_value.tv_nsec = divmod(nanoseconds, 1_000_000_000)
        if settime(fd, _TFD_TIMER_ABSTIME, ctypes.byref(spec), None) != 0:
            raise OSError(ctypes.get_errno(), "timerfd_settime failed")

    return fd, arm_libc


class PreciseTimer:
    """Calls ``callback()`` once ``time.monotonic()`` has passed the deadline given to ``at``.

    One deadline at a time: ``at`` replaces the previous one, ``cancel`` drops it.  A
    deadline less than ``busy_wait`` seconds away is waited for by turning the loop (see
    the module's docstring).  Make it in the loop that runs it; ``close()`` when done.
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, callback: Callable[[], None], *, busy_wait: float = 0.0
    ) -> None:
        self._loop = loop
        self._callback = callback
        self._busy_wait = busy_wait
        self._deadline: float | None = None
        self._turning = False  # a _turn callback is on the loop's ready queue
        self._handle: asyncio.TimerHandle | None = None
        made = _timerfd()
        self._fd = made[0] if made is not None else -1
        self._arm: Callable[[float], None] | None = made[1] if made is not None else None
        if self._fd >= 0:
            loop.add_reader(self._fd, self._fired)

    @property
    def precise(self) -> bool:
        """True with a timerfd; False when the loop's millisecond timers stand in."""
        return self._fd >= 0

    def at(self, deadline: float) -> None:
        """Fire once ``time.monotonic()`` passes ``deadline`` (at once if it has)."""
        self._deadline = deadline
        if deadline - time.monotonic() < self._busy_wait:
            if not self._turning:
                self._turning = True
                self._loop.call_soon(self._turn)
            return  # an armed timer left behind fires early and is ignored by _due
        self._set(deadline)

    def cancel(self) -> None:
        """Forget the deadline."""
        self._deadline = None
        self._set(None)

    def _set(self, deadline: float | None) -> None:
        """Arm the timerfd (or the loop's timer) at ``deadline``; None disarms it."""
        if self._arm is not None:
            self._arm(0.0 if deadline is None else max(deadline, 1e-9))  # 0 disarms: keep 1 ns
            return
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if deadline is not None:
            self._handle = self._loop.call_at(self._loop.time() + deadline - time.monotonic(), self._due)

    def _fired(self) -> None:
        try:
            os.read(self._fd, 8)  # the expiration count: reading it re-arms the fd's readiness
        except BlockingIOError:  # re-armed or cancelled between the wake-up and now
            return
        self._due()

    def _turn(self) -> None:
        self._turning = False
        self._due()

    def _due(self) -> None:
        """Call back if the deadline has passed; else wait on for it (the timer fired for a
        deadline since moved, or a turn of the loop came before the deadline)."""
        deadline = self._deadline
        if deadline is None:
            return
        if time.monotonic() >= deadline:
            self._deadline = None
            self._callback()
        elif not self._turning:
            self.at(deadline)

    def close(self) -> None:
        """Stop watching the timer and release it (safe to call twice)."""
        self._deadline = None
        if self._fd >= 0:
            if not self._loop.is_closed():
                self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd, self._arm = -1, None
        elif self._handle is not None:
            self._handle.cancel()
            self._handle = None
