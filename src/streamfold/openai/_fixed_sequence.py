"""streamfold's own event sequence (``fixes=True``): the core's events, in openai's classes.

No delta event for an empty string; done events once per choice when it finishes (for every
choice of ``n > 1``, each tool call complete however the calls were interleaved), with the
choice's ``finish_reason``; ``reasoning.delta`` / ``reasoning.done``.
"""

from __future__ import annotations

from typing import Any

from .._errors import TRUNCATED
from . import _events as ev
from ._convert import Tools, parse_content
from ._sequence import EMPTY as _EMPTY
from ._sequence import Sequence


class FixedSequence(Sequence):
    """streamfold's own sequence: the core's events, in openai's classes (see the module docstring)."""

    def __init__(self, state: Any, response_format: Any, tools: Tools, live_arguments: bool) -> None:
        super().__init__(state, response_format, tools, live_arguments)
        self.calls_done: dict[int, int] = {}  # arguments.done events so far, by choice (their position)
        self.parts: set[int] = set()  # choices whose content came as typed parts (never parsed)

    def events(self, data: dict[str, Any], core: list[Any], chunk: Any) -> list[Any]:
        """The drop-in's events for core events: a chunk's (``data``), or the done events
        ``[DONE]`` gives (``data`` empty)."""
        out: list[Any] = []
        for event in core:
            kind = event.type
            index = event.choice_index
            if kind == "chunk":
                out.append(ev.chunk_event(event.chunk, chunk, self.state))
                if self.format is not None:
                    self._note_parts(event.chunk)
            elif kind == "content.delta":
                out.append(ev.content_delta(index, event.delta, event._text, event._length, self.format is not None))
            elif kind == "tool_calls.function.arguments.delta":
                parsed = None
                if self.tools.is_strict(event.name):
                    parsed = event.parsed_arguments if self.live_arguments else ev.PARSE_ARGUMENTS
                out.append(
                    ev.arguments_delta(
                        index,
                        event.name,
                        event.index,
                        event.arguments_delta,
                        event._text,
                        event._length,
                        parsed,
                        event.id,
                    )
                )
            elif kind == "refusal.delta" or kind == "reasoning.delta":
                text_cls = ev.RefusalDeltaEvent if kind == "refusal.delta" else ev.ReasoningDeltaEvent
                out.append(
                    ev.event(
                        text_cls,
                        {"type": kind, "delta": event.delta, "_text": event._text, "_length": event._length},
                        choice_index=index,
                    )
                )
            elif kind == "content.done":
                out.append(self._content_done(event))
            elif kind == "tool_calls.function.arguments.done":
                out.append(self._call_done(event))
            elif kind == "refusal.done":
                out.append(
                    ev.event(
                        ev.RefusalDoneEvent,
                        {"type": kind, "refusal": event.refusal},
                        choice_index=index,
                        finish_reason=event.finish_reason,
                    )
                )
            elif kind == "reasoning.done":
                out.append(
                    ev.event(
                        ev.ReasoningDoneEvent,
                        {"type": kind, "reasoning": event.reasoning},
                        choice_index=index,
                        finish_reason=event.finish_reason,
                    )
                )
            elif kind == "logprobs.content.delta" or kind == "logprobs.refusal.delta":
                new = event.content if kind == "logprobs.content.delta" else event.refusal
                delta_cls = (
                    ev.LogprobsContentDeltaEvent if kind == "logprobs.content.delta" else ev.LogprobsRefusalDeltaEvent
                )
                out.append(
                    ev.event(
                        delta_cls,
                        {"type": kind, "_new": new, "_entries": event._entries, "_length": event._length},
                        choice_index=index,
                    )
                )
            elif kind == "logprobs.content.done" or kind == "logprobs.refusal.done":
                entries = event.content if kind == "logprobs.content.done" else event.refusal
                done_cls = (
                    ev.LogprobsContentDoneEvent if kind == "logprobs.content.done" else ev.LogprobsRefusalDoneEvent
                )
                out.append(
                    ev.event(
                        done_cls, {"type": kind, "_all": entries}, choice_index=index, finish_reason=event.finish_reason
                    )
                )
        return out

    def _note_parts(self, data: dict[str, Any]) -> None:
        for item in data.get("choices") or ():
            if type((item.get("delta") or _EMPTY).get("content")) is list:
                self.parts.add(item.get("index") or 0)

    def _content_done(self, event: Any) -> Any:
        parsed = None
        if (
            self.format is not None
            and event.content
            and event.finish_reason not in TRUNCATED
            and event.choice_index not in self.parts
        ):
            parsed = parse_content(self.format, event.content)
        self.parsed[event.choice_index] = parsed
        return ev.event(
            ev.ContentDoneEvent,
            {"type": "content.done", "content": event.content, "parsed": parsed},
            choice_index=event.choice_index,
            finish_reason=event.finish_reason,
        )

    def _call_done(self, event: Any) -> Any:
        index = event.choice_index
        position = self.calls_done.get(index, 0)
        self.calls_done[index] = position + 1
        parsed = None
        if event.error is None and event.finish_reason not in TRUNCATED:
            parsed = self.tools.parse(event.name, event.arguments)
        self.parsed_calls[(index, position)] = parsed
        return ev.event(
            ev.FunctionToolCallArgumentsDoneEvent,
            {
                "type": "tool_calls.function.arguments.done",
                "name": event.name,
                "index": event.index,
                "arguments": event.arguments,
                "parsed_arguments": parsed,
            },
            choice_index=index,
            id=event.id,
            error=event.error,
            finish_reason=event.finish_reason,
        )
