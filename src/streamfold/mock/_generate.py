"""The chunks the mock sends for one request, in the shape OpenAI's API streams them."""

from __future__ import annotations

import itertools
import random
import time
from typing import Any

import orjson

from ._config import MockConfig
from ._providers import AZURE_FILTER, SHAPES, Shape

DEFAULT_MODEL = "mock-gpt"
FINGERPRINT = "fp_streamfold"

#: The words of the ``lorem`` text (the serving benchmark's peer tokenizer knows them too).
LOREM_WORDS = [
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
    "ut",
    "labore",
    "et",
    "dolore",
    "magna",
    "aliqua",
    "enim",
    "ad",
    "minim",
    "veniam",
    "quis",
    "nostrud",
    "exercitation",
    "ullamco",
    "laboris",
    "nisi",
    "aliquip",
    "ex",
    "ea",
    "commodo",
    "consequat",
    "duis",
    "aute",
    "irure",
    "in",
    "reprehenderit",
    "voluptate",
    "velit",
    "esse",
    "cillum",
    "eu",
    "fugiat",
    "nulla",
    "pariatur",
    "excepteur",
    "sint",
    "occaecat",
    "cupidatat",
    "non",
    "proident",
    "sunt",
    "culpa",
    "qui",
    "officia",
    "deserunt",
    "mollit",
    "anim",
    "id",
    "est",
    "laborum",
    "café",
    "naïve",
    "déjà",
    "vu",
    "—",
    "“quoted”",
    "東京",
    "🙂",
]
_CITIES = ("Paris", "Zürich", "São Paulo", "Kyoto", "Edinburgh", "Reykjavík")


def tokens(config: MockConfig, request: dict[str, Any], count: int, salt: int = 0) -> list[str]:
    """``count`` text tokens (words with their leading space) from the config's text source."""
    if count == 0:
        return []
    if config.text == "lorem":
        rng = random.Random(config.seed * 1000 + salt)
        words = [rng.choice(LOREM_WORDS) for _ in range(count)]
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
    """Every chunk of the answer, in order: role, reasoning, text or tool calls, finish, usage,
    shaped as ``config.provider`` writes them."""
    shape = SHAPES[config.provider]
    n = config.n if config.n is not None else int(request.get("n") or 1)
    options = request.get("stream_options")
    options = options if isinstance(options, dict) else {}
    include_usage = config.usage
    if include_usage is None:
        include_usage = bool(options.get("include_usage"))
    continuous = config.continuous_usage
    if continuous is None:
        continuous = bool(options.get("continuous_usage_stats"))
    head = {
        "id": f"chatcmpl-mock{config.seed:06d}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": config.model or request.get("model") or DEFAULT_MODEL,
        "system_fingerprint": FINGERPRINT,
    }
    per_choice = [_choice_deltas(config, request, shape, index) for index in range(n)]
    # choices interleaved chunk by chunk, as n > 1 streams arrive
    chunks = [{**head, "choices": [item]} for items in itertools.zip_longest(*per_choice) for item in items if item]
    if shape.azure_filters:
        chunks.insert(
            0,
            {
                "id": "",
                "object": "",
                "created": 0,
                "model": "",
                "choices": [],
                "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": AZURE_FILTER}],
            },
        )
    usage = _usage(config, request, n) if include_usage else None
    if shape.usage_in == "x_groq":
        if usage is not None:
            chunks[-1]["x_groq"] = {"id": f"req_mock{config.seed:06d}", "usage": usage}
    elif include_usage:
        if continuous and usage is not None:
            _count_as_they_go(chunks, usage)
        else:
            for item in chunks:
                item["usage"] = None
        chunks.append({**head, "choices": [], "usage": usage})
    if shape.obfuscation:
        rng = random.Random(config.seed)
        for item in chunks:
            item["obfuscation"] = "".join(rng.choice("abcdefghijkLMNOPQ0123") for _ in range(rng.randint(1, 12)))
    return chunks


def _choice_deltas(config: MockConfig, request: dict[str, Any], shape: Shape, index: int) -> list[dict[str, Any]]:
    """One choice's stream: its deltas, each wrapped as a choice object, the finish last."""
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    reasoning = tokens(config, request, config.reasoning_tokens, salt=100 + index)
    for piece in _pieces(reasoning, config.tokens_per_chunk):
        delta: dict[str, Any] = {shape.reasoning_key: piece}
        if shape.content_parts:
            delta = {"content": [{"type": "thinking", "thinking": [{"type": "text", "text": piece}]}]}
        elif shape.null_content_with_reasoning:
            delta["content"] = None
        deltas.append(delta)
    if config.tool_calls:
        deltas += _tool_call_deltas(config, shape, index)
        finish = shape.tool_finish
    else:
        count = output_count(config, request)
        finish = "length" if count < config.output_tokens else "stop"
        text = tokens(config, request, count, salt=index)
        if shape.content_parts:
            deltas += [
                {"content": [{"type": "text", "text": piece}]} for piece in _pieces(text, config.tokens_per_chunk)
            ]
        else:
            deltas += [{"content": piece} for piece in _pieces(text, config.tokens_per_chunk)]
    deltas.append({"content": ""} if shape.content_parts else {})
    if shape.role_every_chunk:
        deltas = [{"role": "assistant", **delta} for delta in deltas]
    choices: list[dict[str, Any]] = [
        {"index": index, "delta": delta, "logprobs": None, "finish_reason": None} for delta in deltas
    ]
    choices[-1]["finish_reason"] = finish
    if shape.mirror_message:
        for item in choices:
            delta = item["delta"]
            item["message"] = {
                "role": "assistant",
                "content": delta.get("content"),
                "tool_calls": delta.get("tool_calls"),
            }
        choices[-1]["message"]["content"] = None
    if shape.azure_filters:
        for item in choices[1:-1]:
            item["content_filter_results"] = AZURE_FILTER
    return choices


