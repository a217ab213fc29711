"""How fast a batch may go: a cap on requests in flight, and requests-per-minute and
tokens-per-minute limits, held together.

Each limit is a token bucket that fills at its rate per minute, holds at most one second
of it, starts empty, and may go into debt: a request waits until the bucket is not below
zero, then takes its cost (so a request dearer than a second of tokens still goes, and
the long-run rate is the limit).  A request reserves ``estimate_tokens(body)`` tokens
before it is sent; when it ends the difference from the real usage goes back in (or is
taken: the bucket goes into debt).

When the server sends ``x-ratelimit-limit-requests`` / ``-tokens`` the bucket's rate
becomes the lower of the given limit and the server's; ``x-ratelimit-remaining-*`` below
a second's worth lowers what the bucket holds, and a remaining of 0 holds the bucket
until ``x-ratelimit-reset-*`` has passed.  A 429 pauses every request of the run, not
only the one refused: ``pause(seconds)``.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: Completion tokens assumed for a request that sets neither max_completion_tokens nor max_tokens.
DEFAULT_COMPLETION_TOKENS = 256
#: Prompt characters per token in the estimate (English text averages about 4).
CHARS_PER_TOKEN = 4


def estimate_tokens(body: Mapping[str, Any]) -> int:
    """Tokens a request may use, without a tokenizer: its prompt's characters / 4 (the text of
    every message, and its tools' JSON) plus ``max_completion_tokens`` or ``max_tokens`` (else
    ``DEFAULT_COMPLETION_TOKENS``) for each of its ``n`` choices."""
    characters = 0
    for message in body.get("messages") or []:
        if isinstance(message, dict):
            characters += _text_length(message.get("content"))
    tools = body.get("tools")
    if tools:
        characters += len(repr(tools))
    completion = body.get("max_completion_tokens") or body.get("max_tokens") or DEFAULT_COMPLETION_TOKENS
    choices = body.get("n") or 1
    return math.ceil(characters / CHARS_PER_TOKEN) + int(completion) * int(choices)


def _text_length(content: Any) -> int:
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):
        return sum(len(part.get("text") or "") for part in content if isinstance(part, dict))
    return 0


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def parse_reset(text: str) -> float | None:
    """Seconds in an ``x-ratelimit-reset-*`` value: ``"1s"``, ``"6m0s"``, ``"20ms"``,
    ``"1h2m3.5s"`` or a plain number of seconds; None when unreadable."""
    text = text.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        return None
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    return sum(float(number) * scale[unit] for number, unit in parts)


class TokenBucket:
    """One per-minute limit (None: no limit)."""

    def __init__(self, per_minute: float | None, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.configured = per_minute
        self.per_minute = per_minute
        self.level = 0.0
        self._at = clock()
        self.held_until = 0.0

    @property
    def capacity(self) -> float:
        return (self.per_minute or 0) / 60

    def _refill(self) -> None:
        now = self._clock()
        if self.per_minute is not None:
            self.level = min(self.capacity, self.level + (now - self._at) * self.per_minute / 60)
        self._at = now

    def wait(self) -> float:
        """Seconds until a request may take from this bucket (0: now)."""
        if self.per_minute is None:
            return 0.0
        self._refill()
        hold = self.held_until - self._clock()
        short = 0.0 if self.level >= 0 else -self.level * 60 / self.per_minute
        return max(hold, short, 0.0)

    def take(self, cost: float) -> None:
        self._refill()
        self.level -= cost

    def give(self, amount: float) -> None:
        self._refill()
        self.level = min(self.capacity, self.level + amount)

    def follow(self, limit: float | None, remaining: float | None, reset: float | None) -> None:
        """What the server said of this limit (each None when it did not say)."""
        if limit is not None and limit > 0:
            self.per_minute = limit if self.configured is None else min(self.configured, limit)
        if self.per_minute is None:
            return
        self._refill()
        if remaining is not None and remaining < self.capacity:
            self.level = min(self.level, remaining)
            if remaining <= 0 and reset:
                self.held_until = max(self.held_until, self._clock() + reset)


@dataclass
class Reservation:
    """What one attempt took from the limits (handed back to ``settle``)."""

    tokens: int
    settled: bool = False


class Limiter:
    """The concurrency cap and the RPM / TPM buckets of one run (or of one Ray worker's share)."""

    def __init__(
        self,
        *,
        concurrency: int,
        rpm: float | None = None,
        tpm: float | None = None,
        share: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        if not 0 < share <= 1:
            raise ValueError(f"share must be in (0, 1], got {share}")
        self._clock = clock
        self.concurrency = concurrency
        #: this run's part of the server's limits (a Ray actor's 1 / actors): what the
        #: ``x-ratelimit-*`` headers say of the whole account is scaled by it
        self.share = share
        self.slots = asyncio.Semaphore(concurrency)
        self.requests = TokenBucket(rpm, clock)
        self.tokens = TokenBucket(tpm, clock)
        self.paused_until = 0.0
        #: how many 429s paused the run, and for how long in all
        self.pauses = 0
        self._turn = asyncio.Lock()  # waiters go one at a time, first come first served

    async def reserve(self, tokens: int) -> Reservation:
        """Wait until one more request with an estimate of ``tokens`` may be sent, and take it."""
        async with self._turn:
            while True:
                wait = max(self.paused_until - self._clock(), self.requests.wait(), self.tokens.wait())
                if wait <= 0:
                    break
                await asyncio.sleep(wait)
            self.requests.take(1)
            self.tokens.take(tokens)
        return Reservation(tokens)

    def settle(self, reservation: Reservation, used_tokens: int | None, *, sent: bool = True) -> None:
        """The attempt is over: give back the unused part of its token estimate (``used_tokens``
        None: unknown, nothing is given back); ``sent`` False: refused before it was processed
        (a status error), its whole estimate goes back."""
        if reservation.settled:
            return
        reservation.settled = True
        if not sent:
            self.tokens.give(reservation.tokens)
        elif used_tokens is not None:
            self.tokens.give(reservation.tokens - used_tokens)

    def pause(self, seconds: float) -> None:
        """Hold every request of the run for ``seconds`` (a 429)."""
        self.pauses += 1
        self.paused_until = max(self.paused_until, self._clock() + seconds)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Follow the ``x-ratelimit-*`` headers of an answer (lower-case names)."""
        for name, bucket in (("requests", self.requests), ("tokens", self.tokens)):
            limit = _number(headers.get(f"x-ratelimit-limit-{name}"))
            remaining = _number(headers.get(f"x-ratelimit-remaining-{name}"))
            reset_text = headers.get(f"x-ratelimit-reset-{name}")
            reset = parse_reset(reset_text) if reset_text is not None else None
            if limit is not None or remaining is not None:
                bucket.follow(
                    None if limit is None else limit * self.share,
                    None if remaining is None else remaining * self.share,
                    reset,
                )


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
