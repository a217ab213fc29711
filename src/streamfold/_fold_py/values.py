"""Values being folded: accumulated text, content as typed parts, the generic delta rules,
and turning folded state back into plain JSON (docs/contract.md, section 3).

Twin of ``ext/streamfold/fold/values.pxi``: the same names, the same rules.
"""

from __future__ import annotations

from typing import Any

import orjson

from .._contract import TEXT_BLOCK
from .._events import ChatEvent, ContentDeltaEvent, ReasoningDeltaEvent


class _Text:
    """A string being accumulated: pieces, joined once when the value is read."""

    __slots__ = ("blocks", "pieces", "length")

    def __init__(self, first: str) -> None:
        self.blocks: list[str] = []
        self.pieces: list[str] = []
        self.length = 0  # characters so far: where an event's snapshot ends
        self.add(first)

    def add(self, piece: str) -> None:
        if piece:
            self.length += len(piece)
            self.pieces.append(piece)
            if len(self.pieces) >= TEXT_BLOCK:
                self.blocks.append("".join(self.pieces))
                self.pieces = []

    def value(self) -> str:
        """The text so far (event snapshots call it)."""
        if self.blocks:
            return "".join(self.blocks) + "".join(self.pieces)
        return "".join(self.pieces)


def _is_int(value: Any) -> bool:
    """An integer, and not a boolean (True == 1 in Python)."""
    return type(value) is int or (isinstance(value, int) and not isinstance(value, bool))


def _is_empty(value: Any) -> bool:
    """Empty for "first non-empty wins": null, "" or the integer 0."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value
    return _is_int(value) and value == 0


def _merge(old: Any, new: Any) -> Any:
    """The generic delta rules: returns the new state of a member (``new`` is not None)."""
    if isinstance(new, str):
        if type(old) is _Text:
            old.add(new)
            return old
        return _Text(new)
    if isinstance(new, dict):
        target = old if type(old) is dict else {}
        for key, value in new.items():
            if value is not None:
                target[key] = _merge(target.get(key), value)
        return target
    if isinstance(new, list):
        items = old if type(old) is list else []
        for item in new:
            if isinstance(item, dict):
                index = item.get("index")
                if _is_int(index):
                    for found in reversed(items):  # the latest object with that index
                        if type(found) is dict and _same_index(found.get("index"), index):
                            _merge(found, item)
                            break
                    else:
                        items.append(_merge(None, item))
                    continue
            items.append(None if item is None else _merge(None, item))
        return items
    return new


def _same_index(found: Any, index: Any) -> bool:
    return _is_int(found) and found == index


def _copy(value: Any) -> Any:
    """A copy of a JSON value kept by reference, so a returned snapshot shares nothing.

    Iterative: values kept by reference may be nested as deep as orjson allows (1024).
    """
    if not isinstance(value, (dict, list)):
        return value
    root: Any = {} if isinstance(value, dict) else []
    stack = [(value, root)]
    while stack:
        source, target = stack.pop()
        items = source.items() if isinstance(source, dict) else enumerate(source)
        for key, item in items:
            if isinstance(item, (dict, list)):
                copy: Any = {} if isinstance(item, dict) else []
                stack.append((item, copy))
                item = copy
            if type(target) is dict:
                target[key] = item
            else:
                target.append(item)
    return root


def _value(state: Any) -> Any:
    """Turn a folded state back into plain JSON values."""
    if type(state) is _Text:
        return state.value()
    if type(state) is dict:
        return {key: _value(value) for key, value in state.items()}
    if type(state) is list:
        return [_value(value) for value in state]
    return state  # a scalar (_merge stores only dicts, lists, _Text and scalars)


def _name_merge(current: str, new: str) -> str:
    """``id``/``type``/``name``: first non-empty value; identical resend ignored; else appended."""
    if not new or new == current:
        return current
    if not current:
        return str.__str__(new)  # a str subclass (from add_chunk) is kept as a plain str
    return current + new


def _arguments_piece(value: Any) -> str:
    """Tool-call arguments: a string as it is, any other JSON value serialised (TGI, llama.cpp)."""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


class _Parts:
    """``content`` once a list of typed parts has arrived (Mistral's reasoning models).

    ``parts`` holds the part states in order: appended, except that a ``text`` part merges
    into a last ``text`` part and a ``thinking`` part into a last ``thinking`` part.
    ``text`` and ``thinking`` accumulate all the text of the text parts and of the thinking
    parts: what content and reasoning events show.
    """

    __slots__ = ("parts", "text", "thinking")

    def __init__(self, before: _Text | None) -> None:
        self.parts: list[Any] = []
        self.text = before  # text folded as a string before the first list goes on here
        self.thinking: _Text | None = None
        if before is not None and before.length:  # ... and becomes a leading text part
            self.parts.append({"type": "text", "text": _Text(before.value())})

    def add_string(self, piece: str, events: list[ChatEvent] | None, index: int, texts: list[str] | None) -> None:
        """A string delta is a text part."""
        if piece:
            self._add(self.parts, ({"type": "text", "text": piece},), False, events, index, texts)

    def add_list(self, parts: list[Any], events: list[ChatEvent] | None, index: int, texts: list[str] | None) -> None:
        self._add(self.parts, parts, False, events, index, texts)

    def _add(
        self,
        states: list[Any],
        parts: Any,
        thinking: bool,
        events: list[ChatEvent] | None,
        index: int,
        texts: list[str] | None,
    ) -> None:
        """Fold ``parts`` into ``states``; ``thinking``: inside a thinking part's list, where
        text parts are reasoning text."""
        for part in parts:
            if not isinstance(part, dict):  # only inside a thinking list (content is checked)
                states.append(None if part is None else _merge(None, part))
                continue
            kind = part.get("type")
            last = states[-1] if states else None
            if (kind == "text" or kind == "thinking") and type(last) is dict and last.get("type") == kind:
                target = last
            else:
                target = {}
                states.append(target)
            for key, value in part.items():
                if value is None:
                    continue
                if key == "type":
                    if "type" not in target:
                        target["type"] = value if isinstance(value, str) else _merge(None, value)
                elif key == "text" and kind == "text" and isinstance(value, str):
                    target["text"] = _merge(target.get("text"), value)
                    self._piece(value, thinking, events, index, texts)
                elif key == "thinking" and kind == "thinking" and isinstance(value, list):
                    current = target.get("thinking")
                    if type(current) is not list:
                        current = target["thinking"] = []
                    self._add(current, value, True, events, index, texts)
                elif key == "thinking" and kind == "thinking" and isinstance(value, str):
                    target["thinking"] = _merge(target.get("thinking"), value)
                    self._piece(value, True, events, index, texts)
                else:
                    target[key] = _merge(target.get(key), value)

    def _piece(
        self, piece: str, thinking: bool, events: list[ChatEvent] | None, index: int, texts: list[str] | None
    ) -> None:
        """Text of a text part (content) or of a thinking part (reasoning): accumulate, and
        give its delta event."""
        if not piece:
            return
        if thinking:
            if self.thinking is None:
                self.thinking = _Text("")
            self.thinking.add(piece)
            if events is not None:
                events.append(ReasoningDeltaEvent("reasoning.delta", index, piece, self.thinking, self.thinking.length))
        else:
            if self.text is None:
                self.text = _Text("")
            self.text.add(piece)
            if texts is not None:
                texts.append(piece)
            elif events is not None:
                events.append(ContentDeltaEvent("content.delta", index, piece, self.text, self.text.length))

    def value(self) -> list[Any]:
        return [_value(state) for state in self.parts]
