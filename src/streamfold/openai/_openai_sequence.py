"""openai-python's event sequence: the events its ``ChatCompletionStreamState`` gives for a chunk.

A delta event for every text member present in the delta (an empty string too), one for
every tool-call fragment, and the done events at the moments openai fires them (a
choice's text is done when its first tool call starts or when it finishes; a tool call is
done when the next one starts or the choice finishes).  The completion snapshots set the
same members openai's do (its messages are rebuilt from a full dump on every chunk after
the first, while a first chunk sets only what it sent), so that ``to_dict()`` and
``to_json()``, which leave unset members out, list the same ones.
"""

from __future__ import annotations

from typing import Any

import orjson

from .._errors import TRUNCATED
from . import _events as ev
from ._convert import CALL_FIELDS, FUNCTION_FIELDS, MESSAGE_FIELDS, Tools, parse_content, partial_json, set_members
from ._sequence import EMPTY as _EMPTY
from ._sequence import UNSET as _UNSET
from ._sequence import Sequence


class _Call:
    """One tool call of a choice, as the events see it (by its ``index``)."""

    __slots__ = ("name", "type", "text", "length", "appearance", "keys", "function_keys", "partial", "live", "strict")

    def __init__(self) -> None:
        self.name = ""
        self.type = ""
        self.text: Any = None  # the accumulating arguments (None: none yet)
        self.length = 0
        self.appearance = 0  # the choice's appearance (1, 2...) whose chunk began the call
        self.keys: set[str] = set()  # members its fragments sent (as openai sets them, until rebuilt)
        self.function_keys: set[str] = set()
        self.partial = False  # openai parsed its arguments partially (a strict tool, after the first chunk)
        self.live: Any = None  # parse_partial_arguments: the core's live value of its arguments
        self.strict = False  # its tool (by name) is strict: openai parses its arguments as they come


class _Choice:
    """What openai-python's per-choice event state tracks, and where each text is."""

    __slots__ = (
        "content",
        "content_length",
        "refusal",
        "refusal_length",
        "refusal_seen",
        "logprobs",
        "logprobs_content",
        "logprobs_refusal",
        "finish_reason",
        "content_done",
        "refusal_done",
        "logprobs_content_done",
        "logprobs_refusal_done",
        "calls",
        "current_call",
        "done_calls",
        "appearances",
        "first_keys",
        "later",
        "choice_keys",
        "parts",
    )

    def __init__(self) -> None:
        self.content: Any = None  # the accumulating content (None: nothing but empty strings yet)
        self.content_length = 0
        self.refusal: Any = None
        self.refusal_length = 0
        self.refusal_seen = False  # a refusal string (maybe empty) has arrived: openai's refusal is not None
        self.logprobs: list[Any] = []  # this chunk's logprobs delta events of the core
        self.logprobs_content: tuple[list[Any], int] | None = None  # (entries, length), once a list arrived
        self.logprobs_refusal: tuple[list[Any], int] | None = None
        self.finish_reason: Any = None
        self.content_done = self.refusal_done = False
        self.logprobs_content_done = self.logprobs_refusal_done = False
        self.calls: dict[Any, _Call] = {}
        self.current_call: Any = None
        self.done_calls: set[Any] = set()
        self.appearances = 0  # chunks it was in
        self.first_keys: set[str] = set()  # its first delta's members
        self.later = False  # its last chunk was not the stream's first (openai parses only then)
        self.choice_keys: set[str] = set()  # its members openai's snapshot sets
        self.parts = False  # its content came as typed parts: no response format parses it


def _name_merge(current: str, new: Any) -> str:
    """A call's name as the fold merges it (first non-empty; a resend ignored; else appended)."""
    if not new or new == current or not isinstance(new, str):
        return current
    return current + new if current else new


def _unset(members: dict[str, Any], sent: set[str]) -> None:
    """Leave out the null members that were not sent (openai's model leaves them unset)."""
    for key in [key for key, value in members.items() if value is None and key not in sent]:
        del members[key]


