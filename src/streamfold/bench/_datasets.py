"""The prompts a benchmark sends: random text of a given length, a JSONL file of prompts or
messages, or a ShareGPT conversation file."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ._tokenizer import Tokenizer, estimate_tokens, words_for

#: Requests of a run when ``num_prompts`` is not given (a JSONL file: one per line).
DEFAULT_PROMPTS = 1000
#: Words random prompts are made of: common English words, short and long.
_WORDS = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "that",
    "for",
    "it",
    "as",
    "was",
    "with",
    "be",
    "by",
    "on",
    "not",
    "he",
    "this",
    "are",
    "or",
    "his",
    "from",
    "at",
    "which",
    "but",
    "have",
    "an",
    "they",
    "you",
    "were",
    "her",
    "she",
    "there",
    "one",
    "all",
    "we",
    "their",
    "been",
    "has",
    "more",
    "if",
    "will",
    "would",
    "who",
    "so",
    "no",
    "time",
    "people",
    "year",
    "way",
    "day",
    "man",
    "thing",
    "woman",
    "life",
    "child",
    "world",
    "school",
    "state",
    "family",
    "student",
    "group",
    "country",
    "problem",
    "hand",
    "part",
    "place",
    "case",
    "week",
    "company",
    "system",
    "program",
    "question",
    "work",
    "government",
    "number",
    "night",
    "point",
    "home",
    "water",
    "room",
    "mother",
    "area",
    "money",
    "story",
    "fact",
    "month",
    "lot",
    "right",
    "study",
    "book",
    "eye",
    "job",
    "word",
    "business",
    "issue",
    "side",
    "kind",
    "head",
    "house",
    "service",
    "friend",
    "father",
    "power",
    "hour",
    "game",
    "line",
    "end",
    "member",
    "law",
    "car",
    "city",
    "community",
    "name",
    "president",
    "team",
    "minute",
    "idea",
    "body",
    "information",
    "back",
    "parent",
    "face",
    "others",
    "level",
    "office",
    "door",
    "health",
    "person",
    "art",
    "war",
    "history",
    "party",
    "result",
    "change",
    "morning",
    "reason",
    "research",
    "girl",
    "guy",
    "moment",
    "air",
    "teacher",
    "force",
    "education",
    "river",
    "mountain",
    "garden",
    "window",
    "library",
    "kitchen",
    "question",
    "answer",
    "because",
    "through",
    "between",
    "important",
    "different",
]


@dataclass(frozen=True)
class Prompt:
    """One request's input: its chat ``messages``, its length in tokens (estimated, or
    counted by a tokenizer), and the output length to ask for (``max_completion_tokens``;
    None: leave it to the server)."""

    messages: list[dict[str, Any]]
    input_tokens: int
    output_tokens: int | None = None


def count_tokens(text: str, tokenizer: Tokenizer | None) -> int:
    """Tokens of ``text``: the tokenizer's count, else the estimate."""
    return len(tokenizer.encode(text)) if tokenizer is not None else estimate_tokens(text)


def random_prompts(
    count: int, input_len: int, output_len: int | None, *, rng: random.Random, tokenizer: Tokenizer | None = None
) -> list[Prompt]:
    """``count`` prompts of random words, ``input_len`` tokens each (exactly, with a
    tokenizer; by the words-per-token estimate without one), each asking for ``output_len``."""
    if input_len < 1:
        raise ValueError(f"the input length must be >= 1 token, got {input_len}")
    prompts = []
    for _ in range(count):
        text = " ".join(rng.choice(_WORDS) for _ in range(words_for(input_len)))
        if tokenizer is not None:
            tokens = tokenizer.encode(text)
            while len(tokens) < input_len:  # the estimate fell short: add words until it does not
                text += " " + " ".join(rng.choice(_WORDS) for _ in range(words_for(input_len - len(tokens))))
                tokens = tokenizer.encode(text)
            text = tokenizer.decode(tokens[:input_len])
        prompts.append(Prompt([{"role": "user", "content": text}], input_len, output_len))
    return prompts


def jsonl_prompts(
    path: Path, count: int | None, output_len: int | None, *, tokenizer: Tokenizer | None = None
) -> list[Prompt]:
    """Prompts from a JSONL file, one JSON object a line: ``{"prompt": "..."}`` or
    ``{"messages": [...]}``, with an optional ``output_len`` (``output_len`` given here
    wins).  In file order, repeated when ``count`` is more than the lines (None: each line
    once).  ``ValueError`` names the line of a bad entry."""
    found: list[Prompt] = []
    with path.open("rb") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                entry = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not JSON ({exc})") from None
            found.append(_entry_prompt(entry, output_len, tokenizer, where=f"{path}:{number}"))
    if not found:
        raise ValueError(f"{path}: no prompts in it")
    return _repeated(found, len(found) if count is None else count)


