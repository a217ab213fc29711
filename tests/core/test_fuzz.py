"""Fuzzing: whatever the bytes, only a ``StreamError`` comes out (docs/contract.md, section 6).

Random bytes, SSE-flavoured byte soup, mutations of the recorded OpenAI streams and of
generated streams go through ``ChatAccumulator.feed``/``result`` and ``SSEDecoder.feed``
in random pieces.  Any exception that is not a ``StreamError`` fails the test (the
helpers in strategies.py catch nothing else); the outcome must not depend on the pieces;
and the extension and the twin must agree (``both``).  Then hand-made nasty inputs (deep
nesting, huge numbers, NaN, lone surrogates, NUL bytes, long lines against a small
``max_event_bytes``), and a seeded loop of 2000 random mutations per implementation.
"""

from __future__ import annotations

import random
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import DATA
from hypothesis import given
from hypothesis import strategies as st
from strategies import (
    INTERESTING_BYTES,
    apply_mutation,
    canonical,
    corrupted_streams,
    decode_outcome,
    fold_outcome,
    mutations,
    one_byte_pieces,
    pieces,
    random_corruption,
    random_pieces,
)

from streamfold import DEFAULT_MAX_EVENT_BYTES, EventTooLargeError, StreamAPIError, StreamDecodeError

RECORDED = [path.read_bytes() for path in sorted((DATA / "openai-recorded").glob("*.sse"))]

#: Pieces of SSE and chunk syntax, for byte soup that gets past the framing now and then.
SSE_TOKENS = [
    b"data: ",
    b"data:",
    b"event: error\n",
    b"event: message\n",
    b"id: 1\n",
    b"retry: 10\n",
    b": c\n",
    b"\n\n",
    b"\r\n\r\n",
    b"\r\r",
    b"[DONE]",
    b'{"choices":[',
    b'{"index":0,"delta":{"content":"x"}}',
    b'{"index":1}',
    b"]}",
    b'"tool_calls":[{"index":0,"function":{"arguments":"a"}}]',
    b'"finish_reason":"stop"',
    b'"error":{"message":"m"}',
    b'{"id":"a","model":"m","created":1,',
    b'"logprobs":{"content":[]}',
    b'"usage":{"total_tokens":1}',
    b"}",
]

byte_soup = st.lists(
    st.one_of(st.sampled_from(SSE_TOKENS), st.sampled_from(INTERESTING_BYTES), st.binary(max_size=12)), max_size=40
).map(b"".join)


@st.composite
def mutated_recorded(draw: st.DrawFn) -> bytes:
    """A recorded OpenAI stream with 1 to 6 byte-level mutations."""
    raw = draw(st.sampled_from(RECORDED))
    for mutation in draw(st.lists(mutations, min_size=1, max_size=6)):
        raw = apply_mutation(raw, mutation)
    return raw


fuzz_bytes = st.one_of(st.binary(max_size=400), byte_soup, mutated_recorded(), corrupted_streams())
limits = st.sampled_from([DEFAULT_MAX_EVENT_BYTES, None, 1, 16, 64, 300])


# ---------------------------------------------------------------------------
# Hypothesis


@given(raw=fuzz_bytes, limit=limits, data=st.data())
def test_only_stream_errors_escape(impl: SimpleNamespace, raw: bytes, limit: int | None, data: st.DataObject) -> None:
    cut = data.draw(pieces(raw))
    whole = fold_outcome(impl, [raw], max_event_bytes=limit)
    assert fold_outcome(impl, cut, max_event_bytes=limit) == whole
    assert decode_outcome(impl, cut, max_event_bytes=limit) == decode_outcome(impl, [raw], max_event_bytes=limit)


@given(raw=fuzz_bytes, limit=limits, data=st.data())
def test_c_and_py_agree_on_fuzz(
    both: tuple[SimpleNamespace, SimpleNamespace], raw: bytes, limit: int | None, data: st.DataObject
) -> None:
    c, py = both
    cut = data.draw(pieces(raw))
    assert fold_outcome(c, cut, max_event_bytes=limit) == fold_outcome(py, cut, max_event_bytes=limit)
    assert decode_outcome(c, cut, max_event_bytes=limit) == decode_outcome(py, cut, max_event_bytes=limit)


# ---------------------------------------------------------------------------
# Nasty inputs


def _event(data: bytes) -> bytes:
    return b"data: " + data + b"\n\n"


#: Nesting that orjson still parses inside the few levels of a chunk (its limit is 1024),
#: and deeper than Python's default recursion limit can walk.
DEEP = 1015


def _nest(depth: int, inner: bytes = b"1", kind: str = "dict") -> bytes:
    if kind == "dict":
        return b'{"a":' * depth + inner + b"}" * depth
    return b"[" * depth + inner + b"]" * depth


_FINISHED = _event(b'{"id":"x","choices":[{"index":0,"finish_reason":"stop","delta":{"content":"ok"}}]}')
_DONE = _event(b"[DONE]")


