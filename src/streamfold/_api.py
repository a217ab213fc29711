"""One-call folding of a whole stream: ``fold`` and ``afold``."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import Any

from ._contract import DEFAULT_MAX_EVENT_BYTES
from ._errors import check_truncation
from ._events import ChatEvent
from ._impl import ChatAccumulator

_BYTES = (bytes, bytearray, memoryview)


def fold(
    source: bytes | Iterable[bytes],
    *,
    max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES,
    raise_on_truncation: bool = False,
) -> dict[str, Any]:
    """Fold a whole chat-completion stream into one completion dict.

    ``source`` is the raw stream as ``bytes``, or any iterable of ``bytes`` pieces
    (an HTTP response's ``iter_bytes()``, a binary file, a list).  Raises a
    ``StreamError`` (with ``.partial``) if the stream is bad or unfinished.  With
    ``raise_on_truncation``, a choice that finished with ``length`` or ``content_filter``
    raises ``TruncatedCompletionError`` (the completion in ``.partial``).
    """
    return fold_with(ChatAccumulator, source, max_event_bytes=max_event_bytes, raise_on_truncation=raise_on_truncation)


async def afold(
    source: AsyncIterable[bytes],
    *,
    max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES,
    raise_on_truncation: bool = False,
) -> dict[str, Any]:
    """Like ``fold``, for an async iterable of ``bytes`` (e.g. ``response.aiter_bytes()``)."""
    return await afold_with(
        ChatAccumulator, source, max_event_bytes=max_event_bytes, raise_on_truncation=raise_on_truncation
    )


def fold_with(
    accumulator_class: type, source: Any, *, raise_on_truncation: bool = False, **options: Any
) -> dict[str, Any]:
    """``fold`` with an explicit accumulator class (the tests run both implementations)."""
    acc = accumulator_class(**options)
    result: dict[str, Any]
    if isinstance(source, _BYTES):
        acc.feed(source)
        result = acc.result()
        return check_truncation(result) if raise_on_truncation else result
    if isinstance(source, str):
        raise TypeError("fold() needs bytes or an iterable of bytes, not str")
    try:
        for piece in source:
            acc.feed(piece)
    except Exception as exc:
        _keep_partial(exc, acc)
        raise
    result = acc.result()
    return check_truncation(result) if raise_on_truncation else result


async def afold_with(
    accumulator_class: type, source: Any, *, raise_on_truncation: bool = False, **options: Any
) -> dict[str, Any]:
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
    return check_truncation(result) if raise_on_truncation else result


def _keep_partial(exc: Exception, acc: Any) -> None:
    """A source that fails mid-stream (a network error) keeps what was folded as ``.partial``."""
    if getattr(exc, "partial", None) is None:
        try:
            exc.partial = acc.snapshot() if acc.chunks else None  # type: ignore[attr-defined]
        except AttributeError:  # exceptions with __slots__: nothing to attach to
            pass


def iter_events(source: bytes | Iterable[bytes], **options: Any) -> Iterator[ChatEvent]:
    """Events of a chat-completion stream as its bytes arrive (see ``ChatAccumulator.feed_events``).

    ``options`` go to ``ChatAccumulator`` (``max_event_bytes``, ``parse_partial_arguments``).
    At the end it checks that the stream was complete (``IncompleteStreamError`` otherwise,
    with ``.partial``) and, with ``raise_on_truncation=True``, that no choice finished with
    ``length`` or ``content_filter`` (``TruncatedCompletionError``, after all the events).  To get the final completion as well, use a ``ChatAccumulator``:
    ``feed_events`` for each piece, then ``result()``.
    """
    return iter_events_with(ChatAccumulator, source, **options)


def aiter_events(source: AsyncIterable[bytes], **options: Any) -> AsyncIterator[ChatEvent]:
    """``iter_events`` for an async iterable of bytes."""
    return aiter_events_with(ChatAccumulator, source, **options)


def iter_events_with(
    accumulator_class: type, source: Any, *, raise_on_truncation: bool = False, **options: Any
) -> Iterator[ChatEvent]:
    """``iter_events`` with an explicit accumulator class (the tests run both implementations)."""
    if isinstance(source, str):
        raise TypeError("iter_events() needs bytes or an iterable of bytes, not str")
    acc = accumulator_class(**options)
    pieces: Iterable[bytes] = [bytes(source)] if isinstance(source, _BYTES) else source
    return _iter_events(acc, pieces, raise_on_truncation)


def _iter_events(acc: Any, pieces: Iterable[bytes], raise_on_truncation: bool) -> Iterator[ChatEvent]:
    try:
        for piece in pieces:
            yield from acc.feed_events(piece)
    except Exception as exc:
        _keep_partial(exc, acc)
        raise
    result = acc.result()  # an unfinished stream raises IncompleteStreamError here, with .partial
    if raise_on_truncation:
        check_truncation(result)


async def aiter_events_with(
    accumulator_class: type, source: Any, *, raise_on_truncation: bool = False, **options: Any
) -> AsyncIterator[ChatEvent]:
    """``aiter_events`` with an explicit accumulator class."""
    if not hasattr(source, "__aiter__"):
        raise TypeError(f"aiter_events() needs an async iterable of bytes, not {type(source).__name__}")
    acc = accumulator_class(**options)
    try:
        async for piece in source:
            for event in acc.feed_events(piece):
                yield event
    except Exception as exc:
        _keep_partial(exc, acc)
        raise
    result = acc.result()
    if raise_on_truncation:
        check_truncation(result)
