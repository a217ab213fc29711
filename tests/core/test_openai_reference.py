"""openai-python as a differential reference on generated streams.

openai-python's own machinery decodes each generated stream: ``openai._streaming.SSEDecoder``
frames the bytes, ``ChatCompletionChunk.model_validate`` checks each chunk, and
``ChatCompletionStreamState.handle_chunk`` / ``get_final_completion`` fold them.  The fold
must agree on id, model, created, system_fingerprint, service_tier, every choice's role,
content, refusal, reasoning_content, tool calls, finish_reason and logprobs, and usage.

The streams are ``chat_streams(openai_safe=True)``: they keep clear of openai-python's known
bugs (docs/providers.md), so any difference is ours.  The role comes only in a choice's first
delta (it concatenates resends), a call's id/name only in its first fragment (same),
choice and tool-call indices first appear in order 0, 1, 2... (it places them by list
position), no number in a delta (it sums them), usage only in the final chunk (a later
``usage: null`` overwrites it), no empty logprobs list after a null one (it keeps the
null), no BOM, no data-less blocks.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import DATA
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import ChatStream, pieces, sse_streams

pytest.importorskip("openai")

from openai import ContentFilterFinishReasonError, LengthFinishReasonError
from openai._streaming import SSEDecoder as OpenAISSEDecoder
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionChunk

RECORDED = sorted((DATA / "openai-recorded").glob("*.sse"))


def openai_fold(source: Iterable[bytes]) -> dict[str, Any]:
    """The completion openai-python folds the stream into, as a dict."""
    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    for event in OpenAISSEDecoder().iter_bytes(iter(source)):
        if event.data == "[DONE]":
            break
        state.handle_chunk(ChatCompletionChunk.model_validate(event.json()))
    try:
        completion = state.get_final_completion()
    except (LengthFinishReasonError, ContentFilterFinishReasonError):
        # get_final_completion refuses "length" and "content_filter"; the snapshot is the fold
        completion = state.current_completion_snapshot
    return completion.to_dict()


def summary(completion: dict[str, Any]) -> dict[str, Any]:
    """The members both folds define, from a completion dict (ours or openai-python's)."""
    choices = []
    for choice in sorted(completion["choices"], key=lambda choice: choice["index"]):
        message = choice["message"]
        calls = [
            {
                "id": call["id"],
                "type": call["type"],
                "name": call["function"]["name"],
                "arguments": call["function"]["arguments"],
            }
            for call in message.get("tool_calls") or []
        ]
        choices.append(
            {
                "index": choice["index"],
                "role": message["role"],
                "content": message.get("content"),
                "refusal": message.get("refusal"),
                "reasoning_content": message.get("reasoning_content"),
                "tool_calls": calls,
                "finish_reason": choice["finish_reason"],
                "logprobs": choice.get("logprobs"),
            }
        )
    return {
        "id": completion["id"],
        "model": completion["model"],
        "created": completion["created"],
        "system_fingerprint": completion.get("system_fingerprint"),
        "service_tier": completion.get("service_tier"),
        "usage": completion.get("usage"),
        "choices": choices,
    }


def drop_nulls(value: Any) -> Any:
    """``value`` without null members (a pydantic dump lists every unset field as null)."""
    if isinstance(value, dict):
        return {key: drop_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [drop_nulls(item) for item in value]
    return value


@pytest.mark.parametrize("stream", RECORDED, ids=[path.stem for path in RECORDED])
def test_reference_harness_reproduces_the_recorded_sdk_output(stream: Path) -> None:
    """The harness above is openai-python's fold: on the recorded OpenAI streams it gives
    what the SDK's own ``ChatCompletionStreamState`` produced when they were recorded."""
    sdk = json.loads(stream.with_name(stream.stem + ".openai-sdk-final.json").read_text(encoding="utf-8"))
    assert drop_nulls(summary(openai_fold([stream.read_bytes()]))) == drop_nulls(summary(sdk))


@settings(max_examples=100)
@given(pair=sse_streams(openai_safe=True), data=st.data())
def test_fold_matches_openai_python(impl: SimpleNamespace, pair: tuple[ChatStream, bytes], data: st.DataObject) -> None:
    stream, raw = pair
    cut = data.draw(pieces(raw))
    reference = summary(openai_fold(cut))
    assert summary(stream.expected) == reference  # the generator's model agrees with openai-python
    acc = impl.ChatAccumulator()
    for piece in cut:
        acc.feed(piece)
    assert summary(acc.result()) == reference
