"""Errors: the shape checks of docs/contract.md section 3, and section 6, with their ``.partial``."""

from __future__ import annotations

import asyncio
import pickle
import re
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from streams import chunk, pieces, sse

from streamfold import (
    EventTooLargeError,
    IncompleteStreamError,
    StreamAPIError,
    StreamDecodeError,
    StreamError,
)

GOOD = chunk("Hi", role="assistant")

#: The completion after GOOD alone: what every later error must carry as ``.partial``.
AFTER_GOOD = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "gpt-test",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hi", "refusal": None},
            "logprobs": None,
            "finish_reason": None,
        }
    ],
}


def bad_delta(**members: Any) -> dict[str, Any]:
    """A chunk whose choice 0 delta carries good content plus ``members``."""
    return {
        "id": "other",
        "model": "other",
        "system_fingerprint": "fp_bad",
        "choices": [{"index": 0, "delta": {"content": "NO", **members}}],
    }


def bad_choice(**members: Any) -> dict[str, Any]:
    """A chunk with a good choice 1, then choice 0 (at list position 1) carrying ``members``."""
    return {
        "id": "other",
        "choices": [{"index": 1, "delta": {"content": "NO"}}, {"delta": {"content": "NO"}, **members}],
    }


def call(**members: Any) -> dict[str, Any]:
    return {"index": 0, "id": "c", "function": {"name": "f", "arguments": "{}"}, **members}


# (bad chunk, path named in the message)
BAD_SHAPES: dict[str, tuple[dict[str, Any], str]] = {
    "choices-object": ({"id": "other", "choices": {"index": 0}}, "choices"),
    "choices-string": ({"choices": "x"}, "choices"),
    "choices-number": ({"choices": 1}, "choices"),
    "choice-number": ({"choices": [1]}, "choices[0]"),
    "choice-string-second": ({"choices": [{"index": 0, "delta": {"content": "NO"}}, "x"]}, "choices[1]"),
    "index-string": (bad_choice(index="0"), "choices[1].index"),
    "index-float": (bad_choice(index=1.0), "choices[1].index"),
    "index-bool": (bad_choice(index=True), "choices[1].index"),
    "index-list": (bad_choice(index=[0]), "choices[1].index"),
    "delta-string": (bad_choice(delta="x"), "choices[1].delta"),
    "delta-list": (bad_choice(delta=[]), "choices[1].delta"),
    "delta-number": (bad_choice(delta=1), "choices[1].delta"),
    "logprobs-string": (bad_choice(logprobs="x"), "choices[1].logprobs"),
    "logprobs-list": (bad_choice(logprobs=[]), "choices[1].logprobs"),
    "logprobs-content-object": (bad_choice(logprobs={"content": {}}), "choices[1].logprobs.content"),
    "logprobs-content-string": (bad_choice(logprobs={"content": "x"}), "choices[1].logprobs.content"),
    "logprobs-refusal-object": (bad_choice(logprobs={"content": [], "refusal": {}}), "choices[1].logprobs.refusal"),
    "function_call-string": (bad_delta(function_call="x"), "choices[0].delta.function_call"),
    "function_call-list": (bad_delta(function_call=[]), "choices[0].delta.function_call"),
    "function_call-name": (bad_delta(function_call={"name": 1}), "choices[0].delta.function_call.name"),
    "tool_calls-object": (bad_delta(tool_calls={"index": 0}), "choices[0].delta.tool_calls"),
    "tool_calls-string": (bad_delta(tool_calls="x"), "choices[0].delta.tool_calls"),
    "tool_call-number": (bad_delta(tool_calls=[call(), 1]), "choices[0].delta.tool_calls[1]"),
    "tool_call-index-string": (bad_delta(tool_calls=[call(), call(index="1")]), "choices[0].delta.tool_calls[1].index"),
    "tool_call-index-bool": (bad_delta(tool_calls=[call(index=False)]), "choices[0].delta.tool_calls[0].index"),
    "tool_call-index-float": (bad_delta(tool_calls=[call(index=0.0)]), "choices[0].delta.tool_calls[0].index"),
    "function-string": (bad_delta(tool_calls=[call(function="f")]), "choices[0].delta.tool_calls[0].function"),
    "function-list": (bad_delta(tool_calls=[call(function=[])]), "choices[0].delta.tool_calls[0].function"),
    "id-number": (bad_delta(tool_calls=[call(id=5)]), "choices[0].delta.tool_calls[0].id"),
    "id-bool": (bad_delta(tool_calls=[call(id=False)]), "choices[0].delta.tool_calls[0].id"),
    "type-list": (bad_delta(tool_calls=[call(type=["function"])]), "choices[0].delta.tool_calls[0].type"),
    "name-number": (bad_delta(tool_calls=[call(function={"name": 1})]), "choices[0].delta.tool_calls[0].function.name"),
    "name-object": (
        bad_delta(tool_calls=[call(function={"name": {"a": "b"}, "arguments": ""})]),
        "choices[0].delta.tool_calls[0].function.name",
    ),
}


