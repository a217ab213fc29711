"""Hypothesis strategies (and seeded generators) for the property, differential and fuzz tests.

- ``chat_streams()`` draws a well-formed chat-completion stream: the chunk dicts a server
  would send, together with the completion docs/contract.md (section 3) says they fold into.  With
  ``openai_safe=True`` it keeps to what openai-python folds correctly (docs/providers.md lists
  its bugs).  Text comes from hypothesis; the shape decisions come from a ``random.Random``
  seeded by hypothesis (drawing each one separately made generation ten times slower).
- ``sse_bytes(payloads)`` encodes chunk dicts (or raw data text/bytes) as an event stream
  with the framing variations servers produce: LF/CRLF/CR (also mixed), comments, ``id:``,
  ``event: message`` and ``retry:`` lines, a leading BOM, multi-line data, keep-alive
  blocks, optional ``[DONE]``.
- ``corrupted_streams()`` damages valid streams: wrong-type members, non-object or invalid
  JSON, in-band errors, then byte-level mutations (``apply_mutation``).
- ``random_stream(rng)``, ``encode_sse``, ``random_mutation``: the same without hypothesis,
  for the seeded fuzz loop.
- ``pieces(data)`` cuts bytes at hypothesis-chosen points.
- ``fold_outcome``, ``decode_outcome``, ``add_chunk_outcome``: run an implementation (the
  ``impl`` fixture's namespace) and record what happened as comparable data, catching only
  ``StreamError``; ``canonical`` compares outcomes too deep for ``==``.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from hypothesis import strategies as st

from streamfold import EventTooLargeError, StreamAPIError, StreamError

Chunk = dict[str, Any]
Payload = Chunk | str | bytes

# ---------------------------------------------------------------------------
# Text

#: Strings that stress framing and JSON escaping: line separators that are not SSE line
#: ends, characters JSON escapes, multi-code-point emoji, SSE syntax inside content.
SPECIAL_TEXTS = [
    "",
    "",
    " ",
    "  ",
    "\t",
    "\n",
    "\r\n",
    "\r",
    "\u2028",
    "\u2029",
    "\u0085",
    "\ufeff",
    "\U0001f600",
    "\U0001f469\u200d\U0001f4bb",
    "e\u0301",
    "\x00",
    "\x1f",
    "\x7f",
    "\\",
    '"',
    "data: [DONE]",
    "\n\ndata: x",
    '"}]}',
    "{",
    "[DONE]",
    "caf\u00e9",
    "\u4e2d\u6587",
    " trailing ",
]

texts = st.one_of(st.sampled_from(SPECIAL_TEXTS), st.text(st.characters(codec="utf-8"), max_size=10))
seeds = st.integers(0, 2**32 - 1)


def random_text(rng: random.Random) -> str:
    """A text piece without hypothesis (the seeded fuzz loop)."""
    if rng.random() < 0.4:
        return rng.choice(SPECIAL_TEXTS)
    alphabet = rng.choice([(0x20, 0x7E), (0, 0x7F), (0x80, 0x7FF), (0x800, 0xD7FF), (0xE000, 0x10FFFF)])
    return "".join(chr(rng.randint(*alphabet)) for _ in range(rng.randint(0, 8)))


FINISH_REASONS = ["stop", "length", "tool_calls", "content_filter", "function_call"]


def token_logprob(token: str, logprob: float) -> dict[str, Any]:
    """One entry of ``logprobs.content`` / ``logprobs.refusal``."""
    raw = list(token.encode())
    return {
        "token": token,
        "logprob": logprob,
        "bytes": raw,
        "top_logprobs": [{"token": token, "logprob": logprob, "bytes": raw}],
    }


def _logprob(rng: random.Random) -> float:
    return rng.choice([rng.uniform(-40.0, 0.0), -0.0, 0.0, -5e-324, -1e-7, -9999.5])


def _json_object(rng: random.Random) -> dict[str, Any]:
    """A small JSON object (arguments sent as an object by TGI and llama.cpp)."""
    values: list[Any] = [rng.randint(-(2**53), 2**53), "v\u00e9", True, None, [1, "a"], {"n": {}}, 1.5]
    return {rng.choice(["city", "a", "", "\u00e9"]) + str(i): rng.choice(values) for i in range(rng.randint(0, 3))}


# ---------------------------------------------------------------------------
# Well-formed streams


def expected_parts(parts: list[dict[str, Any]], new: list[dict[str, Any]]) -> None:
    """A plain model of the parts rule (docs/contract.md, section 3) for the generated
    shapes: a text part joins a last text part, a thinking part a last thinking part."""
    for part in new:
        last = parts[-1] if parts else None
        if last is not None and part["type"] in ("text", "thinking") and last["type"] == part["type"]:
            if part["type"] == "text":
                last["text"] += part["text"]
            else:
                expected_parts(last["thinking"], part["thinking"])
        else:
            parts.append(copy.deepcopy(part))


def expected_content(content: Any, value: Any) -> Any:
    """``content`` after a string or list-of-parts delta, by the contract's rule."""
    if isinstance(value, str):
        if isinstance(content, list):
            if value:
                expected_parts(content, [{"type": "text", "text": value}])
            return content
        return (content or "") + value
    parts: list[dict[str, Any]] = content if isinstance(content, list) else []
    if isinstance(content, str) and content:  # text before the first list: a leading part
        parts.append({"type": "text", "text": content})
    expected_parts(parts, value)
    return parts


