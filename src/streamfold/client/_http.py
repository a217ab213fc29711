"""Which HTTP library a client comes from (httpx or its successor httpx2), and our default client.

Both libraries have the same API but separate exception classes, so the stream looks its
exceptions up in the module the caller's client belongs to.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

LIBRARIES = ("httpx", "httpx2")

#: Seconds allowed to connect, and between two reads, unless the caller says otherwise.
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_TIMEOUT = 600.0
#: Our own client's connection pool: large, for many concurrent streams.
DEFAULT_MAX_CONNECTIONS = 1000
DEFAULT_MAX_KEEPALIVE = 100


def http_library(http_client: Any, *, asynchronous: bool) -> ModuleType:
    """The ``httpx`` or ``httpx2`` module ``http_client`` belongs to; TypeError for anything else."""
    wanted = "AsyncClient" if asynchronous else "Client"
    for cls in type(http_client).__mro__:
        root = cls.__module__.partition(".")[0]
        if root in LIBRARIES:
            module = sys.modules[root]
            if isinstance(http_client, getattr(module, wanted)):
                return module
            break
    raise TypeError(
        f"http_client must be an httpx.{wanted} or httpx2.{wanted}, not {type(http_client).__module__}."
        f"{type(http_client).__qualname__}"
    )


def default_client(timeout: Any, *, asynchronous: bool) -> Any:
    """An ``httpx`` client with our defaults (used when the caller brings none)."""
    import httpx

    if timeout is None:
        timeout = httpx.Timeout(DEFAULT_TIMEOUT, connect=DEFAULT_CONNECT_TIMEOUT)
    limits = httpx.Limits(max_connections=DEFAULT_MAX_CONNECTIONS, max_keepalive_connections=DEFAULT_MAX_KEEPALIVE)
    cls = httpx.AsyncClient if asynchronous else httpx.Client
    return cls(timeout=timeout, limits=limits)
