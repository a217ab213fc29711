"""The decoder benchmark's contenders: each takes a list of reads and returns a ``Summary``.

A contender is built by a factory that returns ``(run, "")``, or ``(None, why)`` when what
it needs is not installed, so the harness can skip it with a note.  ``kind`` says what is
checked: ``fold`` contenders must give the whole expected summary, ``decode`` contenders
(openai's ``Stream`` iterated alone) the text and the chunk count, the floor the chunk count.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from streamfold.client._http import http_library

if __package__:
    from .corpora import Corpus, Summary
else:
    from corpora import Corpus, Summary  # type: ignore[no-redef]

Run = Callable[[list[bytes]], tuple[Summary | None, int]]  # reads -> (summary, chunks seen)
URL = "http://127.0.0.1:9/v1/chat/completions"
SSE_HEADERS = {"content-type": "text/event-stream; charset=utf-8"}


@dataclass(frozen=True)
class Contender:
    """One way of turning the stream's bytes into a result."""

    name: str
    kind: str  # "floor", "fold" or "decode"
    make: Callable[[Corpus], tuple[Run | None, str]]
    slow: bool = False  # hundreds of microseconds per chunk: fewer repetitions


def _module(name: str) -> tuple[Any, str]:
    try:
        return importlib.import_module(name), ""
    except ImportError:
        if name.startswith("streamfold._") and name.endswith("_c"):
            return None, "the Cython extension is not built"
        return None, f"{name.split('.')[0]} is not installed"


# -- reducing every output to a Summary ------------------------------------------------------


def from_completion(completion: dict[str, Any]) -> Summary:
    """A streamfold completion dict."""
    choices = completion["choices"]
    return Summary(
        content=[c["message"]["content"] for c in choices],
        reasoning=[c["message"].get("reasoning_content") for c in choices],
        tool_calls=[
            [(t["id"], t["function"]["name"], t["function"]["arguments"]) for t in c["message"].get("tool_calls") or []]
            for c in choices
        ],
        finish=[c["finish_reason"] for c in choices],
        logprobs=[len((c["logprobs"] or {}).get("content") or []) for c in choices],
        usage=completion.get("usage"),
    )


def from_openai(completion: Any) -> Summary:
    """openai-python's ``ParsedChatCompletion``."""
    choices = completion.choices
    return Summary(
        content=[c.message.content for c in choices],
        reasoning=[(c.message.model_extra or {}).get("reasoning_content") for c in choices],
        tool_calls=[
            [(t.id, t.function.name, t.function.arguments) for t in c.message.tool_calls or []] for c in choices
        ],
        finish=[c.finish_reason for c in choices],
        logprobs=[len(c.logprobs.content or []) if c.logprobs else 0 for c in choices],
        usage=completion.usage.model_dump(exclude_unset=True) if completion.usage else None,
    )


def plain_fold(chunks: Iterable[dict[str, Any]]) -> tuple[Summary, int]:
    """The fold a user writes by hand over decoded chunks: text pieces in lists (joined at the
    end), tool calls by index, logprobs counted, the last usage kept."""
    content: dict[int, list[str]] = {}
    reasoning: dict[int, list[str]] = {}
    calls: dict[int, dict[int, list[Any]]] = {}
    finish: dict[int, str | None] = {}
    logprobs: dict[int, int] = {}
    usage = None
    count = 0
    for chunk in chunks:
        count += 1
        if chunk.get("usage"):
            usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            i = choice.get("index", 0)
            finish.setdefault(i, None)
            delta = choice.get("delta") or {}
            if delta.get("content") is not None:
                content.setdefault(i, []).append(delta["content"])
            if delta.get("reasoning_content") is not None:
                reasoning.setdefault(i, []).append(delta["reasoning_content"])
            for call in delta.get("tool_calls") or ():
                slot = calls.setdefault(i, {}).setdefault(call.get("index", 0), ["", "", []])
                function = call.get("function") or {}
                slot[0] = slot[0] or call.get("id") or ""
                slot[1] = slot[1] or function.get("name") or ""
                slot[2].append(function.get("arguments") or "")
            if choice.get("logprobs"):
                logprobs[i] = logprobs.get(i, 0) + len(choice["logprobs"].get("content") or [])
            if choice.get("finish_reason"):
                finish[i] = choice["finish_reason"]
    indices = sorted(finish)
    summary = Summary(
        content=["".join(content[i]) if i in content else None for i in indices],
        reasoning=["".join(reasoning[i]) if i in reasoning else None for i in indices],
        tool_calls=[[(s[0], s[1], "".join(s[2])) for _, s in sorted(calls.get(i, {}).items())] for i in indices],
        finish=[finish[i] for i in indices],
        logprobs=[logprobs.get(i, 0) for i in indices],
        usage=usage,
    )
    return summary, count


def problems(kind: str, got: Summary | None, chunks: int, data: Corpus) -> str:
    """What differs from the corpus's expected summary (empty when the output is right)."""
    if chunks != data.chunks:
        return f"{chunks} chunks, expected {data.chunks}"
    if kind == "floor":
        return ""
    assert got is not None
    expected = data.expected
    texts = [text or "" for text in got.content]
    if texts != [text or "" for text in expected.content]:
        return "content differs"
    if kind == "decode":
        return ""
    for name in ("reasoning", "tool_calls", "finish", "logprobs"):
        if getattr(got, name) != getattr(expected, name):
            return f"{name} differs"
    got_total = (got.usage or {}).get("total_tokens")
    if got_total != (expected.usage or {}).get("total_tokens"):
        return "usage differs"
    return ""