def _parts_delta(rng: random.Random, piece: str, kind: str) -> Any:
    """A content delta in Mistral's style carrying ``piece``: a list with a text or a
    thinking part (sometimes two parts), or the plain string."""
    if kind == "thinking":
        parts = [{"type": "thinking", "thinking": [{"type": "text", "text": piece}]}]
    elif rng.random() < 0.3:
        return piece
    else:
        parts = [{"type": "text", "text": piece}]
    if rng.random() < 0.2:
        extra = rng.choice(["", "\u00e9", " x"])
        parts.append(
            rng.choice(
                [{"type": "text", "text": extra}, {"type": "thinking", "thinking": [{"type": "text", "text": extra}]}]
            )
        )
    return parts


@dataclass
class ChatStream:
    """A generated stream: the chunks, and what they must fold into."""

    chunks: list[Chunk]
    #: The completion per docs/contract.md section 3, keys in the order it gives.
    expected: dict[str, Any]
    #: Every choice got a finish_reason (so the stream is complete even without [DONE]).
    finished: bool


def _tool_calls(rng: random.Random, text: Callable[[], str], choice: int, openai_safe: bool) -> tuple[str, list, list]:
    """Tool calls of one choice: (style, fragments of each call, expected call of each)."""
    count = rng.choice([0, 0, 1, 1, 2, 3])
    style = "streamed" if openai_safe else rng.choice(["streamed", "streamed", "gemini", "ollama"])
    resend = not openai_safe and rng.random() < 0.5
    calls: list[list[dict[str, Any]]] = []
    expected: list[dict[str, Any]] = []
    for j in range(count):
        call_id = f"call_{choice}_{j}_{rng.randrange(10**6)}"
        name = rng.choice(["get_weather", "f", "lookup", "search_web", "x_y"])
        if style == "streamed":
            parts = [text() for _ in range(rng.randint(0, 3))]
            first: dict[str, Any] = {"id": call_id, "type": "function", "function": {"name": name}}
            if openai_safe or rng.random() < 0.5:
                first["function"]["arguments"] = ""
            fragments = [first]
            for part in parts:
                fragment: dict[str, Any] = {"function": {"arguments": part}}
                if resend:  # vLLM, Fireworks, DeepSeek resend id/type/name; vLLM also sends id ""
                    fragment["id"] = rng.choice([call_id, "", None])
                    fragment["type"] = rng.choice(["function", None])
                    fragment["function"]["name"] = rng.choice([name, None])
                fragments.append(fragment)
            arguments = "".join(parts)
        else:  # the whole call in one fragment; TGI/llama.cpp send arguments as an object
            args: Any = text() if rng.random() < 0.5 else _json_object(rng)
            fragment = {"id": call_id, "function": {"name": name, "arguments": args}}
            if rng.random() < 0.5:
                fragment["type"] = "function"
            if style == "ollama":
                fragment["index"] = 0  # newer Ollama: index 0 for every parallel call
            fragments = [fragment]
            arguments = args if isinstance(args, str) else orjson.dumps(args).decode()
        calls.append(fragments)
        expected.append({"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}})
    return style, calls, expected


def _choice_script(
    rng: random.Random, text: Callable[[], str], choice: int, openai_safe: bool
) -> tuple[list[dict[str, Any]], dict[str, Any], bool]:
    """The fragments of one choice in order (choice dicts without "index"), the choice they
    fold into (without "index"), and whether it finished."""
    with_logprobs = rng.random() < 0.4
    reasoning_key = "reasoning_content" if openai_safe else rng.choice(["reasoning_content", "reasoning"])
    parts_style = not openai_safe and rng.random() < 0.15  # Mistral: content as typed parts
    content: Any = None
    refusal: str | None = None
    reasoning: str | None = None
    logprobs: dict[str, Any] | None = None
    extra: Any = None

    first: dict[str, Any] = {}
    if openai_safe or rng.random() < 0.7:
        first["role"] = "assistant"
    if rng.random() < 0.5:  # OpenAI's first delta: role, content "", refusal null
        first["content"] = ""
        content = ""
        first["refusal"] = None
    first_logprobs = None
    if with_logprobs and (openai_safe or rng.random() < 0.5):
        first_logprobs = {"content": [], "refusal": None}
        logprobs = {"content": [], "refusal": None}
    items: list[dict[str, Any]] = [{"delta": first, "logprobs": first_logprobs, "finish_reason": None}]

    # The body: text pieces, then tool-call fragments interleaved with them.
    body: list[dict[str, Any]] = []
    for _ in range(rng.choice([0, 1, 2, 3, 4, 6])):
        kind = rng.choice(["content", "content", "content", "refusal", "reasoning"])
        piece = text()
        item: dict[str, Any] = {"finish_reason": None, "logprobs": None}
        if parts_style and kind in ("content", "reasoning"):  # Mistral: thinking parts, not a member
            value = _parts_delta(rng, piece, "thinking" if kind == "reasoning" else "text")
            item["delta"] = {"content": value}
            content = expected_content(content, value)
        elif kind == "content":
            item["delta"] = {"content": piece}
            content = (content or "") + piece
            if with_logprobs:
                entry = token_logprob(piece, _logprob(rng))
                item["logprobs"] = {"content": [entry], "refusal": None}
                if logprobs is None:
                    logprobs = {"content": [], "refusal": None}
                logprobs["content"] = (logprobs["content"] or []) + [entry]
        elif kind == "refusal":
            item["delta"] = {"refusal": piece}
            refusal = (refusal or "") + piece
            if with_logprobs:
                entry = token_logprob(piece, _logprob(rng))
                item["logprobs"] = {"content": None, "refusal": [entry]}
                if logprobs is None:
                    logprobs = {"content": None, "refusal": []}
                logprobs["refusal"] = (logprobs["refusal"] or []) + [entry]
        else:  # DeepSeek sends reasoning with content null
            item["delta"] = {reasoning_key: piece, "content": None}
            reasoning = (reasoning or "") + piece
        body.append(item)

    style, calls, expected_calls = _tool_calls(rng, text, choice, openai_safe)
    order: list[Any] = ["body"] * len(body) + [j for j, fragments in enumerate(calls) for _ in fragments]
    rng.shuffle(order)
    body_iter = iter(body)
    call_iters = [iter(fragments) for fragments in calls]
    call_index: dict[int, int] = {}  # call -> the index it is sent with
    indexes = rng.sample(range(8), len(calls))  # sparse, any order (not for openai-python)
    arrival: list[int] = []  # calls in order of their first fragment
    pending: list[dict[str, Any]] = []  # fragments sent together in one delta (parallel calls)

    def flush() -> None:
        if pending:
            items.append({"delta": {"tool_calls": list(pending)}, "logprobs": None, "finish_reason": None})
            pending.clear()

    for label in order:
        if label == "body":
            flush()
            items.append(next(body_iter))
            continue
        fragment = dict(next(call_iters[label]))
        if label not in call_index:
            arrival.append(label)
            call_index[label] = indexes[label] if style == "streamed" and not openai_safe else len(call_index)
        if style == "streamed":
            fragment = {"index": call_index[label], **fragment}
        if pending and rng.random() < 0.5:
            flush()
        pending.append(fragment)
    flush()

    finish = rng.choice(FINISH_REASONS)
    finished = openai_safe or rng.random() < 0.85
    if finished:
        if parts_style:  # Mistral finishes with "content": ""
            items.append({"delta": {"content": ""}, "logprobs": None, "finish_reason": finish})
            content = expected_content(content, "")
        elif not openai_safe and len(items) > 1 and rng.random() < 0.5:
            items[-1] = {**items[-1], "finish_reason": finish}  # finish on the last fragment
        else:
            items.append({"delta": {}, "logprobs": None, "finish_reason": finish})

    if not openai_safe:
        resend_role = rng.random() < 0.5
        for i, item in enumerate(items):
            if resend_role and i:  # Ollama, DeepSeek, Groq: role in every chunk
                item["delta"] = {"role": "assistant", **item["delta"]}
            if "tool_calls" not in item["delta"] and rng.random() < 0.2:
                item["delta"] = {**item["delta"], "tool_calls": []}  # Groq
            if item["logprobs"] is None and rng.random() < 0.5:
                del item["logprobs"]
            if item["delta"] in ({}, {"role": "assistant"}) and rng.random() < 0.3:
                del item["delta"]  # Azure: a choice without delta
            if rng.random() < 0.25:  # Azure: per-chunk information, the last non-null wins
                extra = {"hate": {"filtered": False, "severity": "safe"}, "n": i}
                item["content_filter_results"] = extra
        if rng.random() < 0.15:  # Writer: a "message" beside each delta, mirroring it
            for i, item in enumerate(items):
                if "delta" in item:
                    last = i == len(items) - 1
                    mirror = {"role": "assistant", "content": None if last else item["delta"].get("content")}
                    item["message"] = {**mirror, "tool_calls": item["delta"].get("tool_calls")}

    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": refusal}
    for item in items:  # other message members, in order of first appearance
        for key, value in item.get("delta", {}).items():
            if key == "tool_calls" and value and key not in message:
                ordered = sorted(range(len(calls)), key=lambda j: call_index[j]) if style == "streamed" else arrival
                message["tool_calls"] = [expected_calls[j] for j in ordered]
            elif key == reasoning_key and value is not None and key not in message:
                message[key] = reasoning
    expected: dict[str, Any] = {"message": message, "logprobs": logprobs, "finish_reason": finish if finished else None}
    if extra is not None:
        expected["content_filter_results"] = extra
    return items, expected, finished


def build_stream(rng: random.Random, text: Callable[[], str], *, openai_safe: bool = False) -> ChatStream:
    """A well-formed stream: shape decisions from ``rng``, text pieces from ``text()``."""
    ident = f"chatcmpl-{rng.randrange(16**8):x}"
    created = rng.randint(1, 2**31)
    model = rng.choice(["gpt-4o-2024-08-06", "gpt-4o-mini", "deepseek-reasoner", "llama-3.1-8b"])
    fingerprint = rng.choice([None, "fp_5050236cbd"])
    tier = rng.choice([None, "default"])
    count = rng.choice([1, 1, 1, 2, 2, 3])
    if not openai_safe and rng.random() < 0.05:
        count = 0  # no choice at all (Azure's filter chunk, then the stream was cut; usage only)
    scripts = [_choice_script(rng, text, k, openai_safe) for k in range(count)]

    # Interleave the choices (each keeps its order); at most one fragment per choice a chunk.
    order = [k for k in range(count) for _ in scripts[k][0]]
    rng.shuffle(order)
    labels: dict[int, int] = {}
    if openai_safe:  # openai-python places choices by list position: indices in arrival order
        for k in order:
            labels.setdefault(k, len(labels))
    else:  # sparse indices, first appearing in any order
        labels = dict(enumerate(rng.sample(range(6), count)))
    omit_index = count == 1 and labels[0] == 0 and not openai_safe and rng.random() < 0.5
    iters = [iter(script[0]) for script in scripts]
    groups: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    for k in order:
        if current and (any(c.get("index", 0) == labels[k] for c in current) or rng.random() < 0.5):
            groups.append(current)
            current = []
        choice = next(iters[k])
        current.append(choice if omit_index else {"index": labels[k], **choice})
    groups.append(current)
    if not openai_safe:
        for group in groups:
            rng.shuffle(group)

    usage_style = rng.choice(["none", "final"] if openai_safe else ["none", "final", "xai", "groq"])
    usage_nulls = usage_style != "none" and rng.random() < 0.5
    prompt, completion = rng.randrange(5000), rng.randrange(5000)
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "completion_tokens_details": {"reasoning_tokens": 0},
    }

    def base() -> Chunk:
        chunk: Chunk = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model}
        if tier is not None:
            chunk["service_tier"] = tier
        if fingerprint is not None:
            chunk["system_fingerprint"] = fingerprint
        return chunk

    chunks: list[Chunk] = []
    top: dict[str, Any] = {"id": ident, "object": "chat.completion", "created": created, "model": model}
    if not openai_safe and rng.random() < 0.3:  # Azure's prompt-filter chunk
        filters = [{"prompt_index": 0, "content_filter_results": {}}]
        chunks.append(
            {"choices": [], "created": 0, "id": "", "model": "", "object": "", "prompt_filter_results": filters}
        )
        top["prompt_filter_results"] = filters
    mistral = not openai_safe and rng.random() < 0.2
    if tier is not None:
        top["service_tier"] = tier
    if fingerprint is not None:
        top["system_fingerprint"] = fingerprint
    for number, group in enumerate(groups):
        chunk = base()
        if mistral and number == 0:  # Mistral's first chunk lacks object and created
            del chunk["object"], chunk["created"]
        chunk["choices"] = group
        if usage_nulls:
            chunk["usage"] = None
        if not openai_safe and rng.random() < 0.3:
            chunk["obfuscation"] = "".join(rng.choices("abcdefgh", k=rng.randint(0, 6)))
        chunks.append(chunk)
    if usage_style == "final":  # stream_options.include_usage
        chunks.append({**base(), "choices": [], "usage": usage})
    elif usage_style == "xai":  # usage in the last chunk with choices, then an empty one
        chunks[-1]["usage"] = usage
        chunks.append({**base(), "choices": []})
    elif usage_style == "groq":
        x_groq = {"id": "req_01", "usage": usage}
        chunks[-1]["x_groq"] = x_groq
        top["x_groq"] = x_groq
    # "created": the first non-empty value; an empty one (Azure's 0) stays if no other came.
    created_values = [chunk["created"] for chunk in chunks if chunk.get("created") is not None]
    top["created"] = next((v for v in created_values if v), created_values[0] if created_values else None)

    expected = {**top, "choices": [{"index": labels[k], **scripts[k][1]} for k in sorted(labels, key=labels.get)]}
    if usage_style != "none":
        expected["usage"] = usage
    # no choice at all is never complete without [DONE]
    return ChatStream(chunks, expected, bool(scripts) and all(script[2] for script in scripts))


