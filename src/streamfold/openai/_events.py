"""Events that are openai-python's own event classes, with their costly fields computed lazily.

Every class here subclasses the class of the same name in ``openai.lib.streaming.chat``
(``isinstance`` holds, and ``repr``, ``model_dump``, ``model_dump_json``, ``to_dict``,
``to_json``, copies and pickling give what openai's event gives).  Producing an event
costs one small object: a field that would cost a copy (a snapshot, a chunk object,
logprob objects) is computed from its source when it is first read, and gives the value
as of its event.

How: a pydantic model keeps its fields in its instance ``__dict__``.  A lazy field is
left out of it; reading the attribute falls through to ``__getattr__``, which computes
and stores it; anything that reads the fields wholesale (pydantic's serializer, ``repr``,
``==``, copies, pickling) goes through the ``__dict__`` property below, which computes
the remaining ones first (and puts the fields back in their declared order, which
``repr`` follows).  The sources of the lazy fields wait in the same dict under names
beginning with ``_`` (never fields, so pydantic ignores them) and are dropped once
everything is computed.  Attributes that openai's events do not have (``choice_index``;
with ``fixes=True`` also ``finish_reason``, and ``id`` and ``error`` on tool calls) are
kept where pydantic keeps private attributes: readable, copied and pickled, but not
fields, so in no dump, ``repr`` or ``dict(event)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Literal, TypeVar

import pydantic
from openai._models import BaseModel as _OpenAIModel
from openai.lib.streaming.chat import _events as _openai
from openai.types.chat import ChatCompletionChunk

from ._convert import partial_json, to_chunk, to_token_logprobs

_T = TypeVar("_T")

# pydantic's own slot descriptors: set directly, they skip BaseModel.__setattr__ (and, for
# the instance dict, the ``__dict__`` property of the classes here).
_INSTANCE_DICT: Any = pydantic.BaseModel.__dict__["__dict__"]
_FIELDS_SET: Any = pydantic.BaseModel.__dict__["__pydantic_fields_set__"]
_EXTRA: Any = pydantic.BaseModel.__dict__["__pydantic_extra__"]
_PRIVATE: Any = pydantic.BaseModel.__dict__["__pydantic_private__"]
_new = object.__new__
_set_dict, _set_fields, _set_extra, _set_private = (
    _INSTANCE_DICT.__set__,
    _FIELDS_SET.__set__,
    _EXTRA.__set__,
    _PRIVATE.__set__,
)


def make(cls: type[_T], values: dict[str, Any], fields: set[str], extras: dict[str, Any]) -> _T:
    """An instance of an event class with ``values`` as its instance dict and ``extras`` as
    its other attributes (no validation, no copy: the hot path makes two of these per
    chunk).  ``fields`` (what ``to_dict`` and ``model_dump(exclude_unset=True)`` include) is
    shared by the events of a class: pydantic only ever adds a field's name to it, and every
    field's name is in it already."""
    event = _new(cls)
    _set_dict(event, values)
    _set_fields(event, fields)
    _set_extra(event, None)
    _set_private(event, extras)
    return event


