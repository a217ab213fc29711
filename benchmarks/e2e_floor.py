"""The floor of the end-to-end benchmark: the least an asyncio client can do per read.

A bare asyncio ``Protocol`` per connection, httptools parsing the HTTP/1.1 answer, and each
piece of the body handed straight to ``ChatAccumulator.feed`` from the protocol's
callback: no streams, no futures per read, no async iteration, no timeouts, no retries,
no error types.  It is not a usable client (it trusts the server completely); it shows
what is left once every layer above the socket is gone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit


class _Connection(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    def __init__(self) -> None:
        import httptools

        self._parser_class = httptools.HttpResponseParser
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self._sink: Callable[[bytes], Any] | None = None
        self._done: asyncio.Future[int] | None = None
        self._parser: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._parser.feed_data(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self._done is not None and not self._done.done():
            self._done.set_exception(ConnectionError(f"connection lost: {exc}"))

    # httptools callbacks
    def on_body(self, body: bytes) -> None:
        assert self._sink is not None
        self._sink(body)

    def on_message_complete(self) -> None:
        assert self._done is not None
        self._done.set_result(self._parser.get_status_code())

    def request(self, head_and_body: bytes, sink: Callable[[bytes], Any]) -> asyncio.Future[int]:
        """Send one request; ``sink`` gets each piece of the body; the future, the status."""
        assert self.transport is not None
        self._sink = sink
        self._parser = self._parser_class(self)
        self._done = asyncio.get_running_loop().create_future()
        self.transport.write(head_and_body)
        return self._done


class FloorClient:
    """POST the same body to one URL over pooled keep-alive connections."""

    def __init__(self, url: str, body: bytes) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self._head_and_body = (
            f"POST {parts.path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\ncontent-type: application/json\r\n"
            f"accept: text/event-stream\r\ncontent-length: {len(body)}\r\n\r\n"
        ).encode() + body
        self._idle: list[_Connection] = []
        self._all: list[_Connection] = []

    async def post(self, sink: Callable[[bytes], Any]) -> int:
        """One request; returns its status once the whole body went to ``sink``."""
        connection = None
        while self._idle:
            candidate = self._idle.pop()
            if not candidate.lost:
                connection = candidate
                break
        if connection is None:
            _, connection = await asyncio.get_running_loop().create_connection(_Connection, self.host, self.port)
            self._all.append(connection)
        status = await connection.request(self._head_and_body, sink)
        self._idle.append(connection)
        return status

    def close(self) -> None:
        for connection in self._all:
            if connection.transport is not None:
                connection.transport.close()
