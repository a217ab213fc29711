"""The HTTP libraries the client runs on, behind one small interface each.

``AsyncClient`` reads with aiohttp by default (its own ``ClientSession``: no connection cap,
keep-alive) and also runs on a caller's ``aiohttp.ClientSession``, ``httpx.AsyncClient`` or
``httpx2.AsyncClient``; ``Client`` runs on httpx (its own) or a caller's httpx / httpx2
client.  A transport sends one request and hands back the library's own response object;
the stream then asks the transport for the status, the headers, a ``read`` coroutine (or
function) giving the body piece by piece (``b""`` at the end), and to close it.
"""

from __future__ import annotations

import asyncio
import io
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from types import ModuleType
from typing import Any

from ._http import http_library
from ._timeout import Timeout
from ._timestamped import TimestampedSession

#: Our own httpx client's pool (the sync client reads one stream at a time per thread).
HTTPX_MAX_CONNECTIONS = 1000
HTTPX_MAX_KEEPALIVE = 100
#: Our own aiohttp session's read buffer: the bytes it holds before pausing the socket.
AIOHTTP_READ_BUFSIZE = 2**16  # aiohttp's own default; readany() is not bounded by it
#: Request bodies above this go to aiohttp as a file-like object (it warns about larger bytes).
AIOHTTP_LARGE_BODY = 2**20


def _returned_clock(response: Any) -> Callable[[], float]:
    """A transport's ``read_clock``: when the read just returned arrived (for these
    libraries: the time it returned)."""
    return time.perf_counter


def _httpx_timeout(library: ModuleType, timeout: Any) -> Any:
    """A per-request httpx timeout (None: the client's own)."""
    if timeout is None or not isinstance(timeout, Timeout):
        return timeout  # None, or the caller's httpx.Timeout as it is
    return library.Timeout(timeout.read, connect=timeout.connect)


class HttpxTransport:
    """httpx or httpx2 (the same API, separate exception classes), sync or async."""

    name = "httpx"

    def __init__(self, http_client: Any, *, asynchronous: bool, owned: bool) -> None:
        self.library = http_library(http_client, asynchronous=asynchronous)
        self.name = self.library.__name__
        self.http_client = http_client
        self.owned = owned
        self.errors: tuple[type[BaseException], ...] = (self.library.TransportError,)
        self._timeouts = (self.library.TimeoutException,)

    @classmethod
    def own(cls, timeout: Timeout, *, asynchronous: bool) -> HttpxTransport:
        import httpx

        limits = httpx.Limits(max_connections=HTTPX_MAX_CONNECTIONS, max_keepalive_connections=HTTPX_MAX_KEEPALIVE)
        client_class = httpx.AsyncClient if asynchronous else httpx.Client
        return cls(
            client_class(timeout=_httpx_timeout(httpx, timeout), limits=limits), asynchronous=asynchronous, owned=True
        )

    def is_timeout(self, exc: BaseException) -> bool:
        return isinstance(exc, self._timeouts)

    def _request(self, url: str, headers: dict[str, str], body: bytes, timeout: Any) -> Any:
        options = {} if timeout is None else {"timeout": _httpx_timeout(self.library, timeout)}
        return self.http_client.build_request("POST", url, content=body, headers=headers, **options)

    @staticmethod
    def status(response: Any) -> int:
        return int(response.status_code)

    @staticmethod
    def headers(response: Any) -> Mapping[str, str]:
        headers: Mapping[str, str] = response.headers
        return headers

    read_clock = staticmethod(_returned_clock)

    # -- sync ------------------------------------------------------------------------------

    def send(self, url: str, headers: dict[str, str], body: bytes, timeout: Any) -> Any:
        return self.http_client.send(self._request(url, headers, body, timeout), stream=True)

    @staticmethod
    def reader(response: Any) -> Callable[[], bytes]:
        pieces = response.iter_bytes()
        return lambda: next(pieces, b"")

    @staticmethod
    def read_all(response: Any) -> bytes:
        content: bytes = response.read()
        return content

    @staticmethod
    def close(response: Any) -> None:
        response.close()

    def close_client(self) -> None:
        if self.owned:
            self.http_client.close()

    # -- async -----------------------------------------------------------------------------

    async def asend(self, url: str, headers: dict[str, str], body: bytes, timeout: Any) -> Any:
        return await self.http_client.send(self._request(url, headers, body, timeout), stream=True)

    @staticmethod
    def areader(response: Any) -> Callable[[], Awaitable[bytes]]:
        pieces = response.aiter_bytes()
        next_piece = pieces.__anext__

        async def read() -> bytes:
            try:
                piece: bytes = await next_piece()
            except StopAsyncIteration:
                return b""
            return piece

        return read

    @staticmethod
    async def aread_all(response: Any) -> bytes:
        content: bytes = await response.aread()
        return content

    @staticmethod
    async def aclose_response(response: Any, finished: bool) -> None:
        await response.aclose()

    async def aclose_client(self) -> None:
        if self.owned:
            await self.http_client.aclose()


