"""Events with openai-python's attribute types, made from streamfold's events.

Code written for openai's stream helper reads ``event.chunk`` as a ``ChatCompletionChunk``,
``event.snapshot`` of a ``chunk`` event as a ``ParsedChatCompletion``, ``event.parsed`` of
content events, and logprobs as ``ChatCompletionTokenLogprob`` objects.  These classes give
it that, computing every openai object only when it is read: producing an event costs one
small object, never a snapshot.  Text and tool-call events keep streamfold's lazy snapshots.
"""

from __future__ import annotations

from typing import Any, Protocol

from openai.types.chat import (
    ChatCompletionChunk,
    ChatCompletionTokenLogprob,
    ParsedChatCompletion,
)

from .. import _events as core
from ._convert import partial_value, to_chunk, to_token_logprobs


class _State(Protocol):
    @property
    def current_completion_snapshot(self) -> ParsedChatCompletion[Any]: ...


class ChunkEvent(core.ChatEvent):
    """``chunk``: ``chunk`` is openai's ``ChatCompletionChunk`` (the object handed to
    ``StreamState.handle_chunk``, or built from the decoded dict on first read), ``data`` the
    chunk as a dict, ``snapshot`` the completion so far (as of when it is read, like the
    snapshot object openai-python updates in place)."""

    __slots__ = ("data", "_chunk", "_state")

    def __init__(self, data: dict[str, Any], chunk: ChatCompletionChunk | None, state: _State) -> None:
        self.type = "chunk"
        self.choice_index = -1
        self.data = data
        self._chunk = chunk
        self._state = state

    @property
    def chunk(self) -> ChatCompletionChunk:
        if self._chunk is None:
            self._chunk = to_chunk(self.data)
        return self._chunk

    @property
    def snapshot(self) -> ParsedChatCompletion[Any]:
        return self._state.current_completion_snapshot


class ContentDeltaEvent(core.ContentDeltaEvent):
    """``content.delta``; ``parsed`` is the content parsed so far as JSON when a
    ``response_format`` type was given (computed when read), else None."""

    __slots__ = ("_rich",)
    _rich: bool

    @property
    def parsed(self) -> Any:
        return partial_value(self.snapshot) if self._rich else None


class ContentDoneEvent(core.ContentDoneEvent):
    """``content.done``; ``parsed`` is the content parsed into the ``response_format`` type
    (None without one, or when the choice was cut short)."""

    __slots__ = ("parsed",)
    parsed: Any


class _Logprobs(core.ChatEvent):
    __slots__ = ("_entries", "_length")
    _entries: list[Any]
    _length: int

    @property
    def snapshot(self) -> list[ChatCompletionTokenLogprob]:
        """All token entries of the choice so far, as of this event."""
        return to_token_logprobs(self._entries[: self._length])


class LogprobsContentDeltaEvent(_Logprobs):
    """``logprobs.content.delta``: ``content`` is the chunk's new entries."""

    __slots__ = ("_new",)
    _new: list[Any]

    @property
    def content(self) -> list[ChatCompletionTokenLogprob]:
        return to_token_logprobs(self._new)


class LogprobsRefusalDeltaEvent(_Logprobs):
    """``logprobs.refusal.delta``: ``refusal`` is the chunk's new entries."""

    __slots__ = ("_new",)
    _new: list[Any]

    @property
    def refusal(self) -> list[ChatCompletionTokenLogprob]:
        return to_token_logprobs(self._new)


class LogprobsContentDoneEvent(core.ChatEvent):
    __slots__ = ("finish_reason", "_all")
    finish_reason: Any
    _all: list[Any]

    @property
    def content(self) -> list[ChatCompletionTokenLogprob]:
        return to_token_logprobs(self._all)


class LogprobsRefusalDoneEvent(core.ChatEvent):
    __slots__ = ("finish_reason", "_all")
    finish_reason: Any
    _all: list[Any]

    @property
    def refusal(self) -> list[ChatCompletionTokenLogprob]:
        return to_token_logprobs(self._all)


def content_delta(event: core.ContentDeltaEvent, rich: bool) -> ContentDeltaEvent:
    new = ContentDeltaEvent.__new__(ContentDeltaEvent)
    new.type = event.type
    new.choice_index = event.choice_index
    new.delta = event.delta
    new._text = event._text
    new._length = event._length
    new._rich = rich
    return new


def content_done(event: core.ContentDoneEvent, parsed: Any) -> ContentDoneEvent:
    new = ContentDoneEvent(event.choice_index, event.content, event.finish_reason)
    new.parsed = parsed
    return new


def logprobs_delta(event: Any) -> _Logprobs:
    cls: type[LogprobsContentDeltaEvent] | type[LogprobsRefusalDeltaEvent]
    if event.type == "logprobs.content.delta":
        cls, new_entries = LogprobsContentDeltaEvent, event.content
    else:
        cls, new_entries = LogprobsRefusalDeltaEvent, event.refusal
    new = cls.__new__(cls)
    new.type = event.type
    new.choice_index = event.choice_index
    new._new = new_entries
    new._entries = event._entries
    new._length = event._length
    return new


def logprobs_done(event: Any) -> core.ChatEvent:
    new: LogprobsContentDoneEvent | LogprobsRefusalDoneEvent
    if event.type == "logprobs.content.done":
        new = LogprobsContentDoneEvent.__new__(LogprobsContentDoneEvent)
        new._all = event.content
    else:
        new = LogprobsRefusalDoneEvent.__new__(LogprobsRefusalDoneEvent)
        new._all = event.refusal
    new.type = event.type
    new.choice_index = event.choice_index
    new.finish_reason = event.finish_reason
    return new
