"""Events as JSON-ready dicts: what ``fold --events`` prints and the relay's ``events`` mode sends."""

from __future__ import annotations

from typing import Any

from ._events import ChatEvent, _fields

#: Members computed from the text so far; ``snapshots=True`` adds them (they repeat the whole
#: text at every event, so the output grows with the square of the stream's length).
SO_FAR = ("snapshot", "arguments")
_FIELDS: dict[type, tuple[str, ...]] = {}


def event_record(event: ChatEvent, *, snapshots: bool = False) -> dict[str, Any]:
    """``type``, ``choice_index`` and every field of the event, as the API gives them;
    an ``error`` (a tool call's arguments that are not JSON) as its message."""
    names = _FIELDS.get(type(event))
    if names is None:
        names = _FIELDS[type(event)] = tuple(_fields(type(event)))
    record = {name: getattr(event, name) for name in names}
    if isinstance(record.get("error"), BaseException):
        record["error"] = str(record["error"])
    if snapshots:
        for name in SO_FAR:
            if name not in record and hasattr(type(event), name):
                record[name] = getattr(event, name)
    return record
