"""The benchmark's own overhead: its CPU time and how late its event loop runs what is due.

The lag probe wakes every ``interval`` seconds on a ``PreciseTimer`` and, from there, asks
the loop to run one more callback; the lag is how long after the wake-up's due time that
callback ran.  That is the path a chunk takes (its socket is ready, the reading task is
woken and waits its turn behind whatever the loop has queued), so the lag says how late a
chunk's arrival time can be taken.  Without a timerfd the probe's own timer is coarse
(about a millisecond) and ``precise`` says so.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from .._timer import PreciseTimer

#: Seconds between two lag probes.
PROBE_INTERVAL_S = 0.01


@dataclass(frozen=True)
class Overhead:
    """The client's cost over a run: CPU seconds, wall seconds, the lag samples (seconds)."""

    cpu_s: float
    wall_s: float
    lags: list[float]
    precise: bool

    @property
    def busy(self) -> float:
        """CPU over wall time: 1.0 is one core fully used (the loop runs on one)."""
        return self.cpu_s / self.wall_s if self.wall_s > 0 else 0.0


class LoopMonitor:
    """Measures this process's CPU and the event loop's lag between ``start()`` and ``stop()``."""

    def __init__(self, interval: float = PROBE_INTERVAL_S) -> None:
        self._interval = interval
        self._lags: list[float] = []
        self._timer: PreciseTimer | None = None
        self._due = 0.0
        self._cpu = self._wall = 0.0

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._timer = PreciseTimer(loop, self._woken)
        self._cpu, self._wall = time.process_time(), time.perf_counter()
        self._due = time.monotonic() + self._interval
        self._timer.at(self._due)

    def _woken(self) -> None:
        self._loop.call_soon(self._ran, self._due)
        self._due = max(self._due + self._interval, time.monotonic())
        assert self._timer is not None
        self._timer.at(self._due)

    def _ran(self, due: float) -> None:
        self._lags.append(time.monotonic() - due)

    def stop(self) -> Overhead:
        """Stop probing; the overhead since ``start()``."""
        cpu, wall = time.process_time() - self._cpu, time.perf_counter() - self._wall
        precise = False
        if self._timer is not None:
            precise = self._timer.precise
            self._timer.close()
            self._timer = None
        return Overhead(cpu, wall, self._lags, precise)
