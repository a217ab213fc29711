"""What the drop-in's event sequences share: the parse results the done events recorded, and
the completion dicts (snapshot or final) built from the fold with them.

A sequencer turns one chunk's core events (``streamfold._events``: text pieces with the
accumulating text behind them, tool-call fragments, logprobs, and done events when a
choice finishes) into the drop-in's events (``_events``).  Two of them: ``OpenAISequence``
(``_openai_sequence``, the default: exactly openai-python's events) and ``FixedSequence``
(``_fixed_sequence``, ``fixes=True``: streamfold's).  Both record what the done events
parsed (content into ``response_format``, arguments into the tool's model), which the
completion snapshots then show, as openai's do.
"""

from __future__ import annotations

from typing import Any

from ._convert import Tools, parse_content, partial_json

#: An empty delta or function (read-only).
EMPTY: dict[str, Any] = {}
UNSET: Any = object()


class Sequence:
    def __init__(self, state: Any, response_format: Any, tools: Tools, live_arguments: bool) -> None:
        self.state = state
        self.format = response_format  # a type to parse content into, or None
        self.tools = tools
        self.live_arguments = live_arguments  # parse_partial_arguments: the core's live parsed value
        #: content.done's parse result by choice index, and arguments.done's by (choice, position)
        self.parsed: dict[int, Any] = {}
        self.parsed_calls: dict[tuple[int, int], Any] = {}

    def completion(
        self, folded: dict[str, Any], *, final: bool, unparsed: frozenset[int] = frozenset()
    ) -> dict[str, Any]:
        """The members of openai's completion model for a folded completion (changed in place).

        A snapshot (``final=False``) holds, as openai's does, each choice's content parsed
        as partial JSON (``response_format`` given), or what its ``content.done`` parsed,
        and each call's arguments parsed as partial JSON (strict tools), or what its
        ``arguments.done`` parsed.  The final completion parses everything in full, as
        openai's ``get_final_completion()`` does, except the choices in ``unparsed`` (cut
        short: their JSON is unfinished).  Tool calls keep their ``index``, as openai's do.
        """
        self._shape_top(folded)
        for choice in folded["choices"]:
            index = choice["index"]
            self._shape_choice(index, choice)
            message = choice["message"]
            calls = message.get("tool_calls") or ()
            for position, call in enumerate(calls):
                call["index"] = position
            if final:
                self._shape_message(index, message)
                skip = index in unparsed
                content = message.get("content")
                message["parsed"] = (
                    parse_content(self.format, content)
                    if self.format is not None
                    and not skip
                    and type(content) is str
                    and content
                    and not message.get("refusal")
                    else None
                )
                for call in calls:
                    function = call["function"]
                    function["parsed_arguments"] = (
                        None if skip else self.tools.parse(function["name"], function["arguments"])
                    )
                message["tool_calls"] = calls or None
            else:
                self._snapshot_message(index, message)
        return folded

    def _shape_top(self, folded: dict[str, Any]) -> None:
        """Which top-level members are set (openai's sequence: as openai sets them)."""

    def _shape_choice(self, index: int, choice: dict[str, Any]) -> None:
        """Which choice members are set (openai's sequence: as openai sets them)."""

    def _shape_message(self, index: int, message: dict[str, Any]) -> None:
        """Which message and tool-call members are set (openai's sequence: as openai sets them)."""

    def _snapshot_message(self, index: int, message: dict[str, Any]) -> None:
        """A message as the snapshot shows it: ``parsed`` and each call's ``parsed_arguments``."""
        parsed = self.parsed.get(index, UNSET)
        if parsed is UNSET:
            parsed = partial_json(message["content"]) if self._parses_content(message) else None
        message["parsed"] = parsed
        for position, call in enumerate(message.get("tool_calls") or ()):
            function = call["function"]
            parsed = self.parsed_calls.get((index, position), UNSET)
            if parsed is UNSET:
                arguments = function["arguments"]
                parsed = partial_json(arguments) if arguments and self.tools.is_strict(function["name"]) else None
            function["parsed_arguments"] = parsed

    def _parses_content(self, message: dict[str, Any]) -> bool:
        """openai parses a snapshot's content (as partial JSON) given a response format type,
        some non-blank text and no refusal."""
        content = message.get("content")
        return self.format is not None and type(content) is str and bool(content.strip()) and not message.get("refusal")
