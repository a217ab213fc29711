"""Timing and counts of one streamed request."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

#: Event types that carry generated output (the first one sets time_to_first_content).
CONTENT_EVENTS = frozenset(
    {
        "content.delta",
        "refusal.delta",
        "reasoning.delta",
        "tool_calls.function.arguments.delta",
    }
)


@dataclass
class StreamStats:
    """What one ``stream_chat`` call took.  Times are seconds from the call's start (the
    first try, so retries and their waits count), measured with ``time.perf_counter``.

    ``time_to_first_byte``: the first byte of the answer's body; ``time_to_first_content``:
    the first text, reasoning, refusal or tool-argument delta; ``duration``: the end of the
    stream (None while it runs).  ``attempts``: requests sent (1 + retries); ``chunks``:
    chunks folded; ``events``: events built (``result()`` and ``text()`` read the rest of
    a stream without building events once its first content has arrived); ``bytes``: body bytes read; ``usage``: the server's usage
    object, when it sent one.
    """

    attempts: int = 0
    time_to_first_byte: float | None = None
    time_to_first_content: float | None = None
    duration: float | None = None
    chunks: int = 0
    events: int = 0
    bytes: int = 0
    usage: dict[str, Any] | None = None

    @property
    def output_tokens(self) -> int | None:
        """``usage.completion_tokens``, when the server sent usage."""
        tokens = (self.usage or {}).get("completion_tokens")
        return tokens if isinstance(tokens, int) else None

    @property
    def output_tokens_per_second(self) -> float | None:
        """Output tokens over the whole duration (None without usage or before the end)."""
        tokens = self.output_tokens
        if tokens is None or not self.duration:
            return None
        return tokens / self.duration

    def as_dict(self) -> dict[str, Any]:
        """The fields and the derived figures, as a plain dict (for JSON)."""
        return {
            **asdict(self),
            "output_tokens": self.output_tokens,
            "output_tokens_per_second": self.output_tokens_per_second,
        }