@st.composite
def chat_streams(draw: st.DrawFn, *, openai_safe: bool = False) -> ChatStream:
    """A well-formed chat-completion stream and the completion it folds into."""
    rng = random.Random(draw(seeds))
    return build_stream(rng, lambda: draw(texts), openai_safe=openai_safe)


def random_stream(rng: random.Random) -> ChatStream:
    """``chat_streams()`` without hypothesis."""
    return build_stream(rng, lambda: random_text(rng))


# ---------------------------------------------------------------------------
# SSE encoding

#: Lines a server may put before an event's data (harmless to the events).
PRE_LINES = [
    ": ping",
    ":",
    ": OPENROUTER PROCESSING",
    "id: 7",
    "id:evt-1",
    "event: message",
    "event:message",
    "retry: 1500",
]
#: Whole blocks that dispatch nothing, or an event that is ignored (keep-alives, pings).
KEEPALIVE_BLOCKS = [
    [": keep-alive"],
    [":"],
    ["data:"],
    ["data: : keepalive"],
    ["data: ping"],
    ["event: ping", "data: {}"],
    ["id: 9"],
    ["retry: 3000"],
    ["event: message"],
    ["data:", "data:"],
    ["data:  "],
]
EOLS = [b"\n", b"\r\n", b"\r"]


