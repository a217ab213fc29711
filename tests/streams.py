"""Helpers (not tests) that build chat-completion SSE streams for the fold tests."""

from __future__ import annotations

from typing import Any

import orjson

#: Defaults every ``chunk()`` carries unless overridden.
ID = "chatcmpl-1"
CREATED = 1700000000
MODEL = "gpt-test"


def chunk(
    content: str | None = None,
    *,
    index: int = 0,
    finish: str | None = None,
    role: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    delta: dict[str, Any] | None = None,
    **top: Any,
) -> dict[str, Any]:
    """An OpenAI-shaped ``chat.completion.chunk`` dict with one choice.

    ``role``, ``content`` and ``tool_calls`` go into the delta when not None; ``delta``
    adds further delta members (even null ones).  ``top`` adds or overrides top-level
    members (``choices=[...]`` replaces the generated choice list).
    """
    body: dict[str, Any] = {}
    if role is not None:
        body["role"] = role
    if content is not None:
        body["content"] = content
    if tool_calls is not None:
        body["tool_calls"] = tool_calls
    if delta:
        body.update(delta)
    out: dict[str, Any] = {"id": ID, "object": "chat.completion.chunk", "created": CREATED, "model": MODEL}
    out.update(top)
    out.setdefault("choices", [{"index": index, "delta": body, "logprobs": None, "finish_reason": finish}])
    return out


def sse(*items: dict[str, Any] | bytes, done: bool = True, sep: bytes = b"\n\n") -> bytes:
    """An SSE byte stream: each dict becomes ``data: <json>`` + ``sep``.

    ``bytes`` items are copied verbatim (comments, keep-alives, ``id:`` lines, ...).
    ``done`` appends ``data: [DONE]``.
    """
    parts = [item if isinstance(item, bytes) else b"data: " + orjson.dumps(item) + sep for item in items]
    if done:
        parts.append(b"data: [DONE]" + sep)
    return b"".join(parts)


def pieces(data: bytes, size: int) -> list[bytes]:
    """``data`` cut into pieces of ``size`` bytes (the last may be shorter)."""
    return [data[i : i + size] for i in range(0, len(data), size)]