class _Event:
    """Mixin of every event class: the extra attributes (see the module docstring)."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        extras = _PRIVATE.__get__(self)
        if extras and name in extras:
            return extras[name]
        return super().__getattr__(name)  # type: ignore[misc]  # pydantic's: extra fields


class _Lazy(_Event):
    """Mixin: the fields named in ``LAZY`` are computed by ``_compute`` when first needed."""

    __slots__ = ()
    LAZY: ClassVar[tuple[str, ...]] = ()

    def _compute(self, name: str, values: dict[str, Any]) -> Any:
        raise NotImplementedError

    def __getattr__(self, name: str) -> Any:
        if name in type(self).LAZY:
            values = _INSTANCE_DICT.__get__(self)
            value = values[name] = self._compute(name, values)
            return value
        return super().__getattr__(name)

    @property  # shadows the instance-dict slot on purpose (see the module doc)
    def __dict__(self) -> dict[str, Any]:
        values: dict[str, Any] = _INSTANCE_DICT.__get__(self)
        lazy = type(self).LAZY
        if all(name in values for name in lazy) and not any(key[0] == "_" for key in values):
            return values
        for name in lazy:
            if name not in values:
                values[name] = self._compute(name, values)
        # the fields in their declared order: ``repr`` follows the dict
        fields = type(self).__pydantic_fields__  # type: ignore[attr-defined]
        ordered = {name: values[name] for name in fields if name in values}
        _set_dict(self, ordered)
        return ordered

    @__dict__.setter
    def __dict__(self, values: dict[str, Any]) -> None:  # pydantic's copies set it
        _set_dict(self, values)


def text_of(text: Any, length: int) -> str:
    """An accumulating text of the core (None: nothing yet) as it was at ``length`` characters."""
    if text is None:
        return ""
    whole: str = text.value()
    return whole if len(whole) == length else whole[:length]


def _text(values: dict[str, Any]) -> str:
    """The text an event's lazy field shows: its ``_text`` source up to ``_length``."""
    return text_of(values["_text"], values["_length"])


# --------------------------------------------------------------------------- openai's events


class ChunkEvent(_Lazy, _openai.ChunkEvent):
    """``chunk``: ``chunk`` is the ``ChatCompletionChunk`` (the object handed to
    ``handle_chunk``, or built from the decoded JSON when read); ``snapshot`` is the
    completion so far, built when first read (openai's is the live snapshot object, so
    read it at its event, as openai's users do)."""

    LAZY: ClassVar[tuple[str, ...]] = ("chunk", "snapshot")

    def _compute(self, name: str, values: dict[str, Any]) -> Any:
        if name == "chunk":
            return to_chunk(values["_data"])
        return values["_state"].current_completion_snapshot


class ContentDeltaEvent(_Lazy, _openai.ContentDeltaEvent):
    """``content.delta``: ``snapshot`` (the content so far) and ``parsed`` (that content
    parsed as partial JSON, when a ``response_format`` type was given) are computed when read."""

    LAZY: ClassVar[tuple[str, ...]] = ("snapshot", "parsed")

    def _compute(self, name: str, values: dict[str, Any]) -> Any:
        if name == "snapshot":
            return _text(values)
        if not values["_parse"]:
            return None
        snapshot = values["snapshot"] if "snapshot" in values else _text(values)
        return partial_json(snapshot) if snapshot.strip() else None


class RefusalDeltaEvent(_Lazy, _openai.RefusalDeltaEvent):
    LAZY: ClassVar[tuple[str, ...]] = ("snapshot",)

    def _compute(self, name: str, values: dict[str, Any]) -> Any:
        return _text(values)


class FunctionToolCallArgumentsDeltaEvent(_Lazy, _openai.FunctionToolCallArgumentsDeltaEvent):
    """``tool_calls.function.arguments.delta``: ``arguments`` (the call's arguments so far)
    and ``parsed_arguments`` (them parsed as partial JSON, for strict and pydantic tools;
    None for others) are computed when read."""

    LAZY: ClassVar[tuple[str, ...]] = ("arguments", "parsed_arguments")

    def _compute(self, name: str, values: dict[str, Any]) -> Any:
        if name == "arguments":
            return _text(values)
        parsed = values["_parsed"]
        if parsed is not PARSE_ARGUMENTS:
            return parsed
        arguments = values["arguments"] if "arguments" in values else _text(values)
        return partial_json(arguments) if arguments else None


#: ``_parsed`` of an arguments delta: parse the arguments as of the event when read.
PARSE_ARGUMENTS: Any = object()