def encode_sse(
    payloads: list[Payload], rng: random.Random, *, openai_safe: bool = False, done: bool | None = None
) -> bytes:
    """Encode payloads (chunk dicts, or raw data text/bytes) as an event stream.

    ``openai_safe`` leaves out what openai-python's decoder mishandles: a leading BOM (it
    keeps it), blocks without data and extra blank lines (phantom events once an ``id``
    was seen), keep-alive data.
    """
    pattern = [rng.choice(EOLS) for _ in range(rng.choice([1, 1, 1, 2, 3]))]
    ends: list[bytes] = []

    def eol() -> bytes:
        end = pattern[len(ends) % len(pattern)]
        if end == b"\n" and ends and ends[-1] == b"\r":
            end = b"\r\n"  # a CR then an LF would be one line end
        ends.append(end)
        return end

    chatty = rng.random() < 0.5  # comments, ids, keep-alives; else plain "data: ...\n\n"
    out: list[bytes] = []
    if not openai_safe and rng.random() < 0.3:
        out.append(b"\xef\xbb\xbf")
    if done is None:
        done = rng.random() < 0.6
    for payload in list(payloads) + (["[DONE]"] if done else []):
        if isinstance(payload, Verbatim):
            out.append(payload)
            continue
        if chatty and not openai_safe and rng.random() < 0.15:
            for line in rng.choice(KEEPALIVE_BLOCKS):
                out += [line.encode(), eol()]
            out.append(eol())
        if chatty:
            for _ in range(rng.choice([0, 0, 1, 2])):
                out += [rng.choice(PRE_LINES).encode(), eol()]
        if isinstance(payload, dict):
            data = json.dumps(
                payload,
                ensure_ascii=rng.random() < 0.5,
                indent=1 if rng.random() < 0.15 else None,  # one data: line per JSON line
                separators=rng.choice([(",", ":"), (", ", ": ")]),
            )
        else:
            data = payload
        raw = data if isinstance(data, bytes) else data.encode("utf-8")
        prefix = b"data:" if rng.random() < 0.2 else b"data: "
        for line in raw.split(b"\n"):
            out += [prefix, line, eol()]
        if chatty and rng.random() < 0.2:
            out += [b": after", eol()]
        out.append(eol())
        if chatty and not openai_safe and rng.random() < 0.15:
            out.append(eol())  # an extra blank line
    return b"".join(out)


