"""Tool calls and the legacy ``function_call`` (docs/contract.md, section 3).

Twin of ``ext/streamfold/fold/tool_calls.pxi``: the same classes and methods.
"""

from __future__ import annotations

from typing import Any

import orjson

from .._contract import CALL_KEYS
from .._events import ChatEvent, FunctionToolCallArgumentsDeltaEvent, FunctionToolCallArgumentsDoneEvent
from .._partial_json import PartialJSON, PartialJSONError
from .values import _arguments_piece, _merge, _name_merge, _Text, _value


class _ToolCall:
    """One call being folded from its fragments."""

    __slots__ = ("index", "id", "type", "name", "arguments", "function_extra", "extra", "parser")

    def __init__(self, index: int) -> None:
        self.index = index
        self.id = ""
        self.type = ""
        self.name = ""
        self.arguments: _Text | None = None
        self.function_extra: dict[str, Any] = {}
        self.extra: dict[str, Any] = {}
        self.parser: PartialJSON | None = None  # arguments parsed as they stream (opt-in)

    def merge(self, fragment: dict[str, Any], id_: Any, type_: Any, function: Any, extras: bool) -> str:
        """Merge a fragment whose id/type/function members the caller looked up; returns
        the arguments text it added ("" if none)."""
        added = ""
        if id_ is not None:
            self.id = _name_merge(self.id, id_)
        if type_ is not None:
            self.type = _name_merge(self.type, type_)
        if function is not None:
            for key, value in function.items():
                if value is None:
                    continue
                if key == "arguments":
                    added = _arguments_piece(value)
                    if self.arguments is None:
                        self.arguments = _Text(added)
                    else:
                        self.arguments.add(added)
                elif key == "name":
                    self.name = _name_merge(self.name, value)
                else:
                    self.function_extra[key] = _merge(self.function_extra.get(key), value)
        if extras:  # other members of the call: the generic rules
            for key, value in fragment.items():
                if value is not None and key not in CALL_KEYS:
                    self.extra[key] = _merge(self.extra.get(key), value)
        return added

    def delta_event(self, choice_index: int, piece: str, parse: bool) -> FunctionToolCallArgumentsDeltaEvent:
        parsed = None
        if parse:
            if self.parser is None:
                self.parser = PartialJSON()
            if self.parser.error is None:
                try:
                    self.parser.feed(piece)
                except PartialJSONError:
                    pass  # not JSON: no partial value (the done event gives the error)
            parsed = self.parser.value if self.parser.error is None else None
        return FunctionToolCallArgumentsDeltaEvent(
            choice_index,
            self.index,
            self.id,
            self.name,
            piece,
            self.arguments,
            self.arguments.length if self.arguments is not None else 0,
            parsed,
        )

    def done_event(self, choice_index: int, finish_reason: Any) -> FunctionToolCallArgumentsDoneEvent:
        arguments = self.arguments.value() if self.arguments is not None else ""
        parsed = error = None
        try:
            parsed = orjson.loads(arguments)
        except orjson.JSONDecodeError as exc:
            error = exc
        return FunctionToolCallArgumentsDoneEvent(
            choice_index, self.index, self.id, self.name, arguments, parsed, error, finish_reason
        )

    def value(self) -> dict[str, Any]:
        function = {"name": self.name, "arguments": self.arguments.value() if self.arguments is not None else ""}
        function.update(_value(self.function_extra))
        call = {"id": self.id, "type": self.type or "function", "function": function}
        call.update(_value(self.extra))
        return call


def _call_index(call: _ToolCall) -> int:
    return call.index


class _ToolCalls:
    """The tool calls of one choice, in arrival order."""

    __slots__ = ("calls", "by_index", "last_index", "last_target")

    def __init__(self) -> None:
        self.calls: list[_ToolCall] = []
        self.by_index: dict[int, _ToolCall] = {}  # index -> the latest call with that index
        self.last_index: Any = None  # the index of the last call merged into ...
        self.last_target: _ToolCall | None = None  # ... which is the latest call with that index

    def merge(
        self, fragments: list[dict[str, Any]], events: list[ChatEvent] | None, choice_index: int, parse: bool
    ) -> None:
        calls = self.calls
        for fragment in fragments:
            index = fragment.get("index")
            new_id = fragment.get("id")
            target: _ToolCall | None
            if index is None:
                target = calls[-1] if calls else None
            elif index == self.last_index:  # one call's fragments usually come in a row
                target = self.last_target
            else:
                target = self.by_index.get(index)
            if target is not None and new_id and target.id and new_id != target.id:
                target = None  # a different id: a new call (Ollama, SGLang, Gemini)
            if target is None:
                if index is None:
                    index = calls[-1].index + 1 if calls else 0
                target = _ToolCall(index)
                calls.append(target)
                self.by_index[index] = target
            # target is now the latest call with its index: remember it
            self.last_index = target.index
            self.last_target = target
            extras = not CALL_KEYS.issuperset(fragment)
            added = target.merge(fragment, new_id, fragment.get("type"), fragment.get("function"), extras)
            if events is not None and added:
                events.append(target.delta_event(choice_index, added, parse))

    def in_order(self) -> list[_ToolCall]:
        """The final order: by index, then arrival."""
        return sorted(self.calls, key=_call_index)

    def value(self) -> list[dict[str, Any]]:
        return [call.value() for call in self.in_order()]


class _FunctionCall:
    """The legacy ``function_call`` member."""

    __slots__ = ("name", "arguments", "extra")

    def __init__(self) -> None:
        self.name = ""
        self.arguments: _Text | None = None
        self.extra: dict[str, Any] = {}

    def merge(self, fragment: dict[str, Any]) -> None:
        for key, value in fragment.items():
            if value is None:
                continue
            if key == "arguments":
                piece = _arguments_piece(value)
                if self.arguments is None:
                    self.arguments = _Text(piece)
                else:
                    self.arguments.add(piece)
            elif key == "name":
                self.name = _name_merge(self.name, value)
            else:
                self.extra[key] = _merge(self.extra.get(key), value)

    def value(self) -> dict[str, Any]:
        result = {"name": self.name, "arguments": self.arguments.value() if self.arguments is not None else ""}
        result.update(_value(self.extra))
        return result
