"""``ChatAccumulator``: frames raw stream bytes into events, decodes each chunk with orjson
(bytes in, no str decode first) and folds it (docs/contract.md, sections 2 to 6).

Twin of ``ext/streamfold/fold/accumulator.pxi``: the same methods.  The Cython core also
batches events (frame, decode, fold) and remembers the key shape of recent chunks for
speed; the twin folds one event at a time, which gives the same results in the same order.
"""

from __future__ import annotations

from typing import Any, NoReturn

import orjson

from .. import _errors
from .._contract import (
    DEFAULT_MAX_EVENT_BYTES,
    EV_DONE,
    EV_IGNORED,
    EV_JSON,
    SPECIAL_TOP,
    check_bytes,
    event_kind,
    partial_of,
)
from .._events import ChatEvent, ChunkEvent
from .._framing_py import Framer
from .checks import _check_choices
from .choice import _Choice
from .values import _copy, _is_empty


class ChatAccumulator:
    """Folds a chat-completion stream into one ``chat.completion`` dict.

    Feed raw stream bytes (split anywhere) with ``feed``, or chunks you decoded yourself
    with ``add_chunk``.  ``snapshot()`` returns the completion so far; ``result()`` the
    final completion, raising ``IncompleteStreamError`` if the stream did not finish.
    Errors carry ``.partial``, the completion folded before the failure.
    """

    __slots__ = (
        "_framer",
        "_top",
        "_settled",
        "_usage",
        "_groq_usage",
        "_choices",
        "_chunks",
        "_events",
        "_ignored",
        "_done",
        "_error",
        "_last_index",
        "_last_state",
        "_parse",
        "_handed_over",
    )

    def __init__(
        self, *, max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES, parse_partial_arguments: bool = False
    ) -> None:
        self._framer = Framer(max_event_bytes)
        self._parse = bool(parse_partial_arguments)  # parse tool-call arguments as they stream (events only)
        self._top: dict[str, Any] = {}
        self._settled: set[str] = set(SPECIAL_TOP)  # top-level keys that can no longer change
        self._usage: Any = None
        self._groq_usage: Any = None
        self._choices: dict[int, _Choice] = {}
        self._chunks = 0
        self._events = 0
        self._ignored = 0
        self._done = False
        self._error: _errors.StreamError | None = None
        self._last_index: Any = None  # the index of the last choice folded, and its state
        self._last_state: _Choice | None = None
        self._handed_over = False  # result() has handed over the values kept by reference

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
        self._feed(data, None, None)

    def feed_events(self, data: bytes) -> list[ChatEvent]:
        """Fold raw stream bytes and return the events they produced, in order.

        ``chunk`` for each chunk, then for each of its choices the delta events (text,
        tool-call arguments, logprobs) and, when the choice finishes (or ``[DONE]``
        arrives first), its done events, once.  On an error, the events of this call are
        dropped; the error's ``.partial`` holds everything folded.
        """
        events: list[ChatEvent] = []
        self._feed(data, events, None)
        return events

    def feed_text(self, data: bytes) -> list[str]:
        """Fold raw stream bytes and return the text of their ``content.delta`` events (every
        choice's, in order), building no event: the cheap way to show an answer live."""
        texts: list[str] = []
        self._feed(data, None, texts)
        return texts

    def _feed(self, data: bytes, events: list[ChatEvent] | None, texts: list[str] | None) -> None:
        if self._done:
            check_bytes(data)
            return
        if self._error is not None:
            raise self._error
        framer = self._framer
        framer.feed_input(data)
        while True:
            try:
                if not framer.next_event():
                    return
            except _errors.EventTooLargeError as exc:
                self._fail(exc, True)
            self._events += 1
            payload = framer.ev_data
            kind = event_kind(framer.ev_type, payload)
            if kind == EV_JSON:
                try:
                    chunk = orjson.loads(payload)
                except orjson.JSONDecodeError as exc:
                    self._fail(_errors.invalid_json(self._events, payload, exc), True)
                self._add(chunk, self._events, payload, events, texts)
            elif kind == EV_IGNORED:
                self._ignored += 1
            elif kind == EV_DONE:
                self._done = True
                if events is not None:
                    for index in sorted(self._choices):
                        self._choices[index].done_events(events)
                return  # nothing after [DONE] is even framed
            else:  # EV_ERROR
                self._fail(_errors.error_event(self._events, payload), True)

    def add_chunk(self, chunk: dict[str, Any]) -> None:
        """Fold one chunk that was already decoded."""
        if self._error is not None:
            raise self._error
        self._add(chunk, self._chunks + 1, None, None, None)

    def add_chunk_events(self, chunk: dict[str, Any]) -> list[ChatEvent]:
        """Fold one decoded chunk and return its events (see ``feed_events``)."""
        if self._error is not None:
            raise self._error
        events: list[ChatEvent] = []
        self._add(chunk, self._chunks + 1, None, events, None)
        return events

    def _fail(self, error: _errors.StreamError, final: bool) -> NoReturn:
        """Raise ``error`` with the partial completion; a final error is raised again on reuse."""
        error.partial = partial_of(self)
        if final:
            self._error = error
        raise error

    def _add(
        self, chunk: Any, number: int, data: bytes | None, events: list[ChatEvent] | None, texts: list[str] | None
    ) -> None:
        if type(chunk) is not dict and not isinstance(chunk, dict):
            self._fail(_errors.bad_shape(number, data, "chunk", "a JSON object", chunk), True)
        if chunk.get("error"):
            self._fail(_errors.api_error(number, chunk, data), True)
        choices = chunk.get("choices")
        recs = []
        if choices is not None:
            if type(choices) is not list and not isinstance(choices, list):
                self._fail(_errors.bad_shape(number, data, "choices", "a list", choices), True)
            try:
                recs = _check_choices(choices, number, data)
            except _errors.StreamDecodeError as exc:
                self._fail(exc, True)
        self._chunks += 1
        if events is not None:
            events.append(ChunkEvent(chunk))
        usage = chunk.get("usage")
        if usage is not None:
            self._usage = usage
        groq = chunk.get("x_groq")
        if type(groq) is dict:
            usage = groq.get("usage")
            if usage is not None:
                self._groq_usage = usage
        if not self._settled.issuperset(chunk):
            self._merge_top(chunk)
        for rec in recs:
            index = rec.index if rec.index is not None else 0
            state = self._last_state
            if state is None or index != self._last_index:
                state = self._choices.get(index)
                if state is None:
                    state = self._choices[index] = _Choice(index)
                self._last_index = index
                self._last_state = state
            state.merge(rec, events, self._parse, texts)

    def _merge_top(self, chunk: dict[str, Any]) -> None:
        """Top-level members: the first non-empty value wins (null, "" and 0 are empty)."""
        top = self._top
        settled = self._settled
        for key, value in chunk.items():
            if value is None or key in settled:
                continue
            current = top.get(key)
            if current is None or (_is_empty(current) and not _is_empty(value)):
                top[key] = value
                if not _is_empty(value):
                    settled.add(key)

    def snapshot(self) -> dict[str, Any]:
        """The completion folded so far (the shape of docs/contract.md, section 3)."""
        return self._build(True)

    def _build(self, copy: bool) -> dict[str, Any]:
        """The completion; ``copy``: values kept by reference (logprob entries, usage, other
        members) are copied, so it shares nothing with the accumulator."""
        top = self._top
        result: dict[str, Any] = {
            "id": top.get("id"),
            "object": "chat.completion",
            "created": top.get("created"),
            "model": top.get("model"),
        }
        for key, value in top.items():
            if key not in result:
                result[key] = _copy(value) if copy else value
        result["choices"] = [self._choices[i].value(copy) for i in sorted(self._choices)]
        usage = self._usage if self._usage is not None else self._groq_usage
        if usage is not None:
            result["usage"] = _copy(usage) if copy else usage
        return result

    def result(self) -> dict[str, Any]:
        """The final completion; raises ``IncompleteStreamError`` if the stream is unfinished.

        Once ``[DONE]`` has arrived nothing can change the fold, so the first ``result()``
        hands over the values it kept by reference instead of copying them (with many
        logprobs the copy cost twice the decoding); ``snapshot()`` and later calls copy.
        """
        if self._error is not None:
            raise self._error
        if not self._done:
            unfinished = [i for i in sorted(self._choices) if self._choices[i].finish_reason is None]
            if not self._choices or unfinished:  # no choice at all is not a completion either
                self._fail(_errors.incomplete(self._chunks, unfinished), False)
            return self._build(True)
        if self._handed_over:
            return self._build(True)
        self._handed_over = True
        return self._build(False)
