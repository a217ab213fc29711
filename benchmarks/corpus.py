"""Deterministic OpenAI-shaped chat-completion streams for the benchmarks.

Every stream is built from a fixed seed, so two runs (and two machines) fold the same
bytes.  The chunks have the shape gpt-4o sends today: ``id``, ``object``, ``created``,
``model``, ``service_tier``, ``system_fingerprint``, ``choices`` (one choice with
``delta``, ``logprobs: null``, ``finish_reason``), ``usage: null`` on every chunk when
usage is requested, and an ``obfuscation`` padding string.  The first chunk carries the
role, the last content chunk the finish reason, then (with ``include_usage``) a
usage-only chunk with ``choices: []``, then ``data: [DONE]``.

``n_chunks`` always counts the JSON chunks of a stream (role chunk, deltas, finish chunk
and usage chunk), not the ``[DONE]`` line, so costs can be given per chunk.

The expected fold (content, tool calls, usage) comes from the plan the stream was built
from, never from a decoder, so the benchmark can check every contender against it.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

READ_SIZE = 16 * 1024  #: bytes per simulated socket read

MODEL = "gpt-4o-2024-08-06"
CREATED = 1754400000
FINGERPRINT = "fp_07871e2ad8"
PROMPT_TOKENS = 57

_ALNUM = string.ascii_letters + string.digits
_POOL_SIZE = 4096  # distinct content tokens / obfuscation strings, cycled through

_WORDS = [
    "the",
    "model",
    "stream",
    "token",
    "chunk",
    "answer",
    "question",
    "result",
    "value",
    "field",
    "server",
    "client",
    "request",
    "response",
    "latency",
    "memory",
    "buffer",
    "decode",
    "encode",
    "parse",
    "fold",
    "merge",
    "event",
    "delta",
    "choice",
    "usage",
    "function",
    "argument",
    "call",
    "tool",
    "weather",
    "city",
    "country",
    "price",
    "market",
    "order",
    "customer",
    "invoice",
    "report",
    "summary",
    "example",
    "detail",
    "context",
    "window",
    "prompt",
    "completion",
    "system",
    "user",
    "assistant",
    "message",
    "content",
    "refusal",
    "reason",
    "finish",
    "because",
    "however",
    "therefore",
    "although",
    "whereas",
    "important",
    "consider",
    "approximately",
    "significantly",
    "performance",
    "benchmark",
    "implementation",
    "configuration",
    "environment",
    "documentation",
    "additionally",
    "interesting",
    "particular",
    "general",
    "a",
    "an",
    "of",
    "to",
    "in",
    "on",
    "for",
    "with",
    "by",
    "from",
    "at",
    "as",
    "is",
    "are",
    "was",
    "be",
    "it",
    "this",
    "that",
    "these",
    "those",
    "we",
    "you",
]
_NON_ASCII = ("café", "naïve", "—", "’s", "…", "déjà", "über", "€", "×", "→")
_PUNCT = (".", ",", ";", ":", "!", "?", '"', "'", "(", ")")
_LAYOUT = ("\n\n", "\n", "**", "##", "- ", "`", "\n- ", "1.", " `code`")

_TOOL_NAMES = ("get_weather", "search_products", "create_calendar_event")
_LOCATIONS = ("Paris, France", "Edinburgh, GB", "São Paulo, BR", "Zürich, CH", "Kyoto, JP")
_NOTES = (
    "deliver before noon",
    "gift wrap",
    "leave at the door",
    "fragile: glass",
    "crème brûlée for two",
    "no substitutions",
    "call on arrival",
    "size M, colour navy",
)


@dataclass
class Expected:
    """What a correct fold of a generated stream must contain."""

    n_chunks: int
    content: str | None = None
    finish_reason: str = "stop"
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, Any] | None = None


def _usage(completion_tokens: int) -> dict[str, Any]:
    return {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": completion_tokens,
        "total_tokens": PROMPT_TOKENS + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _dumps(value: Any) -> bytes:
    """Compact JSON as the API sends it (UTF-8, not \\u-escaped)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _random_id(rng: random.Random, prefix: str, length: int) -> str:
    return prefix + "".join(rng.choices(_ALNUM, k=length))