def _piece(arguments: Any) -> str:
    if type(arguments) is str:
        return arguments
    return "" if arguments is None else orjson.dumps(arguments).decode()


class OpenAISequence(Sequence):
    """openai-python's event sequence (see the module docstring)."""

    def __init__(self, state: Any, response_format: Any, tools: Tools, live_arguments: bool) -> None:
        super().__init__(state, response_format, tools, live_arguments)
        self.choices: dict[int, _Choice] = {}
        self.chunks = 0
        self.top_keys: set[str] = set()  # the top-level members openai's snapshot sets

    def events(self, data: dict[str, Any], core: list[Any], chunk: Any) -> list[Any]:
        """The events of one chunk: ``core`` is its core events (a ``chunk`` event first)."""
        chunks = self.chunks = self.chunks + 1
        if chunks > 2:
            # The hot paths (see _text_chunk): a chunk a token, or a fragment of a call.
            items = data.get("choices")
            if items and len(items) == 1:
                item = items[0]
                delta = item.get("delta")
                if delta and not item.get("finish_reason") and item.get("logprobs") is None:
                    index = item.get("index") or 0
                    choice = self.choices.get(index)
                    if choice is not None and not choice.finish_reason and delta.get("refusal") is None:
                        calls = delta.get("tool_calls")
                        if not calls:
                            events = self._text_chunk(data, core, chunk, index, choice, delta.get("content"))
                        elif len(calls) == 1 and delta.get("content") is None:
                            events = self._fragment_chunk(data, core, chunk, index, choice, calls[0])
                        else:
                            events = None
                        if events is not None:
                            return events
        out: list[Any] = [ev.chunk_event(data, chunk, self.state)]
        later = chunks > 1
        if chunks < 3:
            if not later:
                self.top_keys = set_members(data if chunk is None else chunk) - {"obfuscation"} | {
                    "object",
                    "system_fingerprint",
                    "choices",
                }
            else:
                self.top_keys.add("usage")  # set from every chunk after the first
        choices = self.choices
        for i in range(1, len(core)):  # where each text is now (the events below read it as of this chunk)
            event = core[i]
            kind = event.type
            choice = choices.get(event.choice_index)
            if choice is None:
                choice = choices[event.choice_index] = _Choice()
            if kind == "content.delta":
                choice.content = event._text
                choice.content_length = event._length
            elif kind == "tool_calls.function.arguments.delta":
                call = choice.calls.get(event.index)
                if call is None:
                    call = choice.calls[event.index] = _Call()
                call.text, call.length, call.live = event._text, event._length, event.parsed_arguments
            elif kind == "refusal.delta":
                choice.refusal, choice.refusal_length = event._text, event._length
            elif kind == "logprobs.content.delta" or kind == "logprobs.refusal.delta":
                choice.logprobs.append(event)
        rich = self.format is not None and later  # openai parses nothing in the stream's first chunk
        parsed = self.parsed
        content_delta = ev.content_delta
        for position, item in enumerate(data.get("choices") or ()):
            index = item.get("index") or 0
            choice = choices.get(index)
            if choice is None:
                choice = choices[index] = _Choice()
            source = item if chunk is None else chunk.choices[position]  # what it was sent with
            if parsed:
                parsed.pop(index, None)  # openai rebuilds the message: parsed is the partial parse again
            delta = item.get("delta") or _EMPTY
            if choice.appearances:
                choice.appearances += 1
                choice.later = later
            else:
                choice.appearances = 1
                choice.later = later
                choice.first_keys = set_members(source["delta"] if chunk is None else source.delta) if delta else set()
                choice.choice_keys = set_members(source) - {"delta"} | {"message"}
            finish_reason = item.get("finish_reason")
            if finish_reason:
                choice.finish_reason = finish_reason
                choice.choice_keys.add("finish_reason")
            content = delta.get("content")
            if type(content) is str:
                out.append(
                    content_delta(
                        index, content, choice.content, choice.content_length, rich and not choice.refusal_length
                    )
                )
            elif content:  # typed parts (Mistral): openai has no sense of them; the text parts' text
                choice.parts = True
                out += [
                    ev.content_delta(index, event.delta, event._text, event._length, False)
                    for event in core
                    if event.type == "content.delta" and event.choice_index == index
                ]
            refusal = delta.get("refusal")
            if type(refusal) is str:
                choice.refusal_seen = True
                out.append(
                    ev.event(
                        ev.RefusalDeltaEvent,
                        {
                            "type": "refusal.delta",
                            "delta": refusal,
                            "_text": choice.refusal,
                            "_length": choice.refusal_length,
                        },
                        choice_index=index,
                    )
                )
            calls = delta.get("tool_calls")
            if calls:
                self._argument_deltas(index, choice, calls, calls if chunk is None else source.delta.tool_calls, out)
            if item.get("logprobs") is not None:
                choice.choice_keys.add("logprobs")
                self._logprobs(index, choice, item["logprobs"], out)
            if choice.finish_reason or calls:
                self._done(index, choice, calls, out)
        return out

    # The hot paths: a chunk after the second, of one choice seen before and not finished,
    # whose delta is a piece of text, or one fragment of a call begun before.  Everything the
    # general path does would find nothing else to do; None when the chunk is not such.

    def _text_chunk(
        self, data: dict[str, Any], core: list[Any], chunk: Any, index: int, choice: _Choice, content: Any
    ) -> list[Any] | None:
        if type(content) is not str or not (len(core) == 1 or (len(core) == 2 and core[1].type == "content.delta")):
            return None
        if len(core) == 2:
            choice.content = core[1]._text
            choice.content_length = core[1]._length
        choice.appearances += 1  # _next_appearance, inlined: this runs for every chunk of text
        choice.later = True
        if self.parsed:
            self.parsed.pop(index, None)
        return [
            ev.chunk_event(data, chunk, self.state),
            ev.content_delta(
                index,
                content,
                choice.content,
                choice.content_length,
                self.format is not None and not choice.refusal_length,
            ),
        ]

    def _fragment_chunk(
        self, data: dict[str, Any], core: list[Any], chunk: Any, index: int, choice: _Choice, fragment: dict[str, Any]
    ) -> list[Any] | None:
        position = fragment.get("index")
        if type(position) is not int:
            return None
        call = choice.calls.get(position)
        function = fragment.get("function")
        if (
            call is None
            or not call.appearance
            or call.type not in ("", "function")
            or fragment.get("id")
            or fragment.get("type")
            or not function
            or function.get("name")
            or type(function.get("arguments")) is not str
            or not (len(core) == 1 or (len(core) == 2 and core[1].type == "tool_calls.function.arguments.delta"))
        ):
            return None
        if len(core) == 2:
            event = core[1]
            call.text, call.length, call.live = event._text, event._length, event.parsed_arguments
        self._next_appearance(index, choice)
        if call.strict and call.length:
            call.partial = True
        parsed = (call.live if self.live_arguments else ev.PARSE_ARGUMENTS) if call.strict else None
        out = [
            ev.chunk_event(data, chunk, self.state),
            ev.arguments_delta(index, call.name, position, function["arguments"], call.text, call.length, parsed),
        ]
        if choice.current_call != position:  # openai: the call before is done when another one goes on
            self._texts_done(index, choice, out)
            if choice.current_call is not None:
                self._call_done(index, choice, choice.current_call, out)
            choice.current_call = position
        return out

    def _next_appearance(self, index: int, choice: _Choice) -> None:
        choice.appearances += 1
        choice.later = True
        if self.parsed:
            self.parsed.pop(index, None)  # openai rebuilds the message: parsed is the partial parse again

    def _shape_top(self, folded: dict[str, Any]) -> None:
        keys = self.top_keys
        for key in [key for key, value in folded.items() if value is None and key not in keys]:
            del folded[key]
        for key in keys:
            folded.setdefault(key, None)

    def _shape_choice(self, index: int, choice: dict[str, Any]) -> None:
        state = self.choices.get(index)
        if state is not None:
            _unset(choice, state.choice_keys)

    def _shape_message(self, index: int, message: dict[str, Any]) -> None:
        choice = self.choices.get(index)
        if choice is None:
            return
        if choice.appearances > 1:  # rebuilt from a full dump: every member is set
            for name in MESSAGE_FIELDS:
                message.setdefault(name, None)
        else:
            _unset(message, choice.first_keys)
        for position, call in enumerate(message.get("tool_calls") or ()):
            state = choice.calls.get(position)
            if state is None or state.appearance < choice.appearances:
                for name in CALL_FIELDS:
                    call.setdefault(name, None)
                for name in FUNCTION_FIELDS:
                    call["function"].setdefault(name, None)
            else:
                _unset(call, state.keys)
                _unset(call["function"], state.function_keys)

    def _snapshot_message(self, index: int, message: dict[str, Any]) -> None:
        self._shape_message(index, message)
        choice = self.choices.get(index)
        if choice is None:
            return
        parsed = self.parsed.get(index, _UNSET)
        if parsed is _UNSET and choice.later and self._parses_content(message):
            parsed = partial_json(message["content"])
        if parsed is _UNSET:
            message.pop("parsed", None)
        else:
            message["parsed"] = parsed
        for position, call in enumerate(message.get("tool_calls") or ()):
            function = call["function"]
            state = choice.calls.get(position)
            parsed = self.parsed_calls.get((index, position), _UNSET)
            if parsed is _UNSET and state is not None and state.partial:
                parsed = partial_json(function["arguments"])
            if parsed is _UNSET and (state is None or state.appearance < choice.appearances):
                parsed = None  # openai carries it over, set, into each rebuilt message
            if parsed is _UNSET:
                function.pop("parsed_arguments", None)
            else:
                function["parsed_arguments"] = parsed

    def _argument_deltas(
        self, index: int, choice: _Choice, fragments: list[Any], sources: list[Any], out: list[Any]
    ) -> None:
        """``sources``: the fragments as sent (dicts, or the models they came from)."""
        calls = choice.calls
        for fragment, source in zip(fragments, sources):
            position = fragment.get("index")
            call = calls.get(position)
            if call is None:
                call = calls[position] = _Call()
            if not call.appearance:  # (a call may be made above, from the core's events)
                call.appearance = choice.appearances
            function = fragment.get("function") or _EMPTY
            name = function.get("name")
            if name and name != call.name:
                call.name = _name_merge(call.name, name)
                call.strict = self.tools.is_strict(call.name)
            if not call.type:
                call.type = fragment.get("type") or ""
            if call.appearance == choice.appearances:  # what openai's snapshot sets, until the next chunk
                call.keys |= set_members(source)
                if function:
                    call.function_keys |= set_members(function if type(source) is dict else source.function)
            if call.strict and choice.later and call.length:
                call.partial = True
            if call.type and call.type != "function":
                continue
            parsed = (call.live if self.live_arguments else ev.PARSE_ARGUMENTS) if call.strict else None
            out.append(
                ev.arguments_delta(
                    index, call.name, position, _piece(function.get("arguments")), call.text, call.length, parsed
                )
            )

    def _logprobs(self, index: int, choice: _Choice, logprobs: Any, out: list[Any]) -> None:
        for key in ("content", "refusal"):  # openai's snapshot member is not None once a list came
            if isinstance(logprobs.get(key), list):
                seen = choice.logprobs_content if key == "content" else choice.logprobs_refusal
                if seen is None:
                    seen = ([], 0)
                    if key == "content":
                        choice.logprobs_content = seen
                    else:
                        choice.logprobs_refusal = seen
        for kind in ("logprobs.content.delta", "logprobs.refusal.delta"):  # openai's order
            for event in choice.logprobs:
                if event.type != kind:
                    continue
                entries = (event._entries, event._length)
                cls: type[ev.LogprobsContentDeltaEvent] | type[ev.LogprobsRefusalDeltaEvent]
                if kind == "logprobs.content.delta":
                    choice.logprobs_content = entries
                    cls, new = ev.LogprobsContentDeltaEvent, event.content
                else:
                    choice.logprobs_refusal = entries
                    cls, new = ev.LogprobsRefusalDeltaEvent, event.refusal
                out.append(
                    ev.event(
                        cls,
                        {"type": kind, "_new": new, "_entries": entries[0], "_length": entries[1]},
                        choice_index=index,
                    )
                )
        choice.logprobs.clear()

    def _done(self, index: int, choice: _Choice, fragments: Any, out: list[Any]) -> None:
        """openai's done events for a choice after a chunk: its texts when it has finished or
        a new tool call starts; a call when the next starts or the choice finished."""
        if choice.finish_reason:
            self._texts_done(index, choice, out)
            if choice.current_call is not None and choice.current_call not in choice.done_calls:
                self._call_done(index, choice, choice.current_call, out)
        for fragment in fragments or ():
            position = fragment.get("index")
            if choice.current_call != position:
                self._texts_done(index, choice, out)
                if choice.current_call is not None:
                    self._call_done(index, choice, choice.current_call, out)
            choice.current_call = position

    def _texts_done(self, index: int, choice: _Choice, out: list[Any]) -> None:
        if choice.content_length and not choice.content_done:
            choice.content_done = True
            content = ev.text_of(choice.content, choice.content_length)
            parsed = None  # (a choice cut short is only seen here with raise_on_truncation=False)
            if (
                self.format is not None
                and not choice.refusal_length
                and not choice.parts
                and choice.finish_reason not in TRUNCATED
            ):
                parsed = parse_content(self.format, content)
            self.parsed[index] = parsed
            out.append(
                ev.event(
                    ev.ContentDoneEvent,
                    {"type": "content.done", "content": content, "parsed": parsed},
                    choice_index=index,
                )
            )
        if choice.refusal_seen and not choice.refusal_done:
            choice.refusal_done = True
            refusal = ev.text_of(choice.refusal, choice.refusal_length)
            out.append(ev.event(ev.RefusalDoneEvent, {"type": "refusal.done", "refusal": refusal}, choice_index=index))
        if choice.logprobs_content is not None and not choice.logprobs_content_done:
            choice.logprobs_content_done = True
            entries, length = choice.logprobs_content
            out.append(
                ev.event(
                    ev.LogprobsContentDoneEvent,
                    {"type": "logprobs.content.done", "_all": entries[:length]},
                    choice_index=index,
                )
            )
        if choice.logprobs_refusal is not None and not choice.logprobs_refusal_done:
            choice.logprobs_refusal_done = True
            entries, length = choice.logprobs_refusal
            out.append(
                ev.event(
                    ev.LogprobsRefusalDoneEvent,
                    {"type": "logprobs.refusal.done", "_all": entries[:length]},
                    choice_index=index,
                )
            )

    def _call_done(self, index: int, choice: _Choice, position: Any, out: list[Any]) -> None:
        if position in choice.done_calls:
            return
        choice.done_calls.add(position)
        call = choice.calls[position]
        if call.type and call.type != "function":
            return
        arguments = ev.text_of(call.text, call.length)
        parsed = self.tools.parse(call.name, arguments)
        self.parsed_calls[(index, position)] = parsed
        out.append(
            ev.event(
                ev.FunctionToolCallArgumentsDoneEvent,
                {
                    "type": "tool_calls.function.arguments.done",
                    "name": call.name,
                    "index": position,
                    "arguments": arguments,
                    "parsed_arguments": parsed,
                },
                choice_index=index,
            )
        )
