"""``StreamState``: openai-python's ``ChatCompletionStreamState``, folded by streamfold."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any, Generic, TypeVar

from openai import ContentFilterFinishReasonError, LengthFinishReasonError
from openai.types.chat import ChatCompletionChunk, ParsedChatCompletion

from .._contract import DEFAULT_MAX_EVENT_BYTES
from .._errors import TRUNCATED
from .._impl import ChatAccumulator
from ._convert import Tools, chunk_to_dict, completion_model, has_parseable_input, is_model_type, is_rich_format
from ._fixed_sequence import FixedSequence
from ._openai_sequence import OpenAISequence

ResponseFormatT = TypeVar("ResponseFormatT")

#: What openai-python's chat stream handles; it skips other objects (Azure's filter results).
_CHUNK_OBJECT = "chat.completion.chunk"
#: Line ends: ``iter_feed`` cuts a read after each one when the stream uses CR.
_LINE_END = re.compile(rb"\r\n?|\n")


class StreamState(Generic[ResponseFormatT]):
    """Folds chat-completion chunks into openai's ``ParsedChatCompletion``, with openai's events.

    The surface of openai-python's ``ChatCompletionStreamState``: ``handle_chunk(chunk)``
    returns the chunk's events, ``current_completion_snapshot`` is the completion so far,
    ``get_final_completion()`` the final one; ``input_tools`` and ``response_format`` as
    in openai-python (``StreamState[Model](...)`` works too).  Chunks may be
    ``ChatCompletionChunk`` objects or plain dicts; ``feed(data)`` / ``iter_feed(data)``
    take raw stream bytes instead.

    By default the events are exactly openai's (the same classes, fields, order, and the
    same ``LengthFinishReasonError`` / ``ContentFilterFinishReasonError``).
    ``fixes=True`` gives streamfold's instead: no delta event for an empty string; done
    events once per choice when it finishes, for every choice of ``n > 1``, each tool call
    complete however the calls were interleaved; ``reasoning.delta`` / ``reasoning.done``
    events; done events carry ``finish_reason`` (tool calls also ``id`` and ``error``);
    ``length`` and ``content_filter`` are reported, not raised, unless
    ``raise_on_truncation=True`` (then ``get_final_completion()`` raises openai's errors).
    ``raise_on_truncation=False`` turns openai's raising off in the default mode too.
    Every event has ``choice_index`` (-1 for ``chunk``), an attribute outside its fields.
    ``parse_partial_arguments=True`` gives strict tools' ``arguments.delta``
    ``parsed_arguments`` from streamfold's linear parser (a live value, whose unfinished
    numbers are left out) instead of re-parsing the arguments when read.
    """

    def __init__(
        self,
        *,
        input_tools: Iterable[Any] | None = None,
        response_format: Any = None,
        fixes: bool = False,
        raise_on_truncation: bool | None = None,
        parse_partial_arguments: bool = False,
        max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        self._acc = ChatAccumulator(max_event_bytes=max_event_bytes, parse_partial_arguments=parse_partial_arguments)
        self._tools = Tools(input_tools)
        self._format = response_format if is_rich_format(response_format) else None
        self._fixes = fixes
        self._raise_midstream = (
            not fixes and raise_on_truncation is not False and has_parseable_input(response_format, self._tools)
        )
        self._raise_final = (not fixes) if raise_on_truncation is None else raise_on_truncation
        self._sequence: OpenAISequence | FixedSequence
        if fixes:
            self._sequence = FixedSequence(self, self._format, self._tools, parse_partial_arguments)
        else:
            self._sequence = OpenAISequence(self, self._format, self._tools, parse_partial_arguments)
        self._snapshot: ParsedChatCompletion[Any] | None = None

    # ------------------------------------------------------------------ input

    def handle_chunk(self, chunk: ChatCompletionChunk | dict[str, Any]) -> list[Any]:
        """Fold one chunk; return its events (``chunk`` first).  A bad chunk raises a
        ``streamfold.StreamError`` with the completion so far in ``.partial``."""
        data = chunk_to_dict(chunk)
        core = self._acc.add_chunk_events(data)
        return self._chunk_events(data, core, chunk if data is not chunk and is_model_type(type(chunk)) else None)

    def feed(self, data: bytes) -> list[Any]:
        """Fold raw stream bytes (split anywhere); return the events they completed.

        As openai's stream does, a chunk of another ``object`` (Azure's content-filter
        results) gives no event by default (it is folded all the same).  A chunk event's
        ``snapshot`` is the completion when it is read: use ``iter_feed`` to read it as of
        each chunk.
        """
        groups: list[list[Any]] = [[]]  # the events of each chunk; first, those before any chunk
        event: Any
        for event in self._acc.feed_events(data):
            if event.type == "chunk":
                groups.append([event])
            else:
                groups[-1].append(event)
        out: list[Any] = []
        if groups[0] and self._fixes:  # done events given by a [DONE] read alone
            out += self._sequence.events({}, groups[0], None)
        for group in groups[1:]:
            chunk = group[0].chunk
            if self._fixes or chunk.get("object", _CHUNK_OBJECT) == _CHUNK_OBJECT:
                out += self._chunk_events(chunk, group, None)
            else:
                self._snapshot = None
        return out

    def iter_feed(self, data: bytes) -> Iterator[Any]:
        """``feed``, one chunk at a time: each chunk is folded only when the events of the
        one before have been taken, so every snapshot read at its event is as of that event."""
        for piece in event_pieces(data):
            yield from self._feed_event(piece)

    def _feed_event(self, piece: bytes) -> list[Any]:
        """``feed`` for bytes that complete at most one event (a piece of ``event_pieces``)."""
        core = self._acc.feed_events(piece)
        if not core:
            return core
        first: Any = core[0]
        if first.type == "chunk":
            data = first.chunk
            self._snapshot = None  # the fold moved on
            if self._fixes or data.get("object", _CHUNK_OBJECT) == _CHUNK_OBJECT:
                # _chunk_events, inlined: this runs for every chunk of a stream
                if self._raise_midstream:
                    self._check_truncation(data)
                events = self._sequence.events(data, core, None)
                self._snapshot = None  # and the done events may have parsed something
                return events
            return []
        return self._sequence.events({}, core, None) if self._fixes else []

    def _chunk_events(self, data: dict[str, Any], core: list[Any], chunk: Any) -> list[Any]:
        self._snapshot = None  # the fold moved on
        if self._raise_midstream:
            self._check_truncation(data)
        events = self._sequence.events(data, core, chunk)
        self._snapshot = None  # and the done events may have parsed something
        return events

    def _check_truncation(self, data: dict[str, Any]) -> None:
        """openai-python raises when a chunk finishes a choice with ``length`` or
        ``content_filter`` and the request had a response format or strict tools."""
        for choice in data.get("choices") or ():
            if choice.get("finish_reason") in TRUNCATED:
                self._sequence.parsed[choice.get("index") or 0] = None  # openai raises before parsing it
                raise _truncation_error(choice["finish_reason"], self.current_completion_snapshot)

    # ------------------------------------------------------------------ output

    @property
    def accumulator(self) -> Any:
        """The underlying ``streamfold.ChatAccumulator`` (counters, ``snapshot()`` as a dict)."""
        return self._acc

    @property
    def current_completion_snapshot(self) -> ParsedChatCompletion[Any]:
        """The completion so far as openai's ``ParsedChatCompletion`` (built when read, once
        per chunk).  Before the first chunk, an ``AssertionError``, as in openai-python."""
        if not self._acc.chunks:
            raise AssertionError("no chunk has been handled yet")
        if self._snapshot is None:
            self._snapshot = completion_model(self._sequence.completion(self._acc.snapshot(), final=False), final=False)
        return self._snapshot

    def get_final_completion(self) -> ParsedChatCompletion[ResponseFormatT]:
        """The final completion as openai's ``ParsedChatCompletion``.

        Content is parsed into ``response_format`` and the arguments of strict and pydantic
        tools are parsed, as openai-python does.  A choice finished with ``length`` or
        ``content_filter`` raises openai's error by default (``fixes=True``: it is returned,
        unparsed).  After ``feed``, a stream that ended unfinished raises
        ``streamfold.IncompleteStreamError`` (with ``.partial``); after ``handle_chunk`` it
        is the caller's to know, as in openai-python.
        """
        if self._acc.events:
            folded = self._acc.result()
        elif self._acc.chunks:
            folded = self._acc.snapshot()
        else:
            raise AssertionError("no chunk has been handled yet")
        cut_short = frozenset(c["index"] for c in folded["choices"] if c.get("finish_reason") in TRUNCATED)
        if cut_short and self._raise_final:
            reason = next(c["finish_reason"] for c in folded["choices"] if c["index"] in cut_short)
            raise _truncation_error(reason, self.current_completion_snapshot)
        return completion_model(self._sequence.completion(folded, final=True, unparsed=cut_short), final=True)


def _truncation_error(reason: str, completion: ParsedChatCompletion[Any]) -> Exception:
    if reason == "length":
        return LengthFinishReasonError(completion=completion)
    try:
        return ContentFilterFinishReasonError(completion=completion)
    except TypeError:  # older openai-python takes no completion
        return ContentFilterFinishReasonError()


def event_pieces(data: bytes) -> list[bytes]:
    """``data`` cut after each blank line (or each line end, in a stream that uses CR), so
    that no piece completes more than one event."""
    if b"\r" in data:
        cuts = [match.end() for match in _LINE_END.finditer(data)]
    else:
        cuts = [1] if data[:1] == b"\n" else []  # the end of an event the last read began
        at = data.find(b"\n\n", len(cuts))
        while at >= 0:
            cuts.append(at + 2)
            at = data.find(b"\n\n", at + 2)
    if not cuts or cuts == [len(data)]:
        return [data]
    pieces = []
    start = 0
    for cut in cuts:
        pieces.append(data[start:cut])
        start = cut
    if start < len(data):
        pieces.append(data[start:])
    return pieces
