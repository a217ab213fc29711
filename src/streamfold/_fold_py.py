"""Chat-completion folding, pure-Python twin of ``ext/streamfold/_fold_c.pyx``.

``ChatAccumulator`` frames raw stream bytes into events, decodes each chunk with orjson
(bytes in, no str decode first) and folds the chunk deltas into one completion
(docs/contract.md, sections 2 to 5).  Text is kept as a list of pieces and joined only when a
snapshot or the result is asked for.

A chunk is checked whole before any of it is folded, so a bad chunk leaves no trace in
``.partial``.
"""

from __future__ import annotations

from typing import Any

import orjson

from . import _errors
from ._events import (
    ChatEvent,
    ChunkEvent,
    ContentDeltaEvent,
    ContentDoneEvent,
    FunctionToolCallArgumentsDeltaEvent,
    FunctionToolCallArgumentsDoneEvent,
    LogprobsContentDeltaEvent,
    LogprobsContentDoneEvent,
    LogprobsRefusalDeltaEvent,
    LogprobsRefusalDoneEvent,
    ReasoningDeltaEvent,
    ReasoningDoneEvent,
    RefusalDeltaEvent,
    RefusalDoneEvent,
)
from ._framing_py import DEFAULT_MAX_EVENT_BYTES, Framer, _TooLarge, check_bytes
from ._partial_json import PartialJSON, PartialJSONError

_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError

#: Text pieces are joined into one block every this many pieces, so a long stream keeps
#: one object per block instead of one per chunk.
TEXT_BLOCK = 1024

#: Values that are merged member by member (or serialised) may be nested this deep at most;
#: deeper ones are a StreamDecodeError (no provider sends them; recursion must stay bounded).
MAX_NESTING = 100

#: Top-level chunk members with rules of their own (not "first non-empty wins").
_SPECIAL_TOP = frozenset(("choices", "usage", "object", "obfuscation", "error"))

#: Delta members whose text gives reasoning.delta / reasoning.done events (DeepSeek, OpenRouter).
_REASONING_KEYS = ("reasoning_content", "reasoning")

#: The tool-call fragment members with rules of their own.
_CALL_KEYS = frozenset(("index", "id", "type", "function"))

#: The choice members with rules of their own; any other is "last non-null wins".
_CHOICE_KEYS = frozenset(("index", "delta", "logprobs", "finish_reason"))


class _Text:
    """A string being accumulated: pieces, joined once when the value is read."""

    __slots__ = ("blocks", "pieces", "length")

    def __init__(self, first: str) -> None:
        self.blocks: list[str] = []
        self.pieces: list[str] = [first] if first else []
        self.length = len(first)  # characters so far: where an event's snapshot ends

    def add(self, piece: str) -> None:
        if piece:
            self.length += len(piece)
            pieces = self.pieces
            pieces.append(piece)
            if len(pieces) >= TEXT_BLOCK:
                self.blocks.append("".join(pieces))
                pieces.clear()

    def value(self) -> str:
        if self.blocks:
            return "".join(self.blocks) + "".join(self.pieces)
        return "".join(self.pieces)


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
        if type(old) is not dict:
            old = {}
        for key, value in new.items():
            if value is not None:
                old[key] = _merge(old.get(key), value)
        return old
    if isinstance(new, list):
        if type(old) is not list:
            old = []
        for item in new:
            if isinstance(item, dict):
                index = item.get("index")
                if _is_int(index):
                    for j in range(len(old) - 1, -1, -1):
                        if type(old[j]) is dict and _same_index(old[j].get("index"), index):
                            _merge(old[j], item)
                            break
                    else:
                        old.append(_merge(None, item))
                    continue
            old.append(None if item is None else _merge(None, item))
        return old
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


def nesting_ok(value: Any) -> bool:
    """True if ``value`` is nested at most ``MAX_NESTING`` levels deep (iterative walk)."""
    stack = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if depth > MAX_NESTING:
            return False
        for item in current.values() if isinstance(current, dict) else current:
            if isinstance(item, (dict, list)):
                stack.append((item, depth + 1))
    return True


def _is_container(value: Any) -> bool:
    return isinstance(value, (dict, list))


