"""Saying what an input is when it holds no chunk at all: empty, compressed, JSON, binary,
text without ``data:`` lines, events that are not chunks.

The fold itself only knows that no chunk arrived; this looks at the first bytes (and the
counts the fold kept) to tell the user what they gave it instead.
"""

from __future__ import annotations

import shlex

import orjson

from .inputs import Input

#: Magic numbers of the compressions an HTTP body may come in (brotli has none).
COMPRESSED = {b"\x1f\x8b": ("gzip", "gunzip -c"), b"\x28\xb5\x2f\xfd": ("zstd", "zstd -dc")}
PREVIEW_CHARS = 60


def describe(source: Input, events: int) -> str:
    """Why ``source`` gave no chunk; ``events`` is how many events its framing dispatched."""
    head, size = source.head, source.size
    if size == 0:
        return "the input is empty (0 bytes): no data: events"
    for magic, (name, command) in COMPRESSED.items():
        if head.startswith(magic):
            path = shlex.quote(source.path) if source.path not in (None, "-") else "FILE"
            return f"the input is {name}-compressed: decompress it first ({command} {path} | streamfold fold -)"
    stripped = head.lstrip()
    if stripped[:1] in (b"{", b"["):
        return _json(source)
    if b"\x00" in head or not _is_text(head, cut=not source.whole_head):
        return f"binary data, not an event stream: no data: events in {size:,} bytes"
    if events:
        return (
            f"{events:,} event{'s' if events > 1 else ''} in {size:,} bytes but no chunk "
            "(a chunk is an event whose data is a JSON object)"
        )
    return _text_without_events(head, size)


def _json(source: Input) -> str:
    text = source.head.strip()
    if not source.whole_head:  # too long to parse here
        return "this looks like JSON, not an event stream (a non-streaming response?)"
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        lines = text.splitlines()
        if len(lines) > 1 and _parses(lines[0]):
            return (
                f"this is JSON lines ({len(lines):,} lines), not an event stream: each chunk goes on a "
                "'data: ' line followed by a blank line"
            )
        return "this looks like JSON, not an event stream (a non-streaming response?)"
    return f"this is JSON, not an event stream ({_json_kind(value) or 'a non-streaming response?'})"


def _json_kind(value: object) -> str | None:
    if not isinstance(value, dict):
        return None
    kind = value.get("object")
    if kind == "chat.completion":
        return "a whole chat.completion, as a non-streaming request returns it: it needs no folding"
    if kind == "chat.completion.chunk":
        return "one chunk without 'data: ' before it"
    error = value.get("error")
    if error:
        message = error.get("message") if isinstance(error, dict) else error
        return f"an error response: {_preview(str(message))}"
    return None


def _parses(line: bytes) -> bool:
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return True


def _is_text(head: bytes, *, cut: bool) -> bool:
    """UTF-8 text (``cut``: the head may end inside a character)."""
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return cut and exc.start >= len(head) - 3 and exc.reason == "unexpected end of data"
    return True


def _text_without_events(head: bytes, size: int) -> str:
    lines = [line.strip() for line in head.splitlines()]
    filled = [line for line in lines if line]
    where = f"in {size:,} bytes"
    if not filled:
        return f"no data: events {where}: only blank lines"
    if all(line.startswith(b":") for line in filled):
        return f"no data: events {where}: only comments (lines starting with ':')"
    if any(line.startswith(b"data:") or line == b"data" for line in filled):
        return f"no complete event {where}: an event ends with a blank line after its data: lines"
    first = next(line for line in filled if not line.startswith(b":"))
    return (
        f"no data: events {where} ({len(lines):,} lines, none starting with 'data:'; "
        f"the first: {_preview(first.decode('utf-8', 'replace'))})"
    )


def _preview(text: str) -> str:
    return repr(text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS] + "...")