class _LogprobsDelta(_Lazy):
    __slots__ = ()

    def _compute(self, name: str, values: dict[str, Any]) -> Any:
        if name == "snapshot":
            entries: list[Any] = values["_entries"]
            length: int = values["_length"]
            return to_token_logprobs(entries if len(entries) == length else entries[:length])
        return to_token_logprobs(values["_new"])


class LogprobsContentDeltaEvent(_LogprobsDelta, _openai.LogprobsContentDeltaEvent):
    LAZY: ClassVar[tuple[str, ...]] = ("content", "snapshot")


class LogprobsRefusalDeltaEvent(_LogprobsDelta, _openai.LogprobsRefusalDeltaEvent):
    LAZY: ClassVar[tuple[str, ...]] = ("refusal", "snapshot")


class _LogprobsDone(_Lazy):
    __slots__ = ()

    def _compute(self, name: str, values: dict[str, Any]) -> Any:
        return to_token_logprobs(values["_all"])


class LogprobsContentDoneEvent(_LogprobsDone, _openai.LogprobsContentDoneEvent):
    LAZY: ClassVar[tuple[str, ...]] = ("content",)


class LogprobsRefusalDoneEvent(_LogprobsDone, _openai.LogprobsRefusalDoneEvent):
    LAZY: ClassVar[tuple[str, ...]] = ("refusal",)


class ContentDoneEvent(_Event, _openai.ContentDoneEvent):
    """``content.done``: ``parsed`` is the content parsed into the ``response_format`` type."""


class RefusalDoneEvent(_Event, _openai.RefusalDoneEvent):
    pass


class FunctionToolCallArgumentsDoneEvent(_Event, _openai.FunctionToolCallArgumentsDoneEvent):
    """``tool_calls.function.arguments.done``: ``parsed_arguments`` is what openai gives (the
    tool's pydantic model, the decoded JSON of a strict tool, None for other tools)."""


# --------------------------------------------------------------------------- streamfold's own


class ReasoningDeltaEvent(_Lazy, _OpenAIModel):
    """``reasoning.delta`` (``fixes=True`` only): a piece of the choice's reasoning text
    (``reasoning_content`` or ``reasoning``), and ``snapshot``, the reasoning so far."""

    type: Literal["reasoning.delta"]
    delta: str
    snapshot: str

    LAZY: ClassVar[tuple[str, ...]] = ("snapshot",)

    def _compute(self, name: str, values: dict[str, Any]) -> Any:
        return _text(values)


class ReasoningDoneEvent(_Event, _OpenAIModel):
    """``reasoning.done`` (``fixes=True`` only): the choice's whole reasoning text."""

    type: Literal["reasoning.done"]
    reasoning: str


# --------------------------------------------------------------------------- field sets

#: The fields each class is made with (what openai's own constructor call sets).
FIELDS: dict[type, set[str]] = {
    ChunkEvent: {"type", "chunk", "snapshot"},
    ContentDeltaEvent: {"type", "delta", "snapshot", "parsed"},
    RefusalDeltaEvent: {"type", "delta", "snapshot"},
    FunctionToolCallArgumentsDeltaEvent: {"type", "name", "index", "arguments", "parsed_arguments", "arguments_delta"},
    LogprobsContentDeltaEvent: {"type", "content", "snapshot"},
    LogprobsRefusalDeltaEvent: {"type", "refusal", "snapshot"},
    LogprobsContentDoneEvent: {"type", "content"},
    LogprobsRefusalDoneEvent: {"type", "refusal"},
    ContentDoneEvent: {"type", "content", "parsed"},
    RefusalDoneEvent: {"type", "refusal"},
    FunctionToolCallArgumentsDoneEvent: {"type", "name", "index", "arguments", "parsed_arguments"},
    ReasoningDeltaEvent: {"type", "delta", "snapshot"},
    ReasoningDoneEvent: {"type", "reasoning"},
}

_CHUNK_FIELDS = FIELDS[ChunkEvent]
_CONTENT_FIELDS = FIELDS[ContentDeltaEvent]


