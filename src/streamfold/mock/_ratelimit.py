"""The mock's own rate limits: requests and tokens per minute, answered with 429 and
``Retry-After`` when passed, and told in ``x-ratelimit-*`` headers as OpenAI's API tells them.

Each limit is a bucket that holds one second of its rate, starts full and refills
continuously; a request is let in when the bucket holds its cost (or is full, for a cost
above a second's worth).  A request's token cost is its prompt tokens and the completion
tokens it will get, counted as the mock counts usage.  ``reset`` is the time until the
bucket is full again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class _Bucket:
    def __init__(self, per_minute: int, clock: Callable[[], float]) -> None:
        self.per_minute = per_minute
        self.capacity = per_minute / 60
        self.level = self.capacity
        self._clock = clock
        self._at = clock()

    def _refill(self) -> None:
        now = self._clock()
        self.level = min(self.capacity, self.level + (now - self._at) * self.per_minute / 60)
        self._at = now

    def short_of(self, cost: float) -> float:
        """Seconds until ``cost`` could be let in (0: now)."""
        self._refill()
        need = min(cost, self.capacity) - self.level
        return max(0.0, need * 60 / self.per_minute)

    def take(self, cost: float) -> None:
        self.level -= cost

    def headers(self, name: str) -> list[tuple[bytes, bytes]]:
        self._refill()
        remaining = max(0, math.floor(self.level))
        reset = (self.capacity - self.level) * 60 / self.per_minute
        return [
            (f"x-ratelimit-limit-{name}".encode(), str(self.per_minute).encode()),
            (f"x-ratelimit-remaining-{name}".encode(), str(remaining).encode()),
            (f"x-ratelimit-reset-{name}".encode(), f"{max(0, math.ceil(reset * 1000))}ms".encode()),
        ]


class RateLimits:
    """The server's requests-per-minute and tokens-per-minute limits (each None: none)."""

    def __init__(self, requests: int | None, tokens: int | None, clock: Callable[[], float] = time.monotonic) -> None:
        self._requests = None if requests is None else _Bucket(requests, clock)
        self._tokens = None if tokens is None else _Bucket(tokens, clock)

    @property
    def active(self) -> bool:
        return self._requests is not None or self._tokens is not None

    def admit(self, tokens: int) -> float:
        """Let a request of ``tokens`` in (0.0), or the seconds it should wait (it is not let in)."""
        wait = max(
            self._requests.short_of(1) if self._requests is not None else 0.0,
            self._tokens.short_of(tokens) if self._tokens is not None else 0.0,
        )
        if wait > 0:
            return wait
        if self._requests is not None:
            self._requests.take(1)
        if self._tokens is not None:
            self._tokens.take(tokens)
        return 0.0

    def headers(self) -> list[tuple[bytes, bytes]]:
        """The ``x-ratelimit-*`` headers of an answer, after its request was counted."""
        found: list[tuple[bytes, bytes]] = []
        if self._requests is not None:
            found += self._requests.headers("requests")
        if self._tokens is not None:
            found += self._tokens.headers("tokens")
        return found