def _delta(member: bytes) -> bytes:
    return _event(b'{"choices":[{"index":0,"finish_reason":"stop","delta":{' + member + b"}}]}")


_STOP = b',"choices":[{"finish_reason":"stop"}]}'
_CALL = b'"tool_calls":[{"index":0,"id":"c","function":{"arguments":'
_DEFAULT = DEFAULT_MAX_EVENT_BYTES


def _case(name: str, raw: bytes, expected: Any, limit: int | None = _DEFAULT) -> tuple[str, bytes, int | None, Any]:
    return (name, raw, limit, expected)


#: Values nested deeper than any provider sends: folding them or rejecting them with a
#: StreamDecodeError are both within the contract (which only forbids other exceptions).
DEEP_OK = ("ok", StreamDecodeError)

#: (name, bytes, max_event_bytes, expected): expected is "ok" (result() returns), an error
#: class, or a tuple of those.
NASTY: list[tuple[str, bytes, int | None, Any]] = [
    _case("open-objects-2000", _event(b'{"a":' * 2000), StreamDecodeError),
    _case("nested-objects-2000", _event(_nest(2000)), StreamDecodeError),
    _case("nested-lists-2000", _event(b'{"x":' + _nest(2000, kind="list") + b"}"), StreamDecodeError),
    _case("delta-objects-deep", _delta(b'"x":' + _nest(DEEP)), DEEP_OK),
    _case("delta-lists-deep", _delta(b'"x":' + _nest(DEEP, kind="list")), DEEP_OK),
    _case("delta-objects-300-twice", _delta(b'"x":' + _nest(300)) * 2, DEEP_OK),
    _case("delta-objects-50-twice", _delta(b'"x":' + _nest(50)) * 2 + _delta(b'"x":' + _nest(50, b"[2]")), "ok"),
    _case("content-objects-deep", _delta(b'"content":' + _nest(DEEP)), DEEP_OK),
    _case("top-member-lists-deep", _event(b'{"x":' + _nest(DEEP, b"", "list") + _STOP), DEEP_OK),
    _case("usage-objects-deep", _event(b'{"usage":' + _nest(DEEP) + _STOP), DEEP_OK),
    _case(
        "logprobs-lists-deep",
        _event(b'{"choices":[{"finish_reason":"stop","logprobs":{"content":[' + _nest(DEEP, b"", "list") + b"]}}]}"),
        DEEP_OK,
    ),
    _case(
        "choice-member-objects-deep",
        _event(b'{"choices":[{"finish_reason":"stop","x":' + _nest(DEEP) + b"}]}"),
        DEEP_OK,
    ),
    _case("tool-arguments-object-300", _delta(_CALL + _nest(300) + b"}}]"), DEEP_OK),
    _case("tool-arguments-object-254", _delta(_CALL + _nest(254) + b"}}]"), DEEP_OK),
    _case(
        "error-message-lists-deep", _event(b'{"error":{"message":' + _nest(DEEP, b"", "list") + b"}}"), StreamAPIError
    ),
    _case("error-event-objects-deep", b"event: error\ndata: " + _nest(DEEP) + b"\n\n", StreamAPIError),
    _case(
        "deep-member-then-bad-json",
        _event(b'{"x":' + _nest(DEEP) + b',"choices":[]}') + _event(b"{oops"),
        StreamDecodeError,
    ),
    _case("huge-integer-index", _event(b'{"choices":[{"index":18446744073709551615,"finish_reason":"stop"}]}'), "ok"),
    # orjson makes an integer past the 64-bit range a float: not an index
    _case(
        "index-past-int64",
        _event(b'{"choices":[{"index":-9223372036854775809,"finish_reason":"stop"}]}'),
        StreamDecodeError,
    ),
    _case("tool-index-1e300", _delta(b'"tool_calls":[{"index":1e300,"id":"a"}]'), StreamDecodeError),
    _case("number-1e400", _event(b'{"created":1e400,"choices":[]}'), StreamDecodeError),
    _case(
        "huge-numbers",
        _delta(b'"n":123456789012345678901234567890,"m":-1.7976931348623157e308,"k":5e-324') + _DONE,
        "ok",
    ),
    _case("nan-literal", _event(b'{"choices":[{"delta":{"content":NaN}}]}'), StreamDecodeError),
    _case("infinity-literal", _event(b'{"usage":-Infinity}'), StreamDecodeError),
    _case("lone-high-surrogate", _delta(b'"content":"\\ud800"'), StreamDecodeError),
    _case("lone-low-surrogate", _delta(b'"content":"a\\udc00b"'), StreamDecodeError),
    _case("surrogate-utf8-bytes", _delta(b'"content":"\xed\xa0\x80"'), StreamDecodeError),
    _case("surrogate-in-error-event", b'event: error\ndata: {"message":"\\ud800"}\n\n', StreamAPIError),
    _case("nul-in-json-string", _delta(b'"content":"a\x00b"'), StreamDecodeError),
    _case("nul-bytes-everywhere", b"\x00\x00\n\x00: \x00\n\ndata\x00: x\n\n" + _FINISHED, "ok"),
    _case("nul-in-id", b"id: a\x00b\n" + _FINISHED + _DONE, "ok"),
    _case("nul-data", _event(b"\x00{}") + _FINISHED, "ok"),
    _case("long-data-line-small-limit", _event(b"x" * 100_000), EventTooLargeError, 64),
    _case("long-json-line-small-limit", _delta(b'"content":"' + b"y" * 100_000 + b'"'), EventTooLargeError, 64),
    _case("long-unterminated-line", b"data: " + b"z" * 100_000, EventTooLargeError, 1000),
    _case("long-comment-small-limit", b": " + b"c" * 100_000 + b"\n" + _FINISHED, "ok", 100),
    _case("many-data-lines-small-limit", b"data: {\n" * 50 + b"\n", EventTooLargeError, 64),
    _case("events-each-under-limit", _FINISHED * 200 + _DONE, "ok", 200),
    _case("long-line-no-limit", _delta(b'"content":"' + b"w" * 300_000 + b'"'), "ok", None),
]