@st.composite
def sse_bytes(
    draw: st.DrawFn, payloads: list[Payload], *, openai_safe: bool = False, done: bool | None = None
) -> bytes:
    """``encode_sse`` with the decisions seeded by hypothesis."""
    return encode_sse(payloads, random.Random(draw(seeds)), openai_safe=openai_safe, done=done)


@st.composite
def sse_streams(draw: st.DrawFn, *, openai_safe: bool = False) -> tuple[ChatStream, bytes]:
    """A well-formed stream and its bytes."""
    stream = draw(chat_streams(openai_safe=openai_safe))
    return stream, draw(sse_bytes(stream.chunks, openai_safe=openai_safe))


@st.composite
def pieces(draw: st.DrawFn, data: bytes, max_cuts: int = 24) -> list[bytes]:
    """``data`` cut at hypothesis-chosen points (empty pieces included)."""
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=max_cuts)))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:])]


def random_pieces(data: bytes, rng: random.Random) -> list[bytes]:
    """``data`` cut at random points (sometimes one byte at a time)."""
    if len(data) <= 4000 and rng.random() < 0.1:
        return one_byte_pieces(data)
    cuts = sorted(rng.randint(0, len(data)) for _ in range(rng.randint(0, 12)))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:])]


def one_byte_pieces(data: bytes) -> list[bytes]:
    """``data`` one byte at a time."""
    return [data[i : i + 1] for i in range(len(data))]