@pytest.mark.parametrize(("bad", "path"), BAD_SHAPES.values(), ids=BAD_SHAPES.keys())
def test_bad_shape_via_feed(impl: SimpleNamespace, bad: dict[str, Any], path: str) -> None:
    acc = impl.ChatAccumulator()
    with pytest.raises(StreamDecodeError) as info:
        acc.feed(sse(GOOD, bad))
    exc = info.value
    assert str(exc).startswith(f"event 2: {path} must be ")
    assert "data=" in str(exc)
    assert exc.partial == AFTER_GOOD
    assert acc.snapshot() == AFTER_GOOD
    assert acc.chunks == 1


@pytest.mark.parametrize(("bad", "path"), BAD_SHAPES.values(), ids=BAD_SHAPES.keys())
def test_bad_shape_via_add_chunk(impl: SimpleNamespace, bad: dict[str, Any], path: str) -> None:
    acc = impl.ChatAccumulator()
    acc.add_chunk(GOOD)
    with pytest.raises(StreamDecodeError, match="^" + re.escape(f"chunk 2: {path} must be ")) as info:
        acc.add_chunk(bad)
    assert info.value.partial == AFTER_GOOD


def test_bad_shape_as_first_chunk_has_partial_none(impl: SimpleNamespace) -> None:
    with pytest.raises(StreamDecodeError) as info:
        impl.fold(sse({"choices": "x"}))
    assert info.value.partial is None


def test_bad_shape_message_exact(impl: SimpleNamespace) -> None:
    bad = {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0}, {"index": "1"}]}}]}
    data = orjson.dumps(bad).decode()
    with pytest.raises(StreamDecodeError) as info:
        impl.fold(sse(bad))
    assert (
        str(info.value) == f"event 1: choices[0].delta.tool_calls[1].index must be an integer, got str: data={data!r}"
    )


@pytest.mark.parametrize("bad", [[1, 2], "text", 5, None, True], ids=["list", "str", "int", "null", "bool"])
def test_chunk_not_an_object(impl: SimpleNamespace, bad: Any) -> None:
    acc = impl.ChatAccumulator()
    acc.add_chunk(GOOD)
    with pytest.raises(StreamDecodeError, match=r"^chunk 2: chunk must be ") as info:
        acc.add_chunk(bad)
    assert info.value.partial == AFTER_GOOD


