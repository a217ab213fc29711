"""The chunks the mock sends for one request, in the shape OpenAI's API streams them."""

from __future__ import annotations

import itertools
import random
import time
from typing import Any

import orjson

from ._config import MockConfig

DEFAULT_MODEL = "mock-gpt"
FINGERPRINT = "fp_streamfold"

_LOREM = (
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut "
    "labore et dolore magna aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris "
    "nisi aliquip ex ea commodo consequat duis aute irure in reprehenderit voluptate velit esse "
    "cillum eu fugiat nulla pariatur excepteur sint occaecat cupidatat non proident sunt culpa qui "
    "officia deserunt mollit anim id est laborum café naïve déjà vu — “quoted” 東京 🙂"
).split()
_CITIES = ("Paris", "Zürich", "São Paulo", "Kyoto", "Edinburgh", "Reykjavík")


def tokens(config: MockConfig, request: dict[str, Any], count: int, salt: int = 0) -> list[str]:
    """``count`` text tokens (words with their leading space) from the config's text source."""
    if count == 0:
        return []
    if config.text == "lorem":
        rng = random.Random(config.seed * 1000 + salt)
        words = [rng.choice(_LOREM) for _ in range(count)]
    else:
        source = _last_user_text(request) if config.text == "echo" else config.text
        words = source.split() or ["…"]
        words = [words[i % len(words)] for i in range(count)]
    return [word if i == 0 else " " + word for i, word in enumerate(words)]


def _last_user_text(request: dict[str, Any]) -> str:
    for message in reversed(request.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):  # content parts
                return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def tool_arguments(config: MockConfig, index: int) -> str:
    """The JSON arguments of parallel tool call ``index``."""
    rng = random.Random(config.seed * 1000 + 500 + index)
    return orjson.dumps({"city": rng.choice(_CITIES), "days": rng.randint(1, 14), "call": index}).decode()


def _pieces(items: list[str], per_chunk: int) -> list[str]:
    return ["".join(items[i : i + per_chunk]) for i in range(0, len(items), per_chunk)]


def completion_chunks(config: MockConfig, request: dict[str, Any]) -> list[dict[str, Any]]:
    """Every chunk of the answer, in order: role, reasoning, text or tool calls, finish, usage."""
    n = config.n if config.n is not None else int(request.get("n") or 1)
    include_usage = config.usage
    if include_usage is None:
        options = request.get("stream_options")
        include_usage = bool(isinstance(options, dict) and options.get("include_usage"))
    model = config.model or request.get("model") or DEFAULT_MODEL
    head = {
        "id": f"chatcmpl-mock{config.seed:06d}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": FINGERPRINT,
    }

    def chunk(choices: list[dict[str, Any]], usage: Any = None) -> dict[str, Any]:
        body = {**head, "choices": choices}
        if include_usage:
            body["usage"] = usage
        return body

    def choice(index: int, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}

    per_choice: list[list[dict[str, Any]]] = []
    for index in range(n):
        deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
        reasoning = tokens(config, request, config.reasoning_tokens, salt=100 + index)
        deltas += [{"reasoning_content": piece} for piece in _pieces(reasoning, config.tokens_per_chunk)]
        if config.tool_calls:
            for call in range(config.tool_calls):
                arguments = tool_arguments(config, call)
                deltas.append({"tool_calls": [{
                    "index": call, "id": f"call_mock{index}{call:03d}", "type": "function",
                    "function": {"name": "get_weather", "arguments": ""},
                }]})
                step = 4 * config.tokens_per_chunk
                deltas += [
                    {"tool_calls": [{"index": call, "function": {"arguments": arguments[i : i + step]}}]}
                    for i in range(0, len(arguments), step)
                ]
            finish = "tool_calls"
        else:
            count, finish = config.output_tokens, "stop"
            limit = request.get("max_completion_tokens") or request.get("max_tokens")
            if isinstance(limit, int) and 0 < limit < count:
                count, finish = limit, "length"
            text = tokens(config, request, count, salt=index)
            deltas += [{"content": piece} for piece in _pieces(text, config.tokens_per_chunk)]
        per_choice.append([choice(index, delta) for delta in deltas] + [choice(index, {}, finish)])

    # choices interleaved chunk by chunk, as n > 1 streams arrive
    chunks = [chunk([item]) for items in itertools.zip_longest(*per_choice) for item in items if item]
    if include_usage:
        completion = n * (config.output_tokens + config.reasoning_tokens)
        prompt = sum(len(str(m.get("content", "")).split()) for m in request.get("messages") or [] if isinstance(m, dict))
        usage: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
        if config.reasoning_tokens:
            usage["completion_tokens_details"] = {"reasoning_tokens": n * config.reasoning_tokens}
        chunks.append(chunk([], usage))
    return chunks


def encode(chunk: dict[str, Any]) -> bytes:
    """One chunk as a Server-Sent Event."""
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


DONE = b"data: [DONE]\n\n"
KEEPALIVE = b": keep-alive\n\n"


def split_point(data: bytes) -> int:
    """Where to cut a write: inside a multi-byte UTF-8 character if there is one, else in
    the middle of the JSON."""
    for i in range(1, len(data)):
        if data[i] & 0xC0 == 0x80:  # a continuation byte: the cut falls inside a character
            return i
    return max(1, len(data) // 2)