# ---------------------------------------------------------------------------
# Corruption

#: Values of the wrong type (or legal but odd) for chunk members.
BAD_VALUES: list[Any] = [
    "x",
    "",
    5,
    -1,
    0,
    1.5,
    True,
    False,
    [],
    [1],
    {},
    {"a": 1},
    None,
    [None],
    [{}],
    # typed content parts, odd inside (only the list and its items being objects is checked)
    [{"type": "text", "text": 5}],
    [{"type": "thinking", "thinking": [1, None, {"type": "text"}]}],
    [{"type": "thinking", "thinking": "x"}, "y"],
    [{"type": ["text"], "text": "z"}],
]

#: Member paths to overwrite (list positions are always 0; missing containers are created).
SHAPE_PATHS: list[tuple[Any, ...]] = [
    ("choices",),
    ("choices", 0),
    ("choices", 0, "index"),
    ("choices", 0, "delta"),
    ("choices", 0, "delta", "content"),
    ("choices", 0, "delta", "content", 0),
    ("choices", 0, "delta", "content", 0, "thinking"),
    ("choices", 0, "message"),
    ("choices", 0, "delta", "role"),
    ("choices", 0, "delta", "refusal"),
    ("choices", 0, "delta", "reasoning_content"),
    ("choices", 0, "logprobs"),
    ("choices", 0, "logprobs", "content"),
    ("choices", 0, "logprobs", "refusal"),
    ("choices", 0, "finish_reason"),
    ("choices", 0, "delta", "tool_calls"),
    ("choices", 0, "delta", "tool_calls", 0),
    ("choices", 0, "delta", "tool_calls", 0, "index"),
    ("choices", 0, "delta", "tool_calls", 0, "id"),
    ("choices", 0, "delta", "tool_calls", 0, "type"),
    ("choices", 0, "delta", "tool_calls", 0, "function"),
    ("choices", 0, "delta", "tool_calls", 0, "function", "name"),
    ("choices", 0, "delta", "tool_calls", 0, "function", "arguments"),
    ("choices", 0, "delta", "function_call"),
    ("choices", 0, "delta", "function_call", "name"),
    ("choices", 0, "delta", "function_call", "arguments"),
    ("usage",),
    ("id",),
    ("created",),
    ("model",),
    ("error",),
    ("x_groq",),
    ("x_groq", "usage"),
]

#: Data that is not a JSON object, or not valid JSON (some of it still starts with "{").
BAD_DATA: list[str | bytes] = [
    "[]",
    "[1,2]",
    '"text"',
    "3",
    "null",
    "true",
    " {",
    "{",
    "{]",
    '{"a":1,}',
    '{"a": NaN}',
    '{"a": Infinity}',
    '{"a": "\\ud800"}',
    '{"a": "\\udc00"}',
    '{"a":1}{"b":2}',
    '{"created": 1e400}',
    "{'a': 1}",
    '{"a": "\x01"}',
    b'{"a": "\xff"}',
    b'{"a": "\xc3"}',
    b'{"a": "\xed\xa0\x80"}',
    '\t\n{"choices": [], "id": "late"}',
    '{"choices": [{"index": 18446744073709551616}]}',
    '{"choices": [{"index": -1, "finish_reason": "stop"}]}',
    '{"error": {"message": "boom", "code": 500}}',
    '{"error": "overloaded"}',
    '{"error": {}}',
    '{"error": 0, "choices": []}',
    '{"message": "hi", "error": true}',
]


class Verbatim(bytes):
    """A payload ``encode_sse`` writes as it is (a whole event, framing included)."""


ERROR_EVENTS: list[bytes] = [
    b'event: error\ndata: {"error": {"message": "rate limited", "type": "requests"}}\n\n',
    b'event: error\ndata: {"message": "top level"}\n\n',
    b"event: error\ndata: plain text\n\n",
    b"event: error\ndata: \xff\xfe\n\n",
    b"event: error\ndata: [1]\n\n",
    b"event: error\n\n",
]


