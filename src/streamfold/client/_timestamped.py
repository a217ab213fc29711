"""``TimestampedSession``: HTTP/1.1 on plain sockets, every read stamped with the time the
kernel received its bytes.

A serving benchmark times each chunk by when it arrived.  Any asyncio HTTP library can only
say when the event loop got round to the socket, which, with a thousand streams in flight,
is behind every other socket that was ready in the same turn of the loop: the client's own
queueing would be inside every measured latency.  Linux stamps each packet as it is received
(``SO_TIMESTAMPNS``) and hands the stamp over with ``recvmsg``; this session reads that way,
so a chunk's time is the kernel's, however busy the client is.

It is a streamfold client transport (pass it as ``AsyncClient(http_client=...)``), with the
promises of the others: connect and read timeouts, keep-alive connections with no cap,
closing the connection on an early exit (the server sees the client leave).  It speaks
plain ``http://`` only (TLS would hide the stamps), parses answers with httptools (the C
parser uvicorn uses) and stamps reads on Linux (elsewhere, and for any read the kernel did
not stamp, the time the read returned).
"""

from __future__ import annotations

import asyncio
import collections
import socket
import struct
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from ._timeout import DEFAULT_TIMEOUT, Timeout, as_timeout

#: Linux's SO_TIMESTAMPNS (socket options 35; the control message has the same number); the
#: socket module does not name it.
SO_TIMESTAMPNS = 35
_STAMP = struct.Struct("@qq")  # struct timespec: seconds, nanoseconds
_ANCILLARY_BYTES = socket.CMSG_SPACE(_STAMP.size)
#: Bytes asked of each read.
READ_BYTES = 2**16
#: Body bytes held for a slow reader before the socket is no longer read (TCP then pushes back).
PAUSE_BYTES = 2**20
#: A stamp this much older than the read (ns), or newer, is taken as wrong (a clock step) and not used.
_STAMP_SANITY_NS = 60 * 1_000_000_000


#: Request headers this session writes itself.
_OWN_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})


class ConnectionClosedError(ConnectionError):
    """The server closed the connection before its answer ended."""


class ReadTimeoutError(asyncio.TimeoutError):
    """No byte of the answer came within the read timeout."""


class _Answer:
    """One answer on a connection: its head, the body pieces not yet read with the time
    each arrived, and how it ended."""

    __slots__ = (
        "status",
        "headers",
        "pieces",
        "stamps",
        "held",
        "arrived",
        "head_done",
        "complete",
        "error",
        "waiter",
        "connection",
    )

    def __init__(self, connection: _Connection) -> None:
        self.connection = connection
        self.status = 0
        self.headers: dict[str, str] = {}
        self.pieces: collections.deque[bytes] = collections.deque()
        self.stamps: collections.deque[float] = collections.deque()
        self.held = 0  # bytes in pieces
        self.arrived = 0.0  # the arrival time of the piece read last
        self.head_done = False
        self.complete = False
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def clock(self) -> float:
        return self.arrived