def _too_deep(value: Any, number: int, data: bytes | None, where: str) -> _errors.StreamDecodeError:
    return _errors.bad_shape(number, data, where, f"nested at most {MAX_NESTING} levels deep", value)


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
        return new
    return current + new


def _arguments_piece(value: Any) -> str:
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


class _ToolCall:
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

    def merge(self, fragment: dict[str, Any]) -> str:
        """Merge a fragment; returns the arguments text it added ("" if none)."""
        added = ""
        for key, value in fragment.items():
            if value is None or key == "index":
                continue
            if key == "function":
                for fkey, fvalue in value.items():
                    if fvalue is None:
                        continue
                    if fkey == "arguments":
                        if type(fvalue) is not str:
                            fvalue = _arguments_piece(fvalue)
                        added = fvalue
                        arguments = self.arguments
                        if arguments is None:
                            self.arguments = _Text(fvalue)
                        elif fvalue:  # _Text.add, inlined: this runs once per fragment
                            arguments.length += len(fvalue)
                            pieces = arguments.pieces
                            pieces.append(fvalue)
                            if len(pieces) >= TEXT_BLOCK:
                                arguments.blocks.append("".join(pieces))
                                pieces.clear()
                    elif fkey == "name":
                        self.name = _name_merge(self.name, fvalue)
                    else:
                        self.function_extra[fkey] = _merge(self.function_extra.get(fkey), fvalue)
            elif key == "id":
                self.id = _name_merge(self.id, value)
            elif key == "type":
                self.type = _name_merge(self.type, value)
            else:
                self.extra[key] = _merge(self.extra.get(key), value)
        return added

    def delta_event(self, choice_index: int, piece: str, parse: bool) -> FunctionToolCallArgumentsDeltaEvent:
        parsed = None
        if parse:
            parser = self.parser
            if parser is None:
                parser = self.parser = PartialJSON()
            if parser.error is None:
                try:
                    parser.feed(piece)
                except PartialJSONError:
                    pass  # not JSON: no partial value (the done event gives the error)
            parsed = parser.value if parser.error is None else None
        args = self.arguments
        return FunctionToolCallArgumentsDeltaEvent(
            choice_index, self.index, self.id, self.name, piece, args, args.length if args is not None else 0, parsed
        )

    def done_event(self, choice_index: int, finish_reason: Any) -> FunctionToolCallArgumentsDoneEvent:
        arguments = self.arguments.value() if self.arguments is not None else ""
        try:
            parsed, error = orjson.loads(arguments), None
        except orjson.JSONDecodeError as exc:
            parsed, error = None, exc
        return FunctionToolCallArgumentsDoneEvent(
            choice_index, self.index, self.id, self.name, arguments, parsed, error, finish_reason
        )

    def value(self) -> dict[str, Any]:
        function = {"name": self.name, "arguments": self.arguments.value() if self.arguments is not None else ""}
        function.update(_value(self.function_extra))
        call = {"id": self.id, "type": self.type or "function", "function": function}
        call.update(_value(self.extra))
        return call


class _ToolCalls:
    """The tool calls of one choice, in arrival order."""

    __slots__ = ("calls", "by_index", "last")

    def __init__(self) -> None:
        self.calls: list[_ToolCall] = []
        self.by_index: dict[int, _ToolCall] = {}  # index -> the latest call with that index
        self.last: _ToolCall | None = None  # the call merged last (fragments of one call come in a row)

    def merge(self, fragments: list[dict[str, Any]], events: list[ChatEvent] | None = None,
              choice_index: int = 0, parse: bool = False) -> None:
        calls = self.calls
        for fragment in fragments:
            index = fragment.get("index")
            if index is None:
                target = calls[-1] if calls else None
            elif self.last is not None and self.last.index == index:
                target = self.last  # the latest call with this index: see below
            else:
                target = self.by_index.get(index)
            new_id = fragment.get("id")
            if target is not None and new_id and target.id and new_id != target.id:
                target = None  # a different id: a new call (Ollama, SGLang, Gemini)
            if target is None:
                if index is None:
                    index = calls[-1].index + 1 if calls else 0
                target = _ToolCall(index)
                calls.append(target)
                self.by_index[index] = target
            self.last = target  # always the latest call with its index
            added = target.merge(fragment)
            if events is not None and added:
                events.append(target.delta_event(choice_index, added, parse))

    def in_order(self) -> list[_ToolCall]:
        """The final order: by index, then arrival."""
        return sorted(self.calls, key=lambda call: call.index)

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


