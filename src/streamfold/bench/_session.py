"""The benchmark's HTTP session, and the clock its chunk times come from.

On Linux, for a plain ``http://`` server, a ``TimestampedSession``: every read carries the
time the kernel received its bytes, so a chunk's time never includes the client's own
queueing (the event loop busy with other streams).  Elsewhere (``https://``, no httptools,
another system) aiohttp, with chunk times taken when each read returns.

Either way the session notes when each request's bytes were handed to the connection: that
is the request's send time, from which TTFT and E2EL count, so the client's own work of
making the request (building it, taking or opening a connection) stays out of the server's
latencies and is reported apart.  The hook finds its request through a context variable
that the request's task sets (each request runs in a task of its own).
"""

from __future__ import annotations

import importlib.util
import sys
import time
from typing import Any

from ..client import TimestampedSession
from ..client._transport import AIOHTTP_READ_BUFSIZE
from ._record import SENDING

#: Where chunk times come from (said in the result and the final table).
KERNEL_CLOCK = "kernel receive timestamps"
READ_CLOCK = "when each read returned"


def _sent(at: float) -> None:
    record = SENDING.get()
    if record is not None:
        record.sent = at


async def _body_sent(session: Any, context: Any, params: Any) -> None:
    _sent(time.perf_counter())


def kernel_clock_usable(base_url: str) -> bool:
    """Whether chunks to ``base_url`` can be timed by the kernel."""
    return (
        base_url.startswith("http://")
        and sys.platform.startswith("linux")
        and importlib.util.find_spec("httptools") is not None
    )


def bench_session(base_url: str, *, kernel_clock: bool | None = None) -> tuple[Any, str]:
    """An HTTP session for ``AsyncClient(http_client=...)`` (make it in the running loop) and
    the name of its clock; ``kernel_clock``: None to use the kernel's when it can."""
    usable = kernel_clock_usable(base_url)
    if kernel_clock and not usable:
        raise ValueError(
            "kernel timestamps need a plain http:// server, Linux and httptools (pip install 'streamfold[bench]')"
        )
    if usable and kernel_clock is not False:
        return TimestampedSession(on_sent=_sent), KERNEL_CLOCK
    import aiohttp

    trace = aiohttp.TraceConfig()
    trace.on_request_chunk_sent.append(_body_sent)
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)  # no cap: the benchmark sets the concurrency
    session = aiohttp.ClientSession(connector=connector, trace_configs=[trace], read_bufsize=AIOHTTP_READ_BUFSIZE)
    return session, READ_CLOCK
