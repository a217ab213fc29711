"""When each request of a benchmark arrives: all at once, a Poisson process, gamma-distributed
gaps (burstiness), or a rate that ramps from one value to another."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

RAMP_STRATEGIES = ("linear", "exponential")


@dataclass(frozen=True)
class Ramp:
    """A request rate going from ``start`` to ``end`` requests per second over the run, the
    i-th request's rate interpolated ``linear``-ly or ``exponential``-ly (geometrically)."""

    start: float
    end: float
    strategy: str = "linear"

    def __post_init__(self) -> None:
        if self.strategy not in RAMP_STRATEGIES:
            raise ValueError(f"the ramp strategy is one of {', '.join(RAMP_STRATEGIES)}, got {self.strategy!r}")
        for name in ("start", "end"):
            value = getattr(self, name)
            if not 0 < value < math.inf:
                raise ValueError(f"the ramp's {name} rate must be a number of requests per second > 0, got {value}")

    def rate(self, index: int, count: int) -> float:
        """The rate in force when request ``index`` of ``count`` arrives."""
        progress = index / max(count - 1, 1)
        if self.strategy == "linear":
            return self.start + (self.end - self.start) * progress
        return float(self.start * (self.end / self.start) ** progress)


def arrival_offsets(
    count: int,
    rate: float = math.inf,
    *,
    burstiness: float = 1.0,
    ramp: Ramp | None = None,
    rng: random.Random | None = None,
) -> list[float]:
    """Seconds from the start of the run at which each of ``count`` requests arrives.

    The first arrives at 0.  With ``rate`` infinite (and no ramp) all arrive at 0.  Otherwise
    the gaps between arrivals are drawn from a gamma distribution of shape ``burstiness``
    and mean ``1 / rate``: exponential gaps (a Poisson process) at burstiness 1, burstier
    below 1, more regular above it, and constant gaps at infinite burstiness.  With a
    ``ramp`` the rate of each gap is the ramp's at that request.  ``rng`` makes it
    reproducible (``random.Random(seed)``).
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    if not burstiness > 0:
        raise ValueError(f"burstiness must be > 0, got {burstiness}")
    if not rate > 0:
        raise ValueError(f"the request rate must be > 0 (or inf), got {rate}")
    rng = rng or random.Random()
    offsets: list[float] = []
    now = 0.0
    for index in range(count):
        if index:
            now += _gap(ramp.rate(index, count) if ramp is not None else rate, burstiness, rng)
        offsets.append(now)
    return offsets


def _gap(rate: float, burstiness: float, rng: random.Random) -> float:
    if rate == math.inf:
        return 0.0
    if burstiness == math.inf:
        return 1.0 / rate
    if burstiness == 1.0:
        return rng.expovariate(rate)
    return rng.gammavariate(burstiness, 1.0 / (rate * burstiness))
