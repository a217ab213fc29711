"""The benchmark's HTTP session: aiohttp, no connection cap, and a trace hook that notes
when each request's body is handed to its connection.

That moment is a request's send time: TTFT and E2EL count from it, so the client's own
work of making the request (building it, taking or opening a connection) stays out of the
server's latencies and is reported apart.  The hook finds its request through a context
variable that the request's task sets (each request runs in a task of its own).
"""

from __future__ import annotations

import time
from typing import Any

from ..client._transport import AIOHTTP_READ_BUFSIZE
from ._record import SENDING


async def _body_sent(session: Any, context: Any, params: Any) -> None:
    record = SENDING.get()
    if record is not None:
        record.sent = time.perf_counter()


def traced_session() -> Any:
    """An ``aiohttp.ClientSession`` for ``AsyncClient(http_client=...)`` (make it in the running loop)."""
    import aiohttp

    trace = aiohttp.TraceConfig()
    trace.on_request_chunk_sent.append(_body_sent)
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)  # no cap: the benchmark sets the concurrency
    return aiohttp.ClientSession(connector=connector, trace_configs=[trace], read_bufsize=AIOHTTP_READ_BUFSIZE)
