"""What the mock server sends: one ``MockConfig`` per server, overridable per request."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ._providers import SHAPES

#: Request header whose JSON object overrides the server's config for that request.
CONFIG_HEADER = "x-streamfold-mock"
#: Request body member with the same role (removed before the request is read).
CONFIG_FIELD = "mock"
#: Events per write when ``events_per_write`` is None and ``itl`` is 0.
BURST_EVENTS = 16


@dataclass(frozen=True)
class MockConfig:
    """How the mock answers a chat-completion request.

    Output: ``output_tokens`` tokens of text from ``text`` (``"lorem"``: generated words,
    ``"echo"``: the last user message, repeated; anything else: that fixed text, repeated),
    ``tokens_per_chunk`` per chunk, ``reasoning_tokens`` of reasoning first,
    ``tool_calls`` parallel calls instead of text, ``n`` choices (None: the request's),
    ``usage`` (None: as the request's ``stream_options.include_usage``),
    ``continuous_usage``: usage in every chunk, counting the tokens so far, as vLLM sends it
    (None: as the request's ``stream_options.continuous_usage_stats``; only with usage).
    Timing: ``ttft`` seconds before the first chunk, ``itl`` between chunks, each varied
    by up to ``jitter`` (a fraction) at random.  Wire: ``events_per_write`` events per
    network write (None: one, as real servers write them, when ``itl`` is above 0, and
    ``BURST_EVENTS`` when it is 0, so that a server with no delay is cheap to run);
    ``split_writes`` cuts every write in two, inside a UTF-8 character
    when there is one, else inside the JSON; a ``: keep-alive`` comment every
    ``keepalive_every`` chunks.  Faults: ``status`` (429 or 500 ...) answered instead of a
    stream, with ``retry_after`` seconds as ``Retry-After``; after ``error_after`` chunks
    an in-band error; after ``close_after`` chunks the connection is dropped; after
    ``stall_after`` chunks nothing more is sent; with ``fault_times`` set, the faults hit
    only the first ``fault_times`` requests made with these same settings (a retry then
    succeeds).  Rate limits (server-wide: a request's own settings cannot change them):
    ``rate_limit_requests`` and ``rate_limit_tokens`` per minute, passed: a 429 with
    ``Retry-After``; told in ``x-ratelimit-*`` headers (see ``_ratelimit.py``).  ``busy_wait``
    (server-wide too): paced writes due within that many seconds are waited for by keeping
    the event loop turning rather than on a timer, more punctual at the cost of a core (see
    ``streamfold._timer``).  ``seed`` makes the output reproducible.  ``provider`` shapes the chunks as
    that server does (``openai``, ``azure``, ``groq``, ``deepseek``, ``openrouter``,
    ``ollama``, ``vllm``, ``gemini``, ``mistral``, ``writer``: see ``_providers.py``).
    """

    output_tokens: int = 32
    text: str = "lorem"
    tokens_per_chunk: int = 1
    reasoning_tokens: int = 0
    tool_calls: int = 0
    n: int | None = None
    usage: bool | None = None
    continuous_usage: bool | None = None
    model: str | None = None
    ttft: float = 0.0
    itl: float = 0.0
    jitter: float = 0.0
    events_per_write: int | None = None
    split_writes: bool = False
    keepalive_every: int = 0
    status: int = 200
    retry_after: float | None = None
    error_after: int | None = None
    close_after: int | None = None
    stall_after: int | None = None
    seed: int = 0
    provider: str = "openai"
    fault_times: int | None = None
    rate_limit_requests: int | None = None
    rate_limit_tokens: int | None = None
    busy_wait: float = 0.0

    def __post_init__(self) -> None:
        for name in ("output_tokens", "reasoning_tokens", "tool_calls", "keepalive_every"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("tokens_per_chunk", "events_per_write"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        for name in ("ttft", "itl", "jitter", "busy_wait"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("usage", "continuous_usage"):
            if getattr(self, name) not in (None, True, False):
                raise ValueError(f"{name} must be true, false or null, got {getattr(self, name)!r}")
        if self.provider not in SHAPES:
            raise ValueError(f"provider must be one of {', '.join(SHAPES)}, got {self.provider!r}")
        if self.fault_times is not None and self.fault_times < 0:
            raise ValueError(f"fault_times must be >= 0, got {self.fault_times}")
        for name in ("rate_limit_requests", "rate_limit_tokens"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1 (per minute), got {value}")
        if self.n is not None and self.n < 1:
            raise ValueError(f"n must be >= 1, got {self.n}")

    @property
    def write_size(self) -> int:
        """Events per network write, ``events_per_write`` or its default."""
        if self.events_per_write is not None:
            return self.events_per_write
        return 1 if self.itl > 0 else BURST_EVENTS

    def merged(self, overrides: dict[str, Any]) -> MockConfig:
        """This config with ``overrides`` applied; unknown names raise ``ValueError``."""
        if not overrides:
            return self
        names = {field.name for field in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise ValueError(f"unknown mock setting(s): {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        return dataclasses.replace(self, **overrides)