def set_path(node: Any, path: tuple[Any, ...], value: Any) -> None:
    """Set ``path`` in a chunk to ``value``, creating (or replacing) containers on the way."""
    for key, following in zip(path, path[1:]):
        want = list if isinstance(following, int) else dict
        if isinstance(node, list):
            if not node:
                node.append(want())
            elif not isinstance(node[0], want):
                node[0] = want()
            node = node[0]
        else:
            if not isinstance(node.get(key), want):
                node[key] = want()
            node = node[key]
    if isinstance(node, list):
        if node:
            node[0] = value
        else:
            node.append(value)
    else:
        node[path[-1]] = value


def damage_chunk(chunk: Chunk, path: tuple[Any, ...], value: Any) -> Chunk:
    """A copy of ``chunk`` with one member overwritten."""
    damaged = copy.deepcopy(chunk)
    set_path(damaged, path, copy.deepcopy(value))
    return damaged


#: Bytes worth inserting: line ends, invalid or partial UTF-8, BOM, SSE syntax, JSON syntax.
INTERESTING_BYTES: list[bytes] = [
    b"\n",
    b"\r",
    b"\r\n",
    b"\n\n",
    b"\r\r",
    b"\xff",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\xf0\x9f",
    b"\x00",
    b"\xef\xbb\xbf",
    b"data: [DONE]\n\n",
    b"data: {\n\n",
    b"event: error\n",
    b"event: x\n",
    b":",
    b"{",
    b"}",
    b'"',
    b"\\",
    b"data:",
    b"id: \x00\n",
    b"retry: 1\n",
    b"\\u0000",
    b"\\ud800",
    b"[",
    b"]",
    b",",
    b"null",
]

MUTATION_OPS = ["flip", "truncate", "insert", "insert", "delete", "delete_newline", "swap", "duplicate"]

#: A byte-level mutation: (operation, position, size or xor mask, bytes to insert).
Mutation = tuple[str, int, int, bytes]

mutations = st.tuples(
    st.sampled_from(MUTATION_OPS),
    st.integers(0, 2**20),
    st.integers(1, 255),
    st.one_of(st.sampled_from(INTERESTING_BYTES), st.binary(min_size=1, max_size=8)),
)


def random_mutation(rng: random.Random) -> Mutation:
    """A mutation drawn from ``rng`` (the seeded fuzz loop)."""
    insert = rng.choice(INTERESTING_BYTES) if rng.random() < 0.6 else rng.randbytes(rng.randint(1, 8))
    return (rng.choice(MUTATION_OPS), rng.randrange(2**20), rng.randint(1, 255), insert)


def apply_mutation(data: bytes, mutation: Mutation) -> bytes:
    """Apply one byte-level mutation (positions are taken modulo the length)."""
    op, pos, size, insert = mutation
    n = len(data)
    at = pos % (n + 1)
    if op == "flip":
        if not n:
            return data
        at = pos % n
        return data[:at] + bytes([data[at] ^ size]) + data[at + 1 :]
    if op == "truncate":
        return data[:at]
    if op == "insert":
        return data[:at] + insert + data[at:]
    if op == "delete":
        return data[:at] + data[at + size :]
    if op == "delete_newline":
        ends = [i for i, byte in enumerate(data) if byte in b"\r\n"]
        if not ends:
            return data
        i = ends[pos % len(ends)]
        return data[:i] + data[i + 1 :]
    if op == "swap":  # exchange two adjacent pieces
        end = min(n, at + size)
        mid = (at + end) // 2
        return data[:at] + data[mid:end] + data[at:mid] + data[end:]
    if op == "duplicate":
        return data[:at] + data[at : at + size] + data[at:]
    raise ValueError(op)


def damage(chunks: list[Chunk], rng: random.Random) -> list[Payload]:
    """The payloads of a stream with (usually) one chunk-level fault: a member of the wrong
    type (or legal but odd), data that is not a JSON object or not JSON, an in-band error."""
    payloads: list[Payload] = list(chunks)
    kind = rng.choice(["shape", "shape", "shape", "data", "data", "error_event", "none"])
    at = rng.randint(0, len(payloads))
    if kind == "shape" and payloads:
        at = min(at, len(payloads) - 1)
        chunk = payloads[at]
        assert isinstance(chunk, dict)
        payloads[at] = damage_chunk(chunk, rng.choice(SHAPE_PATHS), rng.choice(BAD_VALUES))
    elif kind == "data":
        payloads.insert(at, rng.choice(BAD_DATA))
    elif kind == "error_event":
        payloads.insert(at, Verbatim(rng.choice(ERROR_EVENTS)))
    return payloads


@st.composite
def corrupted_streams(draw: st.DrawFn) -> bytes:
    """A valid stream with a chunk-level fault and/or byte-level mutations."""
    stream = draw(chat_streams())
    rng = random.Random(draw(seeds))
    raw = encode_sse(damage(stream.chunks, rng), rng)
    for mutation in draw(st.lists(mutations, max_size=4)):
        raw = apply_mutation(raw, mutation)
    return raw