# -- the contenders ---------------------------------------------------------------------------


def _floor(data: Corpus) -> tuple[Run | None, str]:
    payloads = data.payloads()  # extracted once, outside the timing
    loads = orjson.loads

    def run(reads: list[bytes]) -> tuple[None, int]:
        for payload in payloads:
            loads(payload)
        return None, len(payloads)

    return run, ""


def _kept_floor(data: Corpus) -> tuple[Run | None, str]:
    """The floor, keeping what any fold must keep: each choice's delta and logprobs stay alive
    until the run ends (and are freed inside its timing, as a fold's result is)."""
    payloads = data.payloads()
    loads = orjson.loads

    def run(reads: list[bytes]) -> tuple[None, int]:
        kept: list[Any] = []
        for payload in payloads:
            for choice in loads(payload).get("choices") or ():
                kept.append(choice.get("delta"))
                kept.append(choice.get("logprobs"))
        return None, len(payloads)

    return run, ""


def _streamfold(module_name: str) -> Callable[[Corpus], tuple[Run | None, str]]:
    def make(data: Corpus) -> tuple[Run | None, str]:
        module, why = _module(module_name)
        if module is None:
            return None, why
        accumulator_class = module.ChatAccumulator

        def run(reads: list[bytes]) -> tuple[Summary, int]:
            acc = accumulator_class()
            for read in reads:
                acc.feed(read)
            return from_completion(acc.result()), acc.chunks

        return run, ""

    return make


def _chunks_of(events: Iterable[Any]) -> Iterable[dict[str, Any]]:
    loads = orjson.loads
    for event in events:
        if event.data == "[DONE]":
            return
        yield loads(event.data)


def _httpx_sse(data: Corpus) -> tuple[Run | None, str]:
    """httpx-sse's ``EventSource.iter_sse`` over an ``httpx.Response`` streaming the reads
    (its text decoding, line splitting and event parsing), orjson, the plain fold."""
    httpx_sse, why = _module("httpx_sse")
    if httpx_sse is None:
        return None, why
    import httpx

    def run(reads: list[bytes]) -> tuple[Summary, int]:
        response = httpx.Response(200, headers=SSE_HEADERS, content=iter(reads), request=httpx.Request("POST", URL))
        return plain_fold(_chunks_of(httpx_sse.EventSource(response).iter_sse()))

    return run, ""


def _httpx2_event_source(data: Corpus) -> tuple[Run | None, str]:
    """httpx2's own ``EventSource`` (no event size limit: the large corpus passes its 1 MiB
    default), orjson, the plain fold."""
    httpx2, why = _module("httpx2")
    if httpx2 is None:
        return None, why

    def run(reads: list[bytes]) -> tuple[Summary, int]:
        response = httpx2.Response(200, headers=SSE_HEADERS, content=iter(reads), request=httpx2.Request("POST", URL))
        return plain_fold(_chunks_of(httpx2.EventSource(response, max_event_size=None)))

    return run, ""


def _openai_stream(with_state: bool) -> Callable[[Corpus], tuple[Run | None, str]]:
    """openai-python's ``Stream`` over a response streaming the reads, as its client builds
    it for ``create(stream=True)``: SSE decoding, ``json.loads``, a ``ChatCompletionChunk``
    per event; with ``ChatCompletionStreamState`` folding them (what ``.stream()`` does)."""

    def make(data: Corpus) -> tuple[Run | None, str]:
        openai, why = _module("openai")
        if openai is None:
            return None, why
        from openai import Stream
        from openai.lib.streaming.chat import ChatCompletionStreamState
        from openai.types.chat import ChatCompletionChunk

        client = openai.OpenAI(api_key="benchmark", base_url="http://127.0.0.1:9/v1", max_retries=0)
        # the HTTP package this openai version is built on (httpx2 for current ones, httpx before)
        http = http_library(client._client, asynchronous=False)

        def run(reads: list[bytes]) -> tuple[Summary, int]:
            response = http.Response(200, headers=SSE_HEADERS, content=iter(reads), request=http.Request("POST", URL))
            stream = Stream(cast_to=ChatCompletionChunk, response=response, client=client)
            if with_state:
                state = ChatCompletionStreamState()
                count = 0
                for chunk in stream:
                    state.handle_chunk(chunk)
                    count += 1
                return from_openai(state.get_final_completion()), count
            texts: dict[int, list[str]] = {}
            count = 0
            for chunk in stream:
                count += 1
                for choice in chunk.choices:
                    pieces = texts.setdefault(choice.index, [])
                    if choice.delta.content is not None:
                        pieces.append(choice.delta.content)
            content: list[str | None] = ["".join(texts[i]) for i in sorted(texts)]
            return Summary(content, [], [], [], [], None), count

        return run, ""

    return make


CONTENDERS = [
    Contender("orjson.loads floor", "floor", _floor),
    Contender("orjson.loads, keeping deltas and logprobs", "floor", _kept_floor),
    Contender("streamfold (Cython)", "fold", _streamfold("streamfold._fold_c")),
    Contender("streamfold (pure Python)", "fold", _streamfold("streamfold._fold_py")),
    Contender("httpx-sse + orjson + plain fold", "fold", _httpx_sse),
    Contender("httpx2 EventSource + orjson + plain fold", "fold", _httpx2_event_source),
    Contender("openai Stream (chunks only)", "decode", _openai_stream(with_state=False), slow=True),
    Contender("openai Stream + ChatCompletionStreamState", "fold", _openai_stream(with_state=True), slow=True),
]
FLOOR = CONTENDERS[0].name
OPENAI = CONTENDERS[-1].name