@lru_cache(maxsize=8)
def _content_pool(seed: int) -> tuple[str, ...]:
    """Token-like content pieces, a few characters each, mostly words with a leading space."""
    rng = random.Random(seed)
    pool: list[str] = []
    while len(pool) < _POOL_SIZE:
        roll = rng.random()
        if roll < 0.72:
            word = rng.choice(_WORDS)
            if rng.random() < 0.08:
                word = word.capitalize()
            if len(word) > 7:  # long words arrive as two tokens
                pool.append(" " + word[:4])
                pool.append(word[4:])
            else:
                pool.append(" " + word)
        elif roll < 0.86:
            pool.append(rng.choice(_PUNCT))
        elif roll < 0.95:
            pool.append(rng.choice(_LAYOUT))
        elif roll < 0.98:
            pool.append(" " + rng.choice(_NON_ASCII))
        else:
            pool.append(f" {rng.randrange(1, 10000)}")
    return tuple(pool[:_POOL_SIZE])


@lru_cache(maxsize=8)
def _obfuscation_pool(seed: int) -> tuple[bytes, ...]:
    """Padding strings of 1 to 15 letters and digits, like the API's ``obfuscation``."""
    rng = random.Random(seed + 7)
    return tuple("".join(rng.choices(_ALNUM, k=rng.randint(1, 15))).encode() for _ in range(_POOL_SIZE))


class _Chunks:
    """Byte templates shared by the chunks of one stream."""

    def __init__(self, seed: int, include_usage: bool) -> None:
        stream_id = _random_id(random.Random(seed + 11), "chatcmpl-", 29)
        self.head = (
            b'data: {"id":"'
            + stream_id.encode()
            + b'","object":"chat.completion.chunk","created":'
            + str(CREATED).encode()
            + b',"model":"'
            + MODEL.encode()
            + b'","service_tier":"default","system_fingerprint":"'
            + FINGERPRINT.encode()
            + b'","choices":['
        )
        self.tail = (b'],"usage":null' if include_usage else b"]") + b',"obfuscation":"'
        self.obfuscation = _obfuscation_pool(seed)

    def chunk(self, i: int, choice: bytes) -> bytes:
        """One event whose only choice is ``choice`` (an encoded choice object)."""
        return self.head + choice + self.tail + self.obfuscation[i % _POOL_SIZE] + b'"}\n\n'

    def usage_chunk(self, i: int, usage: dict[str, Any]) -> bytes:
        """The usage-only event that ends a stream with ``include_usage``: ``choices: []``."""
        return (
            self.head
            + b'],"usage":'
            + _dumps(usage)
            + b',"obfuscation":"'
            + self.obfuscation[i % _POOL_SIZE]
            + b'"}\n\n'
        )


def _choice(delta: bytes, finish_reason: str | None = None) -> bytes:
    reason = b"null" if finish_reason is None else b'"' + finish_reason.encode() + b'"'
    return b'{"index":0,"delta":' + delta + b',"logprobs":null,"finish_reason":' + reason + b"}"


DONE = b"data: [DONE]\n\n"


# ---------------------------------------------------------------------------
# Text streams


def _text_plan(n_chunks: int, include_usage: bool) -> int:
    """Number of content chunks in a text stream of ``n_chunks`` chunks."""
    n_content = n_chunks - 2 - (1 if include_usage else 0)
    if n_content < 1:
        raise ValueError(f"a text stream needs at least {3 + include_usage} chunks, got {n_chunks}")
    return n_content