def _entry_prompt(entry: Any, output_len: int | None, tokenizer: Tokenizer | None, *, where: str) -> Prompt:
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: each line must be a JSON object with 'prompt' or 'messages'")
    if isinstance(entry.get("prompt"), str):
        messages: list[dict[str, Any]] = [{"role": "user", "content": entry["prompt"]}]
    elif (
        isinstance(entry.get("messages"), list)
        and entry["messages"]
        and all(isinstance(message, dict) and "role" in message for message in entry["messages"])
    ):
        messages = entry["messages"]
    else:
        raise ValueError(f"{where}: needs 'prompt' (a string) or 'messages' (a list of messages with a role)")
    wanted = entry.get("output_len")
    if output_len is None and wanted is not None:
        if not isinstance(wanted, int) or isinstance(wanted, bool) or wanted < 1:
            raise ValueError(f"{where}: output_len must be a whole number >= 1, got {wanted!r}")
        output_len = wanted
    return Prompt(messages, sum(count_tokens(_text_of(message), tokenizer) for message in messages), output_len)


def _text_of(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def sharegpt_prompts(
    path: Path, count: int, output_len: int | None, *, rng: random.Random, tokenizer: Tokenizer | None = None
) -> list[Prompt]:
    """Prompts from a ShareGPT file (a JSON list of ``{"conversations": [{"from": "human",
    "value": ...}, {"from": "gpt", "value": ...}, ...]}``): each conversation's first human
    turn, asking for as many tokens as the reply that followed it had (``output_len`` given
    here wins); ``count`` of them, shuffled by ``rng`` (repeated when there are fewer)."""
    try:
        data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, list):
        raise ValueError(f"{path}: a ShareGPT file is a JSON list of conversations")
    pairs = [pair for pair in map(_first_exchange, data) if pair is not None]
    if not pairs:
        raise ValueError(f"{path}: no conversation with a human turn followed by a gpt turn")
    rng.shuffle(pairs)
    prompts = [
        Prompt(
            [{"role": "user", "content": human}],
            count_tokens(human, tokenizer),
            output_len if output_len is not None else max(1, count_tokens(reply, tokenizer)),
        )
        for human, reply in pairs[:count]
    ]
    return _repeated(prompts, count)


def _first_exchange(conversation: Any) -> tuple[str, str] | None:
    turns = conversation.get("conversations") if isinstance(conversation, dict) else None
    if not isinstance(turns, list):
        return None
    for first, second in itertools.pairwise(turns):
        if (
            isinstance(first, dict)
            and isinstance(second, dict)
            and first.get("from") == "human"
            and second.get("from") == "gpt"
            and isinstance(first.get("value"), str)
            and isinstance(second.get("value"), str)
            and first["value"].strip()
        ):
            return first["value"], second["value"]
    return None


def _repeated(prompts: Sequence[Prompt], count: int) -> list[Prompt]:
    cycle: Iterator[Prompt] = itertools.cycle(prompts)
    return [next(cycle) for _ in range(count)]


def load_prompts(
    dataset: str,
    *,
    count: int | None = None,
    input_len: int = 1024,
    output_len: int | None = 128,
    seed: int = 0,
    tokenizer: Tokenizer | None = None,
) -> list[Prompt]:
    """The prompts of ``dataset``: ``"random"`` (``input_len`` tokens each), a ``.jsonl``
    file of prompts or messages, or a ShareGPT ``.json`` file; ``count`` of them (default
    ``DEFAULT_PROMPTS``, or each line once for JSONL).  ``ValueError`` for a bad file."""
    rng = random.Random(seed)
    if dataset == "random":
        return random_prompts(
            DEFAULT_PROMPTS if count is None else count, input_len, output_len, rng=rng, tokenizer=tokenizer
        )
    path = Path(dataset)
    if not path.is_file():
        raise ValueError(f"{dataset}: no such file (the dataset is 'random', a .jsonl file or a ShareGPT .json file)")
    if path.suffix.lower() == ".jsonl":
        return jsonl_prompts(path, count, output_len, tokenizer=tokenizer)
    return sharegpt_prompts(path, DEFAULT_PROMPTS if count is None else count, output_len, rng=rng, tokenizer=tokenizer)
