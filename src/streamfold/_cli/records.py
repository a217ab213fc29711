"""The JSON objects ``fold --events`` and ``fold --sse`` print, one a line."""

from __future__ import annotations

from typing import Any

import orjson

from .. import ServerSentEvent
from .._records import event_record

__all__ = ["event_record", "sse_record"]


def sse_record(event: ServerSentEvent) -> dict[str, Any]:
    """The server-sent event's fields; ``data`` parsed when it is a JSON object or array."""
    data: Any = event.data
    if data[:1] in ("{", "["):
        try:
            data = orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return {"event": event.event, "data": data, "id": event.id, "retry": event.retry}