def _tool_call_deltas(config: MockConfig, shape: Shape, choice: int) -> list[dict[str, Any]]:
    calls = []
    for call in range(config.tool_calls):
        head: dict[str, Any] = {
            "index": call,
            "id": f"call_mock{choice}{call:03d}",
            "type": "function",
            "function": {"name": "get_weather", "arguments": ""},
        }
        if shape.call_index == "zero":
            head["index"] = 0
        elif shape.call_index == "none":
            del head["index"]
        arguments = tool_arguments(config, call)
        if shape.tool_calls != "fragments":
            calls.append([{**head, "function": {"name": "get_weather", "arguments": arguments}}])
            continue
        step = 4 * config.tokens_per_chunk
        fragments = [head]
        for i in range(0, len(arguments), step):
            fragment = {key: value for key, value in head.items() if key != "function"}
            if not shape.resend_ids:
                fragment = {"index": head["index"]} if "index" in head else {}
            fragment["function"] = {"arguments": arguments[i : i + step]}
            if shape.resend_ids:
                fragment["function"]["name"] = "get_weather"
            fragments.append(fragment)
        calls.append(fragments)
    if shape.tool_calls == "all":
        return [{"tool_calls": [fragments[0] for fragments in calls]}]
    return [{"tool_calls": [fragment]} for fragments in calls for fragment in fragments]


def output_count(config: MockConfig, request: dict[str, Any]) -> int:
    """Text tokens per choice: ``output_tokens``, or the request's ``max_(completion_)tokens``
    when that is lower (the answer then finishes with ``length``)."""
    limit = request.get("max_completion_tokens") or request.get("max_tokens")
    if isinstance(limit, int) and 0 < limit < config.output_tokens:
        return limit
    return config.output_tokens


def usage_of(config: MockConfig, request: dict[str, Any]) -> dict[str, Any]:
    """The usage the answer to ``request`` reports (whether it is sent or not)."""
    return _usage(config, request, config.n if config.n is not None else int(request.get("n") or 1))


def _usage(config: MockConfig, request: dict[str, Any], n: int) -> dict[str, Any]:
    """Usage as the mock counts it: one token per word of text or reasoning, one per 4
    characters of tool arguments, one per word of the prompt's messages."""
    if config.tool_calls:
        output = sum(-(-len(tool_arguments(config, call)) // 4) for call in range(config.tool_calls))
    else:
        output = output_count(config, request)
    completion = n * (output + config.reasoning_tokens)
    prompt = sum(len(str(m.get("content", "")).split()) for m in request.get("messages") or [] if isinstance(m, dict))
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if config.reasoning_tokens:
        usage["completion_tokens_details"] = {"reasoning_tokens": n * config.reasoning_tokens}
    return usage


def delays(config: MockConfig, chunks: list[dict[str, Any]]) -> list[float]:
    """The wait before each chunk: ``ttft`` before the first; ``itl`` before each chunk of
    output (text, reasoning, refusal, tool calls) after the first one; none before the
    others, which go with their neighbours as real servers send them (the role chunk with
    the first token, the finish and usage chunks right after the last)."""
    waits: list[float] = []
    seen_output = False
    for number, chunk in enumerate(chunks):
        output = any(
            _delta_tokens(choice.get("delta") or {})
            or (choice.get("delta") or {}).get("tool_calls")
            or (choice.get("delta") or {}).get("refusal")
            for choice in chunk.get("choices") or ()
        )
        waits.append(config.ttft if number == 0 else config.itl if output and seen_output else 0.0)
        seen_output = seen_output or bool(output)
    return waits


def _count_as_they_go(chunks: list[dict[str, Any]], usage: dict[str, Any]) -> None:
    """Usage in every chunk, the completion tokens so far (vLLM's ``continuous_usage_stats``):
    a word of text or reasoning is a token, 4 characters of tool arguments one, and the last
    chunk carries the final count."""
    total = usage["completion_tokens"]
    prompt = usage["prompt_tokens"]
    so_far = 0
    for number, item in enumerate(chunks):
        so_far += sum(_delta_tokens(choice.get("delta") or {}) for choice in item["choices"])
        done = total if number == len(chunks) - 1 else min(so_far, total)
        item["usage"] = {"prompt_tokens": prompt, "completion_tokens": done, "total_tokens": prompt + done}


def _delta_tokens(delta: dict[str, Any]) -> int:
    count = 0
    for value in (delta.get("content"), delta.get("reasoning_content"), delta.get("reasoning")):
        if isinstance(value, str):
            count += len(value.split())
        elif isinstance(value, list):  # typed parts: text, or thinking holding text parts
            for part in value:
                inner = part.get("thinking") if isinstance(part, dict) else None
                texts = inner if isinstance(inner, list) else [part]
                count += sum(len(str(text.get("text", "")).split()) for text in texts if isinstance(text, dict))
    for call in delta.get("tool_calls") or ():
        count += -(-len((call.get("function") or {}).get("arguments") or "") // 4)
    return count


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