class _Parts:
    """``content`` once a list of typed parts has arrived (Mistral's reasoning models).

    ``parts`` holds the part states in order: appended, except that a ``text`` part merges
    into a last ``text`` part and a ``thinking`` part into a last ``thinking`` part
    (docs/contract.md, section 3).  ``text`` and ``thinking`` accumulate all the text of the
    text parts and of the thinking parts: what content and reasoning events show.
    """

    __slots__ = ("parts", "text", "thinking")

    def __init__(self, before: _Text | None) -> None:
        self.parts: list[Any] = []
        self.text = before  # text folded as a string before the first list goes on here
        self.thinking: _Text | None = None
        if before is not None and before.length:  # ... and becomes a leading text part
            self.parts.append({"type": "text", "text": _Text(before.value())})

    def add_string(self, piece: str, events: list[ChatEvent] | None, index: int) -> None:
        """A string delta is a text part."""
        if piece:
            self._add(self.parts, ({"type": "text", "text": piece},), False, events, index)

    def add_list(self, parts: list[Any], events: list[ChatEvent] | None, index: int) -> None:
        self._add(self.parts, parts, False, events, index)

    def _add(self, states: list[Any], parts: Any, thinking: bool, events: list[ChatEvent] | None,
             index: int) -> None:
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
                    self._piece(value, thinking, events, index)
                elif key == "thinking" and kind == "thinking" and isinstance(value, list):
                    current = target.get("thinking")
                    if type(current) is not list:
                        current = target["thinking"] = []
                    self._add(current, value, True, events, index)
                elif key == "thinking" and kind == "thinking" and isinstance(value, str):
                    target["thinking"] = _merge(target.get("thinking"), value)
                    self._piece(value, True, events, index)
                else:
                    target[key] = _merge(target.get(key), value)

    def _piece(self, piece: str, thinking: bool, events: list[ChatEvent] | None, index: int) -> None:
        """Text of a text part (content) or of a thinking part (reasoning): accumulate, and
        give its delta event."""
        if not piece:
            return
        if thinking:
            text = self.thinking
            if text is None:
                text = self.thinking = _Text("")
            text.add(piece)
            if events is not None:
                events.append(ReasoningDeltaEvent("reasoning.delta", index, piece, text, text.length))
        else:
            text = self.text
            if text is None:
                text = self.text = _Text("")
            text.add(piece)
            if events is not None:
                events.append(ContentDeltaEvent("content.delta", index, piece, text, text.length))

    def value(self) -> list[Any]:
        return [_value(state) for state in self.parts]


