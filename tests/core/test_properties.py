"""Properties over generated streams (strategies.py).

- The fold of a generated stream is the completion the generator says it folds into.
- Where the input is cut never changes anything: result, or error class, message and
  ``.partial``, and the counters (docs/contract.md, section 1).
- The Cython extension and the pure-Python twin agree on every input, valid or corrupted
  (``both`` fixture: skipped while the extension is not built).
- ``add_chunk`` of the decoded chunks folds like ``feed`` of their bytes.
"""

from __future__ import annotations

import copy
import random
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import (
    BAD_VALUES,
    SHAPE_PATHS,
    add_chunk_outcome,
    chat_streams,
    corrupted_streams,
    damage_chunk,
    decode_outcome,
    encode_sse,
    fold_call_outcome,
    fold_outcome,
    key_orders,
    one_byte_pieces,
    pieces,
    seeds,
    sse_bytes,
    sse_streams,
)

from streamfold import DEFAULT_MAX_EVENT_BYTES, IncompleteStreamError, StreamAPIError, StreamDecodeError

#: Limits for ``max_event_bytes``: the default, none, and small ones that real events pass.
limits = st.one_of(st.just(DEFAULT_MAX_EVENT_BYTES), st.none(), st.integers(1, 600))

shape_paths = st.sampled_from(SHAPE_PATHS)
bad_values = st.sampled_from(BAD_VALUES)

#: Valid streams and corrupted ones, as bytes.
any_stream_bytes = st.one_of(sse_streams().map(lambda pair: pair[1]), corrupted_streams())


# ---------------------------------------------------------------------------
# The generated model


@given(stream=chat_streams(), done=st.booleans(), data=st.data())
def test_fold_is_the_generated_completion(impl: SimpleNamespace, stream: Any, done: bool, data: st.DataObject) -> None:
    raw = data.draw(sse_bytes(stream.chunks, done=done))
    acc = impl.ChatAccumulator()
    acc.feed(raw)
    assert acc.snapshot() == stream.expected
    assert key_orders(acc.snapshot()) == key_orders(stream.expected)  # the contract's key order
    assert acc.chunks == len(stream.chunks)
    assert acc.done == done
    if done or stream.finished:
        assert acc.result() == stream.expected
    else:
        with pytest.raises(IncompleteStreamError) as info:
            acc.result()
        assert info.value.partial == stream.expected


# ---------------------------------------------------------------------------
# (a) Splits never matter


def _assert_split_invariant(impl: SimpleNamespace, raw: bytes, cut: list[bytes], limit: int | None) -> None:
    whole = fold_outcome(impl, [raw], max_event_bytes=limit)
    assert fold_outcome(impl, cut, max_event_bytes=limit) == whole
    assert fold_outcome(impl, one_byte_pieces(raw), max_event_bytes=limit) == whole
    through_fold = fold_call_outcome(impl, cut, max_event_bytes=limit)
    assert (through_fold.result, through_fold.error) == (whole.result, whole.error)
    through_fold = fold_call_outcome(impl, raw, max_event_bytes=limit)
    assert (through_fold.result, through_fold.error) == (whole.result, whole.error)


@given(pair=sse_streams(), data=st.data())
def test_valid_stream_splits_do_not_matter(impl: SimpleNamespace, pair: Any, data: st.DataObject) -> None:
    _, raw = pair
    _assert_split_invariant(impl, raw, data.draw(pieces(raw)), DEFAULT_MAX_EVENT_BYTES)


@given(raw=corrupted_streams(), limit=limits, data=st.data())
def test_corrupted_stream_splits_do_not_matter(
    impl: SimpleNamespace, raw: bytes, limit: int | None, data: st.DataObject
) -> None:
    _assert_split_invariant(impl, raw, data.draw(pieces(raw)), limit)


@given(raw=any_stream_bytes, limit=limits, data=st.data())
def test_decoder_splits_do_not_matter(
    impl: SimpleNamespace, raw: bytes, limit: int | None, data: st.DataObject
) -> None:
    whole = decode_outcome(impl, [raw], max_event_bytes=limit)
    assert decode_outcome(impl, data.draw(pieces(raw)), max_event_bytes=limit) == whole
    assert decode_outcome(impl, one_byte_pieces(raw), max_event_bytes=limit) == whole


@given(pair=sse_streams(), data=st.data())
def test_decoder_events_are_what_the_fold_counts(impl: SimpleNamespace, pair: Any, data: st.DataObject) -> None:
    """The accumulator's framing is the decoder's: same number of events, and one chunk per
    event whose data starts with "{" (the generated streams have no other JSON)."""
    stream, raw = pair
    events, error, _, _ = decode_outcome(impl, data.draw(pieces(raw)))
    assert error is None
    acc = impl.ChatAccumulator()
    acc.feed(raw)
    done_at = next((i for i, e in enumerate(events) if e[0] == "message" and e[1] == "[DONE]"), len(events))
    counted = events[: done_at + 1]
    assert acc.events == len(counted)
    chunks = [e for e in counted if e[0] == "message" and e[1].lstrip(" \t\n").startswith("{")]
    assert acc.chunks == len(chunks) == len(stream.chunks)
    assert acc.ignored == len(counted) - len(chunks) - (done_at < len(events))


