"""Relay a chat stream to a browser while folding it (needs the ``server`` extra: Starlette).

``relay(source, mode)`` is a ``text/event-stream`` response for a FastAPI or Starlette route
(or any ASGI server) that forwards an upstream chat stream as it arrives, folds the same
bytes, and calls ``on_complete(completion, error)`` once at the end, so what arrived is
never lost, even when the browser goes away (which cancels the upstream request at once).
"""

from __future__ import annotations

from collections.abc import Mapping

try:
    from starlette.background import BackgroundTask
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("streamfold.relay needs Starlette: pip install 'streamfold[server]'") from exc

from .._coalesce import Coalescer
from .._contract import DEFAULT_MAX_EVENT_BYTES
from ._response import DEFAULT_KEEPALIVE, MODES, Mode, OnComplete, RelayResponse
from ._source import ByteStream, Source
from ._wire import ClientDisconnected


def relay(
    source: Source,
    mode: Mode = "passthrough",
    *,
    on_complete: OnComplete | None = None,
    coalesce: Coalescer | None = None,
    keepalive: float | None = DEFAULT_KEEPALIVE,
    headers: Mapping[str, str] | None = None,
    max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES,
    parse_partial_arguments: bool = False,
    background: BackgroundTask | None = None,
) -> RelayResponse:
    """A response that forwards ``source`` to the browser as it arrives, folding it.

    ``source``: ``AsyncClient.stream_chat(...)`` or ``streamfold.openai.astream_chat(...)``
    not yet entered (the relay sends the request when the response starts, and closes
    it), an httpx response opened with ``stream=True``, or any async iterable of bytes.

    ``mode``: ``"passthrough"`` sends the upstream bytes unchanged; ``"text"`` sends
    ``data: {"content": "..."}`` for each piece of the answer's text (the first choice's),
    then ``data: [DONE]``; ``"events"`` sends each streamfold event as JSON (``{"type":
    "content.delta", "choice_index": 0, "delta": "..."}``, every type but ``chunk``), then
    ``{"type": "completion", "completion": {...}, "chunks": N}`` and ``data: [DONE]``.
    ``coalesce`` (text mode): a ``Coalescer`` joining deltas into fewer events.

    The response is ``text/event-stream`` with ``cache-control: no-cache``, started at the
    first bytes to send, with a ``: keep-alive`` comment after ``keepalive`` seconds
    without a write (between events only; None: never).  A failure before any chunk came
    is answered with status 502 (504 for a timeout) and ``{"error": {"message",
    "type"}}``; after that, with that object as a last event (text: ``{"error": ...}``;
    events: ``{"type": "error", "error": ..., "partial": ...}``; passthrough: as text
    mode, unless the upstream sent its own error or was cut inside an event), and no
    ``[DONE]``.

    ``on_complete(completion, error)``, a function or a coroutine function, is called
    once after the last write: with the folded completion and None, or with the partial
    completion (None if no chunk came) and the error: the stream's (a ``StreamError``,
    ``.partial`` set), the upstream's (``streamfold.APIError``), or ``ClientDisconnected``
    when the browser went away.  ``background`` runs after it (FastAPI sets its own).
    """
    return RelayResponse(
        source, mode, on_complete=on_complete, coalesce=coalesce, keepalive=keepalive, headers=headers,
        max_event_bytes=max_event_bytes, parse_partial_arguments=parse_partial_arguments, background=background,
    )


__all__ = ["DEFAULT_KEEPALIVE", "MODES", "ByteStream", "ClientDisconnected", "Coalescer", "Mode", "OnComplete",
           "RelayResponse", "Source", "relay"]