class _Choice:
    __slots__ = ("index", "role", "content", "refusal", "message", "tool_calls", "logprobs", "finish_reason",
                 "extra", "done")

    def __init__(self, index: int) -> None:
        self.index = index
        self.role: Any = "assistant"
        self.content: Any = None
        self.refusal: Any = None
        self.message: dict[str, Any] = {}  # other message members, in order of arrival
        self.tool_calls: _ToolCalls | None = None  # also in message (for its place); saves a lookup
        self.logprobs: dict[str, Any] | None = None
        self.finish_reason: Any = None
        self.extra: dict[str, Any] = {}  # other choice members: last non-null wins
        self.done = False  # its done events were given (feed_events / add_chunk_events)

    def merge(self, choice: dict[str, Any], delta: Any, logprobs: Any,
              events: list[ChatEvent] | None = None, parse: bool = False) -> None:
        """Fold one choice of a chunk; ``delta``/``logprobs`` are its checked members.

        With ``events``, the events of this choice are appended to it (the deltas', in
        the delta's order, then the logprobs', then the done events if it finished).
        """
        if delta:
            self._merge_delta(delta, events, parse)
        finish_reason = choice.get("finish_reason")
        if finish_reason is not None:
            self.finish_reason = finish_reason
        if logprobs is not None:
            self._merge_logprobs(logprobs, events)
        if not _CHOICE_KEYS.issuperset(choice):  # other members (Azure content_filter_results)
            for key, value in choice.items():
                if value is None or key in _CHOICE_KEYS:
                    continue
                if key == "message" and delta is not None:
                    continue  # it mirrors the delta (Writer sends both)
                self.extra[key] = value
        if events is not None and finish_reason is not None:
            self.done_events(events)

    def _merge_logprobs(self, value: dict[str, Any], events: list[ChatEvent] | None) -> None:
        logprobs = self.logprobs
        if logprobs is None:
            logprobs = self.logprobs = {"content": None, "refusal": None}
        for key, items in value.items():
            if items is None:
                continue
            if key == "content" or key == "refusal":
                entries = logprobs[key]
                if entries is None:
                    entries = logprobs[key] = list(items)
                else:
                    entries.extend(items)
                if events is not None and items:
                    event = LogprobsContentDeltaEvent if key == "content" else LogprobsRefusalDeltaEvent
                    events.append(event(self.index, items, entries))
            else:
                logprobs[key] = items

    def _merge_delta(self, delta: dict[str, Any], events: list[ChatEvent] | None, parse: bool) -> None:
        for key, value in delta.items():
            if value is None:
                continue
            if key == "content":  # a string, or a list of typed parts (checked)
                content = self.content
                if type(content) is _Text and type(value) is str:  # the hot path
                    content.add(value)
                elif type(content) is _Parts:
                    if isinstance(value, str):
                        content.add_string(value, events, self.index)
                    else:
                        content.add_list(value, events, self.index)
                    continue  # _Parts gives its own events
                elif isinstance(value, str):
                    if content is None:
                        content = self.content = _Text(value)
                    else:
                        content.add(value)
                else:
                    self.content = _Parts(content)
                    self.content.add_list(value, events, self.index)
                    continue
                if events is not None and value:
                    events.append(ContentDeltaEvent("content.delta", self.index, value, content, content.length))
            elif key == "role":
                self.role = value
            elif key == "refusal":  # a string (checked)
                refusal = self.refusal
                if refusal is None:
                    refusal = self.refusal = _Text(value)
                else:
                    refusal.add(value)
                if events is not None and value:
                    events.append(RefusalDeltaEvent("refusal.delta", self.index, value, refusal, refusal.length))
            elif key == "tool_calls":
                calls = self.tool_calls
                if calls is None:
                    if not value:
                        continue  # Groq repeats "tool_calls": [] on every chunk
                    calls = self.tool_calls = self.message["tool_calls"] = _ToolCalls()
                calls.merge(value, events, self.index, parse)
            elif key == "function_call":
                call = self.message.get("function_call")
                if call is None:
                    call = self.message["function_call"] = _FunctionCall()
                call.merge(value)
            else:
                state = self.message[key] = _merge(self.message.get(key), value)
                if (events is not None and key in _REASONING_KEYS and type(state) is _Text
                        and isinstance(value, str) and value):
                    events.append(ReasoningDeltaEvent("reasoning.delta", self.index, value, state, state.length))

    def done_events(self, events: list[ChatEvent]) -> None:
        """Append this choice's done events, once: reasoning, content, refusal, each tool
        call (in final order), then logprobs."""
        if self.done:
            return
        self.done = True
        index, finish_reason = self.index, self.finish_reason
        for key in _REASONING_KEYS:
            reasoning = self.message.get(key)
            if type(reasoning) is _Text:
                events.append(ReasoningDoneEvent(index, reasoning.value(), finish_reason))
        content = self.content
        if type(content) is _Parts:
            if content.thinking is not None:
                events.append(ReasoningDoneEvent(index, content.thinking.value(), finish_reason))
            content = content.text
        if type(content) is _Text:
            events.append(ContentDoneEvent(index, content.value(), finish_reason))
        if type(self.refusal) is _Text:
            events.append(RefusalDoneEvent(index, self.refusal.value(), finish_reason))
        if self.tool_calls is not None:
            for call in self.tool_calls.in_order():
                events.append(call.done_event(index, finish_reason))
        if self.logprobs is not None:
            if self.logprobs["content"] is not None:
                events.append(LogprobsContentDoneEvent(index, list(self.logprobs["content"]), finish_reason))
            if self.logprobs["refusal"] is not None:
                events.append(LogprobsRefusalDoneEvent(index, list(self.logprobs["refusal"]), finish_reason))

    def value(self) -> dict[str, Any]:
        content = self.content.value() if type(self.content) is _Parts else _value(self.content)
        message = {"role": _copy(self.role), "content": content, "refusal": _value(self.refusal)}
        for key, state in self.message.items():
            message[key] = state.value() if isinstance(state, (_ToolCalls, _FunctionCall)) else _value(state)
        result = {
            "index": self.index,
            "message": message,
            "logprobs": _copy(self.logprobs),
            "finish_reason": _copy(self.finish_reason),
        }
        result.update(_copy(self.extra))
        return result


