"""The decoder benchmark's corpora: five deterministic streams and what each must fold to.

``text`` and ``tools`` come from ``corpus.py`` (gpt-4o's exact chunk shape, built from byte
templates); ``n3_logprobs``, ``reasoning`` and ``large`` are built here from chunk dicts.
Every corpus carries its expected ``Summary``, taken from the plan it was generated from,
never from a decoder, so every contender is checked against the same truth.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import orjson

if __package__:
    from . import corpus
else:  # benchmarks/ on sys.path
    import corpus  # type: ignore[no-redef]

#: The two ways the bytes are handed to a decoder.
READS = ("16KiB", "per-event")

_HEAD = {
    "id": "chatcmpl-bench0001",
    "object": "chat.completion.chunk",
    "created": corpus.CREATED,
    "model": corpus.MODEL,
    "system_fingerprint": corpus.FINGERPRINT,
}


@dataclass
class Summary:
    """What a fold yields, reduced to what every contender can report: per choice its text,
    reasoning, tool calls (id, name, arguments), finish reason and logprobs count; the usage."""

    content: list[str | None]
    reasoning: list[str | None]
    tool_calls: list[list[tuple[str, str, str]]]
    finish: list[str | None]
    logprobs: list[int]
    usage: dict[str, Any] | None


@dataclass
class Corpus:
    """One generated stream."""

    name: str
    title: str
    stream: bytes
    chunks: int
    expected: Summary

    def payloads(self) -> list[bytes]:
        return corpus.payloads(self.stream)

    def reads(self, how: str) -> list[bytes]:
        """The stream cut into 16 KiB reads, or one read per event."""
        if how == "16KiB":
            return corpus.split_reads(self.stream)
        return [event + b"\n\n" for event in self.stream.split(b"\n\n") if event]


def _from_expected(expected: corpus.Expected) -> Summary:
    calls = [(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in expected.tool_calls]
    return Summary([expected.content], [None], [calls], [expected.finish_reason], [0], expected.usage)


def text(chunks: int) -> Corpus:
    """Long plain text, one token per chunk."""
    return Corpus("text", "long text", corpus.text_stream(chunks), chunks, _from_expected(corpus.text_expected(chunks)))


def tools(chunks: int) -> Corpus:
    """Three parallel tool calls, interleaved, arguments in 4-8 character fragments."""
    return Corpus(
        "tools",
        "3 parallel tool calls, arguments in 4-8 character fragments",
        corpus.tool_call_stream(chunks),
        chunks,
        _from_expected(corpus.tool_call_expected(chunks)),
    )


def _encode(chunks: list[dict[str, Any]]) -> bytes:
    return b"".join(b"data: " + orjson.dumps(chunk) + b"\n\n" for chunk in chunks) + corpus.DONE


def _chunk(choice: dict[str, Any] | None, usage: Any = None) -> dict[str, Any]:
    return {**_HEAD, "choices": [choice] if choice else [], "usage": usage}


def _tokens(rng: random.Random, count: int) -> list[str]:
    words = corpus._content_pool(rng.randrange(1000))
    start = rng.randrange(len(words))
    return [words[(start + i) % len(words)] for i in range(count)]


def n3_logprobs(chunks: int) -> Corpus:
    """Three choices (``n=3``) interleaved chunk by chunk, every token with logprobs and two
    top logprobs."""
    rng = random.Random(3)
    per_choice = max(1, (chunks - 1) // 3 - 2)
    texts = [_tokens(rng, per_choice) for _ in range(3)]
    items: list[dict[str, Any]] = [
        _chunk({"index": i, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None})
        for i in range(3)
    ]
    for position in range(per_choice):
        for i in range(3):
            token = texts[i][position]
            alternatives = [
                {"token": t, "logprob": round(-1.5 - k, 3), "bytes": list(t.encode())}
                for k, t in enumerate(_tokens(rng, 2))
            ]
            logprob = {
                "token": token,
                "logprob": round(-rng.random(), 4),
                "bytes": list(token.encode()),
                "top_logprobs": alternatives,
            }
            items.append(
                _chunk(
                    {
                        "index": i,
                        "delta": {"content": token},
                        "logprobs": {"content": [logprob], "refusal": None},
                        "finish_reason": None,
                    }
                )
            )
    items += [_chunk({"index": i, "delta": {}, "logprobs": None, "finish_reason": "stop"}) for i in range(3)]
    usage = corpus._usage(3 * per_choice)
    items.append(_chunk(None, usage))
    expected = Summary(["".join(t) for t in texts], [None] * 3, [[], [], []], ["stop"] * 3, [per_choice] * 3, usage)
    return Corpus(
        "n3_logprobs", "n=3, every token with logprobs and 2 top logprobs", _encode(items), len(items), expected
    )


def reasoning(chunks: int) -> Corpus:
    """Reasoning first (DeepSeek's ``reasoning_content``), then the answer: half and half."""
    rng = random.Random(5)
    half = max(1, (chunks - 3) // 2)
    thought, answer = _tokens(rng, half), _tokens(rng, chunks - 3 - half)
    choice = {"index": 0, "logprobs": None, "finish_reason": None}
    items = [_chunk({**choice, "delta": {"role": "assistant", "content": None, "reasoning_content": ""}})]
    items += [_chunk({**choice, "delta": {"content": None, "reasoning_content": t}}) for t in thought]
    items += [_chunk({**choice, "delta": {"content": t}}) for t in answer]
    items.append(_chunk({**choice, "delta": {}, "finish_reason": "stop"}))
    usage = corpus._usage(len(thought) + len(answer))
    items.append(_chunk(None, usage))
    expected = Summary(["".join(answer)], ["".join(thought)], [[]], ["stop"], [0], usage)
    return Corpus("reasoning", "reasoning_content, then the answer", _encode(items), len(items), expected)


def large(events: int, size: int = 2**20) -> Corpus:
    """A few events of ``size`` bytes each: one huge content delta per chunk."""
    rng = random.Random(7)
    pieces = []
    for _ in range(events):
        text = "".join(_tokens(rng, size // 4))
        pieces.append(text[: size - 400])  # with the chunk's other members, about ``size`` bytes per event
    choice = {"index": 0, "logprobs": None, "finish_reason": None}
    items = [_chunk({**choice, "delta": {"role": "assistant", "content": ""}})]
    items += [_chunk({**choice, "delta": {"content": piece}}) for piece in pieces]
    items.append(_chunk({**choice, "delta": {}, "finish_reason": "stop"}))
    usage = corpus._usage(events * size // 4)
    items.append(_chunk(None, usage))
    expected = Summary(["".join(pieces)], [None], [[]], ["stop"], [0], usage)
    return Corpus("large", f"{events} events of {size // 1024} KiB each", _encode(items), len(items), expected)


@dataclass(frozen=True)
class Sizes:
    """Corpus sizes of one run."""

    text: int
    tools: int
    n3_logprobs: int
    reasoning: int
    large_events: int
    large_size: int


FULL = Sizes(text=40_000, tools=5_000, n3_logprobs=3_000, reasoning=5_000, large_events=4, large_size=2**20)
QUICK = Sizes(text=300, tools=150, n3_logprobs=90, reasoning=150, large_events=2, large_size=32 * 1024)


def build(sizes: Sizes) -> list[Corpus]:
    """All five corpora."""
    return [
        text(sizes.text),
        tools(sizes.tools),
        n3_logprobs(sizes.n3_logprobs),
        reasoning(sizes.reasoning),
        large(sizes.large_events, sizes.large_size),
    ]