def _text_parts(n_chunks: int, include_usage: bool, seed: int) -> tuple[bytes, list[bytes], bytes, int]:
    """(first chunk, the pool of content chunks to cycle through, the closing events, n_content)."""
    n_content = _text_plan(n_chunks, include_usage)
    pool = _content_pool(seed)
    chunks = _Chunks(seed, include_usage)
    content_chunks = [
        chunks.chunk(k + 1, _choice(b'{"content":' + _dumps(piece) + b"}")) for k, piece in enumerate(pool)
    ]
    first = chunks.chunk(0, _choice(b'{"role":"assistant","content":"","refusal":null}'))
    closing = chunks.chunk(n_content + 1, _choice(b"{}", "stop"))
    if include_usage:
        closing += chunks.usage_chunk(n_content + 2, _usage(n_content))
    return first, content_chunks, closing + DONE, n_content


def text_stream(n_chunks: int, *, include_usage: bool = True, seed: int = 0) -> bytes:
    """A whole plain-text stream of ``n_chunks`` JSON chunks, then ``[DONE]``."""
    first, content_chunks, closing, n_content = _text_parts(n_chunks, include_usage, seed)
    full, rest = divmod(n_content, _POOL_SIZE)
    return b"".join((first, b"".join(content_chunks) * full, b"".join(content_chunks[:rest]), closing))


def text_expected(n_chunks: int, *, include_usage: bool = True, seed: int = 0) -> Expected:
    """What folding ``text_stream(n_chunks, ...)`` must give."""
    n_content = _text_plan(n_chunks, include_usage)
    pool = _content_pool(seed)
    full, rest = divmod(n_content, _POOL_SIZE)
    content = "".join(pool) * full + "".join(pool[:rest])
    return Expected(
        n_chunks=n_chunks,
        content=content,
        finish_reason="stop",
        usage=_usage(n_content) if include_usage else None,
    )


# ---------------------------------------------------------------------------
# Parallel tool-call streams


def _arguments_text(rng: random.Random, length: int, location: str) -> str:
    """A JSON arguments object of exactly ``length`` characters (padded), gpt-4o spacing."""
    prefix = json.dumps({"location": location}, ensure_ascii=False)[:-1] + ', "items": ['
    middle, suffix = '], "pad": "', '"}'
    size = len(prefix) + len(middle) + len(suffix)
    items: list[str] = []
    while True:
        item = json.dumps(
            {"sku": f"A-{rng.randrange(10000):04d}", "qty": rng.randint(1, 9), "note": rng.choice(_NOTES)},
            ensure_ascii=False,
        )
        extra = len(item) + (2 if items else 0)
        if size + extra > length:
            break
        items.append(item)
        size += extra
    return prefix + ", ".join(items) + middle + "x" * (length - size) + suffix


@dataclass
class _ToolPlan:
    calls: list[dict[str, Any]]
    fragments: list[list[str]]  # per call, its argument fragments
    order: list[tuple[str, int]]  # ("start", call) or ("arg", call), in stream order
    n_fragments: int


def _tool_plan(n_chunks: int, n_calls: int, include_usage: bool, seed: int) -> _ToolPlan:
    if not 1 <= n_calls <= len(_TOOL_NAMES):
        raise ValueError(f"n_calls must be 1..{len(_TOOL_NAMES)}, got {n_calls}")
    n_fragments = n_chunks - 2 - n_calls - (1 if include_usage else 0)
    if n_fragments < n_calls:
        raise ValueError(f"a tool-call stream with {n_calls} calls needs more than {n_chunks} chunks")
    rng = random.Random(seed + 1_000_003)
    calls: list[dict[str, Any]] = []
    fragments: list[list[str]] = []
    for k in range(n_calls):
        count = n_fragments // n_calls + (1 if k < n_fragments % n_calls else 0)
        lengths = [rng.randint(4, 8) for _ in range(count)]
        minimum = 60  # room for a tiny valid object in very short (quick) streams
        if sum(lengths) < minimum:
            lengths[-1] += minimum - sum(lengths)
        text = _arguments_text(rng, sum(lengths), _LOCATIONS[k % len(_LOCATIONS)])
        pieces, start = [], 0
        for n in lengths:
            pieces.append(text[start : start + n])
            start += n
        calls.append(
            {
                "id": _random_id(rng, "call_", 24),
                "type": "function",
                "function": {"name": _TOOL_NAMES[k], "arguments": text},
            }
        )
        fragments.append(pieces)
    # Interleave: calls start in index order, each soon after the previous one; fragments
    # of every started call are then picked at random, so the calls stay interleaved.
    order: list[tuple[str, int]] = [("start", 0)]
    left = [len(f) for f in fragments]
    started = 1
    while True:
        active = [k for k in range(started) if left[k]]
        if started < n_calls and (not active or rng.random() < 0.2):
            order.append(("start", started))
            started += 1
            continue
        if not active:
            break
        k = rng.choice(active)
        order.append(("arg", k))
        left[k] -= 1
    return _ToolPlan(calls, fragments, order, n_fragments)