# ---------------------------------------------------------------------------
# Shape checks: everything the merge relies on, checked before anything is merged


def _is_int(value: Any) -> bool:
    """An integer, and not a boolean (True == 1 in Python)."""
    return type(value) is int or (isinstance(value, int) and not isinstance(value, bool))


def _check_choices(choices: Any, number: int, data: bytes | None) -> list[tuple[int, dict[str, Any], Any, Any]]:
    """Check a chunk's choices; return them as (index, choice, delta, logprobs).

    Error paths (``choices[0].delta...``) are only formatted when a check fails: building
    them for every chunk would cost more than the checks.
    """
    if type(choices) is not list and not isinstance(choices, list):
        raise _errors.bad_shape(number, data, "choices", "a list", choices)
    checked = []
    for i, choice in enumerate(choices):
        if type(choice) is not dict and not isinstance(choice, dict):
            raise _errors.bad_shape(number, data, f"choices[{i}]", "an object", choice)
        index = choice.get("index")
        if index is None:
            index = 0
        elif type(index) is not int and not _is_int(index):
            raise _errors.bad_shape(number, data, f"choices[{i}].index", "an integer", index)
        logprobs = choice.get("logprobs")
        if logprobs is not None:
            _check_logprobs(logprobs, number, data, i)
        delta = choice.get("delta")
        if delta is not None:
            if type(delta) is not dict and not isinstance(delta, dict):
                raise _errors.bad_shape(number, data, f"choices[{i}].delta", "an object", delta)
            for key, value in delta.items():  # in order: the first bad member is reported
                if value is None:
                    continue
                if key == "content":
                    if type(value) is not str and not isinstance(value, str):
                        _check_content(value, number, data, i)
                    continue
                if key == "refusal":
                    if type(value) is not str and not isinstance(value, str):
                        raise _errors.bad_shape(number, data, f"choices[{i}].delta.refusal", "a string", value)
                    continue
                if key == "tool_calls":
                    _check_tool_calls(value, number, data, i)
                elif key == "function_call":
                    _check_function(value, number, data, f"choices[{i}].delta.function_call")
                elif key != "role" and _is_container(value) and not nesting_ok(value):
                    raise _too_deep(value, number, data, f"choices[{i}].delta.{key}")
        checked.append((index, choice, delta, logprobs))
    return checked


def _check_content(content: Any, number: int, data: bytes | None, i: int) -> None:
    """A ``content`` that is not a string: a list of typed parts (objects), nested boundedly."""
    if not isinstance(content, list) or not all(isinstance(part, dict) for part in content):
        raise _errors.bad_shape(number, data, f"choices[{i}].delta.content", "a string or a list of objects", content)
    if not nesting_ok(content):
        raise _too_deep(content, number, data, f"choices[{i}].delta.content")


def _check_logprobs(logprobs: Any, number: int, data: bytes | None, i: int) -> None:
    if not isinstance(logprobs, dict):
        raise _errors.bad_shape(number, data, f"choices[{i}].logprobs", "an object", logprobs)
    for key in ("content", "refusal"):
        value = logprobs.get(key)
        if value is not None and not isinstance(value, list):
            raise _errors.bad_shape(number, data, f"choices[{i}].logprobs.{key}", "a list", value)