class AiohttpTransport:
    """aiohttp: a caller's ``ClientSession``, or our own, made on first use (aiohttp wants
    its session made inside the running event loop)."""

    name = "aiohttp"

    def __init__(self, session: Any, *, timeout: Any) -> None:
        import aiohttp

        self.aiohttp = aiohttp
        self.session = session
        self.owned = session is None
        self._default_timeout = timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self.errors: tuple[type[BaseException], ...] = (aiohttp.ClientError, asyncio.TimeoutError, OSError)
        self._client_timeouts: dict[Timeout, Any] = {}

    @property
    def http_client(self) -> Any:
        return self.session

    def _client_timeout(self, timeout: Timeout) -> Any:
        found = self._client_timeouts.get(timeout)
        if found is None:
            found = self._client_timeouts[timeout] = self.aiohttp.ClientTimeout(
                total=None, connect=None, sock_connect=timeout.connect, sock_read=timeout.read
            )
        return found

    def _session(self) -> Any:
        loop = asyncio.get_running_loop()
        if self.owned and self.session is not None and self.session.closed:
            self.session = None  # closed by aclose(): the next request makes a new one, in its own loop
        if self.owned and self.session is not None and self._loop is not loop:
            raise RuntimeError(
                "this AsyncClient's aiohttp session was made in another event loop: make the "
                "client in the loop that uses it (one asyncio.run / streamfold.run), or pass your "
                "own http_client"
            )
        if self.session is None:
            self._loop = loop
            aiohttp = self.aiohttp
            # limit=0: no connection cap (aiohttp's default of 100 would queue the 101st stream)
            connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)
            self.session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._client_timeout(self._default_timeout),
                read_bufsize=AIOHTTP_READ_BUFSIZE,
            )
        return self.session

    def is_timeout(self, exc: BaseException) -> bool:
        return isinstance(exc, asyncio.TimeoutError)

    @staticmethod
    def status(response: Any) -> int:
        return int(response.status)

    @staticmethod
    def headers(response: Any) -> Mapping[str, str]:
        headers: Mapping[str, str] = response.headers
        return headers

    read_clock = staticmethod(_returned_clock)

    async def asend(self, url: str, headers: dict[str, str], body: bytes, timeout: Any) -> Any:
        data: bytes | io.BytesIO = body if len(body) <= AIOHTTP_LARGE_BODY else io.BytesIO(body)
        if isinstance(timeout, Timeout):
            return await self._session().post(url, data=data, headers=headers, timeout=self._client_timeout(timeout))
        if timeout is not None:
            raise TypeError(
                f"an aiohttp transport takes a number of seconds or a streamfold Timeout, "
                f"not {type(timeout).__module__}.{type(timeout).__name__}"
            )
        return await self._session().post(url, data=data, headers=headers)

    @staticmethod
    def areader(response: Any) -> Callable[[], Awaitable[bytes]]:
        read: Callable[[], Awaitable[bytes]] = response.content.readany  # b"" at the end
        return read

    @staticmethod
    async def aread_all(response: Any) -> bytes:
        content: bytes = await response.read()
        return content

    @staticmethod
    async def aclose_response(response: Any, finished: bool) -> None:
        if finished:
            response.release()  # the whole body was read: the connection goes back to the pool
        else:
            response.close()  # cut short: close the connection, so the server sees us leave

    async def aclose_client(self) -> None:
        if self.owned and self.session is not None:
            await self.session.close()


def _is_aiohttp_session(http_client: Any) -> bool:
    aiohttp = sys.modules.get("aiohttp")
    return aiohttp is not None and isinstance(http_client, aiohttp.ClientSession)


AsyncTransport = HttpxTransport | AiohttpTransport | TimestampedSession


def async_transport(http_client: Any, timeout: Timeout) -> AsyncTransport:
    """The transport for ``AsyncClient(http_client=...)``: ours (aiohttp) when None; a
    ``TimestampedSession`` is a transport of its own."""
    if http_client is None:
        return AiohttpTransport(None, timeout=timeout)
    if isinstance(http_client, TimestampedSession):
        return http_client
    if _is_aiohttp_session(http_client):
        return AiohttpTransport(http_client, timeout=None)
    try:
        return HttpxTransport(http_client, asynchronous=True, owned=False)
    except TypeError:
        raise TypeError(
            "http_client must be an aiohttp.ClientSession, httpx.AsyncClient, httpx2.AsyncClient or a "
            "streamfold TimestampedSession, not "
            f"{type(http_client).__module__}.{type(http_client).__qualname__}"
        ) from None


def sync_transport(http_client: Any, timeout: Timeout) -> HttpxTransport:
    """The transport for ``Client(http_client=...)``: our own httpx client when None."""
    if http_client is None:
        return HttpxTransport.own(timeout, asynchronous=False)
    return HttpxTransport(http_client, asynchronous=False, owned=False)
