"""Streams written the way each server of docs/providers.md sends them, folded to exact results.

Every expected completion below is written by hand from the rules of docs/contract.md.  Streams
that complete are folded whole, one byte at a time and in 7-byte pieces: the three
results must be equal.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from streams import chunk, pieces, sse

from streamfold import IncompleteStreamError, StreamAPIError


def fold_split(impl: SimpleNamespace, data: bytes) -> dict[str, Any]:
    """Fold ``data`` whole, byte by byte and in 7-byte pieces; all must agree."""
    whole = impl.fold(data)
    assert impl.fold(pieces(data, 1)) == whole
    assert impl.fold(pieces(data, 7)) == whole
    return whole


def feed_all(impl: SimpleNamespace, data: bytes) -> Any:
    """A ChatAccumulator that was fed ``data`` one byte at a time."""
    acc = impl.ChatAccumulator()
    for piece in pieces(data, 1):
        acc.feed(piece)
    return acc


# ---------------------------------------------------------------------------
# OpenAI


OPENAI_USAGE = {
    "prompt_tokens": 8,
    "completion_tokens": 3,
    "total_tokens": 11,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
}


def openai_chunk(content: str | None = None, **kw: Any) -> dict[str, Any]:
    """A chunk as OpenAI sends it with include_usage: usage null, obfuscation padding."""
    kw.setdefault("usage", None)
    return chunk(content, service_tier="default", system_fingerprint="fp_1", obfuscation="x9Qz", **kw)


def test_openai_include_usage(impl: SimpleNamespace) -> None:
    data = sse(
        openai_chunk("", role="assistant", delta={"refusal": None}),
        openai_chunk("Hello"),
        openai_chunk(" there"),
        openai_chunk(delta={}, finish="stop"),
        openai_chunk(choices=[], usage=OPENAI_USAGE),
    )
    assert fold_split(impl, data) == {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-test",
        "service_tier": "default",
        "system_fingerprint": "fp_1",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello there", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": OPENAI_USAGE,
    }


def test_openai_in_band_error_after_200(impl: SimpleNamespace) -> None:
    error = {
        "message": "The server had an error while processing your request.",
        "type": "server_error",
        "param": None,
        "code": None,
    }
    data = sse(openai_chunk("Hel", role="assistant"), {"error": error}, done=False)
    with pytest.raises(StreamAPIError) as info:
        impl.fold(pieces(data, 5))
    exc = info.value
    assert exc.error == error
    assert str(exc) == "event 2: server error: The server had an error while processing your request."
    assert exc.partial == {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-test",
        "service_tier": "default",
        "system_fingerprint": "fp_1",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hel", "refusal": None},
                "logprobs": None,
                "finish_reason": None,
            }
        ],
    }


# ---------------------------------------------------------------------------
# Azure OpenAI

SAFE = {"filtered": False, "severity": "safe"}


def test_azure_filter_chunks(impl: SimpleNamespace) -> None:
    prompt_filter = [
        {
            "prompt_index": 0,
            "content_filter_results": {"hate": SAFE, "jailbreak": {"filtered": False, "detected": False}},
        }
    ]
    first = {"choices": [], "created": 0, "id": "", "model": "", "object": "", "prompt_filter_results": prompt_filter}
    top = {
        "created": 1727000000,
        "id": "chatcmpl-az",
        "model": "gpt-4o-2024-08-06",
        "object": "chat.completion.chunk",
        "system_fingerprint": "fp_az",
    }

    def az(choice: dict[str, Any]) -> dict[str, Any]:
        return {"choices": [choice], **top}

    async_filter = {
        "choices": [
            {
                "content_filter_offsets": {"check_offset": 0, "start_offset": 0, "end_offset": 6},
                "content_filter_results": {"hate": SAFE, "violence": {"filtered": False, "severity": "low"}},
                "finish_reason": None,
                "index": 0,
            }
        ],
        "created": 0,
        "id": "",
        "model": "",
        "object": "",
    }
    data = sse(
        first,
        az(
            {
                "content_filter_results": {},
                "delta": {"content": "", "refusal": None, "role": "assistant"},
                "finish_reason": None,
                "index": 0,
                "logprobs": None,
            }
        ),
        az(
            {
                "content_filter_results": {"hate": SAFE},
                "delta": {"content": "Hi"},
                "finish_reason": None,
                "index": 0,
                "logprobs": None,
            }
        ),
        az(
            {
                "content_filter_results": {"hate": SAFE},
                "delta": {"content": " you"},
                "finish_reason": None,
                "index": 0,
                "logprobs": None,
            }
        ),
        az({"content_filter_results": {}, "delta": {}, "finish_reason": "stop", "index": 0, "logprobs": None}),
        async_filter,
    )
    result = fold_split(impl, data)
    assert result == {
        "id": "chatcmpl-az",
        "object": "chat.completion",
        "created": 1727000000,
        "model": "gpt-4o-2024-08-06",
        "prompt_filter_results": prompt_filter,
        "system_fingerprint": "fp_az",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hi you", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
                "content_filter_results": {"hate": SAFE, "violence": {"filtered": False, "severity": "low"}},
                "content_filter_offsets": {"check_offset": 0, "start_offset": 0, "end_offset": 6},
            }
        ],
    }
    assert list(result) == [
        "id",
        "object",
        "created",
        "model",
        "prompt_filter_results",
        "system_fingerprint",
        "choices",
    ]


def test_azure_filter_results_last_non_null(impl: SimpleNamespace) -> None:
    """A later chunk without content_filter_results (or with null) keeps the last value."""
    data = sse(
        chunk("a", role="assistant"),
        {**chunk("b"), "choices": [{"index": 0, "delta": {"content": "b"}, "content_filter_results": {"hate": SAFE}}]},
        {**chunk("c"), "choices": [{"index": 0, "delta": {"content": "c"}, "content_filter_results": None}]},
        chunk(finish="stop"),
    )
    choice = fold_split(impl, data)["choices"][0]
    assert choice["content_filter_results"] == {"hate": SAFE}
    assert choice["message"]["content"] == "abc"


# ---------------------------------------------------------------------------
# Groq

GROQ_USAGE = {
    "queue_time": 0.012,
    "prompt_tokens": 10,
    "prompt_time": 0.002,
    "completion_tokens": 2,
    "completion_time": 0.004,
    "total_tokens": 12,
    "total_time": 0.006,
}


def groq_chunk(content: str | None = None, *, usage: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    x_groq: dict[str, Any] = {"id": "req_01"}
    if usage is not None:
        x_groq["usage"] = usage
    return chunk(content, model="llama-3.3-70b-versatile", system_fingerprint="fp_g", x_groq=x_groq, **kw)


def test_groq_text_with_repeated_role_and_empty_tool_calls(impl: SimpleNamespace) -> None:
    data = sse(
        groq_chunk("", role="assistant"),
        groq_chunk("Hi", role="assistant", tool_calls=[]),
        groq_chunk(" there", role="assistant", tool_calls=[]),
        groq_chunk(delta={}, finish="stop", usage=GROQ_USAGE),
    )
    assert fold_split(impl, data) == {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "llama-3.3-70b-versatile",
        "system_fingerprint": "fp_g",
        "x_groq": {"id": "req_01"},
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hi there", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": GROQ_USAGE,
    }


def test_groq_parallel_calls_each_whole_in_own_chunk(impl: SimpleNamespace) -> None:
    call_a = {
        "id": "call_a",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
        "index": 0,
    }
    call_b = {
        "id": "call_b",
        "type": "function",
        "function": {"name": "get_time", "arguments": '{"tz":"CET"}'},
        "index": 1,
    }
    data = sse(
        groq_chunk(role="assistant", delta={"content": None}),
        groq_chunk(role="assistant", tool_calls=[call_a]),
        groq_chunk(role="assistant", tool_calls=[call_b]),
        groq_chunk(role="assistant", tool_calls=[]),
        groq_chunk(delta={}, finish="tool_calls", usage=GROQ_USAGE),
    )
    result = fold_split(impl, data)
    assert result["choices"] == [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "refusal": None,
                "tool_calls": [
                    {
                        "id": "call_a",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    },
                    {"id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": '{"tz":"CET"}'}},
                ],
            },
            "logprobs": None,
            "finish_reason": "tool_calls",
        }
    ]
    assert result["usage"] == GROQ_USAGE


# ---------------------------------------------------------------------------
# xAI

XAI_USAGE = {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11, "num_sources_used": 0}


@pytest.mark.parametrize("last_usage", ["null", "absent"])
@pytest.mark.parametrize("done", [True, False], ids=["done", "no-done"])
def test_xai_usage_before_last_chunk(impl: SimpleNamespace, last_usage: str, done: bool) -> None:
    last = chunk(choices=[], model="grok-3", system_fingerprint="fp_x")
    if last_usage == "null":
        last["usage"] = None
    data = sse(
        chunk("Hi", role="assistant", model="grok-3", system_fingerprint="fp_x"),
        chunk("!", model="grok-3", system_fingerprint="fp_x"),
        chunk(delta={}, finish="stop", model="grok-3", system_fingerprint="fp_x", usage=XAI_USAGE),
        last,
        done=done,
    )
    assert fold_split(impl, data) == {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "grok-3",
        "system_fingerprint": "fp_x",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hi!", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": XAI_USAGE,
    }


# ---------------------------------------------------------------------------
# DeepSeek


def test_deepseek_reasoning_content(impl: SimpleNamespace) -> None:
    usage = {
        "prompt_tokens": 5,
        "completion_tokens": 9,
        "total_tokens": 14,
        "prompt_cache_hit_tokens": 0,
        "prompt_cache_miss_tokens": 5,
        "completion_tokens_details": {"reasoning_tokens": 4},
    }

    def ds(content: str | None, reasoning: str | None, **kw: Any) -> dict[str, Any]:
        return chunk(
            role="assistant",
            delta={"content": content, "reasoning_content": reasoning},
            model="deepseek-reasoner",
            system_fingerprint="fp_ds",
            **kw,
        )

    data = sse(
        ds(None, ""),
        ds(None, "Let me"),
        ds(None, " think."),
        ds("Answer", None),
        ds(": 42", None),
        ds("", None, finish="stop", usage=usage),
    )
    result = fold_split(impl, data)
    assert result == {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "deepseek-reasoner",
        "system_fingerprint": "fp_ds",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Answer: 42",
                    "refusal": None,
                    "reasoning_content": "Let me think.",
                },
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": usage,
    }
    assert list(result["choices"][0]["message"]) == ["role", "content", "refusal", "reasoning_content"]


# ---------------------------------------------------------------------------
# OpenRouter


def or_chunk(content: str | None, reasoning: str | None = None, **kw: Any) -> dict[str, Any]:
    finish = kw.pop("finish", None)
    choice = {
        "index": 0,
        "delta": {"role": "assistant", "content": content, "reasoning": reasoning},
        "finish_reason": finish,
        "native_finish_reason": finish,
        "logprobs": None,
    }
    return chunk(id="gen-1", provider="OpenAI", model="openai/o3-mini", choices=[choice], **kw)


def test_openrouter_reasoning_and_processing_comments(impl: SimpleNamespace) -> None:
    usage = {"prompt_tokens": 4, "completion_tokens": 6, "total_tokens": 10, "cost": 0.00012}
    processing = b": OPENROUTER PROCESSING\n\n"
    data = sse(
        processing,
        processing,
        or_chunk("", "Hmm"),
        processing,
        or_chunk("", ", ok"),
        or_chunk("Yes", None),
        or_chunk("", finish="stop"),
        chunk(id="gen-1", provider="OpenAI", model="openai/o3-mini", choices=[], usage=usage),
    )
    acc = feed_all(impl, data)
    assert acc.events == 6  # the comments dispatch nothing
    assert acc.ignored == 0  # comments are not events; [DONE] is not "ignored"
    assert (
        fold_split(impl, data)
        == acc.result()
        == {
            "id": "gen-1",
            "object": "chat.completion",
            "created": 1700000000,
            "model": "openai/o3-mini",
            "provider": "OpenAI",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Yes", "refusal": None, "reasoning": "Hmm, ok"},
                    "logprobs": None,
                    "finish_reason": "stop",
                    "native_finish_reason": "stop",
                }
            ],
            "usage": usage,
        }
    )


def test_openrouter_mid_stream_error_chunk(impl: SimpleNamespace) -> None:
    error = {"code": "server_error", "message": "Provider disconnected"}
    bad = or_chunk("", finish="error", error=error)
    data = sse(b": OPENROUTER PROCESSING\n\n", or_chunk("Par", "Hmm"), b": OPENROUTER PROCESSING\n\n", bad, done=False)
    with pytest.raises(StreamAPIError) as info:
        impl.fold(pieces(data, 3))
    exc = info.value
    assert exc.error == error
    assert str(exc) == "event 2: server error: Provider disconnected"
    assert exc.message == "Provider disconnected"
    assert exc.partial == {
        "id": "gen-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "openai/o3-mini",
        "provider": "OpenAI",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Par", "refusal": None, "reasoning": "Hmm"},
                "logprobs": None,
                "finish_reason": None,
            }
        ],
    }


# ---------------------------------------------------------------------------
# Ollama /v1

PARIS = '{"city":"Paris"}'
ROME = '{"city":"Rome"}'


def ollama_chunk(content: str, **kw: Any) -> dict[str, Any]:
    return chunk(content, role="assistant", id="chatcmpl-7", model="llama3.2", system_fingerprint="fp_ollama", **kw)


def test_ollama_role_every_chunk(impl: SimpleNamespace) -> None:
    data = sse(ollama_chunk("Hel"), ollama_chunk("lo"), ollama_chunk("", finish="stop"))
    assert fold_split(impl, data) == {
        "id": "chatcmpl-7",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "llama3.2",
        "system_fingerprint": "fp_ollama",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
    }


@pytest.mark.parametrize("version", ["old-no-index", "new-index-0"])
def test_ollama_parallel_calls_whole_in_one_chunk(impl: SimpleNamespace, version: str) -> None:
    calls = [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": PARIS}},
        {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": ROME}},
    ]
    if version == "new-index-0":
        calls = [{"index": 0, **call} for call in calls]
    data = sse(ollama_chunk("", tool_calls=calls), ollama_chunk("", finish="tool_calls"))
    assert fold_split(impl, data)["choices"] == [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "",
                "refusal": None,
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": PARIS}},
                    {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": ROME}},
                ],
            },
            "logprobs": None,
            "finish_reason": "tool_calls",
        }
    ]


# ---------------------------------------------------------------------------
# vLLM / SGLang


def tool_message(*calls: dict[str, Any], content: str | None = None) -> dict[str, Any]:
    """The expected message of a tool-calling choice."""
    return {"role": "assistant", "content": content, "refusal": None, "tool_calls": list(calls)}


def call(id: str, name: str, arguments: str) -> dict[str, Any]:
    """An expected folded tool call."""
    return {"id": id, "type": "function", "function": {"name": name, "arguments": arguments}}


def test_vllm_same_id_and_name_every_chunk(impl: SimpleNamespace) -> None:
    def frag(arguments: str | None) -> list[dict[str, Any]]:
        function: dict[str, Any] = {"name": "get_weather"}
        if arguments is not None:
            function["arguments"] = arguments
        return [{"index": 0, "id": "chatcmpl-tool-1", "type": "function", "function": function}]

    data = sse(
        chunk("", role="assistant"),
        chunk(tool_calls=frag(None)),
        chunk(tool_calls=frag('{"city": ')),
        chunk(tool_calls=frag('"Paris"}')),
        chunk("", finish="tool_calls"),
    )
    assert fold_split(impl, data)["choices"][0]["message"] == tool_message(
        call("chatcmpl-tool-1", "get_weather", '{"city": "Paris"}'), content=""
    )


def test_vllm_continuation_with_empty_id(impl: SimpleNamespace) -> None:
    data = sse(
        chunk(
            role="assistant",
            tool_calls=[{"index": 0, "id": "call_x", "type": "function", "function": {"name": "f", "arguments": ""}}],
        ),
        chunk(tool_calls=[{"index": 0, "id": "", "type": "", "function": {"name": "", "arguments": '{"a":'}}]),
        chunk(tool_calls=[{"index": 0, "id": "", "function": {"arguments": "1}"}}]),
        chunk(finish="tool_calls"),
    )
    assert fold_split(impl, data)["choices"][0]["message"] == tool_message(call("call_x", "f", '{"a":1}'))


def test_sglang_two_calls_index_0_ids_0_and_1(impl: SimpleNamespace) -> None:
    data = sse(
        chunk(
            role="assistant",
            tool_calls=[
                {"index": 0, "id": "0", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
            ],
        ),
        chunk(tool_calls=[{"index": 0, "function": {"arguments": '{"city": '}}]),
        chunk(tool_calls=[{"index": 0, "function": {"arguments": '"Paris"}'}}]),
        chunk(
            tool_calls=[{"index": 0, "id": "1", "type": "function", "function": {"name": "get_time", "arguments": ""}}]
        ),
        chunk(tool_calls=[{"index": 0, "function": {"arguments": '{"tz": "CET"}'}}]),
        chunk(finish="tool_calls"),
    )
    assert fold_split(impl, data)["choices"][0]["message"] == tool_message(
        call("0", "get_weather", '{"city": "Paris"}'), call("1", "get_time", '{"tz": "CET"}')
    )


# ---------------------------------------------------------------------------
# Fireworks, MiniMax, Qwen


@pytest.mark.parametrize("model", ["accounts/fireworks/models/qwen3", "MiniMax-M1", "qwen-plus"])
def test_full_id_and_name_resent(impl: SimpleNamespace, model: str) -> None:
    def frag(index: int, arguments: str) -> dict[str, Any]:
        names = {0: ("call_s", "search"), 1: ("call_f", "fetch")}
        id_, name = names[index]
        return {"index": index, "id": id_, "type": "function", "function": {"name": name, "arguments": arguments}}

    data = sse(
        chunk(role="assistant", model=model, tool_calls=[frag(0, '{"q"')]),
        chunk(model=model, tool_calls=[frag(0, ': "x"}')]),
        chunk(model=model, tool_calls=[frag(1, '{"url"')]),
        chunk(model=model, tool_calls=[frag(1, ': "u"}')]),
        chunk(model=model, finish="tool_calls"),
    )
    result = fold_split(impl, data)
    assert result["model"] == model
    assert result["choices"][0]["message"] == tool_message(
        call("call_s", "search", '{"q": "x"}'), call("call_f", "fetch", '{"url": "u"}')
    )


# ---------------------------------------------------------------------------
# Mistral


def test_mistral_first_chunk_without_object_and_created(impl: SimpleNamespace) -> None:
    usage = {"prompt_tokens": 70, "total_tokens": 94, "completion_tokens": 24}
    first = {
        "id": "cmpl-m",
        "model": "mistral-large-latest",
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
    }
    second = {
        "id": "cmpl-m",
        "object": "chat.completion.chunk",
        "created": 1702256327,
        "model": "mistral-large-latest",
        "choices": [
            {
                "index": 0,
                "delta": {
                    "tool_calls": [
                        {
                            "id": "D681PevKs",
                            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                            "index": 0,
                        }
                    ]
                },
                "finish_reason": "tool_calls",
                "logprobs": None,
            }
        ],
        "usage": usage,
    }
    assert fold_split(impl, sse(first, second)) == {
        "id": "cmpl-m",
        "object": "chat.completion",
        "created": 1702256327,
        "model": "mistral-large-latest",
        "choices": [
            {
                "index": 0,
                "message": tool_message(call("D681PevKs", "get_weather", '{"city": "Paris"}'), content=""),
                "logprobs": None,
                "finish_reason": "tool_calls",
            }
        ],
        "usage": usage,
    }


# ---------------------------------------------------------------------------
# Gemini (OpenAI-compatible), Vertex


@pytest.mark.parametrize("shape", ["no-index-one-chunk", "no-index-two-chunks", "index-0-for-all"])
def test_gemini_tool_calls(impl: SimpleNamespace, shape: str) -> None:
    usage = {"completion_tokens": 20, "prompt_tokens": 30, "total_tokens": 50}
    calls = [
        {"function": {"arguments": PARIS, "name": "get_weather"}, "id": "function-call-1", "type": "function"},
        {"function": {"arguments": ROME, "name": "get_weather"}, "id": "function-call-2", "type": "function"},
    ]
    if shape == "index-0-for-all":
        calls = [{**c, "index": 0} for c in calls]

    def gm(tool_calls: list[dict[str, Any]], finish: str | None, **kw: Any) -> dict[str, Any]:
        choice = {"delta": {"role": "assistant", "tool_calls": tool_calls}, "finish_reason": finish, "index": 0}
        return {
            "choices": [choice],
            "created": 1740000000,
            "id": "gm-1",
            "model": "gemini-2.0-flash",
            "object": "chat.completion.chunk",
            **kw,
        }

    if shape == "no-index-two-chunks":
        data = sse(gm(calls[:1], None), gm(calls[1:], "stop", usage=usage))
    else:
        data = sse(gm(calls, "stop", usage=usage))
    assert fold_split(impl, data) == {
        "id": "gm-1",
        "object": "chat.completion",
        "created": 1740000000,
        "model": "gemini-2.0-flash",
        "choices": [
            {
                "index": 0,
                "message": tool_message(
                    call("function-call-1", "get_weather", PARIS), call("function-call-2", "get_weather", ROME)
                ),
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": usage,
    }


def test_vertex_keepalive_sent_as_data(impl: SimpleNamespace) -> None:
    keepalive = b"data: : keepalive\n\n"
    data = sse(keepalive, chunk("Hi", role="assistant"), keepalive, keepalive, chunk("!", finish="stop"), keepalive)
    acc = feed_all(impl, data)
    assert acc.ignored == 4
    assert acc.events == 7
    assert acc.chunks == 2
    assert acc.result()["choices"][0]["message"] == {"role": "assistant", "content": "Hi!", "refusal": None}
    assert fold_split(impl, data) == acc.result()


# ---------------------------------------------------------------------------
# TGI, llama.cpp


def test_tgi_arguments_as_json_object(impl: SimpleNamespace) -> None:
    fragment = {
        "index": 0,
        "id": "0",
        "type": "function",
        "function": {"description": None, "name": "get_weather", "arguments": {"location": "Paris", "unit": "celsius"}},
    }
    data = sse(
        chunk(role="assistant", tool_calls=[fragment], id="", model="tgi", system_fingerprint="2.1.1-native"),
        chunk(finish="eos_token", id="", model="tgi", system_fingerprint="2.1.1-native"),
    )
    result = fold_split(impl, data)
    assert result["id"] == ""  # never a non-empty id: the empty value is kept
    assert result["choices"][0]["message"] == tool_message(
        call("0", "get_weather", '{"location":"Paris","unit":"celsius"}')
    )
    assert result["choices"][0]["finish_reason"] == "eos_token"


def test_llamacpp_object_arguments_appended_after_string(impl: SimpleNamespace) -> None:
    data = sse(
        chunk(
            role="assistant",
            tool_calls=[{"index": 0, "id": "call_l", "type": "function", "function": {"name": "sum", "arguments": ""}}],
        ),
        chunk(tool_calls=[{"index": 0, "function": {"arguments": {"a": 1, "b": [2, 3.5], "c": None}}}]),
        chunk(finish="tool_calls"),
    )
    assert fold_split(impl, data)["choices"][0]["message"] == tool_message(
        call("call_l", "sum", '{"a":1,"b":[2,3.5],"c":null}')
    )


# ---------------------------------------------------------------------------
# gateways


def gateway_stream(finish: str | None) -> bytes:
    return (
        b"id: 1\n"
        + sse(chunk("Hel", role="assistant"), done=False)
        + b": ping\n\n"
        + b"id: 2\n: ping\n\n"
        + b"data:\n\n"
        + b"id: 3\n"
        + sse(chunk("lo", finish=finish), done=False)
        + b": ping\n\n"
    )


def test_gateway_ids_pings_and_empty_data(impl: SimpleNamespace) -> None:
    data = gateway_stream("stop")
    acc = feed_all(impl, data)
    assert (acc.events, acc.chunks, acc.ignored, acc.done) == (3, 2, 1, False)
    assert (
        fold_split(impl, data)
        == acc.result()
        == {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1700000000,
            "model": "gpt-test",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Hello", "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
        }
    )


def test_gateway_eof_without_finish_reason(impl: SimpleNamespace) -> None:
    data = gateway_stream(None)
    for source in (data, pieces(data, 1)):
        with pytest.raises(IncompleteStreamError) as info:
            impl.fold(source)
        assert info.value.partial == {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1700000000,
            "model": "gpt-test",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Hello", "refusal": None},
                    "logprobs": None,
                    "finish_reason": None,
                }
            ],
        }


# ---------------------------------------------------------------------------
# Known bugs of peers that streamfold must not repeat


def test_role_resent_is_not_concatenated(impl: SimpleNamespace) -> None:
    data = sse(*(chunk(piece, role="assistant") for piece in "abc"), chunk(role="assistant", finish="stop"))
    assert fold_split(impl, data)["choices"][0]["message"] == {"role": "assistant", "content": "abc", "refusal": None}


def test_tool_id_and_name_resend_not_concatenated(impl: SimpleNamespace) -> None:
    frag = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}
    data = sse(
        chunk(role="assistant", tool_calls=[frag]),
        chunk(tool_calls=[{**frag, "function": {"name": "lookup"}}]),
        chunk(finish="tool_calls"),
    )
    assert fold_split(impl, data)["choices"][0]["message"]["tool_calls"] == [call("call_1", "lookup", "{}")]


def test_numbers_never_summed(impl: SimpleNamespace) -> None:
    audio1 = {"id": "audio_1", "data": "AAA", "expires_at": 1700003600, "transcript": "he"}
    audio2 = {"data": "BBB", "expires_at": 1700003600, "transcript": "llo"}
    data = sse(
        chunk(role="assistant", delta={"audio": audio1}),
        chunk(delta={"audio": audio2}, usage={"total_tokens": 5}),
        chunk(finish="stop", usage={"total_tokens": 7}),
    )
    result = fold_split(impl, data)
    assert result["choices"][0]["message"]["audio"] == {
        "id": "audio_1",
        "data": "AAABBB",
        "expires_at": 1700003600,
        "transcript": "hello",
    }
    assert result["usage"] == {"total_tokens": 7}
    assert result["created"] == 1700000000


def test_out_of_order_and_sparse_choice_indices(impl: SimpleNamespace) -> None:
    data = sse(
        chunk("c", index=2, role="assistant"),
        chunk("a", index=0, role="assistant"),
        chunk("C", index=2, finish="length"),
        chunk("A", index=0, finish="stop"),
    )
    choices = fold_split(impl, data)["choices"]
    assert choices == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "aA", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        },
        {
            "index": 2,
            "message": {"role": "assistant", "content": "cC", "refusal": None},
            "logprobs": None,
            "finish_reason": "length",
        },
    ]


def test_out_of_order_and_sparse_tool_indices(impl: SimpleNamespace) -> None:
    data = sse(
        chunk(role="assistant", tool_calls=[{"index": 3, "id": "call_3", "function": {"name": "c", "arguments": "{"}}]),
        chunk(tool_calls=[{"index": 1, "id": "call_1", "function": {"name": "a", "arguments": "["}}]),
        chunk(tool_calls=[{"index": 3, "function": {"arguments": "}"}}, {"index": 1, "function": {"arguments": "]"}}]),
        chunk(finish="tool_calls"),
    )
    assert fold_split(impl, data)["choices"][0]["message"]["tool_calls"] == [
        call("call_1", "a", "[]"),
        call("call_3", "c", "{}"),
    ]


def test_events_without_data_are_not_decoded(impl: SimpleNamespace) -> None:
    data = sse(
        b"event: message\n\n",
        b"id: 7\n\n",
        b"retry: 100\n\n",
        b"event: ping\n\n",
        chunk("x", role="assistant", finish="stop"),
    )
    acc = feed_all(impl, data)
    assert (acc.events, acc.chunks, acc.ignored) == (2, 1, 0)
    assert fold_split(impl, data)["choices"][0]["message"]["content"] == "x"


def test_usage_not_overwritten_by_later_null(impl: SimpleNamespace) -> None:
    usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    data = sse(
        chunk("x", role="assistant", usage=None),
        chunk(finish="stop", usage=usage),
        chunk(choices=[], usage=None),
        chunk(choices=[]),
    )
    assert fold_split(impl, data)["usage"] == usage


def test_no_phantom_events_from_id_and_comments(impl: SimpleNamespace) -> None:
    data = sse(
        b"id: 1\n: ping\n\n",
        chunk("x", role="assistant"),
        b"id: 2\n\n",
        b": ping\n\n",
        chunk(finish="stop"),
        done=False,
    )
    acc = feed_all(impl, data)
    assert (acc.events, acc.chunks, acc.ignored) == (2, 2, 0)
    assert acc.result()["choices"][0]["finish_reason"] == "stop"


def test_leading_bom_dropped(impl: SimpleNamespace) -> None:
    data = b"\xef\xbb\xbf" + sse(chunk("x", role="assistant", finish="stop"))
    assert fold_split(impl, data)["choices"][0]["message"]["content"] == "x"


def test_negative_retry_ignored(impl: SimpleNamespace) -> None:
    decoder = impl.SSEDecoder()
    events = decoder.feed(b"retry: -5\ndata: x\n\n")
    assert events == [impl.ServerSentEvent(data="x")]
    assert events[0].retry is None
    assert decoder.retry is None
    data = sse(b"retry: -5\n", chunk("x", role="assistant", finish="stop"))
    assert fold_split(impl, data)["choices"][0]["message"]["content"] == "x"


def test_lines_over_64_kib(impl: SimpleNamespace) -> None:
    big = "0123456789abcdef" * 8192  # 128 KiB of content in one data line
    data = sse(chunk(big, role="assistant"), chunk("!", finish="stop"))
    assert impl.fold(data)["choices"][0]["message"]["content"] == big + "!"
    assert impl.fold(pieces(data, 4096))["choices"][0]["message"]["content"] == big + "!"


def test_whitespace_in_content_preserved(impl: SimpleNamespace) -> None:
    parts = [" ", "  Hello", "\n", "\t", " world  ", "\r\n", "\u00a0", "\u2028", "  ", "\n\n"]
    data = sse(chunk("", role="assistant"), *(chunk(p) for p in parts), chunk(finish="stop"))
    assert fold_split(impl, data)["choices"][0]["message"]["content"] == "   Hello\n\t world  \r\n\u00a0\u2028  \n\n"
