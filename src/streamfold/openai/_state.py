"""``StreamState``: openai-python's ``ChatCompletionStreamState`` surface over streamfold's fold."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from openai import ContentFilterFinishReasonError, LengthFinishReasonError
from openai.types.chat import ChatCompletionChunk, ParsedChatCompletion

from .. import _events as core
from .._errors import TRUNCATED
from .._contract import DEFAULT_MAX_EVENT_BYTES
from .._impl import ChatAccumulator
from . import _events as compat
from ._convert import (
    chunk_to_dict,
    is_given,
    is_rich_format,
    parse_content,
    to_completion,
    tool_arguments,
)


class StreamState:
    """Folds chat-completion chunks into openai's ``ParsedChatCompletion``, with events.

    The surface of openai-python's ``ChatCompletionStreamState``: ``handle_chunk(chunk)``
    returns the chunk's events, ``current_completion_snapshot`` is the completion so far,
    ``get_final_completion()`` the final one.  Chunks may be ``ChatCompletionChunk``
    objects or plain dicts; ``feed(data)`` takes raw stream bytes instead.

    Differences, all deliberate: ``length`` and ``content_filter`` finish reasons are
    returned, not raised, unless ``raise_on_truncation=True`` (then openai's
    ``LengthFinishReasonError`` / ``ContentFilterFinishReasonError``); done events fire
    once per choice when it finishes, for every choice; every event has ``choice_index``;
    ``tool_calls.function.arguments.done`` carries ``parsed_arguments`` for any tool
    (the tool's pydantic model for ``pydantic_function_tool``, else the decoded JSON, with
    ``error`` when it is not JSON); ``reasoning.delta``/``reasoning.done`` are added.
    """

    def __init__(
        self,
        *,
        input_tools: Iterable[Any] | None = None,
        response_format: Any = None,
        raise_on_truncation: bool = False,
        parse_partial_arguments: bool = False,
        max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        self._acc = ChatAccumulator(
            max_event_bytes=max_event_bytes, parse_partial_arguments=parse_partial_arguments
        )
        self._tools: list[Any] = list(input_tools) if is_given(input_tools) else []  # type: ignore[arg-type]
        self._format = response_format if is_rich_format(response_format) else None
        self._rich = self._format is not None
        self._raise = raise_on_truncation

    # ------------------------------------------------------------------ input

    def handle_chunk(self, chunk: ChatCompletionChunk | dict[str, Any]) -> list[core.ChatEvent]:
        """Fold one chunk; return its events (``chunk`` first).  A bad chunk raises a
        ``streamfold.StreamError`` with the completion so far in ``.partial``."""
        data = chunk_to_dict(chunk)
        events = self._acc.add_chunk_events(data)
        source = chunk if isinstance(chunk, ChatCompletionChunk) else None
        events[0] = compat.ChunkEvent(data, source, self)
        return self._translate(events, 1)

    def feed(self, data: bytes) -> list[core.ChatEvent]:
        """Fold raw stream bytes (split anywhere); return the events they completed."""
        return self._translate(self._acc.feed_events(data), 0)

    def _translate(self, events: list[core.ChatEvent], start: int) -> list[core.ChatEvent]:
        """Give events openai's attribute types (see ``_events``); others pass unchanged."""
        for i in range(start, len(events)):
            event = events[i]
            kind = event.type
            if kind == "content.delta":
                events[i] = compat.content_delta(event, self._rich)  # type: ignore[arg-type]
            elif kind == "chunk":
                events[i] = compat.ChunkEvent(event.chunk, None, self)  # type: ignore[attr-defined]
            elif kind == "content.done":
                events[i] = self._content_done(event)  # type: ignore[arg-type]
            elif kind == "tool_calls.function.arguments.done":
                events[i] = self._arguments_done(event)  # type: ignore[arg-type]
            else:
                to_compat = _LOGPROBS.get(kind)
                if to_compat is not None:
                    events[i] = to_compat(event)
        return events

    def _content_done(self, event: core.ContentDoneEvent) -> core.ChatEvent:
        parsed = None
        if self._rich and event.content and event.finish_reason not in TRUNCATED:
            parsed = parse_content(self._format, event.content)
        return compat.content_done(event, parsed)

    def _arguments_done(self, event: core.FunctionToolCallArgumentsDoneEvent) -> core.ChatEvent:
        if event.error is None and self._tools:
            parsed = tool_arguments(self._tools, event.name, event.arguments)
            if parsed is not None:
                event.parsed_arguments = parsed
        return event

    # ------------------------------------------------------------------ output

    @property
    def accumulator(self) -> Any:
        """The underlying ``streamfold.ChatAccumulator`` (counters, ``snapshot()`` as a dict)."""
        return self._acc

    @property
    def current_completion_snapshot(self) -> ParsedChatCompletion[Any]:
        """The completion so far as openai's ``ParsedChatCompletion`` (built when read)."""
        if not self._acc.chunks:
            raise RuntimeError("no chunk has been folded yet")
        return to_completion(self._acc.snapshot(), self._format, self._tools, final=False)

    def get_final_completion(self) -> ParsedChatCompletion[Any]:
        """The final completion as openai's ``ParsedChatCompletion``.

        Content is parsed into ``response_format`` and arguments of strict or pydantic
        tools are parsed, as openai-python does, except for choices cut short.  After
        ``feed``, an unfinished stream raises ``streamfold.IncompleteStreamError`` (with
        ``.partial``); after ``handle_chunk`` it is the caller's to know, as in openai-python.
        """
        if self._acc.events:
            folded = self._acc.result()
        elif self._acc.chunks:
            folded = self._acc.snapshot()
        else:
            raise RuntimeError("no chunk has been folded yet")
        completion = to_completion(folded, self._format, self._tools, final=True)
        if self._raise:
            for choice in completion.choices:
                if choice.finish_reason == "length":
                    raise LengthFinishReasonError(completion=completion)
                if choice.finish_reason == "content_filter":
                    raise _content_filter_error(completion)
        return completion


_LOGPROBS: dict[str, Callable[[Any], core.ChatEvent]] = {
    "logprobs.content.delta": compat.logprobs_delta,
    "logprobs.refusal.delta": compat.logprobs_delta,
    "logprobs.content.done": compat.logprobs_done,
    "logprobs.refusal.done": compat.logprobs_done,
}


def _content_filter_error(completion: ParsedChatCompletion[Any]) -> ContentFilterFinishReasonError:
    try:
        return ContentFilterFinishReasonError(completion=completion)
    except TypeError:  # older openai-python takes no completion
        return ContentFilterFinishReasonError()
