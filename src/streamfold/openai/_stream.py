"""``stream_chat`` / ``astream_chat``: the official client sends the request, streamfold reads
the bytes.

The request goes through ``client.chat.completions.with_streaming_response.create`` so the
caller's client keeps its base URL, key, headers, retries and timeouts; the body is never
turned into ``ChatCompletionChunk`` objects, it goes straight into a ``StreamState``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import Any

from openai.types.chat import ParsedChatCompletion

from .. import _events as core
from .._api import _keep_partial
from .._errors import IncompleteStreamError
from .._contract import DEFAULT_MAX_EVENT_BYTES
from ._convert import request_format
from ._state import StreamState


def stream_chat(
    client: Any,
    *,
    raise_on_truncation: bool = False,
    parse_partial_arguments: bool = False,
    max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES,
    **create_kwargs: Any,
) -> ChatStream:
    """Stream a chat completion with an ``openai.OpenAI`` client, decoded by streamfold.

    ``create_kwargs`` are those of ``client.chat.completions.create`` (``stream=True`` is
    set; ``response_format`` may be a pydantic model, as with ``.stream()``).  Use it as a
    context manager::

        with stream_chat(client, model="gpt-4o", messages=[...]) as stream:
            for event in stream:
                if event.type == "content.delta":
                    print(event.delta, end="")
        completion = stream.get_final_completion()

    Leaving the ``with`` block or breaking out of the loop closes the response.
    """
    state = _make_state(create_kwargs, raise_on_truncation, parse_partial_arguments, max_event_bytes)
    return ChatStream(client, _request(create_kwargs), state)


def astream_chat(
    client: Any,
    *,
    raise_on_truncation: bool = False,
    parse_partial_arguments: bool = False,
    max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES,
    **create_kwargs: Any,
) -> AsyncChatStream:
    """``stream_chat`` for an ``openai.AsyncOpenAI`` client: ``async with`` / ``async for``,
    ``await stream.get_final_completion()``."""
    state = _make_state(create_kwargs, raise_on_truncation, parse_partial_arguments, max_event_bytes)
    return AsyncChatStream(client, _request(create_kwargs), state)


def _make_state(
    create_kwargs: dict[str, Any], raise_on_truncation: bool, parse_partial_arguments: bool,
    max_event_bytes: int | None,
) -> StreamState:
    return StreamState(
        input_tools=create_kwargs.get("tools"),
        response_format=create_kwargs.get("response_format"),
        raise_on_truncation=raise_on_truncation,
        parse_partial_arguments=parse_partial_arguments,
        max_event_bytes=max_event_bytes,
    )


def _request(create_kwargs: dict[str, Any]) -> dict[str, Any]:
    if create_kwargs.get("stream") is False:
        raise ValueError("stream_chat() always streams: do not pass stream=False")
    request = {**create_kwargs, "stream": True}
    if "response_format" in request:
        request["response_format"] = request_format(request["response_format"])
    return request


class _BaseStream:
    def __init__(self, client: Any, request: dict[str, Any], state: StreamState) -> None:
        self._client = client
        self._request = request
        self._state = state
        self._manager: Any = None
        self._response: Any = None
        self._finished = False
        self._closed = False

    @property
    def response(self) -> Any:
        """openai's ``APIResponse`` (headers, status, ``request_id``); None until opened."""
        return self._response

    @property
    def state(self) -> StreamState:
        """The ``StreamState`` folding this stream."""
        return self._state

    @property
    def current_completion_snapshot(self) -> ParsedChatCompletion[Any]:
        """The completion so far, as openai's ``ParsedChatCompletion``."""
        return self._state.current_completion_snapshot

    def _check_open(self) -> None:
        if self._closed and not self._finished:
            error = IncompleteStreamError("the stream was closed before it ended")
            _keep_partial(error, self._state.accumulator)
            raise error

    def _fail(self, exc: Exception) -> None:
        _keep_partial(exc, self._state.accumulator)


class ChatStream(_BaseStream):
    """A streaming chat completion: iterate its events, then ``get_final_completion()``."""

    def __enter__(self) -> ChatStream:
        self._open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _open(self) -> None:
        if self._manager is None:
            manager = self._client.chat.completions.with_streaming_response.create(**self._request)
            self._response = manager.__enter__()
            self._manager = manager

    def close(self) -> None:
        """Close the response and release the connection (safe to call twice)."""
        self._closed = True
        manager, self._manager = self._manager, False
        if manager:
            manager.__exit__(None, None, None)

    def __iter__(self) -> Iterator[core.ChatEvent]:
        if self._finished:
            return
        self._check_open()
        self._open()
        done = False
        try:
            for piece in self._response.iter_bytes():
                yield from self._state.feed(piece)
            done = True
        except Exception as exc:
            self._fail(exc)
            raise
        finally:
            if not done:  # an error, a break, or the generator dropped: free the connection
                self.close()
        self._finished = True
        self.close()

    def until_done(self) -> ChatStream:
        """Read the rest of the stream (its events are dropped)."""
        for _ in self:
            pass
        return self

    def get_final_completion(self) -> ParsedChatCompletion[Any]:
        """Read the rest of the stream and return openai's ``ParsedChatCompletion``.

        A stream cut before its end raises ``streamfold.IncompleteStreamError`` (with
        ``.partial``), as does calling this after breaking out of the loop.
        """
        self.until_done()
        return self._state.get_final_completion()


class AsyncChatStream(_BaseStream):
    """``ChatStream`` for ``AsyncOpenAI``."""

    async def __aenter__(self) -> AsyncChatStream:
        await self._open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def _open(self) -> None:
        if self._manager is None:
            manager = self._client.chat.completions.with_streaming_response.create(**self._request)
            self._response = await manager.__aenter__()
            self._manager = manager

    async def close(self) -> None:
        """Close the response and release the connection (safe to call twice)."""
        self._closed = True
        manager, self._manager = self._manager, False
        if manager:
            await manager.__aexit__(None, None, None)

    def __aiter__(self) -> AsyncIterator[core.ChatEvent]:
        return self._pump(False)

    def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body's bytes as they arrive, unchanged (to relay them): each piece is given,
        then folded into ``state``, so ``get_final_completion()`` holds after the loop."""
        return self._pump(True)

    async def _pump(self, raw: bool) -> AsyncIterator[Any]:
        """Read the body into the state; yield its events, or (``raw``) the bytes read."""
        if self._finished:
            return
        self._check_open()
        await self._open()
        done = False
        try:
            async for piece in self._response.iter_bytes():
                if raw:
                    yield piece
                    self._state.feed(piece)
                    continue
                for event in self._state.feed(piece):
                    yield event
            done = True
        except Exception as exc:
            self._fail(exc)
            raise
        finally:
            if not done:
                await self.close()
        self._finished = True
        await self.close()

    async def until_done(self) -> AsyncChatStream:
        """Read the rest of the stream (its events are dropped)."""
        async for _ in self:
            pass
        return self

    async def get_final_completion(self) -> ParsedChatCompletion[Any]:
        """Read the rest of the stream and return openai's ``ParsedChatCompletion``."""
        await self.until_done()
        return self._state.get_final_completion()