_CHUNK_EXTRAS = {"choice_index": -1}  # shared by every chunk event (pydantic copies it, never changes it)


def chunk_event(data: dict[str, Any], chunk: ChatCompletionChunk | None, state: Any) -> ChunkEvent:
    """A ``chunk`` event: ``chunk`` given, or built from ``data`` when read."""
    # ``make``, inlined: this runs for every chunk
    event = _new(ChunkEvent)
    if chunk is None:
        _set_dict(event, {"type": "chunk", "_state": state, "_data": data})
    else:
        _set_dict(event, {"type": "chunk", "_state": state, "chunk": chunk})
    _set_fields(event, _CHUNK_FIELDS)
    _set_extra(event, None)
    _set_private(event, _CHUNK_EXTRAS)
    return event


def content_delta(choice_index: int, delta: str, text: Any, length: int, parse: bool) -> ContentDeltaEvent:
    """A ``content.delta`` event (``text``: the accumulating content, or None if still empty)."""
    event = _new(ContentDeltaEvent)  # ``make``, inlined: this runs for every chunk of text
    _set_dict(event, {"type": "content.delta", "delta": delta, "_text": text, "_length": length, "_parse": parse})
    _set_fields(event, _CONTENT_FIELDS)
    _set_extra(event, None)
    _set_private(event, {"choice_index": choice_index})
    return event


_ARGUMENTS_FIELDS = FIELDS[FunctionToolCallArgumentsDeltaEvent]


def arguments_delta(
    choice_index: int,
    name: str,
    index: int,
    arguments_delta: str,
    text: Any,
    length: int,
    parsed: Any,
    call_id: str | None = None,
) -> FunctionToolCallArgumentsDeltaEvent:
    """A ``tool_calls.function.arguments.delta`` event (``parsed``: ``PARSE_ARGUMENTS``, a live
    value, or None); ``call_id`` (``fixes=True``) becomes its ``id`` attribute."""
    event = _new(FunctionToolCallArgumentsDeltaEvent)  # ``make``, inlined: a tool-call stream's every chunk
    _set_dict(
        event,
        {
            "type": "tool_calls.function.arguments.delta",
            "name": name,
            "index": index,
            "arguments_delta": arguments_delta,
            "_text": text,
            "_length": length,
            "_parsed": parsed,
        },
    )
    _set_fields(event, _ARGUMENTS_FIELDS)
    _set_extra(event, None)
    _set_private(
        event, {"choice_index": choice_index} if call_id is None else {"choice_index": choice_index, "id": call_id}
    )
    return event


def event(cls: type[_T], values: dict[str, Any], **extras: Any) -> _T:
    """Any event class: ``values`` are its fields and the sources of its lazy ones."""
    return make(cls, values, FIELDS[cls], extras)


#: What a caller may pass to ``on()``: every event type the drop-in produces.
EVENT_TYPES = frozenset(
    (
        "chunk",
        "content.delta",
        "content.done",
        "refusal.delta",
        "refusal.done",
        "tool_calls.function.arguments.delta",
        "tool_calls.function.arguments.done",
        "logprobs.content.delta",
        "logprobs.content.done",
        "logprobs.refusal.delta",
        "logprobs.refusal.done",
        "reasoning.delta",
        "reasoning.done",
    )
)

Callback = Callable[[Any], Any]

__all__ = [
    "ChunkEvent",
    "ContentDeltaEvent",
    "ContentDoneEvent",
    "FunctionToolCallArgumentsDeltaEvent",
    "FunctionToolCallArgumentsDoneEvent",
    "LogprobsContentDeltaEvent",
    "LogprobsContentDoneEvent",
    "LogprobsRefusalDeltaEvent",
    "LogprobsRefusalDoneEvent",
    "ReasoningDeltaEvent",
    "ReasoningDoneEvent",
    "RefusalDeltaEvent",
    "RefusalDoneEvent",
]
