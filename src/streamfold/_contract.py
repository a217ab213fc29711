"""The contract's limits, names and rules that both implementations share.

The ground floor of the package (docs/contract.md): the Cython core, the pure-Python twin
and every upper layer take these from here, so a limit or a member name changes in one
place.  It imports nothing of streamfold.
"""

from __future__ import annotations

from typing import Any, Protocol

# ---------------------------------------------------------------------------
# Limits

#: The largest event (its field lines plus the unterminated line) by default: 16 MiB.
DEFAULT_MAX_EVENT_BYTES = 16 * 2**20

#: Text pieces are joined into one block every this many pieces, so a long stream keeps
#: one object per block instead of one per chunk.
TEXT_BLOCK = 1024

#: Values that are merged member by member (or serialised) may be nested this deep at
#: most; deeper ones are a StreamDecodeError (no provider sends them; recursion must stay
#: bounded).
MAX_NESTING = 100


def check_limit(max_event_bytes: int | None) -> int:
    """Validate ``max_event_bytes``; returns the limit as an int (-1 for no limit)."""
    if max_event_bytes is None:
        return -1
    if isinstance(max_event_bytes, bool) or not isinstance(max_event_bytes, int):
        raise TypeError(f"max_event_bytes must be an int or None, not {type(max_event_bytes).__name__}")
    if max_event_bytes < 1:
        raise ValueError(f"max_event_bytes must be positive, got {max_event_bytes}")
    return max_event_bytes


def check_bytes(data: object) -> None:
    """What ``feed`` accepts: bytes, bytearray or memoryview."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"expected bytes, got {type(data).__name__}")


def nesting_ok(value: Any) -> bool:
    """True if ``value`` is nested at most ``MAX_NESTING`` levels deep (iterative walk)."""
    stack = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if depth > MAX_NESTING:
            return False
        for item in current.values() if isinstance(current, dict) else current:
            if isinstance(item, (dict, list)):
                stack.append((item, depth + 1))
    return True


# ---------------------------------------------------------------------------
# Member names (docs/contract.md, section 3)

#: Top-level chunk members with rules of their own (not "first non-empty wins").
SPECIAL_TOP = frozenset(("choices", "usage", "object", "obfuscation", "error"))

#: The choice members with rules of their own; any other is "last non-null wins".
CHOICE_KEYS = frozenset(("index", "delta", "logprobs", "finish_reason"))

#: Delta members whose text gives reasoning.delta / reasoning.done events (DeepSeek,
#: OpenRouter), in the order their done events come.
REASONING_KEYS = ("reasoning_content", "reasoning")

#: The tool-call fragment members with rules of their own.
CALL_KEYS = frozenset(("index", "id", "type", "function"))

# ---------------------------------------------------------------------------
# What an event is to the fold (docs/contract.md, section 2)

#: data that starts with "{" (after spaces, tabs, LFs): a chunk
EV_JSON = 0
#: another event type, or data that is not JSON (keep-alives, pings)
EV_IGNORED = 1
#: data exactly ``[DONE]``
EV_DONE = 2
#: ``event: error``
EV_ERROR = 3


def event_kind(etype: bytes, data: bytes) -> int:
    """What a framed event (its raw type, ``b""`` when none was set, and data) is."""
    if etype and etype != b"message":
        return EV_ERROR if etype == b"error" else EV_IGNORED
    if data == b"[DONE]":
        return EV_DONE
    return EV_JSON if data.lstrip(b" \t\n")[:1] == b"{" else EV_IGNORED


# ---------------------------------------------------------------------------


class _Folding(Protocol):
    @property
    def chunks(self) -> int: ...

    def snapshot(self) -> dict[str, Any]: ...


def partial_of(accumulator: _Folding) -> dict[str, Any] | None:
    """What an error's ``.partial`` is: the completion folded so far, or None when no chunk
    had been folded yet."""
    return accumulator.snapshot() if accumulator.chunks else None
