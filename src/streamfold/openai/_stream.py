"""``stream_chat`` / ``astream_chat``: the official client sends the request, streamfold reads
the bytes.

The request is openai-python's own ``.stream()`` request: ``client.chat.completions.create``
with ``stream=True`` and the ``X-Stainless-Helper-Method: chat.completions.stream`` header,
so the caller's client keeps its base URL, key, headers, retries, timeouts and error types.
Its response body is never turned into ``ChatCompletionChunk`` objects: the raw bytes go
straight into a ``StreamState``.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from types import TracebackType
from typing import Any, Generic, TypeVar

from openai.types.chat import ParsedChatCompletion

from .._contract import DEFAULT_MAX_EVENT_BYTES
from .._errors import IncompleteStreamError
from ._convert import is_given, request_format
from ._errors import translate
from ._events import EVENT_TYPES, Callback
from ._state import StreamState, event_pieces

ResponseFormatT = TypeVar("ResponseFormatT")

#: What openai-python's ``.stream()`` tells the API it is (the caller's own value wins).
HELPER_HEADER = {"X-Stainless-Helper-Method": "chat.completions.stream"}


def stream_chat(
    client: Any,
    *,
    fixes: bool = False,
    raise_on_truncation: bool | None = None,
    parse_partial_arguments: bool = False,
    max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES,
    **create_kwargs: Any,
) -> ChatStream[Any]:
    """Stream a chat completion with an ``openai.OpenAI`` client, decoded by streamfold.

    ``create_kwargs`` are those of ``client.chat.completions.stream`` (``response_format``
    may be a pydantic model, ``tools`` may hold ``openai.pydantic_function_tool``\\s).  The
    events are openai's (see ``StreamState``, which also says what ``fixes=True`` changes)::

        with stream_chat(client, model="gpt-4o", messages=[...]) as stream:
            for event in stream:
                if event.type == "content.delta":
                    print(event.delta, end="")
        completion = stream.get_final_completion()

    Leaving the ``with`` block closes the response; breaking out of the loop does not (a
    second loop carries on where the first stopped).
    """
    request, state = _prepare(create_kwargs, fixes, raise_on_truncation, parse_partial_arguments, max_event_bytes)
    return ChatStream(client, request, state)


def astream_chat(
    client: Any,
    *,
    fixes: bool = False,
    raise_on_truncation: bool | None = None,
    parse_partial_arguments: bool = False,
    max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES,
    **create_kwargs: Any,
) -> AsyncChatStream[Any]:
    """``stream_chat`` for an ``openai.AsyncOpenAI`` client: ``async with`` / ``async for``,
    ``await stream.get_final_completion()``; ``on()`` callbacks may be coroutine functions."""
    request, state = _prepare(create_kwargs, fixes, raise_on_truncation, parse_partial_arguments, max_event_bytes)
    return AsyncChatStream(client, request, state)


def _prepare(
    create_kwargs: dict[str, Any],
    fixes: bool,
    raise_on_truncation: bool | None,
    parse_partial_arguments: bool,
    max_event_bytes: int | None,
) -> tuple[dict[str, Any], StreamState[Any]]:
    """The ``create`` request (openai's ``.stream()`` request) and the state that folds its answer."""
    if create_kwargs.get("stream") is False:
        raise ValueError("stream_chat() always streams: do not pass stream=False")
    request = {**create_kwargs, "stream": True}
    tools: Any = request.get("tools")
    if is_given(tools):
        request["tools"] = tools = list(tools)  # a generator is read once, for the request and the parsing
    if "response_format" in request:
        request["response_format"] = request_format(request["response_format"])
    request["extra_headers"] = {**HELPER_HEADER, **(request.get("extra_headers") or {})}
    state: StreamState[Any] = StreamState(
        input_tools=tools,
        response_format=create_kwargs.get("response_format"),
        fixes=fixes,
        raise_on_truncation=raise_on_truncation,
        parse_partial_arguments=parse_partial_arguments,
        max_event_bytes=max_event_bytes,
    )
    return request, state


class _BaseStream(Generic[ResponseFormatT]):
    def __init__(self, client: Any, request: dict[str, Any], state: StreamState[ResponseFormatT]) -> None:
        self._client = client
        self._request = request
        self._state = state
        self._raw: Any = None  # openai's Stream / AsyncStream: the response, never iterated
        self._finished = False  # no event is left: the body was read to its end, or reading it failed
        self._closed = False
        self._error: Exception | None = None  # what reading the body failed with
        self._callbacks: dict[str, list[Callback]] = {}

    @property
    def response(self) -> Any:
        """The HTTP response (``status_code``, ``headers``); None until the request is sent."""
        return None if self._raw is None else self._raw.response

    @property
    def state(self) -> StreamState[ResponseFormatT]:
        """The ``StreamState`` folding this stream."""
        return self._state

    @property
    def current_completion_snapshot(self) -> ParsedChatCompletion[Any]:
        """The completion so far, as openai's ``ParsedChatCompletion``."""
        return self._state.current_completion_snapshot

    def on(self, event_type: str, callback: Callback) -> Any:
        """Call ``callback(event)`` for every event of ``event_type`` as the stream is read
        (by a loop, ``until_done()`` or ``get_final_completion()``); returns the stream."""
        if event_type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {event_type!r} (one of: {', '.join(sorted(EVENT_TYPES))})")
        self._check_callback(callback)
        self._callbacks.setdefault(event_type, []).append(callback)
        return self

    def off(self, event_type: str, callback: Callback) -> Any:
        """Stop calling ``callback`` for ``event_type``; returns the stream."""
        callbacks = self._callbacks.get(event_type, [])
        if callback in callbacks:
            callbacks.remove(callback)
        return self

    def _check_callback(self, callback: Callback) -> None:
        if not callable(callback):
            raise TypeError(f"a callback must be callable, not {type(callback).__name__}")

    def _fail(self, exc: Exception) -> Exception:
        """Reading failed: nothing more will come (openai's iterator ends, and
        ``get_final_completion()`` raises again).  Returns the error to raise: openai's type
        (see ``_errors``), with the completion so far in ``.partial``."""
        self._finished = True
        acc = self._state.accumulator
        self._error = translate(exc, self._raw.response.request, acc.snapshot() if acc.chunks else None)
        return self._error

    def _final(self) -> ParsedChatCompletion[ResponseFormatT]:
        if self._error is not None:  # the stream failed: its error again, not a completion cut short
            raise self._error
        if self._closed and not self._finished and not self._state.accumulator.chunks:
            raise IncompleteStreamError("the stream was closed before any chunk arrived")
        return self._state.get_final_completion()


class ChatStream(_BaseStream[ResponseFormatT]):
    """A streaming chat completion: an iterator of its events, then ``get_final_completion()``.

    As openai-python's ``ChatCompletionStream``: ``next(stream)``, any number of loops (each
    carries on where the last stopped), ``until_done()``, ``current_completion_snapshot``,
    ``close()``; plus ``on(event_type, callback)``.
    """

    def __init__(self, client: Any, request: dict[str, Any], state: StreamState[ResponseFormatT]) -> None:
        super().__init__(client, request, state)
        self._pieces: Generator[bytes, None, None] | None = None
        self._events: Iterator[Any] | None = None

    def __enter__(self) -> ChatStream[ResponseFormatT]:
        self._send()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _send(self) -> None:
        if self._raw is None and not self._closed:
            self._raw = self._client.chat.completions.create(**self._request)

    def close(self) -> None:
        """Close the response and release the connection (safe to call twice); the events
        not read yet are dropped."""
        self._closed = True
        if self._raw is not None:
            self._raw.response.close()
        if self._pieces is not None:
            try:
                self._pieces.close()
            except ValueError:  # close() from a callback, while the body is being read
                pass

    def __iter__(self) -> Iterator[Any]:
        # The one iterator of the stream: a loop that breaks leaves it where it stopped.  The
        # hot path: itertools.chain hands out each chunk's events without a Python frame per
        # event; the body is read, and each chunk folded, only when the events before are taken.
        if self._events is None:
            self._pieces = self._read()
            self._events = itertools.chain.from_iterable(map(self._events_of, self._pieces))
        return self._events

    def __next__(self) -> Any:
        return next(iter(self))

    def _read(self) -> Generator[bytes, None, None]:
        """The body, cut so that no piece completes more than one event."""
        self._send()
        if self._raw is None:  # closed before the request was sent
            return
        response = self._raw.response
        try:
            for read in response.iter_bytes():
                yield from event_pieces(read)
        except Exception as exc:
            response.close()
            error = self._fail(exc)
            if error is exc:
                raise
            raise error from exc
        self._finished = True
        response.close()

    def _events_of(self, piece: bytes) -> list[Any]:
        """A piece's events (a chunk's), given to the ``on()`` callbacks first."""
        try:
            events = self._state._feed_event(piece)
        except Exception as exc:
            self._raw.response.close()
            if self._pieces is not None:
                self._pieces.close()  # nothing more comes, as from openai's iterator after an error
            error = self._fail(exc)
            if error is exc:
                raise
            raise error from exc
        if self._callbacks:
            for event in events:
                for callback in self._callbacks.get(event.type, ()):
                    callback(event)
        return events

    def until_done(self) -> ChatStream[ResponseFormatT]:
        """Read the rest of the stream (calling the ``on()`` callbacks); returns the stream."""
        for _ in self:
            pass
        return self

    def get_final_completion(self) -> ParsedChatCompletion[ResponseFormatT]:
        """Read the rest of the stream and return openai's ``ParsedChatCompletion``.

        A stream cut before its end raises ``streamfold.IncompleteStreamError`` (with
        ``.partial``), as does calling this after the stream was closed unfinished.
        """
        self.until_done()
        return self._final()

    def _check_callback(self, callback: Callback) -> None:
        super()._check_callback(callback)
        if inspect.iscoroutinefunction(callback):
            raise TypeError("a coroutine function needs astream_chat() (an AsyncOpenAI client)")


class AsyncChatStream(_BaseStream[ResponseFormatT]):
    """``ChatStream`` for ``AsyncOpenAI``: ``async with``, ``async for``, ``await anext(stream)``."""

    def __init__(self, client: Any, request: dict[str, Any], state: StreamState[ResponseFormatT]) -> None:
        super().__init__(client, request, state)
        self._events: AsyncGenerator[Any, None] | None = None

    async def __aenter__(self) -> AsyncChatStream[ResponseFormatT]:
        await self._send()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def _send(self) -> None:
        if self._raw is None and not self._closed:
            self._raw = await self._client.chat.completions.create(**self._request)

    async def close(self) -> None:
        """Close the response and release the connection (safe to call twice); the events
        not read yet are dropped."""
        self._closed = True
        if self._raw is not None:
            await self._raw.response.aclose()
        if self._events is not None:
            try:
                await self._events.aclose()
            except RuntimeError:  # close() from a callback, while the events are being read
                pass

    def __aiter__(self) -> AsyncIterator[Any]:
        if self._events is None:
            self._events = self._read(False)
        return self._events

    async def __anext__(self) -> Any:
        return await self.__aiter__().__anext__()

    def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body's bytes as they arrive, unchanged (to relay them): each read is given,
        then folded into the stream's state (callbacks called), so ``get_final_completion()``
        holds after the loop.  A stream is read once: either its events or its bytes."""
        if self._events is None:
            self._events = self._read(True)
        return self._events

    async def _read(self, raw: bool) -> AsyncGenerator[Any, None]:
        await self._send()
        if self._raw is None:  # closed before the request was sent
            return
        response = self._raw.response
        feed, callbacks = self._state._feed_event, self._callbacks
        try:
            async for read in response.aiter_bytes():
                if raw:
                    yield read
                for piece in event_pieces(read):  # one chunk at a time (see StreamState.iter_feed)
                    for event in feed(piece):
                        if callbacks:
                            for callback in callbacks.get(event.type, ()):
                                result = callback(event)
                                if inspect.isawaitable(result):
                                    await result
                        if not raw:
                            yield event
        except Exception as exc:
            await response.aclose()
            error = self._fail(exc)
            if error is exc:
                raise
            raise error from exc
        self._finished = True
        await response.aclose()

    async def until_done(self) -> AsyncChatStream[ResponseFormatT]:
        """Read the rest of the stream (calling and awaiting the ``on()`` callbacks)."""
        async for _ in self:
            pass
        return self

    async def get_final_completion(self) -> ParsedChatCompletion[ResponseFormatT]:
        """Read the rest of the stream and return openai's ``ParsedChatCompletion``."""
        await self.until_done()
        return self._final()