def tool_call_events(n_chunks: int, *, n_calls: int = 3, include_usage: bool = True, seed: int = 0) -> Iterator[bytes]:
    """The events of a stream of ``n_calls`` parallel tool calls, interleaved, lazily."""
    plan = _tool_plan(n_chunks, n_calls, include_usage, seed)
    chunks = _Chunks(seed, include_usage)
    yield chunks.chunk(0, _choice(b'{"role":"assistant","content":null,"refusal":null}'))
    position = [0] * n_calls
    for i, (kind, k) in enumerate(plan.order, start=1):
        call = plan.calls[k]
        if kind == "start":
            fragment = {
                "index": k,
                "id": call["id"],
                "type": "function",
                "function": {"name": call["function"]["name"], "arguments": ""},
            }
        else:
            fragment = {"index": k, "function": {"arguments": plan.fragments[k][position[k]]}}
            position[k] += 1
        yield chunks.chunk(i, _choice(b'{"tool_calls":[' + _dumps(fragment) + b"]}"))
    i = len(plan.order) + 1
    yield chunks.chunk(i, _choice(b"{}", "tool_calls"))
    if include_usage:
        yield chunks.usage_chunk(i + 1, _usage(plan.n_fragments + n_calls))
    yield DONE


def tool_call_stream(n_chunks: int, *, n_calls: int = 3, include_usage: bool = True, seed: int = 0) -> bytes:
    """A whole tool-call stream of ``n_chunks`` JSON chunks, then ``[DONE]``."""
    return b"".join(tool_call_events(n_chunks, n_calls=n_calls, include_usage=include_usage, seed=seed))


def tool_call_expected(n_chunks: int, *, n_calls: int = 3, include_usage: bool = True, seed: int = 0) -> Expected:
    """What folding ``tool_call_stream(n_chunks, ...)`` must give."""
    plan = _tool_plan(n_chunks, n_calls, include_usage, seed)
    return Expected(
        n_chunks=n_chunks,
        content=None,
        finish_reason="tool_calls",
        tool_calls=plan.calls,
        usage=_usage(plan.n_fragments + n_calls) if include_usage else None,
    )


# ---------------------------------------------------------------------------
# Helpers


def payloads(stream: bytes) -> list[bytes]:
    """The data bytes of each JSON chunk of a generated stream (``[DONE]`` excluded).

    Generated streams have one ``data:`` line per event and LF line ends, so a plain
    split is exact; anything else raises ``ValueError``.
    """
    result = []
    for block in stream.split(b"\n\n"):
        if not block:
            continue
        if not block.startswith(b"data: ") or b"\n" in block:
            raise ValueError(f"not a generated event: {block[:60]!r}")
        data = block[6:]
        if data != b"[DONE]":
            result.append(data)
    return result


def split_reads(stream: bytes, size: int = READ_SIZE) -> list[bytes]:
    """Cut ``stream`` into reads of ``size`` bytes (the last one shorter), as a socket would."""
    return [stream[i : i + size] for i in range(0, len(stream), size)]
