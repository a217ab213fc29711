"""When to retry a request, and how long to wait first.

A request is retried only before the body of its answer has begun: on a connection
error or timeout, and on status 408, 429 and 5xx.  The wait doubles from
``initial_delay`` up to ``max_delay`` and is shortened by up to a quarter at random
(so many clients that failed together do not come back together); a ``Retry-After``
(or ``retry-after-ms``) header replaces it when it asks for at most ``max_retry_after``
seconds, and a longer one means the error is raised at once.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass

RETRY_STATUSES = frozenset({408, 429})


def retryable_status(status: int) -> bool:
    """408, 429 and every 5xx are worth another try."""
    return status in RETRY_STATUSES or status >= 500


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms``, ``retry-after`` as seconds or
    an HTTP date), or None when it did not say (or said something unreadable)."""
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to retry and how long to wait between tries."""

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")

    def delay(self, retries_done: int, headers: Mapping[str, str] | None = None) -> float | None:
        """Seconds to wait before the next try, or None when no retry is left (or allowed)."""
        if retries_done >= self.max_retries:
            return None
        asked = retry_after(headers) if headers is not None else None
        if asked is not None:
            return asked if asked <= self.max_retry_after else None
        backoff = min(self.max_delay, self.initial_delay * 2**retries_done)
        return float(backoff * (1 - 0.25 * random.random()))