def _check_tool_calls(calls: Any, number: int, data: bytes | None, i: int) -> None:
    if type(calls) is not list and not isinstance(calls, list):
        raise _errors.bad_shape(number, data, f"choices[{i}].delta.tool_calls", "a list", calls)
    for j, call in enumerate(calls):
        if type(call) is not dict and not isinstance(call, dict):
            raise _errors.bad_shape(number, data, f"choices[{i}].delta.tool_calls[{j}]", "an object", call)
        index = call.get("index")
        if index is not None and type(index) is not int and not _is_int(index):
            raise _errors.bad_shape(number, data, f"choices[{i}].delta.tool_calls[{j}].index", "an integer", index)
        value = call.get("id")
        if value is not None and type(value) is not str and not isinstance(value, str):
            raise _errors.bad_shape(number, data, f"choices[{i}].delta.tool_calls[{j}].id", "a string", value)
        value = call.get("type")
        if value is not None and type(value) is not str and not isinstance(value, str):
            raise _errors.bad_shape(number, data, f"choices[{i}].delta.tool_calls[{j}].type", "a string", value)
        function = call.get("function")
        if function is not None:
            # the common case, every member a string (or null), needs no path formatted
            simple = type(function) is dict
            if simple:
                for value in function.values():
                    if type(value) is not str and value is not None:
                        simple = False
                        break
            if not simple:
                _check_function(function, number, data, f"choices[{i}].delta.tool_calls[{j}].function")
        if not _CALL_KEYS.issuperset(call):
            for key, value in call.items():
                if key not in _CALL_KEYS and _is_container(value) and not nesting_ok(value):
                    raise _too_deep(value, number, data, f"choices[{i}].delta.tool_calls[{j}].{key}")


def _check_function(function: Any, number: int, data: bytes | None, where: str) -> None:
    """A tool call's ``function`` or the legacy ``function_call``."""
    if not isinstance(function, dict):
        raise _errors.bad_shape(number, data, where, "an object", function)
    name = function.get("name")
    if name is not None and not isinstance(name, str):
        raise _errors.bad_shape(number, data, where + ".name", "a string", name)
    for key, value in function.items():  # arguments (a non-string is serialised) and extras
        if key != "name" and _is_container(value) and not nesting_ok(value):
            raise _too_deep(value, number, data, f"{where}.{key}")


# ---------------------------------------------------------------------------


