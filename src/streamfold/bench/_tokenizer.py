"""Counting tokens: a documented estimate, or a real tokenizer when one is installed.

Without a tokenizer a token is taken to be 0.75 of an English word (OpenAI's rule of
thumb, about 4 characters), so N tokens of prompt are N * 0.75 words; counts from the
server's ``usage`` replace these estimates in the results whenever the server sends them.
"""

from __future__ import annotations

import importlib
import math
from typing import Any, Protocol

#: English words per token, on average, for the estimate.
WORDS_PER_TOKEN = 0.75


class Tokenizer(Protocol):
    """What the benchmark needs of a tokenizer."""

    name: str

    def encode(self, text: str) -> list[int]: ...

    def decode(self, tokens: list[int]) -> str: ...


def estimate_tokens(text: str) -> int:
    """Tokens of ``text`` by the words-per-token estimate (at least 1 for non-empty text)."""
    words = len(text.split())
    return max(1, round(words / WORDS_PER_TOKEN)) if words else 0


def words_for(tokens: int) -> int:
    """Words of text to make about ``tokens`` tokens."""
    return max(1, math.ceil(tokens * WORDS_PER_TOKEN)) if tokens > 0 else 0


class _Transformers:
    def __init__(self, name: str, tokenizer: Any) -> None:
        self.name = name
        self._tokenizer = tokenizer

    def encode(self, text: str) -> list[int]:
        tokens: list[int] = self._tokenizer.encode(text, add_special_tokens=False)
        return tokens

    def decode(self, tokens: list[int]) -> str:
        text: str = self._tokenizer.decode(tokens)
        return text


class _Tiktoken:
    def __init__(self, name: str, encoding: Any) -> None:
        self.name = name
        self._encoding = encoding

    def encode(self, text: str) -> list[int]:
        tokens: list[int] = self._encoding.encode(text, disallowed_special=())
        return tokens

    def decode(self, tokens: list[int]) -> str:
        text: str = self._encoding.decode(tokens)
        return text


def load_tokenizer(name: str) -> Tokenizer:
    """A Hugging Face tokenizer (a model name in the local cache, or a directory) through
    ``transformers``, else a ``tiktoken`` encoding of that name; ``ValueError`` saying what
    was tried when neither loads."""
    problems: list[str] = []
    try:
        transformers = importlib.import_module("transformers")
    except ImportError:
        problems.append("transformers is not installed")
    else:
        try:
            return _Transformers(name, transformers.AutoTokenizer.from_pretrained(name))
        except Exception as exc:
            problems.append(f"transformers: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    try:
        tiktoken = importlib.import_module("tiktoken")
    except ImportError:
        problems.append("tiktoken is not installed")
    else:
        try:
            return _Tiktoken(name, tiktoken.get_encoding(name))
        except Exception as exc:
            problems.append(f"tiktoken: {type(exc).__name__}: {exc}")
    raise ValueError(f"cannot load the tokenizer {name!r} ({'; '.join(problems)})")
