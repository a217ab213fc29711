"""What the relay reads: a streamfold stream, an HTTP response, or any async iterable of bytes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class ByteStream(Protocol):
    """Anything with ``aiter_bytes()``: ``AsyncClient.stream_chat(...)``,
    ``streamfold.openai.astream_chat(...)``, an httpx response opened with ``stream=True``."""

    def aiter_bytes(self) -> AsyncIterator[bytes]: ...


#: What ``relay`` takes.
Source = ByteStream | AsyncIterable[bytes]


def check_source(source: object) -> None:
    """A ``TypeError`` now, in the route, for something the relay cannot read."""
    if not isinstance(source, ByteStream) and not hasattr(source, "__aiter__"):
        raise TypeError(
            "relay() needs a stream with aiter_bytes() (AsyncClient.stream_chat(...), "
            f"streamfold.openai.astream_chat(...)) or an async iterable of bytes, not {type(source).__name__}"
        )


@contextlib.asynccontextmanager
async def opened(source: Source) -> AsyncIterator[AsyncIterator[bytes]]:
    """The source's bytes, with the source open (a stream not yet entered is entered here,
    which sends its request) and closed on leaving, however that happens."""
    async with contextlib.AsyncExitStack() as stack:
        if hasattr(source, "__aenter__"):
            await stack.enter_async_context(source)  # type: ignore[arg-type]
        elif hasattr(source, "aclose"):
            stack.push_async_callback(source.aclose)
        pieces: Any = source.aiter_bytes() if isinstance(source, ByteStream) else aiter(source)
        if pieces is not source and hasattr(pieces, "aclose"):
            stack.push_async_callback(pieces.aclose)
        yield pieces
