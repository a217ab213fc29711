"""Typed events of a chat-completion stream, shared by the Cython core and the twin.

The ``type`` strings follow openai-python's stream helper (``content.delta``,
``tool_calls.function.arguments.done``, ...) plus ``reasoning.delta``/``reasoning.done``,
and every event names its choice (``choice_index``).  Snapshots (the text so far) are
computed only when read: an event keeps the accumulating text and its length at the
time of the event, and joins it on demand.
"""

from __future__ import annotations

from typing import Any, Protocol


class _Accumulating(Protocol):
    def value(self) -> Any: ...


class ChatEvent:
    """Base of every event: ``type`` and the ``choice_index`` it belongs to."""

    __slots__ = ("type", "choice_index")
    type: str
    choice_index: int

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in _fields(type(self)))
        return f"{type(self).__name__}({fields})"


def _fields(cls: type) -> list[str]:
    names: list[str] = []
    for klass in reversed(cls.__mro__):
        names += [n for n in getattr(klass, "__slots__", ()) if not n.startswith("_")]
    return names


class ChunkEvent(ChatEvent):
    """``chunk``: one decoded chunk, before its deltas' events (``choice_index`` is -1)."""

    __slots__ = ("chunk",)

    def __init__(self, chunk: dict[str, Any]) -> None:
        self.type = "chunk"
        self.choice_index = -1
        self.chunk = chunk


class TextDeltaEvent(ChatEvent):
    """``content.delta``, ``refusal.delta`` or ``reasoning.delta``: ``delta`` and, when read,
    ``snapshot`` (the text of that member so far, as of this event)."""

    __slots__ = ("delta", "_text", "_length")

    def __init__(self, type: str, choice_index: int, delta: str, text: _Accumulating, length: int) -> None:
        self.type = type
        self.choice_index = choice_index
        self.delta = delta
        self._text = text
        self._length = length

    @property
    def snapshot(self) -> str:
        text: str = self._text.value()
        return text[: self._length]


class ContentDeltaEvent(TextDeltaEvent):
    __slots__ = ()


class RefusalDeltaEvent(TextDeltaEvent):
    __slots__ = ()


class ReasoningDeltaEvent(TextDeltaEvent):
    __slots__ = ()


class TextDoneEvent(ChatEvent):
    """Base of ``content.done``, ``refusal.done``, ``reasoning.done``: the whole text, and
    the choice's ``finish_reason`` (None when the stream ended with ``[DONE]`` first)."""

    __slots__ = ("finish_reason",)


class ContentDoneEvent(TextDoneEvent):
    __slots__ = ("content",)

    def __init__(self, choice_index: int, content: str, finish_reason: Any) -> None:
        self.type = "content.done"
        self.choice_index = choice_index
        self.content = content
        self.finish_reason = finish_reason


class RefusalDoneEvent(TextDoneEvent):
    __slots__ = ("refusal",)

    def __init__(self, choice_index: int, refusal: str, finish_reason: Any) -> None:
        self.type = "refusal.done"
        self.choice_index = choice_index
        self.refusal = refusal
        self.finish_reason = finish_reason


class ReasoningDoneEvent(TextDoneEvent):
    __slots__ = ("reasoning",)

    def __init__(self, choice_index: int, reasoning: str, finish_reason: Any) -> None:
        self.type = "reasoning.done"
        self.choice_index = choice_index
        self.reasoning = reasoning
        self.finish_reason = finish_reason


class FunctionToolCallArgumentsDeltaEvent(ChatEvent):
    """``tool_calls.function.arguments.delta``: a fragment of one call's arguments.

    ``index`` is the call's index, ``arguments_delta`` the fragment, ``arguments`` (when
    read) the arguments so far; ``parsed_arguments`` is the arguments parsed so far when
    the accumulator was asked to parse them as they stream (a live value that keeps
    growing: copy it to keep it), else None.
    """

    __slots__ = ("index", "id", "name", "arguments_delta", "parsed_arguments", "_text", "_length")

    def __init__(
        self,
        choice_index: int,
        index: int,
        id: str,
        name: str,
        arguments_delta: str,
        text: _Accumulating | None,
        length: int,
        parsed_arguments: Any,
    ) -> None:
        self.type = "tool_calls.function.arguments.delta"
        self.choice_index = choice_index
        self.index = index
        self.id = id
        self.name = name
        self.arguments_delta = arguments_delta
        self.parsed_arguments = parsed_arguments
        self._text = text
        self._length = length

    @property
    def arguments(self) -> str:
        if self._text is None:
            return ""
        text: str = self._text.value()
        return text[: self._length]


class FunctionToolCallArgumentsDoneEvent(ChatEvent):
    """``tool_calls.function.arguments.done``: one call is complete (its choice finished).

    ``parsed_arguments`` is the arguments decoded with orjson, or None with the decode
    error in ``error`` when they are not valid JSON.
    """

    __slots__ = ("index", "id", "name", "arguments", "parsed_arguments", "error", "finish_reason")

    def __init__(
        self,
        choice_index: int,
        index: int,
        id: str,
        name: str,
        arguments: str,
        parsed_arguments: Any,
        error: Exception | None,
        finish_reason: Any,
    ) -> None:
        self.type = "tool_calls.function.arguments.done"
        self.choice_index = choice_index
        self.index = index
        self.id = id
        self.name = name
        self.arguments = arguments
        self.parsed_arguments = parsed_arguments
        self.error = error
        self.finish_reason = finish_reason


class _LogprobsDelta(ChatEvent):
    __slots__ = ("_entries", "_length")
    _entries: list[Any]
    _length: int

    @property
    def snapshot(self) -> list[Any]:
        """The entries so far, as of this event."""
        return self._entries[: self._length]


class LogprobsContentDeltaEvent(_LogprobsDelta):
    """``logprobs.content.delta``: ``content``, the chunk's new token entries."""

    __slots__ = ("content",)

    def __init__(self, choice_index: int, content: list[Any], entries: list[Any]) -> None:
        self.type = "logprobs.content.delta"
        self.choice_index = choice_index
        self.content = content
        self._entries = entries
        self._length = len(entries)


class LogprobsRefusalDeltaEvent(_LogprobsDelta):
    """``logprobs.refusal.delta``: ``refusal``, the chunk's new token entries."""

    __slots__ = ("refusal",)

    def __init__(self, choice_index: int, refusal: list[Any], entries: list[Any]) -> None:
        self.type = "logprobs.refusal.delta"
        self.choice_index = choice_index
        self.refusal = refusal
        self._entries = entries
        self._length = len(entries)


class LogprobsContentDoneEvent(ChatEvent):
    __slots__ = ("content", "finish_reason")

    def __init__(self, choice_index: int, content: list[Any], finish_reason: Any) -> None:
        self.type = "logprobs.content.done"
        self.choice_index = choice_index
        self.content = content
        self.finish_reason = finish_reason


class LogprobsRefusalDoneEvent(ChatEvent):
    __slots__ = ("refusal", "finish_reason")

    def __init__(self, choice_index: int, refusal: list[Any], finish_reason: Any) -> None:
        self.type = "logprobs.refusal.done"
        self.choice_index = choice_index
        self.refusal = refusal
        self.finish_reason = finish_reason
