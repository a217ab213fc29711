"""Real OpenAI streams fold to what openai-python's ChatCompletionStreamState makes of them.

Each ``openai-recorded/<name>.sse`` is folded fed whole, one read per event, in 16 KiB
reads and (for the small ones) one byte at a time; the fields that matter are compared
with ``<name>.openai-sdk-final.json`` once null members are removed from both sides.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import DATA

from streamfold import StreamAPIError

RECORDED = DATA / "openai-recorded"
STREAMS = sorted(RECORDED.glob("*.sse"))
#: Streams up to this size are also fed one byte at a time.
SMALL = 16 * 1024


def without_none(value: Any) -> Any:
    """``value`` with None-valued object members removed, recursively."""
    if isinstance(value, dict):
        return {key: without_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [without_none(item) for item in value]
    return value


def summary(completion: dict[str, Any]) -> dict[str, Any]:
    """The fields compared: ids, text, tool calls, finish reasons, logprobs and usage."""
    choices = []
    for choice in completion["choices"]:
        message = choice["message"]
        choices.append(
            {
                "index": choice["index"],
                "finish_reason": choice["finish_reason"],
                "logprobs": choice["logprobs"],
                "content": message.get("content"),
                "refusal": message.get("refusal"),
                "tool_calls": [
                    {
                        "id": call["id"],
                        "type": call["type"],
                        "name": call["function"]["name"],
                        "arguments": call["function"]["arguments"],
                    }
                    for call in message.get("tool_calls") or []
                ],
            }
        )
    return without_none(
        {
            "id": completion["id"],
            "model": completion["model"],
            "created": completion["created"],
            "usage": completion.get("usage"),
            "choices": choices,
        }
    )


def expected_for(stream: Path) -> dict[str, Any]:
    sdk = json.loads(stream.with_name(stream.stem + ".openai-sdk-final.json").read_text(encoding="utf-8"))
    return summary(sdk)


def per_event(data: bytes) -> list[bytes]:
    """One piece per event: each piece ends with the blank line that dispatches it."""
    pieces = []
    start = 0
    while (end := data.find(b"\n\n", start)) >= 0:
        pieces.append(data[start : end + 2])
        start = end + 2
    if start < len(data):
        pieces.append(data[start:])
    return pieces


SPLITTERS: dict[str, Callable[[bytes], list[bytes]]] = {
    "whole": lambda data: [data],
    "per-event": per_event,
    "16KiB": lambda data: [data[i : i + 16384] for i in range(0, len(data), 16384)],
    "bytes": lambda data: [data[i : i + 1] for i in range(len(data))],
}


def params() -> list[Any]:
    out = []
    for stream in STREAMS:
        for how in SPLITTERS:
            if how == "bytes" and stream.stat().st_size > SMALL:
                continue
            out.append(pytest.param(stream, how, id=f"{stream.stem}:{how}"))
    return out


def test_recordings_are_present() -> None:
    assert len(STREAMS) == 12
    for stream in STREAMS:
        assert stream.with_name(stream.stem + ".openai-sdk-final.json").is_file()


@pytest.mark.parametrize(("stream", "how"), params())
def test_recorded_stream_folds_like_openai_python(impl: SimpleNamespace, stream: Path, how: str) -> None:
    data = stream.read_bytes()
    pieces = SPLITTERS[how](data)
    assert b"".join(pieces) == data
    if how == "per-event":
        assert len(pieces) > 3

    acc = impl.ChatAccumulator()
    for piece in pieces:
        acc.feed(piece)
    assert acc.done
    result = acc.result()
    assert result["object"] == "chat.completion"
    assert acc.chunks == acc.events - 1  # every event but [DONE] is a chunk
    assert acc.ignored == 0

    expected = expected_for(stream)
    assert summary(result) == expected
    assert impl.fold(pieces) == result
    assert impl.fold(data) == result


@pytest.mark.parametrize("stream", STREAMS, ids=[s.stem for s in STREAMS])
def test_expected_side_is_not_trivial(stream: Path) -> None:
    """Guards against a comparison that passes because both sides are empty."""
    expected = expected_for(stream)
    assert expected["id"].startswith("chatcmpl-")
    assert expected["model"] and expected["created"] and expected["usage"]["total_tokens"] > 0
    for choice in expected["choices"]:
        assert choice["finish_reason"]
        assert choice.get("content") or choice.get("refusal") or choice["tool_calls"]


def test_max_tokens_stream_ends_with_length(impl: SimpleNamespace) -> None:
    result = impl.fold((RECORDED / "parse_max_tokens_reached.sse").read_bytes())
    assert [c["finish_reason"] for c in result["choices"]] == ["length"]


def test_multiple_choices_and_tool_calls(impl: SimpleNamespace) -> None:
    choices = impl.fold((RECORDED / "parse_pydantic_model_multiple_choices.sse").read_bytes())["choices"]
    assert [c["index"] for c in choices] == [0, 1, 2]
    tools = impl.fold((RECORDED / "parse_multiple_pydantic_tools.sse").read_bytes())["choices"][0]["message"]
    calls = tools["tool_calls"]
    assert len(calls) == 2
    assert len({call["id"] for call in calls}) == 2
    for call in calls:
        json.loads(call["function"]["arguments"])  # each call's arguments assembled whole


# ---------------------------------------------------------------------------
# Provider streams written for this project in the style of what Mistral (typed content
# parts), Writer (a ``message`` beside every ``delta``) and Groq (``event: error`` mid-stream)
# send; ``<name>.expected.json`` is the completion (or error) the contract gives, by hand.

PROVIDER_STREAMS = sorted((DATA / "providers").glob("*.sse"))


def random_splits(data: bytes, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    cuts = sorted(rng.randrange(len(data) + 1) for _ in range(rng.randint(1, 40)))
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)])]


def provider_params() -> list[Any]:
    hows = [*SPLITTERS, "random-1", "random-2", "random-3"]
    return [pytest.param(stream, how, id=f"{stream.stem}:{how}") for stream in PROVIDER_STREAMS for how in hows]


def provider_expected(stream: Path) -> dict[str, Any]:
    return json.loads(stream.with_name(stream.stem + ".expected.json").read_text(encoding="utf-8"))


def test_provider_streams_are_present() -> None:
    assert [s.stem for s in PROVIDER_STREAMS] == ["groq-error", "mistral-magistral", "writer-palmyra"]


@pytest.mark.parametrize(("stream", "how"), provider_params())
def test_provider_stream_folds_by_the_contract(impl: SimpleNamespace, stream: Path, how: str) -> None:
    data = stream.read_bytes()
    pieces = random_splits(data, int(how[-1])) if how.startswith("random") else SPLITTERS[how](data)
    assert b"".join(pieces) == data
    expected = provider_expected(stream)
    if "error" in expected:
        want = expected["error"]
        with pytest.raises(StreamAPIError) as info:
            impl.fold(pieces)
        exc = info.value
        assert (str(exc), exc.message, exc.error, exc.partial) == (
            want["str"],
            want["message"],
            want["error"],
            want["partial"],
        )
        return
    acc = impl.ChatAccumulator()
    events = [event for piece in pieces for event in acc.feed_events(piece)]
    assert acc.result() == expected["completion"]
    # the events add up to the answer's text and to its reasoning
    assert "".join(e.delta for e in events if e.type == "content.delta") == expected["content_text"]
    assert "".join(e.delta for e in events if e.type == "reasoning.delta") == (expected["reasoning_text"] or "")
    done = {e.type: e for e in events if e.type.endswith(".done")}
    assert done["content.done"].content == expected["content_text"]
    assert ("reasoning.done" in done) == (expected["reasoning_text"] is not None)


@pytest.mark.parametrize(
    "stream", [s for s in PROVIDER_STREAMS if "error" not in provider_expected(s)], ids=lambda s: s.stem
)
def test_provider_stream_through_the_openai_drop_in(stream: Path) -> None:
    """The drop-in carries the new shapes through: events and ``get_final_completion()``."""
    pytest.importorskip("openai")
    from streamfold.openai import StreamState

    expected = provider_expected(stream)
    state = StreamState()
    events = [event for piece in per_event(stream.read_bytes()) for event in state.feed(piece)]
    assert "".join(e.delta for e in events if e.type == "content.delta") == expected["content_text"]
    final = state.get_final_completion()
    message = final.choices[0].message
    assert final.model_dump(exclude={"choices"}, exclude_none=True) == without_none(
        {k: v for k, v in expected["completion"].items() if k != "choices"}
    )
    assert message.content == expected["completion"]["choices"][0]["message"]["content"]
    assert final.choices[0].finish_reason == expected["completion"]["choices"][0]["finish_reason"]
