"""How long a request may take: to connect, between two reads, and in all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Seconds allowed to connect, and between two reads, unless the caller says otherwise.
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 600.0


@dataclass(frozen=True)
class Timeout:
    """Timeouts of one request, in seconds (None: no limit).

    ``connect``: to open the connection; ``read``: between two reads of the answer (the
    first byte included); ``total``: from the first try to the end of the stream, retries
    and their waits included.
    """

    connect: float | None = DEFAULT_CONNECT_TIMEOUT
    read: float | None = DEFAULT_READ_TIMEOUT
    total: float | None = None

    def __post_init__(self) -> None:
        for name in ("connect", "read", "total"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"timeout {name} must be > 0 seconds or None, got {value!r}")


DEFAULT_TIMEOUT = Timeout()


def as_timeout(value: Any) -> Any:
    """``Timeout`` from what a caller passes: None (the default), a number of seconds (for
    connecting and for each read, as in httpx), a ``Timeout``, or, on an httpx transport,
    an ``httpx.Timeout`` (returned as it is)."""
    if value is None:
        return DEFAULT_TIMEOUT
    if isinstance(value, Timeout):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Timeout(connect=float(value), read=float(value))
    if type(value).__name__ == "Timeout" and type(value).__module__.partition(".")[0] in ("httpx", "httpx2"):
        return value
    raise TypeError(f"timeout must be a number of seconds or a streamfold Timeout, not {type(value).__name__}")