# ---------------------------------------------------------------------------
# (b) The extension and the twin agree


@given(raw=any_stream_bytes, limit=limits, data=st.data())
def test_c_and_py_fold_alike(
    both: tuple[SimpleNamespace, SimpleNamespace], raw: bytes, limit: int | None, data: st.DataObject
) -> None:
    c, py = both
    cut = data.draw(pieces(raw))
    assert fold_outcome(c, cut, max_event_bytes=limit) == fold_outcome(py, cut, max_event_bytes=limit)
    assert fold_outcome(c, [raw], max_event_bytes=limit) == fold_outcome(py, [raw], max_event_bytes=limit)


@given(raw=any_stream_bytes, limit=limits, data=st.data())
def test_c_and_py_decode_alike(
    both: tuple[SimpleNamespace, SimpleNamespace], raw: bytes, limit: int | None, data: st.DataObject
) -> None:
    c, py = both
    cut = data.draw(pieces(raw))
    assert decode_outcome(c, cut, max_event_bytes=limit) == decode_outcome(py, cut, max_event_bytes=limit)


@given(stream=chat_streams(), seed=seeds, path=shape_paths, value=bad_values, at=st.integers(0, 50))
def test_c_and_py_add_chunk_alike(
    both: tuple[SimpleNamespace, SimpleNamespace], stream: Any, seed: int, path: tuple[Any, ...], value: Any, at: int
) -> None:
    c, py = both
    chunks: list[Any] = list(stream.chunks)
    at %= len(chunks)
    chunks[at] = damage_chunk(chunks[at], path, value)
    if seed % 5 == 0:
        chunks.insert(at, copy.deepcopy(value))  # not an object at all
    assert add_chunk_outcome(c, chunks) == add_chunk_outcome(py, chunks)


# ---------------------------------------------------------------------------
# (c) add_chunk of the decoded chunks is feed of the bytes


@given(pair=sse_streams(), data=st.data())
def test_add_chunk_folds_like_feed(impl: SimpleNamespace, pair: Any, data: st.DataObject) -> None:
    stream, raw = pair
    fed = impl.ChatAccumulator()
    for piece in data.draw(pieces(raw)):
        fed.feed(piece)
    chunks = copy.deepcopy(stream.chunks)
    added = impl.ChatAccumulator()
    for chunk in chunks:
        added.add_chunk(chunk)
    assert chunks == stream.chunks  # add_chunk does not change what it is given
    assert added.snapshot() == fed.snapshot() == stream.expected
    assert (added.chunks, added.events, added.ignored, added.done) == (fed.chunks, 0, 0, False)
    if stream.finished:
        assert added.result() == fed.result()
    else:
        with pytest.raises(IncompleteStreamError) as info:
            added.result()
        assert info.value.partial == fed.snapshot()


@given(stream=chat_streams(), seed=seeds, path=shape_paths, value=bad_values, at=st.integers(0, 50))
def test_add_chunk_rejects_what_feed_rejects(
    impl: SimpleNamespace, stream: Any, seed: int, path: tuple[Any, ...], value: Any, at: int
) -> None:
    """A chunk with a member of the wrong type (or an odd but legal one): the same error
    class and ``.partial`` (or the same completion) whichever way it comes in."""
    chunks = list(stream.chunks)
    at %= len(chunks)
    chunks[at] = damage_chunk(chunks[at], path, value)
    raw = encode_sse(chunks, random.Random(seed))
    fed = fold_outcome(impl, [raw])
    added = add_chunk_outcome(impl, chunks)
    if fed.error is None or fed.error[0] is IncompleteStreamError:
        acc = impl.ChatAccumulator()
        acc.feed(raw)
        assert added.error is None
        assert added.result == acc.snapshot()
        return
    assert added.error is not None
    fed_class, fed_message, fed_partial, fed_own = fed.error
    added_class, added_message, added_partial, added_own = added.error
    assert (added_class, added_partial) == (fed_class, fed_partial)
    if fed_class is StreamAPIError:  # the same error object (the message may preview the data)
        assert added_own[0] == fed_own[0]
    assert added_message.startswith(f"chunk {at + 1}: ")
    assert fed_message.startswith("event ")
    if fed_class is StreamDecodeError:  # the same complaint; the byte path adds the data
        fed_body = fed_message.split(": ", 1)[1]
        added_body = added_message.split(": ", 1)[1]
        assert fed_body.startswith(added_body + ": data=")
