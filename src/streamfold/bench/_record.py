"""One benchmark request: sent through ``AsyncClient``, every output chunk timed when its
bytes arrived.

The time of a chunk is the ``time.perf_counter()`` at which the read that completed it
returned (the client's ``on_read`` hook, before any parsing), so the cost of decoding,
folding and bookkeeping is never inside a measured latency.  A chunk counts as output when
it carries text, reasoning, a refusal or tool-call arguments; its tokens come from the
``usage`` the server puts in every chunk when asked for ``continuous_usage_stats``
(vLLM, SGLang), else each output chunk is counted as one token.
"""

from __future__ import annotations

import contextvars
import time
from dataclasses import dataclass, field
from typing import Any

from .._errors import IncompleteStreamError, StreamAPIError, StreamDecodeError, StreamError
from ..client import APIConnectionError, APIStatusError, APITimeoutError, AsyncClient

#: Event types that carry generated output.
OUTPUT_EVENTS = frozenset(
    {
        "content.delta",
        "refusal.delta",
        "reasoning.delta",
        "tool_calls.function.arguments.delta",
    }
)

#: The request the running task is sending (the session's trace hook sets its ``sent``).
SENDING: contextvars.ContextVar[RequestRecord | None] = contextvars.ContextVar("streamfold_bench_sending", default=None)

#: How the output tokens of a request were counted.
PER_CHUNK_USAGE = "usage in every chunk"
FINAL_USAGE = "usage at the end"
OUTPUT_CHUNKS = "one per output chunk"


@dataclass(eq=False)
class RequestRecord:
    """What happened to one request.  Times are ``time.perf_counter()`` seconds.

    ``arrival``: when the arrival process released it; ``start``: when the client began the
    request (after waiting for a slot under a concurrency cap: ``start - arrival`` is that
    wait); ``sent``: when its body was handed to the connection (TTFT and E2EL count from
    here; ``sent - start`` is the client's own work of sending, a new connection included);
    ``chunk_times``: the arrival of each output chunk; ``chunk_tokens``: the tokens of each
    (from per-chunk usage; None when the server gave none); ``end``: the end of the stream
    (or of the failure); ``output_tokens``: from usage when the server sent it, else the
    output chunks; ``error`` / ``error_kind``: why it failed (None when it did not).
    """

    index: int
    input_tokens: int
    arrival: float = 0.0
    start: float = 0.0
    sent: float = 0.0
    end: float = 0.0
    chunk_times: list[float] = field(default_factory=list)
    chunk_tokens: list[int] | None = None
    output_tokens: int = 0
    token_source: str = OUTPUT_CHUNKS
    chunks: int = 0
    text: str = ""
    error: str | None = None
    error_kind: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


async def send(client: AsyncClient, record: RequestRecord, request: dict[str, Any]) -> None:
    """Send ``request`` (a chat-completions body without ``stream``) and fill ``record``."""
    times = record.chunk_times
    tokens: list[int] = []
    arrived = 0.0

    def on_read(at: float, piece: bytes) -> None:
        nonlocal arrived
        arrived = at

    chunk_number = marked = -1
    reported: Any = None  # completion_tokens in the usage of the chunk being read
    counted = 0  # completion tokens given to output chunks so far
    every_chunk = True  # each output chunk had usage of its own
    stream = None
    record.start = time.perf_counter()
    sending = SENDING.set(record)
    try:
        async with client.stream_chat(on_read=on_read, **request) as stream:
            # hot loop: per event a type test; per chunk a dict lookup; per output chunk two appends
            async for event in stream:
                kind = event.type
                if kind == "chunk":
                    chunk_number += 1
                    usage = event.chunk.get("usage")  # type: ignore[attr-defined]
                    reported = usage.get("completion_tokens") if isinstance(usage, dict) else None
                elif kind in OUTPUT_EVENTS and marked != chunk_number:
                    marked = chunk_number
                    times.append(arrived)
                    if isinstance(reported, int):
                        tokens.append(reported - counted)
                        counted = reported
                    else:
                        tokens.append(1)
                        every_chunk = False
            completion = await stream.result()
        record.end = arrived
        _finish(record, completion, stream.stats.chunks, tokens, every_chunk)
    except Exception as exc:
        record.end = time.perf_counter()
        _failed(record, exc, stream.partial if stream is not None else None)
    finally:
        SENDING.reset(sending)
        if not record.sent:  # a transport without the trace hook: the send time is the start
            record.sent = record.start


def _finish(
    record: RequestRecord, completion: dict[str, Any], chunks: int, tokens: list[int], per_chunk_usage: bool
) -> None:
    record.chunks = chunks
    record.text = _text(completion)
    usage = completion.get("usage")
    final = usage.get("completion_tokens") if isinstance(usage, dict) else None
    prompt = usage.get("prompt_tokens") if isinstance(usage, dict) else None
    if isinstance(prompt, int) and prompt > 0:
        record.input_tokens = prompt
    if per_chunk_usage and tokens:
        record.chunk_tokens = tokens
        record.output_tokens = final if isinstance(final, int) else sum(tokens)
        record.token_source = PER_CHUNK_USAGE
    elif isinstance(final, int):
        record.output_tokens = final
        record.token_source = FINAL_USAGE
    else:
        record.output_tokens = len(record.chunk_times)


def _failed(record: RequestRecord, exc: BaseException, partial: dict[str, Any] | None) -> None:
    record.error = f"{type(exc).__name__}: {exc}"
    record.error_kind = error_kind(exc)
    record.output_tokens = len(record.chunk_times)
    if partial is None and isinstance(exc, StreamError):
        partial = exc.partial
    if partial is not None:
        record.text = _text(partial)  # nothing received is lost


def error_kind(exc: BaseException) -> str:
    """A short name for the kind of failure, to count failures by kind."""
    if isinstance(exc, APIStatusError):
        return f"HTTP {exc.status_code}"
    if isinstance(exc, APITimeoutError):
        return "timeout"
    if isinstance(exc, APIConnectionError):
        return "connection failed"
    if isinstance(exc, StreamAPIError):
        return "error in the stream"
    if isinstance(exc, IncompleteStreamError):
        return "stream cut short"
    if isinstance(exc, StreamDecodeError):
        return "bad stream"
    return type(exc).__name__  # anything else (an unexpected error) by its type


def _text(completion: dict[str, Any]) -> str:
    choices = completion.get("choices") or []
    message = choices[0].get("message") or {} if choices else {}
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""
