"""The input of a batch: OpenAI Batch API request lines, read one at a time.

A line is ``{"custom_id": "...", "method": "POST", "url": "/v1/chat/completions", "body": {...}}``;
``method`` and ``url`` may be left out (they default to those), but when given they must be
these.  A line that cannot be run (bad JSON, no ``custom_id``, one already seen, another
method or url, no body object) becomes an ``InvalidLine`` with its number; the run goes on.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ._keys import KeySet

#: The urls a line may name (the Batch API's, and the same path without its version).
CHAT_URLS = frozenset({"/v1/chat/completions", "/chat/completions"})

#: What ``read_requests`` reads: a JSONL file's path, or request dicts (or their JSON text) one by one.
Source = str | os.PathLike[str] | Iterable[dict[str, Any] | str | bytes]


@dataclass(frozen=True)
class Request:
    """One request to run: its ``custom_id``, the chat-completions body to send (streamed, with
    usage asked for) and its line number in the input (1 for the first)."""

    custom_id: str
    body: dict[str, Any]
    line: int


@dataclass(frozen=True)
class InvalidLine:
    """An input line that cannot be run: its number, its ``custom_id`` when it had a usable one,
    and why."""

    line: int
    custom_id: str | None
    message: str


def read_requests(source: Source) -> Iterator[Request | InvalidLine]:
    """The requests of ``source``, in order, streamed (a file is read line by line, never whole).

    Blank lines are skipped (they keep their number).  Every body gets ``stream: true`` and
    ``stream_options.include_usage: true``.  Remembers the ``custom_id`` values seen, to
    find duplicates: that ``KeySet`` (a digest per key) is the only memory that grows with the input.
    """
    seen = KeySet()
    for number, item in enumerate(_items(source), start=1):
        if isinstance(item, (str, bytes)) and not item.strip():
            continue
        parsed = check_line(item, number, seen)
        if isinstance(parsed, Request):
            seen.add(parsed.custom_id)
        yield parsed


def _items(source: Source) -> Iterator[dict[str, Any] | str | bytes]:
    if isinstance(source, (str, os.PathLike)):
        with Path(source).open("rb") as lines:
            yield from lines
    else:
        yield from source


def check_line(item: dict[str, Any] | str | bytes, number: int, seen: KeySet) -> Request | InvalidLine:
    """One line (or dict) as a ``Request``, or the ``InvalidLine`` saying what is wrong with it."""
    if isinstance(item, (str, bytes)):
        try:
            item = orjson.loads(item)
        except orjson.JSONDecodeError as exc:
            return InvalidLine(number, None, f"line {number} is not valid JSON: {exc}")
    if not isinstance(item, dict):
        return InvalidLine(number, None, f"line {number} is not a JSON object")
    custom_id = item.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        return InvalidLine(number, None, f"line {number} has no custom_id (a non-empty string)")
    problem = _problem(item, custom_id, seen)
    if problem is not None:
        return InvalidLine(number, custom_id, f"line {number} ({custom_id}): {problem}")
    return Request(custom_id, streamed(item["body"]), number)


def _problem(item: dict[str, Any], custom_id: str, seen: KeySet) -> str | None:
    if custom_id in seen:
        return "duplicate custom_id (an earlier line has it)"
    method = item.get("method", "POST")
    if method != "POST":
        return f"method must be POST, not {method!r}"
    url = item.get("url", "/v1/chat/completions")
    if url not in CHAT_URLS:
        return f"url must be /v1/chat/completions, not {url!r}"
    body = item.get("body")
    if not isinstance(body, dict):
        return "body must be a JSON object (the chat-completions request)"
    if not isinstance(body.get("messages"), list):
        return "body.messages must be a list"
    return None


def streamed(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with ``stream: true`` and ``stream_options.include_usage: true`` (a new dict)."""
    options = body.get("stream_options")
    options = {**options, "include_usage": True} if isinstance(options, dict) else {"include_usage": True}
    return {**body, "stream": True, "stream_options": options}