class _Connection:
    """One keep-alive connection: one request at a time, read from the loop's reader callback."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket, key: tuple[str, int]) -> None:
        import httptools

        self.loop = loop
        self.sock = sock
        self.fd = sock.fileno()
        self.key = key
        self.closed = False
        self.keep_alive = True  # False once an answer said the connection ends with it
        self.reading = False
        self.answer: _Answer | None = None
        self._parser_class = httptools.HttpResponseParser
        self._parser_error = httptools.HttpParserError
        self._parser: Any = None
        self._arrival = 0.0  # when the read being parsed arrived (perf_counter seconds)
        self._length_known = False
        self.read_timeout: float | None = None
        self._last_read = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._resume()

    # -- reading -----------------------------------------------------------------------------

    def _resume(self) -> None:
        if not self.reading and not self.closed:
            self.reading = True
            self.loop.add_reader(self.fd, self._readable)

    def _pause(self) -> None:
        if self.reading:
            self.reading = False
            self.loop.remove_reader(self.fd)

    def _readable(self) -> None:
        # hot loop: one recvmsg per readiness; the kernel's stamp turned into perf_counter time
        try:
            data, ancillary, _, _ = self.sock.recvmsg(READ_BYTES, _ANCILLARY_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._lost(exc)
            return
        now = time.perf_counter()
        arrived = now
        for level, kind, stamp in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(stamp) >= _STAMP.size:
                seconds, nanoseconds = _STAMP.unpack_from(stamp)
                # the stamp is wall-clock time: its age, read against the wall clock now (in
                # integer nanoseconds: a float of today's epoch seconds is only good to 0.2 us)
                age_ns = time.time_ns() - seconds * 1_000_000_000 - nanoseconds
                if 0 <= age_ns < _STAMP_SANITY_NS:
                    arrived = now - age_ns * 1e-9
        self._last_read = now
        if not data:
            self._eof()
            return
        answer = self.answer
        if answer is None:  # bytes while idle: not an answer to anything
            self._lost(ConnectionClosedError("the server sent bytes with no request pending"))
            return
        self._arrival = arrived
        try:
            self._parser.feed_data(data)
        except self._parser_error as exc:
            self._lost(ConnectionClosedError(f"the answer is not valid HTTP/1.1: {exc}"))
            return
        if answer.held > PAUSE_BYTES:
            self._pause()

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        assert self.answer is not None
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers = self.answer.headers
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
        if key in ("content-length", "transfer-encoding"):
            self._length_known = True

    def on_headers_complete(self) -> None:
        answer = self.answer
        assert answer is not None
        answer.status = self._parser.get_status_code()
        answer.head_done = True
        answer.wake()

    def on_body(self, body: bytes) -> None:
        answer = self.answer
        assert answer is not None
        answer.pieces.append(body)
        answer.stamps.append(self._arrival)
        answer.held += len(body)
        answer.wake()

    def on_message_complete(self) -> None:
        answer = self.answer
        assert answer is not None
        answer.complete = True
        if not self._parser.should_keep_alive():
            self.keep_alive = False
        answer.wake()

    def _eof(self) -> None:
        answer = self.answer
        if answer is not None and answer.head_done and not answer.complete and not self._length_known:
            answer.complete = True  # an answer without a length ends where the connection does
            self.keep_alive = False
            answer.wake()
            self.close()
            return
        self._lost(ConnectionClosedError("the server closed the connection before the answer ended"))

    def _lost(self, exc: BaseException) -> None:
        answer = self.answer
        if answer is not None and not answer.complete and answer.error is None:
            answer.error = exc
            answer.wake()
        self.close()

    # -- the read timeout: one timer per connection, moved on lazily ------------------------

    def _arm(self) -> None:
        if self.read_timeout is not None and self._timer is None:
            self._timer = self.loop.call_at(self.loop.time() + self.read_timeout, self._check_timeout)

    def _check_timeout(self) -> None:
        self._timer = None
        answer = self.answer
        if answer is None or answer.waiter is None or self.read_timeout is None:
            return
        idle = time.perf_counter() - self._last_read
        if idle >= self.read_timeout:
            answer.error = ReadTimeoutError(f"no byte of the answer in {self.read_timeout} s")
            answer.wake()
            self.close()
        else:
            self._timer = self.loop.call_at(self.loop.time() + self.read_timeout - idle, self._check_timeout)

    async def wait(self, answer: _Answer) -> None:
        """Wait for more of ``answer`` (a piece, its head, its end or its failure)."""
        waiter = answer.waiter = self.loop.create_future()
        self._arm()
        await waiter

    # -- requests ------------------------------------------------------------------------------

    def begin(self, read_timeout: float | None) -> _Answer:
        self.answer = answer = _Answer(self)
        self._parser = self._parser_class(self)
        self._length_known = False
        self.read_timeout = read_timeout
        self._last_read = time.perf_counter()
        return answer

    def reusable(self) -> bool:
        return not self.closed and self.keep_alive

    def release(self) -> None:
        self.answer = None
        self._parser = None
        self._resume()  # an idle connection is read too: the server closing it is seen at once

    def close(self) -> None:
        if self.closed:
            return
        self._pause()
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.sock.close()


def _open_socket(family: int) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if sys.platform.startswith("linux"):
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    return sock


class TimestampedSession:
    """An HTTP/1.1 session for ``AsyncClient(http_client=...)`` whose reads carry the kernel's
    receive time (see the module's docstring): ``on_read`` gets that time, as
    ``time.perf_counter()`` seconds.  ``on_sent(at)``, if given, is called when a request's
    bytes have all been handed to the kernel.  Plain ``http://`` only; make it in the
    running event loop; close it with ``await session.close()`` or ``async with``."""

    name = "timestamped"

    def __init__(self, *, timeout: Any = None, on_sent: Callable[[float], object] | None = None) -> None:
        self._default_timeout: Timeout = as_timeout(timeout) if timeout is not None else DEFAULT_TIMEOUT
        self._on_sent = on_sent
        self._idle: dict[tuple[str, int], list[_Connection]] = {}
        self._open: set[_Connection] = set()
        self._targets: dict[str, tuple[str, int, bytes]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.closed = False
        self.errors: tuple[type[BaseException], ...] = (OSError, asyncio.TimeoutError)
        self.owned = False

    # -- the transport interface of streamfold's client --------------------------------------

    @property
    def http_client(self) -> TimestampedSession:
        return self

    def is_timeout(self, exc: BaseException) -> bool:
        return isinstance(exc, asyncio.TimeoutError)

    @staticmethod
    def status(response: _Answer) -> int:
        return response.status

    @staticmethod
    def headers(response: _Answer) -> Mapping[str, str]:
        return response.headers

    @staticmethod
    def read_clock(response: _Answer) -> Callable[[], float]:
        return response.clock

    def _target(self, url: str) -> tuple[str, int, bytes]:
        found = self._targets.get(url)
        if found is None:
            parts = urlsplit(url)
            if parts.scheme != "http" or not parts.hostname:
                raise ValueError(f"TimestampedSession speaks plain http:// only, not {url!r}")
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            port = parts.port or 80
            host = f"{parts.hostname}:{port}" if parts.port else parts.hostname
            found = self._targets[url] = (parts.hostname, port, f"POST {path} HTTP/1.1\r\nhost: {host}\r\n".encode())
        return found

    async def _connect(self, host: str, port: int, timeout: Timeout) -> _Connection:
        loop = asyncio.get_running_loop()
        self._loop = loop
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        error: BaseException = OSError(f"no address for {host}")
        for family, _, _, _, address in infos:
            sock = _open_socket(family)
            try:
                await asyncio.wait_for(loop.sock_connect(sock, address), timeout.connect)
            except BaseException as exc:
                sock.close()
                if not isinstance(exc, (OSError, asyncio.TimeoutError)):
                    raise
                error = exc
                continue
            connection = _Connection(loop, sock, (host, port))
            self._open.add(connection)
            return connection
        raise error

    def _idle_connection(self, key: tuple[str, int]) -> _Connection | None:
        idle = self._idle.get(key)
        while idle:
            connection = idle.pop()
            if not connection.closed:
                return connection
            self._open.discard(connection)
        return None

    async def asend(self, url: str, headers: dict[str, str], body: bytes, timeout: Any) -> _Answer:
        """Send one POST; returns once the head of the answer is in."""
        if self.closed:
            raise RuntimeError("this TimestampedSession is closed")
        host, port, request_line = self._target(url)
        limits: Timeout = timeout if isinstance(timeout, Timeout) else self._default_timeout
        lines = [request_line]
        lines += [
            f"{name}: {value}\r\n".encode("latin-1") for name, value in headers.items() if name not in _OWN_HEADERS
        ]
        lines.append(f"content-length: {len(body)}\r\n\r\n".encode())
        message = b"".join(lines) + body
        while True:
            connection = self._idle_connection((host, port))
            reused = connection is not None
            if connection is None:
                connection = await self._connect(host, port, limits)
            try:
                return await self._exchange(connection, message, limits)
            except (ConnectionClosedError, ConnectionResetError, BrokenPipeError):
                if reused:
                    continue  # the server had closed the idle connection: once more on a new one
                raise

    async def _exchange(self, connection: _Connection, message: bytes, limits: Timeout) -> _Answer:
        answer = connection.begin(limits.read)
        try:
            # the send time is taken just before the bytes go to the kernel (a request fits in
            # the socket's buffer: one send, no wait); after an await it would include a turn
            # of the event loop, and the server may have the request before send() returns
            sent = time.perf_counter()
            try:
                written = connection.sock.send(message)
            except (BlockingIOError, InterruptedError):
                written = 0
            if written < len(message):
                await connection.loop.sock_sendall(connection.sock, memoryview(message)[written:])
            if self._on_sent is not None:
                self._on_sent(sent)
            while not answer.head_done:
                if answer.error is not None:
                    raise answer.error
                await connection.wait(answer)
        except BaseException:
            connection.close()
            self._open.discard(connection)
            raise
        return answer

    @staticmethod
    def areader(response: _Answer) -> Callable[[], Awaitable[bytes]]:
        async def read() -> bytes:
            # hot loop: a piece already in is returned without suspending
            while True:
                if response.pieces:
                    piece = response.pieces.popleft()
                    response.arrived = response.stamps.popleft()
                    response.held -= len(piece)
                    connection = response.connection
                    if not connection.reading and response.held < PAUSE_BYTES // 2:
                        connection._resume()
                    return piece
                if response.error is not None:
                    raise response.error
                if response.complete:
                    return b""
                await response.connection.wait(response)

        return read

    async def aread_all(self, response: _Answer) -> bytes:
        read = self.areader(response)
        pieces = []
        while piece := await read():
            pieces.append(piece)
        return b"".join(pieces)

    async def aclose_response(self, response: _Answer, finished: bool) -> None:
        connection = response.connection
        if connection.answer is not response:
            return  # released already
        if finished and response.complete and not response.pieces and connection.reusable() and not self.closed:
            connection.release()
            self._idle.setdefault(connection.key, []).append(connection)
        else:
            connection.close()  # cut short: the server sees the client leave
            self._open.discard(connection)

    async def aclose_client(self) -> None:
        pass  # the caller's session: the caller closes it

    # -- the caller's handle -----------------------------------------------------------------

    async def close(self) -> None:
        """Close every connection."""
        self.closed = True
        for connection in list(self._open):
            connection.close()
        self._open.clear()
        self._idle.clear()

    async def __aenter__(self) -> TimestampedSession:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
