"""``Client`` (httpx) and ``AsyncClient`` (aiohttp, or httpx): chat completions, every byte read by streamfold."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

import orjson

from .._contract import DEFAULT_MAX_EVENT_BYTES
from ._retry import RetryPolicy
from ._stream import AsyncChatStream, Call, ChatStream, StreamOptions
from ._timeout import as_timeout
from ._transport import AsyncTransport, HttpxTransport, async_transport, sync_transport

DEFAULT_BASE_URL = "https://api.openai.com/v1"


class _ClientBase:
    """Settings and request building shared by the sync and async clients."""

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: Any = None,
        max_retries: int | RetryPolicy = 2,
        http_client: Any = None,
    ) -> None:
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.retry_policy = max_retries if isinstance(max_retries, RetryPolicy) else RetryPolicy(max_retries)
        # a caller's HTTP client keeps its own timeouts unless this client is given some
        self._timeout = as_timeout(timeout) if timeout is not None or http_client is None else None
        self._transport = self._make_transport(http_client, self._timeout)
        self._headers = self._default_headers(headers)

    def _make_transport(self, http_client: Any, timeout: Any) -> AsyncTransport:
        raise NotImplementedError

    @property
    def http_client(self) -> Any:
        """The HTTP client requests go through (the caller's, or our own; with ``AsyncClient``,
        our own aiohttp session exists from the first request on, None before)."""
        return self._transport.http_client

    @property
    def transport(self) -> str:
        """The HTTP library in use: ``"aiohttp"``, ``"httpx"``, ``"httpx2"`` or ``"timestamped"``
        (a ``TimestampedSession``)."""
        return self._transport.name

    def _default_headers(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        from .._version import __version__

        headers = {
            "content-type": "application/json",
            "accept": "text/event-stream",
            "user-agent": f"streamfold/{__version__}",
        }
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        headers.update({name.lower(): value for name, value in (extra or {}).items()})
        return headers

    def _call(self, request: dict[str, Any], extra_headers: Mapping[str, str] | None, timeout: Any) -> Call:
        if request.get("stream") is False:
            raise ValueError("stream_chat() and chat() always stream: do not pass stream=False")
        body = {**request, "stream": True}
        if "stream_options" not in body:
            body["stream_options"] = {"include_usage": True}
        elif body["stream_options"] is None:  # the caller asked for no stream_options at all
            del body["stream_options"]
        headers = self._headers
        if extra_headers:
            headers = {**headers, **{name.lower(): value for name, value in extra_headers.items()}}
        return Call(
            transport=self._transport,
            url=f"{self.base_url}/chat/completions",
            headers=headers,
            body=orjson.dumps(body),
            timeout=self._timeout if timeout is None else as_timeout(timeout),
            policy=self.retry_policy,
        )


_STREAM_DOC = """Start a streamed chat completion; use the result as a context manager.

        ``request`` is the JSON body (``model``, ``messages``, ``tools``...).  ``stream``
        is set to true and ``stream_options`` to ``{"include_usage": true}`` unless given
        (``stream_options=None`` sends none).  ``extra_headers`` and ``timeout`` apply to
        this request (``timeout`` in seconds, or a ``streamfold.client.Timeout`` with
        ``connect``, ``read`` and ``total``); ``raise_on_truncation``, ``parse_partial_arguments`` and
        ``max_event_bytes`` are those of ``ChatAccumulator`` / ``fold``; ``on_read(arrived,
        piece)``, if given, is called for every read of the body with the
        ``time.perf_counter()`` at which it returned (on a ``TimestampedSession``: at which
        the kernel received it) and its bytes, before they are folded.
        The request is sent on entering the ``with`` block, retried (before the body begins only) on
        connection errors, 408, 429 and 5xx."""


class Client(_ClientBase):
    """A synchronous chat-completions client over httpx (or the caller's httpx/httpx2 client).

    ``base_url`` and ``api_key`` default to ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY``;
    ``headers`` are sent with every request; ``timeout`` (seconds to connect and between
    reads, or a ``streamfold.client.Timeout``; 10 s to connect and 600 s between reads by
    default) and ``max_retries`` (a count, or a ``RetryPolicy`` to set the waits too)
    apply to every request.  A client passed in as ``http_client`` keeps its own pool,
    proxies, transport and (unless ``timeout`` is given) timeouts, and is not closed by
    ``close()``.
    """

    def _make_transport(self, http_client: Any, timeout: Any) -> HttpxTransport:
        return sync_transport(http_client, timeout)

    def stream_chat(
        self,
        *,
        extra_headers: Mapping[str, str] | None = None,
        timeout: Any = None,
        raise_on_truncation: bool = False,
        parse_partial_arguments: bool = False,
        max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES,
        on_read: Callable[[float, bytes], object] | None = None,
        **request: Any,
    ) -> ChatStream:
        call = self._call(request, extra_headers, timeout)
        return ChatStream(call, StreamOptions(raise_on_truncation, parse_partial_arguments, max_event_bytes, on_read))

    stream_chat.__doc__ = _STREAM_DOC

    def chat(self, *, on_delta: Callable[[str], object] | None = None, **request: Any) -> dict[str, Any]:
        """Stream a chat completion and return it folded; ``on_delta(text)`` is called for each
        text delta as it arrives.  Takes the arguments of ``stream_chat``."""
        with self.stream_chat(**request) as stream:
            if on_delta is not None:
                for text in stream.text():
                    on_delta(text)
            return stream.result()

    def close(self) -> None:
        """Close the HTTP client, if this client created it."""
        transport = self._transport
        assert isinstance(transport, HttpxTransport)  # a sync client runs on httpx only
        transport.close_client()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncClient(_ClientBase):
    """``Client`` for asyncio: ``async with client.stream_chat(...)``, ``await client.chat(...)``.

    Reads with its own aiohttp session (made on the first request, in the running loop; no
    cap on connections, idle ones kept alive), or with the caller's ``http_client``: an
    ``aiohttp.ClientSession``, ``httpx.AsyncClient`` or ``httpx2.AsyncClient``, or a
    ``TimestampedSession`` (plain http; each read timed by the kernel: for benchmarks).
    """

    def stream_chat(
        self,
        *,
        extra_headers: Mapping[str, str] | None = None,
        timeout: Any = None,
        raise_on_truncation: bool = False,
        parse_partial_arguments: bool = False,
        max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES,
        on_read: Callable[[float, bytes], object] | None = None,
        **request: Any,
    ) -> AsyncChatStream:
        call = self._call(request, extra_headers, timeout)
        return AsyncChatStream(
            call, StreamOptions(raise_on_truncation, parse_partial_arguments, max_event_bytes, on_read)
        )

    stream_chat.__doc__ = _STREAM_DOC

    async def chat(self, *, on_delta: Callable[[str], object] | None = None, **request: Any) -> dict[str, Any]:
        """``Client.chat``; ``on_delta`` may be a plain function or a coroutine function."""
        async with self.stream_chat(**request) as stream:
            if on_delta is not None:
                async for text in stream.text():
                    outcome = on_delta(text)
                    if inspect.isawaitable(outcome):
                        await outcome
            return await stream.result()

    def _make_transport(self, http_client: Any, timeout: Any) -> AsyncTransport:
        return async_transport(http_client, timeout)

    async def aclose(self) -> None:
        """Close the HTTP client, if this client created it."""
        await self._transport.aclose_client()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