@pytest.mark.parametrize(
    "good",
    [
        {"choices": None},
        {"choices": [{"index": None, "delta": None, "logprobs": None, "finish_reason": None}]},
        {"choices": [{"index": 0, "logprobs": {"content": None, "refusal": None}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": None, "function_call": None}}]},
        {"choices": [{"index": 0, "delta": {"function_call": {"name": None, "arguments": None}}}]},
        {
            "choices": [
                {"index": 0, "delta": {"tool_calls": [{"index": None, "id": None, "type": None, "function": None}]}}
            ]
        },
        {
            "choices": [
                {"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"name": None, "arguments": None}}]}}
            ]
        },
    ],
)
def test_null_counts_as_absent(impl: SimpleNamespace, good: dict[str, Any]) -> None:
    acc = impl.ChatAccumulator()
    acc.add_chunk(good)
    assert acc.chunks == 1


def test_error_checked_before_shape(impl: SimpleNamespace) -> None:
    """A chunk with a truthy ``error`` and a bad shape is an API error, not a decode error."""
    with pytest.raises(StreamAPIError) as info:
        impl.fold(sse(GOOD, {"error": {"message": "quota"}, "choices": "x"}))
    assert info.value.error == {"message": "quota"}
    assert info.value.partial == AFTER_GOOD


# ---------------------------------------------------------------------------
# Section 5: classes, .partial, messages


def test_class_hierarchy() -> None:
    for cls in (StreamDecodeError, EventTooLargeError, StreamAPIError, IncompleteStreamError):
        assert issubclass(cls, StreamError)
    assert issubclass(StreamError, Exception)
    assert issubclass(StreamDecodeError, ValueError)
    assert issubclass(EventTooLargeError, StreamDecodeError)
    assert issubclass(EventTooLargeError, ValueError)


def test_decode_error_partial_none_before_any_chunk(impl: SimpleNamespace) -> None:
    with pytest.raises(StreamDecodeError) as info:
        impl.fold(b"data: ping\n\ndata: {oops\n\n")
    assert info.value.partial is None
    assert str(info.value).startswith("event 2: invalid JSON (")


def test_decode_error_partial_after_chunks(impl: SimpleNamespace) -> None:
    with pytest.raises(StreamDecodeError) as info:
        impl.fold(sse(GOOD, b"data: : keepalive\n\n", b"data: {oops\n\n", done=False))
    assert info.value.partial == AFTER_GOOD
    assert str(info.value) == f"event 3: invalid JSON ({_reason(b'{oops')}): data='{{oops'"


def _reason(data: bytes) -> str:
    """orjson's own description of why ``data`` is not JSON (the message embeds it)."""
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        return str(exc)
    raise AssertionError("valid JSON")


def test_decode_error_preview_at_most_200_chars(impl: SimpleNamespace) -> None:
    data = '{"content": "' + "ab" * 200  # unterminated string: invalid JSON, 413 characters
    with pytest.raises(StreamDecodeError) as info:
        impl.fold(b"data: " + data.encode() + b"\n\n")
    message = str(info.value)
    assert message.endswith("): data=" + repr(data[:200]) + "...")
    assert data[:201] not in message


def test_decode_error_preview_of_short_data_is_whole(impl: SimpleNamespace) -> None:
    data = '{"a": ' + "x" * 193  # 199 characters
    with pytest.raises(StreamDecodeError) as info:
        impl.fold(b"data: " + data.encode() + b"\n\n")
    assert str(info.value).endswith("): data=" + repr(data))


def test_event_too_large_partial_and_message(impl: SimpleNamespace) -> None:
    acc = impl.ChatAccumulator(max_event_bytes=1000)
    with pytest.raises(EventTooLargeError) as info:
        acc.feed(sse(GOOD, done=False) + b"data: " + b"x" * 2000)
    exc = info.value
    assert str(exc) == "event 2 is larger than max_event_bytes=1000"
    assert exc.partial == AFTER_GOOD
    assert exc.events == []
    assert isinstance(exc, ValueError)


def test_event_too_large_first_event_partial_none(impl: SimpleNamespace) -> None:
    with pytest.raises(EventTooLargeError) as info:
        impl.fold(pieces(b"data: " + b"x" * 300 + b"\n\n", 10), max_event_bytes=100)
    assert info.value.partial is None
    assert str(info.value) == "event 1 is larger than max_event_bytes=100"


def test_event_too_large_from_decoder_keeps_completed_events(impl: SimpleNamespace) -> None:
    decoder = impl.SSEDecoder(max_event_bytes=100)
    with pytest.raises(EventTooLargeError) as info:
        decoder.feed(b"data: a\n\ndata: b\n\ndata: " + b"x" * 200)
    assert info.value.events == [impl.ServerSentEvent(data="a"), impl.ServerSentEvent(data="b")]
    assert str(info.value) == "event 3 is larger than max_event_bytes=100"
    with pytest.raises(EventTooLargeError):
        decoder.feed(b"\n\n")


def test_api_error_partial_none_before_any_chunk(impl: SimpleNamespace) -> None:
    with pytest.raises(StreamAPIError) as info:
        impl.fold(b'data: {"error": {"message": "bad key", "code": 401}}\n\n')
    exc = info.value
    assert exc.partial is None
    assert exc.error == {"message": "bad key", "code": 401}
    assert str(exc) == "event 1: server error: bad key"


def test_api_error_message_from_payload_message(impl: SimpleNamespace) -> None:
    with pytest.raises(StreamAPIError) as info:
        impl.fold(sse(GOOD, {"error": {"code": 500}, "message": "upstream failed"}))
    assert info.value.error == {"code": 500}
    assert str(info.value) == "event 2: server error: upstream failed"
    assert info.value.partial == AFTER_GOOD


def test_add_chunk_api_error_says_chunk(impl: SimpleNamespace) -> None:
    acc = impl.ChatAccumulator()
    acc.add_chunk(GOOD)
    with pytest.raises(StreamAPIError) as info:
        acc.add_chunk({"error": {"message": "boom"}})
    assert str(info.value) == "chunk 2: server error: boom"
    assert info.value.partial == AFTER_GOOD


def test_incomplete_partial(impl: SimpleNamespace) -> None:
    with pytest.raises(IncompleteStreamError) as info:
        impl.fold(sse(GOOD, done=False))
    assert info.value.partial == AFTER_GOOD
    with pytest.raises(IncompleteStreamError) as info:
        impl.fold(b": nothing\n\n")
    assert info.value.partial is None


# ---------------------------------------------------------------------------
# Poisoning


@pytest.mark.parametrize(
    "bad",
    [
        b"data: {oops\n\n",
        b'data: {"choices": 1}\n\n',
        b'data: {"error": {"message": "x"}}\n\n',
        b"event: error\ndata: down\n\n",
        b"data: " + b"x" * 2000,
    ],
    ids=["json", "shape", "api", "event-error", "too-large"],
)
def test_errors_raised_again_on_later_feed_add_chunk_result(impl: SimpleNamespace, bad: bytes) -> None:
    acc = impl.ChatAccumulator(max_event_bytes=1000)
    acc.feed(sse(GOOD, done=False))
    with pytest.raises(StreamError) as info:
        acc.feed(bad)
    first = info.value
    for again in (lambda: acc.feed(sse(chunk(finish="stop"))), lambda: acc.add_chunk(chunk(finish="stop")), acc.result):
        with pytest.raises(StreamError) as info:
            again()
        assert info.value is first
    assert acc.snapshot() == AFTER_GOOD
    assert first.partial == AFTER_GOOD


def test_add_chunk_error_raised_again(impl: SimpleNamespace) -> None:
    acc = impl.ChatAccumulator()
    with pytest.raises(StreamDecodeError) as info:
        acc.add_chunk({"choices": "x"})
    with pytest.raises(StreamDecodeError) as again:
        acc.add_chunk(GOOD)
    assert again.value is info.value
    with pytest.raises(StreamDecodeError) as again:
        acc.feed(sse(GOOD))
    assert again.value is info.value


def test_incomplete_does_not_poison(impl: SimpleNamespace) -> None:
    acc = impl.ChatAccumulator()
    with pytest.raises(IncompleteStreamError) as info:
        acc.result()
    assert info.value.partial is None
    acc.feed(sse(GOOD, done=False))
    with pytest.raises(IncompleteStreamError) as info:
        acc.result()
    assert info.value.partial == AFTER_GOOD
    acc.feed(sse(chunk("!", finish="stop"), done=False))
    result = acc.result()
    assert result["choices"][0]["message"]["content"] == "Hi!"
    assert result["choices"][0]["finish_reason"] == "stop"


# ---------------------------------------------------------------------------
# Pickling


def _errors(impl: SimpleNamespace) -> list[StreamError]:
    """One real instance of each error class, raised by the implementation."""
    found: list[StreamError] = []
    for data, options in [
        (sse(GOOD, b"data: {oops\n\n"), {}),
        (sse(GOOD, done=False) + b"data: " + b"x" * 2000, {"max_event_bytes": 1000}),
        (sse(GOOD, {"error": {"message": "boom", "code": 503}}), {}),
        (sse(GOOD, b"event: error\ndata: plain text\n\n"), {}),
        (sse(GOOD, done=False), {}),
        (b"", {}),
    ]:
        with pytest.raises(StreamError) as info:
            impl.fold(data, **options)
        found.append(info.value)
    return found


def test_errors_pickle_round_trip(impl: SimpleNamespace) -> None:
    errors = _errors(impl)
    assert [type(e) for e in errors] == [
        StreamDecodeError,
        EventTooLargeError,
        StreamAPIError,
        StreamAPIError,
        IncompleteStreamError,
        IncompleteStreamError,
    ]
    for exc in errors:
        copy = pickle.loads(pickle.dumps(exc))
        assert type(copy) is type(exc)
        assert str(copy) == str(exc)
        assert copy.args == exc.args
        assert copy.partial == exc.partial
        if isinstance(exc, StreamAPIError):
            assert (copy.error, copy.message) == (exc.error, exc.message)
        if isinstance(exc, EventTooLargeError):
            assert copy.events == exc.events == []
    assert errors[2].error == {"message": "boom", "code": 503}
    assert errors[3].error == "plain text"
    assert errors[-1].partial is None
    assert errors[0].partial == AFTER_GOOD


# ---------------------------------------------------------------------------
# fold / afold sources


class SourceFailure(OSError):
    pass


def failing_source(parts: list[bytes]) -> Iterator[bytes]:
    yield from parts
    raise SourceFailure("connection reset")


def test_source_raising_mid_stream_keeps_partial(impl: SimpleNamespace) -> None:
    with pytest.raises(SourceFailure) as info:
        impl.fold(failing_source(pieces(sse(GOOD, done=False) + b'data: {"choices"', 9)))
    assert str(info.value) == "connection reset"
    assert info.value.partial == AFTER_GOOD  # type: ignore[attr-defined]


def test_source_raising_before_any_chunk_partial_none(impl: SimpleNamespace) -> None:
    with pytest.raises(SourceFailure) as info:
        impl.fold(failing_source([b"data: {", b'"id"']))
    assert info.value.partial is None  # type: ignore[attr-defined]


async def agen(parts: list[bytes], fail: bool = False) -> AsyncIterator[bytes]:
    for part in parts:
        yield part
    if fail:
        raise SourceFailure("connection reset")


def test_afold_async_generator(impl: SimpleNamespace) -> None:
    data = sse(GOOD, chunk(" there", finish="stop"))
    result = asyncio.run(impl.afold(agen(pieces(data, 5))))
    assert result == impl.fold(data)
    assert result["choices"][0]["message"]["content"] == "Hi there"


def test_afold_source_raising_keeps_partial(impl: SimpleNamespace) -> None:
    with pytest.raises(SourceFailure) as info:
        asyncio.run(impl.afold(agen(pieces(sse(GOOD, done=False), 4), fail=True)))
    assert info.value.partial == AFTER_GOOD  # type: ignore[attr-defined]


def test_afold_stream_error_keeps_partial(impl: SimpleNamespace) -> None:
    with pytest.raises(IncompleteStreamError) as info:
        asyncio.run(impl.afold(agen([sse(GOOD, done=False)])))
    assert info.value.partial == AFTER_GOOD


def test_afold_needs_async_iterable(impl: SimpleNamespace) -> None:
    with pytest.raises(TypeError):
        asyncio.run(impl.afold([b"data: [DONE]\n\n"]))
    with pytest.raises(TypeError):
        asyncio.run(impl.afold(b"data: [DONE]\n\n"))


def test_fold_str_is_type_error(impl: SimpleNamespace) -> None:
    with pytest.raises(TypeError):
        impl.fold("data: [DONE]\n\n")


@pytest.mark.parametrize("bad", ["data: [DONE]\n\n", None, 5, ["x"]])
def test_feed_non_bytes_is_type_error(impl: SimpleNamespace, bad: Any) -> None:
    acc = impl.ChatAccumulator()
    with pytest.raises(TypeError):
        acc.feed(bad)
    with pytest.raises(TypeError):
        impl.SSEDecoder().feed(bad)
    acc.feed(sse(GOOD, chunk(finish="stop")))  # a type error does not poison
    assert acc.result()["choices"][0]["finish_reason"] == "stop"


def test_feed_accepts_bytes_like(impl: SimpleNamespace) -> None:
    data = sse(GOOD, chunk(finish="stop"))
    acc = impl.ChatAccumulator()
    acc.feed(bytearray(data[:20]))
    acc.feed(memoryview(data)[20:])
    assert acc.result() == impl.fold(data)


@pytest.mark.parametrize(
    ("limit", "error"),
    [(0, ValueError), (-1, ValueError), ("x", TypeError), (True, TypeError), (1.5, TypeError), (b"1", TypeError)],
)
def test_max_event_bytes_validation(impl: SimpleNamespace, limit: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        impl.ChatAccumulator(max_event_bytes=limit)
    with pytest.raises(error):
        impl.SSEDecoder(max_event_bytes=limit)
    with pytest.raises(error):
        impl.fold(sse(GOOD), max_event_bytes=limit)


@pytest.mark.parametrize("limit", [None, 1, 2**40])
def test_max_event_bytes_valid_values(impl: SimpleNamespace, limit: int | None) -> None:
    impl.ChatAccumulator(max_event_bytes=limit)
    impl.SSEDecoder(max_event_bytes=limit)


# ---------------------------------------------------------------------------
# One root for every error


def test_client_and_core_errors_share_one_root() -> None:
    import streamfold
    from streamfold import APIConnectionError, APIStatusError, APITimeoutError, StreamfoldError

    for cls in (
        StreamError,
        StreamDecodeError,
        StreamAPIError,
        IncompleteStreamError,
        EventTooLargeError,
        streamfold.TruncatedCompletionError,
        streamfold.APIError,
        APIConnectionError,
        APITimeoutError,
        APIStatusError,
    ):
        assert issubclass(cls, StreamfoldError), cls
    status = APIStatusError(429, {"Retry-After": "1"}, b'{"error": {"message": "slow down"}}', method="POST", url="u")
    assert status.partial is None and status.message == "slow down"
    copy = pickle.loads(pickle.dumps(status))
    assert isinstance(copy, StreamfoldError) and (copy.status_code, copy.message, copy.partial) == (
        429,
        "slow down",
        None,
    )


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        ({"error": {"message": "quota"}}, None, "quota"),
        ({"error": "overloaded"}, None, "overloaded"),
        ({"error": {"code": 1}, "message": "outer"}, None, "outer"),
        ({"message": 7}, None, "7"),
        ({"error": {"code": 1}}, None, None),
        ("plain text", "plain text", "plain text"),
        ({"error": {"message": "inner"}, "message": "outer"}, {"message": "picked"}, "picked"),
        ({"error": {"message": "x" * 300}}, None, "x" * 200 + "..."),
        ([1, 2], None, None),
    ],
)
def test_message_of_an_error_body(body: Any, error: Any, message: str | None) -> None:
    """One helper pulls the server's message out of an error body, for the client and the core."""
    from streamfold._errors import message_of

    assert message_of(body, error) == message
