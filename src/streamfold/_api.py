"""One-call folding of a whole stream: ``fold`` and ``afold``."""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable
from typing import Any

from ._framing_py import DEFAULT_MAX_EVENT_BYTES
from ._impl import ChatAccumulator

_BYTES = (bytes, bytearray, memoryview)


def fold(
    source: bytes | Iterable[bytes], *, max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES
) -> dict[str, Any]:
    """Fold a whole chat-completion stream into one completion dict.

    ``source`` is the raw stream as ``bytes``, or any iterable of ``bytes`` pieces
    (an HTTP response's ``iter_bytes()``, a binary file, a list).  Raises a
    ``StreamError`` (with ``.partial``) if the stream is bad or unfinished.
    """
    result: dict[str, Any] = fold_with(ChatAccumulator, source, max_event_bytes=max_event_bytes)
    return result


async def afold(
    source: AsyncIterable[bytes], *, max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES
) -> dict[str, Any]:
    """Like ``fold``, for an async iterable of ``bytes`` (e.g. ``response.aiter_bytes()``)."""
    return await afold_with(ChatAccumulator, source, max_event_bytes=max_event_bytes)


def fold_with(accumulator_class: type, source: Any, **options: Any) -> dict[str, Any]:
    """``fold`` with an explicit accumulator class (the tests run both implementations)."""
    acc = accumulator_class(**options)
    result: dict[str, Any]
    if isinstance(source, _BYTES):
        acc.feed(source)
        result = acc.result()
        return result
    if isinstance(source, str):
        raise TypeError("fold() needs bytes or an iterable of bytes, not str")
    try:
        for piece in source:
            acc.feed(piece)
    except Exception as exc:
        _keep_partial(exc, acc)
        raise
    result = acc.result()
    return result


async def afold_with(accumulator_class: type, source: Any, **options: Any) -> dict[str, Any]:
    """``afold`` with an explicit accumulator class."""
    if not hasattr(source, "__aiter__"):
        raise TypeError(f"afold() needs an async iterable of bytes, not {type(source).__name__}")
    acc = accumulator_class(**options)
    try:
        async for piece in source:
            acc.feed(piece)
    except Exception as exc:
        _keep_partial(exc, acc)
        raise
    result: dict[str, Any] = acc.result()
    return result


def _keep_partial(exc: Exception, acc: Any) -> None:
    """A source that fails mid-stream (a network error) keeps what was folded as ``.partial``."""
    if getattr(exc, "partial", None) is None:
        try:
            exc.partial = acc.snapshot() if acc.chunks else None  # type: ignore[attr-defined]
        except AttributeError:  # exceptions with __slots__: nothing to attach to
            pass
