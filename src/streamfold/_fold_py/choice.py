"""One choice being folded: its message, logprobs, finish reason and other members, and
its events (docs/contract.md, sections 3 and 5).

Twin of ``ext/streamfold/fold/choice.pxi``: the same class and methods.
"""

from __future__ import annotations

from typing import Any

from .._contract import CHOICE_KEYS, REASONING_KEYS
from .._events import (
    ChatEvent,
    ContentDeltaEvent,
    ContentDoneEvent,
    LogprobsContentDeltaEvent,
    LogprobsContentDoneEvent,
    LogprobsRefusalDeltaEvent,
    LogprobsRefusalDoneEvent,
    ReasoningDeltaEvent,
    ReasoningDoneEvent,
    RefusalDeltaEvent,
    RefusalDoneEvent,
)
from .checks import _ChoiceRec
from .tool_calls import _FunctionCall, _ToolCalls
from .values import _copy, _merge, _Parts, _Text, _value


class _Choice:
    __slots__ = (
        "index",
        "role",
        "content",
        "refusal",
        "message",
        "tool_calls",
        "logprobs",
        "finish_reason",
        "extra",
        "done",
    )

    def __init__(self, index: int) -> None:
        self.index = index
        self.role: Any = "assistant"
        self.content: _Text | _Parts | None = None
        self.refusal: _Text | None = None
        self.message: dict[str, Any] = {}  # other message members, in order of arrival
        self.tool_calls: _ToolCalls | None = None  # also in message (for its place); saves a lookup
        self.logprobs: dict[str, Any] | None = None
        self.finish_reason: Any = None
        self.extra: dict[str, Any] = {}  # other choice members: last non-null wins
        self.done = False  # its done events were given (feed_events / add_chunk_events)

    def merge(self, rec: _ChoiceRec, events: list[ChatEvent] | None, parse: bool, texts: list[str] | None) -> None:
        """Fold one checked choice of a chunk; with ``events``, append this choice's events
        (the deltas', in the delta's order, then the logprobs', then done if it finished);
        with ``texts``, append only the text of its content deltas."""
        if rec.delta:
            self._merge_delta(rec.delta, events, parse, texts)
        finished = rec.finish_reason is not None
        if finished:
            self.finish_reason = rec.finish_reason
        if rec.logprobs is not None:
            self._merge_logprobs(rec.logprobs, events)
        if rec.extras:  # other members (Azure content_filter_results): last non-null wins
            for key, value in rec.choice.items():
                if value is None or key in CHOICE_KEYS:
                    continue
                if key == "message" and rec.delta is not None:
                    continue  # it mirrors the delta (Writer sends both)
                self.extra[key] = value
        if events is not None and finished:
            self.done_events(events)

    def _merge_logprobs(self, value: dict[str, Any], events: list[ChatEvent] | None) -> None:
        logprobs = self.logprobs
        if logprobs is None:
            logprobs = self.logprobs = {"content": None, "refusal": None}
        for key, items in value.items():
            if items is None:
                continue
            if key == "content" or key == "refusal":
                current = logprobs[key]
                if current is None:
                    current = logprobs[key] = list(items)
                else:
                    current.extend(items)
                if events is not None and items:
                    if key == "content":
                        events.append(LogprobsContentDeltaEvent(self.index, items, current))
                    else:
                        events.append(LogprobsRefusalDeltaEvent(self.index, items, current))
            else:
                logprobs[key] = items

    def _merge_delta(
        self, delta: dict[str, Any], events: list[ChatEvent] | None, parse: bool, texts: list[str] | None
    ) -> None:
        for key, value in delta.items():
            if value is None:
                continue
            if key == "content":  # a string, or a list of typed parts (checked)
                content = self.content
                if type(content) is _Text and type(value) is str:  # the hot path
                    content.add(value)
                elif isinstance(content, _Parts):
                    if isinstance(value, str):
                        content.add_string(value, events, self.index, texts)
                    else:
                        content.add_list(value, events, self.index, texts)
                    continue  # _Parts gives its own events
                elif isinstance(value, str):
                    if content is None:
                        content = self.content = _Text(value)
                    else:
                        content.add(value)
                else:
                    parts = self.content = _Parts(content)
                    parts.add_list(value, events, self.index, texts)
                    continue
                if texts is not None and value:
                    texts.append(value)
                elif events is not None and value:
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
                if (
                    events is not None
                    and key in REASONING_KEYS
                    and type(state) is _Text
                    and isinstance(value, str)
                    and value
                ):
                    events.append(ReasoningDeltaEvent("reasoning.delta", self.index, value, state, state.length))

    def done_events(self, events: list[ChatEvent]) -> None:
        """Append this choice's done events, once: reasoning, content, refusal, each tool
        call (in final order), then logprobs."""
        if self.done:
            return
        self.done = True
        index, finish_reason = self.index, self.finish_reason
        for key in REASONING_KEYS:
            reasoning = self.message.get(key)
            if type(reasoning) is _Text:
                events.append(ReasoningDoneEvent(index, reasoning.value(), finish_reason))
        text = self.content
        if isinstance(text, _Parts):
            if text.thinking is not None:
                events.append(ReasoningDoneEvent(index, text.thinking.value(), finish_reason))
            text = text.text
        if text is not None:
            events.append(ContentDoneEvent(index, text.value(), finish_reason))
        if self.refusal is not None:
            events.append(RefusalDoneEvent(index, self.refusal.value(), finish_reason))
        if self.tool_calls is not None:
            for call in self.tool_calls.in_order():
                events.append(call.done_event(index, finish_reason))
        if self.logprobs is not None:
            if self.logprobs["content"] is not None:
                events.append(LogprobsContentDoneEvent(index, list(self.logprobs["content"]), finish_reason))
            if self.logprobs["refusal"] is not None:
                events.append(LogprobsRefusalDoneEvent(index, list(self.logprobs["refusal"]), finish_reason))

    def value(self, copy: bool) -> dict[str, Any]:
        """The choice as plain JSON; ``copy``: values kept by reference are copied (see
        ChatAccumulator.result for when they are not)."""
        content = self.content.value() if self.content is not None else None
        message = {"role": _copy(self.role) if copy else self.role, "content": content, "refusal": _value(self.refusal)}
        for key, state in self.message.items():
            message[key] = state.value() if isinstance(state, (_ToolCalls, _FunctionCall)) else _value(state)
        result = {
            "index": self.index,
            "message": message,
            "logprobs": _copy(self.logprobs) if copy else self.logprobs,
            "finish_reason": _copy(self.finish_reason) if copy else self.finish_reason,
        }
        result.update(_copy(self.extra) if copy else self.extra)
        return result