def random_corruption(rng: random.Random, streams: list[bytes]) -> bytes:
    """``corrupted_streams()`` without hypothesis: a generated stream or one of ``streams``
    (recorded ones), damaged, then 0 to 4 byte-level mutations."""
    recorded = bool(streams) and rng.random() < 0.5
    if recorded:
        raw = rng.choice(streams)
    else:
        raw = encode_sse(damage(random_stream(rng).chunks, rng), rng)
    for _ in range(rng.randint(1 if recorded else 0, 4)):
        raw = apply_mutation(raw, random_mutation(rng))
    return raw


# ---------------------------------------------------------------------------
# Running an implementation (``impl`` from conftest) and recording what happened


@dataclass
class Outcome:
    """What folding some input did: the result, or the error (class, message, partial and
    the error's own data), and the accumulator's counters afterwards."""

    result: dict[str, Any] | None
    error: tuple[Any, ...] | None
    counters: tuple[int, int, int, bool] | None = None


def describe_error(exc: StreamError) -> tuple[Any, ...]:
    """An error as comparable data: class, message, ``.partial`` and the class's own member."""
    own: Any = None
    if isinstance(exc, StreamAPIError):
        own = (exc.error, exc.message)
    elif isinstance(exc, EventTooLargeError):
        own = [(e.event, e.data, e.id, e.retry) for e in exc.events]
    return (type(exc), str(exc), exc.partial, own)


def fold_outcome(impl: Any, source: Iterable[bytes], **options: Any) -> Outcome:
    """Feed the pieces to a ``ChatAccumulator`` and ask for the result.  Only a
    ``StreamError`` is caught: any other exception fails the calling test."""
    acc = impl.ChatAccumulator(**options)
    result = error = None
    try:
        for piece in source:
            acc.feed(piece)
        result = acc.result()
    except StreamError as exc:
        error = describe_error(exc)
    return Outcome(result, error, (acc.chunks, acc.events, acc.ignored, acc.done))


def fold_call_outcome(impl: Any, source: Any, **options: Any) -> Outcome:
    """The same through ``impl.fold`` (bytes, or an iterable of pieces)."""
    try:
        return Outcome(impl.fold(source, **options), None)
    except StreamError as exc:
        return Outcome(None, describe_error(exc))


def add_chunk_outcome(impl: Any, chunks: Iterable[Any]) -> Outcome:
    """``add_chunk`` each chunk; the snapshot after the last one (not ``result()``: there is
    no ``[DONE]`` on this path), or the error."""
    acc = impl.ChatAccumulator()
    try:
        for chunk in chunks:
            acc.add_chunk(chunk)
    except StreamError as exc:
        return Outcome(None, describe_error(exc), (acc.chunks, acc.events, acc.ignored, acc.done))
    return Outcome(acc.snapshot(), None, (acc.chunks, acc.events, acc.ignored, acc.done))


def decode_outcome(impl: Any, source: Iterable[bytes], **options: Any) -> tuple[Any, ...]:
    """Feed the pieces to an ``SSEDecoder``: every event (those an ``EventTooLargeError``
    carries included), the error, then ``close()``, ``last_event_id`` and ``retry``."""
    decoder = impl.SSEDecoder(**options)
    events: list[Any] = []
    error = None
    try:
        for piece in source:
            events += decoder.feed(piece)
    except StreamError as exc:
        assert isinstance(exc, EventTooLargeError), exc
        events += exc.events
        error = (type(exc), str(exc), exc.partial)
    last_event_id, retry = decoder.last_event_id, decoder.retry
    events += decoder.close()
    return ([(e.event, e.data, e.id, e.retry) for e in events], error, last_event_id, retry)


def key_orders(value: Any) -> Any:
    """The key order of every dict inside ``value`` (for checking the contract's key order)."""
    if isinstance(value, dict):
        return [(key, key_orders(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [key_orders(item) for item in value]
    return None


class _Key(str):
    """A dict key on ``canonical``'s stack."""


def canonical(value: Any) -> str:
    """A text form of nested JSON-like data (dicts keep their key order), built without
    recursion, so outcomes holding structures 1000 levels deep can be compared without
    hitting the interpreter's recursion limit in the test itself."""
    out: list[str] = []
    stack: list[Any] = [value]
    close = object()  # marks where a container ends
    while stack:
        item = stack.pop()
        if item is close:
            out.append(")")
        elif type(item) is _Key:
            out.append(repr(str(item)) + ":")
        elif isinstance(item, Outcome):
            stack.append((item.result, item.error, item.counters))
        elif isinstance(item, dict):
            out.append("{(")
            stack.append(close)
            for key, member in reversed(list(item.items())):
                stack.append(member)
                stack.append(_Key(key))
        elif isinstance(item, (list, tuple)):
            out.append("[(" if isinstance(item, list) else "t(")
            stack.append(close)
            stack.extend(reversed(item))
        else:
            out.append(repr(item) + ",")
    return "".join(out)