class ChatAccumulator:
    """Folds a chat-completion stream into one ``chat.completion`` dict.

    Feed raw stream bytes (split anywhere) with ``feed``, or chunks you decoded yourself
    with ``add_chunk``.  ``snapshot()`` returns the completion so far; ``result()`` the
    final completion, raising ``IncompleteStreamError`` if the stream did not finish.
    Errors carry ``.partial``, the completion folded before the failure.
    """

    __slots__ = ("_framer", "_top", "_settled", "_usage", "_groq_usage", "_choices",
                 "_chunks", "_events", "_ignored", "_done", "_error", "_parse")

    def __init__(
        self, *, max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES, parse_partial_arguments: bool = False
    ) -> None:
        self._framer = Framer(max_event_bytes)
        self._parse = bool(parse_partial_arguments)
        self._top: dict[str, Any] = {}
        self._settled: set[str] = set(_SPECIAL_TOP)  # top-level keys that can no longer change
        self._usage: Any = None
        self._groq_usage: Any = None
        self._choices: dict[int, _Choice] = {}
        self._chunks = 0
        self._events = 0
        self._ignored = 0
        self._done = False
        self._error: _errors.StreamError | None = None

    @property
    def chunks(self) -> int:
        """Chunks folded so far."""
        return self._chunks

    @property
    def events(self) -> int:
        """Events dispatched by the framing so far (``feed`` only)."""
        return self._events

    @property
    def ignored(self) -> int:
        """Events ignored: other event types, non-JSON data (keep-alives, pings)."""
        return self._ignored

    @property
    def done(self) -> bool:
        """True once ``data: [DONE]`` was seen; later input is ignored."""
        return self._done

    def feed(self, data: bytes) -> None:
        """Fold raw stream bytes, split anywhere."""
        self._feed(data, None)

    def feed_events(self, data: bytes) -> list[ChatEvent]:
        """Fold raw stream bytes and return the events they produced, in order.

        ``chunk`` for each chunk, then for each of its choices the delta events (text,
        tool-call arguments, logprobs) and, when the choice finishes (or ``[DONE]``
        arrives first), its done events, once.  On an error, the events of this call are
        dropped; the error's ``.partial`` holds everything folded.
        """
        events: list[ChatEvent] = []
        self._feed(data, events)
        return events

    def _feed(self, data: bytes, events: list[ChatEvent] | None) -> None:
        if self._done:
            check_bytes(data)
            return
        if self._error is not None:
            raise self._error
        try:
            raw_events = self._framer.feed(data)
            too_large = None
        except _TooLarge as exc:
            raw_events = exc.events
            too_large = exc.error
        add = self._add
        for etype, payload, _id, _retry in raw_events:
            self._events += 1
            if etype and etype != b"message":
                if etype == b"error":
                    self._fail(_errors.error_event(self._events, payload))
                self._ignored += 1
                continue
            if payload[:1] != b"{":
                if payload == b"[DONE]":
                    self._done = True
                    if events is not None:
                        for index in sorted(self._choices):
                            self._choices[index].done_events(events)
                    return
                if payload.lstrip(b" \t\n")[:1] != b"{":
                    self._ignored += 1
                    continue
            try:
                chunk = _loads(payload)
            except _JSONDecodeError as exc:
                self._fail(_errors.invalid_json(self._events, payload, exc))
            add(chunk, self._events, payload, events)
        if too_large is not None:
            self._fail(too_large)

    def add_chunk(self, chunk: dict[str, Any]) -> None:
        """Fold one chunk that was already decoded."""
        if self._error is not None:
            raise self._error
        self._add(chunk, self._chunks + 1, None, None)

    def add_chunk_events(self, chunk: dict[str, Any]) -> list[ChatEvent]:
        """Fold one decoded chunk and return its events (see ``feed_events``)."""
        if self._error is not None:
            raise self._error
        events: list[ChatEvent] = []
        self._add(chunk, self._chunks + 1, None, events)
        return events

    def _fail(self, error: _errors.StreamError, final: bool = True) -> None:
        """Raise ``error`` with the partial completion; a final error is raised again on reuse."""
        error.partial = self._partial()
        if final:
            self._error = error
        raise error

    def _partial(self) -> dict[str, Any] | None:
        return self.snapshot() if self._chunks else None

    def _add(self, chunk: Any, number: int, data: bytes | None, events: list[ChatEvent] | None) -> None:
        if type(chunk) is not dict and not isinstance(chunk, dict):
            self._fail(_errors.bad_shape(number, data, "chunk", "a JSON object", chunk))
        if chunk.get("error"):
            self._fail(_errors.api_error(number, chunk, data))
        choices = chunk.get("choices")
        if choices is not None:
            try:
                choices = _check_choices(choices, number, data)
            except _errors.StreamDecodeError as exc:
                self._fail(exc)
        self._chunks += 1
        if events is not None:
            events.append(ChunkEvent(chunk))

        if not self._settled.issuperset(chunk):
            top = self._top
            settled = self._settled
            for key, value in chunk.items():
                if key in settled or value is None:
                    continue
                current = top.get(key)
                if current is None or (_is_empty(current) and not _is_empty(value)):
                    top[key] = value
                    if not _is_empty(value):
                        settled.add(key)
        usage = chunk.get("usage")
        if usage is not None:
            self._usage = usage
        groq = chunk.get("x_groq")
        if type(groq) is dict:
            usage = groq.get("usage")
            if usage is not None:
                self._groq_usage = usage

        if choices:
            states = self._choices
            for index, choice, delta, logprobs in choices:
                state = states.get(index)
                if state is None:
                    state = states[index] = _Choice(index)
                state.merge(choice, delta, logprobs, events, self._parse)

    def snapshot(self) -> dict[str, Any]:
        """The completion folded so far (the shape of docs/contract.md, section 3)."""
        top = self._top
        result: dict[str, Any] = {
            "id": top.get("id"),
            "object": "chat.completion",
            "created": top.get("created"),
            "model": top.get("model"),
        }
        for key, value in top.items():
            if key not in result:
                result[key] = _copy(value)
        result["choices"] = [self._choices[i].value() for i in sorted(self._choices)]
        usage = self._usage if self._usage is not None else self._groq_usage
        if usage is not None:
            result["usage"] = _copy(usage)
        return result

    def result(self) -> dict[str, Any]:
        """The final completion; raises ``IncompleteStreamError`` if the stream is unfinished."""
        if self._error is not None:
            raise self._error
        if not self._done:
            unfinished = [i for i in sorted(self._choices) if self._choices[i].finish_reason is None]
            if not self._choices or unfinished:  # no choice at all is not a completion either
                self._fail(_errors.incomplete(self._chunks, unfinished), final=False)
        return self.snapshot()