_IDS = [case[0] for case in NASTY]


def _cuts(raw: bytes, seed: int) -> list[list[bytes]]:
    rng = random.Random(seed)
    cuts = [random_pieces(raw, rng) for _ in range(3)]
    if len(raw) <= 20_000:
        cuts.append(one_byte_pieces(raw))
    return cuts


@pytest.mark.parametrize(("name", "raw", "limit", "expected"), NASTY, ids=_IDS)
def test_nasty_input(impl: SimpleNamespace, name: str, raw: bytes, limit: int | None, expected: Any) -> None:
    whole = fold_outcome(impl, [raw], max_event_bytes=limit)
    got = "ok" if whole.error is None else whole.error[0]
    assert got in (expected if isinstance(expected, tuple) else (expected,)), (name, whole.error)
    for cut in _cuts(raw, len(raw)):  # canonical(): == would recurse as deep as the data
        assert canonical(fold_outcome(impl, cut, max_event_bytes=limit)) == canonical(whole)
    decoded = decode_outcome(impl, [raw], max_event_bytes=limit)
    assert decode_outcome(impl, one_byte_pieces(raw[:20_000]) + [raw[20_000:]], max_event_bytes=limit) == decoded


@pytest.mark.parametrize(("name", "raw", "limit", "expected"), NASTY, ids=_IDS)
def test_c_and_py_agree_on_nasty_input(
    both: tuple[SimpleNamespace, SimpleNamespace],
    name: str,
    raw: bytes,
    limit: int | None,
    expected: Any,
) -> None:
    c, py = both
    for cut in [[raw], *_cuts(raw, len(raw))[:2]]:
        c_outcome = fold_outcome(c, cut, max_event_bytes=limit)
        assert canonical(c_outcome) == canonical(fold_outcome(py, cut, max_event_bytes=limit)), name
    assert decode_outcome(c, [raw], max_event_bytes=limit) == decode_outcome(py, [raw], max_event_bytes=limit)


# ---------------------------------------------------------------------------
# Seeded loop: 2000 random mutations, reproducible by their number

SEEDED_CASES = 2000


def _seeded_case(number: int) -> tuple[bytes, int | None, list[bytes]]:
    rng = random.Random(number)
    raw = random_corruption(rng, RECORDED)
    limit = rng.choice([DEFAULT_MAX_EVENT_BYTES, DEFAULT_MAX_EVENT_BYTES, None, 64, 512])
    return raw, limit, random_pieces(raw, rng)


def _where(number: int, raw: bytes) -> str:
    return f"seeded case {number} ({len(raw)} bytes, starts {raw[:80]!r})"


def test_seeded_mutations(impl: SimpleNamespace) -> None:
    for number in range(SEEDED_CASES):
        raw, limit, cut = _seeded_case(number)
        whole = fold_outcome(impl, [raw], max_event_bytes=limit)
        assert fold_outcome(impl, cut, max_event_bytes=limit) == whole, _where(number, raw)
        assert decode_outcome(impl, cut, max_event_bytes=limit) == decode_outcome(impl, [raw], max_event_bytes=limit), (
            _where(number, raw)
        )


def test_seeded_mutations_c_and_py_agree(both: tuple[SimpleNamespace, SimpleNamespace]) -> None:
    c, py = both
    for number in range(SEEDED_CASES):
        raw, limit, cut = _seeded_case(number)
        assert fold_outcome(c, cut, max_event_bytes=limit) == fold_outcome(py, cut, max_event_bytes=limit), _where(
            number, raw
        )
        assert decode_outcome(c, cut, max_event_bytes=limit) == decode_outcome(py, cut, max_event_bytes=limit), _where(
            number, raw
        )
