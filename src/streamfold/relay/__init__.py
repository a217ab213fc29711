"""Relay a chat stream to a browser while folding it (needs the ``server`` extra: Starlette).

``relay(source, mode)`` is a ``text/event-stream`` response for a FastAPI or Starlette route
(or any ASGI server) that forwards an upstream chat stream as it arrives, folds the same
bytes, and calls ``on_complete(completion, error)`` once at the end, so what arrived is
never lost, even when the browser goes away (which cancels the upstream request at once).
"""

from __future__ import annotations

try:
    import starlette  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("streamfold.relay needs Starlette: pip install 'streamfold[server]'") from exc

from .._coalesce import Coalescer
from ._response import DEFAULT_KEEPALIVE, MODES, Mode, OnComplete, RelayResponse
from ._source import ByteStream, Source
from ._wire import ClientDisconnected

#: The one call: ``return relay(stream, "text", on_complete=save)`` (see ``RelayResponse``).
relay = RelayResponse

__all__ = [
    "DEFAULT_KEEPALIVE",
    "MODES",
    "ByteStream",
    "ClientDisconnected",
    "Coalescer",
    "Mode",
    "OnComplete",
    "RelayResponse",
    "Source",
    "relay",
]
