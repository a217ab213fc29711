"""SSE framing conformance (docs/contract.md, section 1) and our own framing decisions.

The shared vectors in ``tests/data/sse`` are fed to ``SSEDecoder`` whole, one byte at a
time, in their recorded pieces, and with the piece boundaries moved: the events and the
final decoder state must not depend on where the splits fall.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import DATA

from streamfold import EventTooLargeError, StreamDecodeError, StreamError

SSE_DIR = DATA / "sse"
LINES_FILE = "httpx-sse-lines"

Vector = dict[str, Any]


def load_vectors(stem: str) -> list[Vector]:
    """The cases of one ``sse/<stem>.jsonl`` file."""
    path = SSE_DIR / f"{stem}.jsonl"
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def event_stems() -> list[str]:
    return sorted(p.stem for p in SSE_DIR.glob("*.jsonl") if p.stem != LINES_FILE)


# ---------------------------------------------------------------------------
# How a stream is cut into pieces


def whole(data: bytes, vector: Vector) -> list[bytes]:
    return [data]


def one_byte(data: bytes, vector: Vector) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def recorded_pieces(vector: Vector) -> list[bytes] | None:
    """The pieces the source suite fed, as bytes (None when it fed the whole text)."""
    if "chunk_bytes_hex" in vector:
        return [bytes.fromhex(h) for h in vector["chunk_bytes_hex"]]
    if "chunks" in vector:
        return [c.encode("utf-8") for c in vector["chunks"]]
    return None


def recorded(data: bytes, vector: Vector) -> list[bytes]:
    pieces = recorded_pieces(vector)
    assert pieces is not None
    return pieces


def cut_at(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    """``data`` cut at the given offsets (out-of-range and repeated offsets give empty pieces)."""
    pieces = []
    start = 0
    for cut in sorted(cuts):
        cut = max(start, min(cut, len(data)))
        pieces.append(data[start:cut])
        start = cut
    pieces.append(data[start:])
    return pieces


def recorded_shifted(shift: int) -> Callable[[bytes, Vector], list[bytes]]:
    """The recorded boundaries, each moved ``shift`` bytes (so CRLF pairs and UTF-8 get split anew)."""

    def split(data: bytes, vector: Vector) -> list[bytes]:
        pieces = recorded(data, vector)
        bounds = []
        offset = 0
        for piece in pieces[:-1]:
            offset += len(piece)
            bounds.append(offset + shift)
        return cut_at(data, bounds)

    return split


def every(n: int, offset: int = 0) -> Callable[[bytes, Vector], list[bytes]]:
    def split(data: bytes, vector: Vector) -> list[bytes]:
        return cut_at(data, range(offset or n, len(data), n))

    return split


def after_cr_lf(data: bytes, vector: Vector) -> list[bytes]:
    """A cut after every CR and every LF (a CRLF pair always straddles two feeds), with empty feeds."""
    cuts = [i + 1 for i, b in enumerate(data) if b in b"\r\n"]
    return cut_at(data, cuts + cuts)  # each cut twice: an empty piece between


def before_cr_lf(data: bytes, vector: Vector) -> list[bytes]:
    """A cut before every CR and LF: every line end opens a new feed."""
    return cut_at(data, [i for i, b in enumerate(data) if b in b"\r\n"])


SPLITTERS: dict[str, Callable[[bytes, Vector], list[bytes]]] = {
    "whole": whole,
    "bytes": one_byte,
    "every7": every(7),
    "every7+3": every(7, 3),
    "after-crlf": after_cr_lf,
    "before-crlf": before_cr_lf,
}
RECORDED_SPLITTERS: dict[str, Callable[[bytes, Vector], list[bytes]]] = {
    "recorded": recorded,
    "recorded+1": recorded_shifted(1),
    "recorded-1": recorded_shifted(-1),
}


def event_params() -> list[Any]:
    params = []
    for stem in event_stems():
        for vector in load_vectors(stem):
            splitters = dict(SPLITTERS)
            if recorded_pieces(vector) is not None:
                splitters.update(RECORDED_SPLITTERS)
            for how, split in splitters.items():
                params.append(pytest.param(vector, split, id=f"{stem}:{vector['name']}:{how}"))
    return params


def line_params() -> list[Any]:
    return [pytest.param(v, id=f"{LINES_FILE}:{v['name']}") for v in load_vectors(LINES_FILE)]


# ---------------------------------------------------------------------------
# Helpers


def as_tuples(events: Iterable[Any]) -> list[tuple[str, str, str, int | None]]:
    return [(e.event, e.data, e.id, e.retry) for e in events]


def decode(impl: SimpleNamespace, pieces: Iterable[bytes], **options: Any) -> tuple[Any, list[Any]]:
    """Feed every piece then close; returns the decoder and all events."""
    decoder = impl.SSEDecoder(**options)
    events = []
    for piece in pieces:
        events.extend(decoder.feed(piece))
    events.extend(decoder.close())
    return decoder, events


def decode_whole_and_bytewise(impl: SimpleNamespace, data: bytes, **options: Any) -> list[Any]:
    """The events of ``data``, checked to be the same fed whole and one byte at a time."""
    _, events = decode(impl, [data], **options)
    _, bytewise = decode(impl, one_byte(data, {}), **options)
    assert as_tuples(bytewise) == as_tuples(events)
    return events


# ---------------------------------------------------------------------------
# The shared vectors


def test_vectors_are_present() -> None:
    stems = event_stems()
    assert {"wpt", "eventsource-parser", "launchdarkly-sse-contract-tests", "httpx-sse", "sseclient-py"} <= set(stems)
    assert sum(len(load_vectors(s)) for s in stems) > 150
    assert len(load_vectors(LINES_FILE)) > 20


@pytest.mark.parametrize(("vector", "split"), event_params())
def test_event_vector(impl: SimpleNamespace, vector: Vector, split: Callable[[bytes, Vector], list[bytes]]) -> None:
    data = vector["input"].encode("utf-8")  # a leading U+FEFF becomes EF BB BF
    pieces = split(data, vector)
    assert b"".join(pieces) == data
    decoder = impl.SSEDecoder()
    events = []
    for piece in pieces:
        events.extend(decoder.feed(piece))
    assert decoder.last_event_id == vector["final_last_event_id"]
    assert decoder.retry == vector["final_retry"]
    events.extend(decoder.close())
    expected = [(e["event"], e["data"], e["id"], e["retry"]) for e in vector["events"]]
    assert as_tuples(events) == expected
    assert all(type(e) is impl.ServerSentEvent for e in events)
    # close() keeps the state a reconnection needs
    assert decoder.last_event_id == vector["final_last_event_id"]
    assert decoder.retry == vector["final_retry"]


@pytest.mark.parametrize("vector", line_params())
@pytest.mark.parametrize("how", ["recorded", "bytes"])
def test_line_vector(impl: SimpleNamespace, vector: Vector, how: str) -> None:
    pieces = [c.encode("utf-8") for c in vector["chunks"]]
    if how == "bytes":
        pieces = one_byte(b"".join(pieces), vector)
    splitter = impl.LineSplitter()
    lines = []
    for piece in pieces:
        lines.extend(splitter.feed(piece))
    lines.extend(splitter.close())  # the unterminated tail, if any
    assert lines == [line.encode("utf-8") for line in vector["lines"]]
    assert splitter.pending == 0


def test_line_splitter_pending(impl: SimpleNamespace) -> None:
    splitter = impl.LineSplitter()
    assert splitter.feed(b"ab\ncde") == [b"ab"]
    assert splitter.pending == 3
    assert splitter.feed(b"f") == []
    assert splitter.pending == 4
    assert splitter.feed(b"\r") == [b"cdef"]
    assert splitter.pending == 0
    assert splitter.feed(b"\nx") == [], "the LF completing a CRLF split across feeds is no new line"
    assert splitter.close() == [b"x"]
    assert splitter.close() == []


# ---------------------------------------------------------------------------
# close(): the end of one stream, ready for the next


def test_close_readies_a_new_stream(impl: SimpleNamespace) -> None:
    decoder = impl.SSEDecoder()
    first = decoder.feed(b"\xef\xbb\xbfid: 7\nretry: 300\ndata: a\n\n")
    assert as_tuples(first) == [("message", "a", "7", 300)]
    assert decoder.close() == []
    # a new stream: its BOM is dropped again (here split across feeds), id and retry carry over
    assert decoder.feed(b"\xef") == []
    assert decoder.feed(b"\xbb") == []
    second = decoder.feed(b"\xbfdata: b\n\n")
    assert as_tuples(second) == [("message", "b", "7", None)]
    assert decoder.last_event_id == "7"
    assert decoder.retry == 300


def test_bom_only_at_the_start_of_each_stream(impl: SimpleNamespace) -> None:
    decoder = impl.SSEDecoder()
    assert as_tuples(decoder.feed(b"data: a\n\n")) == [("message", "a", "", None)]
    # not at the start of the stream: the BOM is part of the field name, which is unknown
    assert decoder.feed(b"\xef\xbb\xbfdata: b\n\n") == []
    decoder.close()
    assert as_tuples(decoder.feed(b"\xef\xbb\xbfdata: c\n\n")) == [("message", "c", "", None)]


def test_close_discards_the_unterminated_event_and_line(impl: SimpleNamespace) -> None:
    decoder = impl.SSEDecoder()
    assert decoder.feed(b"event: x\ndata: kept?\n") == []
    assert decoder.close() == []
    # the blank line now ends an empty block of the new stream: nothing to dispatch
    assert decoder.feed(b"\n") == []
    assert decoder.feed(b"data: par") == []
    assert decoder.close() == []
    # "tial" is a line of its own in the new stream (an unknown field), not the end of "data: par"
    assert decoder.feed(b"tial\n\n") == []
    assert as_tuples(decoder.feed(b"data: z\n\n")) == [("message", "z", "", None)]


def test_close_drops_an_uncommitted_id(impl: SimpleNamespace) -> None:
    decoder = impl.SSEDecoder()
    decoder.feed(b"id: 1\n\nid: 2\ndata: x\n")
    assert decoder.last_event_id == "1"  # committed at blank lines only
    decoder.close()
    assert decoder.last_event_id == "1"
    assert as_tuples(decoder.feed(b"data: y\n\n")) == [("message", "y", "1", None)]


# ---------------------------------------------------------------------------
# max_event_bytes


def test_event_exactly_at_the_limit_passes(impl: SimpleNamespace) -> None:
    # "event: x" (8) + "id: 1" (5) + "data: abc" (9) = 22 bytes, terminators not counted
    block = b"event: x\r\nid: 1\r\ndata: abc\r\n\r\n"
    events = decode_whole_and_bytewise(impl, block * 3, max_event_bytes=22)
    assert as_tuples(events) == [("x", "abc", "1", None)] * 3  # a blank line resets the count


def test_event_one_byte_over_the_limit_raises(impl: SimpleNamespace) -> None:
    decoder = impl.SSEDecoder(max_event_bytes=21)
    with pytest.raises(EventTooLargeError) as info:
        decoder.feed(b"event: x\r\nid: 1\r\ndata: abc\r\n\r\n")
    assert str(info.value) == "event 1 is larger than max_event_bytes=21"
    assert info.value.events == []
    assert isinstance(info.value, StreamDecodeError)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, StreamError)


def test_comment_lines_do_not_count(impl: SimpleNamespace) -> None:
    stream = b": " + b"k" * 100 + b"\ndata: abc\n:" + b"p" * 50 + b"\ndata: d\n\n"
    # "data: abc" + "data: d" = 16 bytes
    decoder = impl.SSEDecoder(max_event_bytes=16)
    assert as_tuples(decoder.feed(stream)) == [("message", "abc\nd", "", None)]
    decoder = impl.SSEDecoder(max_event_bytes=15)
    with pytest.raises(EventTooLargeError):
        decoder.feed(stream)


def test_long_comment_outcome_does_not_depend_on_splits(impl: SimpleNamespace) -> None:
    stream = b": " + b"x" * 30 + b"\ndata: a\n\n"
    whole_events = impl.SSEDecoder(max_event_bytes=10).feed(stream)
    assert as_tuples(whole_events) == [("message", "a", "", None)]
    decoder = impl.SSEDecoder(max_event_bytes=10)
    events = []
    for piece in one_byte(stream, {}):
        events.extend(decoder.feed(piece))
    assert as_tuples(events) == as_tuples(whole_events)


def test_raises_before_any_newline(impl: SimpleNamespace) -> None:
    decoder = impl.SSEDecoder(max_event_bytes=10)
    assert decoder.feed(b"data: 1234") == []  # 10 bytes held: at the limit
    with pytest.raises(EventTooLargeError):
        decoder.feed(b"5")  # 11 bytes, still no line end
    decoder = impl.SSEDecoder(max_event_bytes=10)
    assert decoder.feed(b"data: 12\n") == []  # 8 counted
    assert decoder.feed(b"da") == []  # 8 + 2 held
    with pytest.raises(EventTooLargeError):
        decoder.feed(b"t")  # 8 + 3 held


def test_unterminated_line_held_across_many_feeds_raises(impl: SimpleNamespace) -> None:
    decoder = impl.SSEDecoder(max_event_bytes=1000)
    assert decoder.feed(b"data: ") == []
    for _ in range(9):  # 6 + 900 bytes held
        assert decoder.feed(b"x" * 100) == []
    assert decoder.feed(b"x" * 94) == []  # exactly 1000
    with pytest.raises(EventTooLargeError):
        decoder.feed(b"x")


def test_too_large_keeps_earlier_events_and_stays_failed(impl: SimpleNamespace) -> None:
    decoder = impl.SSEDecoder(max_event_bytes=20)
    assert as_tuples(decoder.feed(b"data: 0\n\n")) == [("message", "0", "", None)]
    with pytest.raises(EventTooLargeError) as info:
        decoder.feed(b"id: 5\ndata: a\n\ndata: b\n\ndata: " + b"x" * 30 + b"\n\ndata: never\n\n")
    assert str(info.value) == "event 4 is larger than max_event_bytes=20"
    assert info.value.events == [impl.ServerSentEvent("message", "a", "5"), impl.ServerSentEvent("message", "b", "5")]
    assert all(type(e) is impl.ServerSentEvent for e in info.value.events)
    # feeding again raises again, even harmless bytes or nothing at all
    with pytest.raises(EventTooLargeError, match="event 4 is larger"):
        decoder.feed(b"\n\ndata: ok\n\n")
    with pytest.raises(EventTooLargeError):
        decoder.feed(b"")
    # close() ends the broken stream; the next one decodes normally
    assert decoder.close() == []
    assert decoder.last_event_id == "5"
    assert as_tuples(decoder.feed(b"data: ok\n\n")) == [("message", "ok", "5", None)]


def test_raising_again_reports_no_old_events(impl: SimpleNamespace) -> None:
    """``.events`` holds what THIS feed call completed: a caller must not see "a" twice."""
    decoder = impl.SSEDecoder(max_event_bytes=20)
    with pytest.raises(EventTooLargeError) as info:
        decoder.feed(b"data: a\n\ndata: " + b"x" * 30)
    assert info.value.events == [impl.ServerSentEvent(data="a")]
    with pytest.raises(EventTooLargeError) as again:
        decoder.feed(b"\n\n")
    assert again.value.events == []


def test_default_limit_is_16_mib_and_none_is_unlimited(impl: SimpleNamespace) -> None:
    import streamfold

    assert streamfold.DEFAULT_MAX_EVENT_BYTES == 16 * 2**20
    limit = streamfold.DEFAULT_MAX_EVENT_BYTES
    payload = b"y" * (limit - 6)  # "data: " + payload is exactly the default limit
    decoder = impl.SSEDecoder()
    [event] = decoder.feed(b"data: " + payload + b"\n\n")
    assert len(event.data) == limit - 6
    with pytest.raises(EventTooLargeError):
        impl.SSEDecoder().feed(b"data: " + payload + b"y\n\n")
    big = b"z" * (20 * 2**20)
    unlimited = impl.SSEDecoder(max_event_bytes=None)
    events = unlimited.feed(b"data: " + big[: 2**20]) + unlimited.feed(b"\ndata: " + big + b"\n\n")
    assert [len(e.data) for e in events] == [2**20 + 1 + 20 * 2**20]


# ---------------------------------------------------------------------------
# Field values


def test_invalid_utf8_becomes_replacement_character(impl: SimpleNamespace) -> None:
    stream = b"event: t\xff\nid: i\xfe\ndata: a\xffb\xe2\x82\ndata: \xc3\n\n"
    events = decode_whole_and_bytewise(impl, stream)
    assert as_tuples(events) == [("t\ufffd", "a\ufffdb\ufffd\n\ufffd", "i\ufffd", None)]


def test_valid_utf8_split_across_feeds(impl: SimpleNamespace) -> None:
    text = "héllo € 😀 \u2028"
    events = decode_whole_and_bytewise(impl, f"data: {text}\n\n".encode())
    assert as_tuples(events) == [("message", text, "", None)]


def test_id_with_nul_is_ignored(impl: SimpleNamespace) -> None:
    stream = b"id: 1\n\nid: a\x00b\ndata: x\n\nid: \x00\n\n"
    decoder = impl.SSEDecoder()
    assert as_tuples(decoder.feed(stream)) == [("message", "x", "1", None)]
    assert decoder.last_event_id == "1"
    assert as_tuples(decode_whole_and_bytewise(impl, stream)) == [("message", "x", "1", None)]


def test_empty_id_resets_last_event_id(impl: SimpleNamespace) -> None:
    decoder = impl.SSEDecoder()
    assert as_tuples(decoder.feed(b"id: 1\ndata: a\n\nid\ndata: b\n\n")) == [
        ("message", "a", "1", None),
        ("message", "b", "", None),
    ]
    assert decoder.last_event_id == ""


@pytest.mark.parametrize(
    "line",
    [
        b"retry: -5",
        b"retry: 5x",
        b"retry:",
        b"retry",
        b"retry:  5",
        b"retry: 5 ",
        b"retry: +5",
        b"retry: 5.0",
        b"retry: \xef\xbc\x95",
        b"Retry: 5",
    ],
)
def test_invalid_retry_is_ignored(impl: SimpleNamespace, line: bytes) -> None:
    decoder = impl.SSEDecoder()
    assert as_tuples(decoder.feed(b"retry: 100\ndata: a\n\n")) == [("message", "a", "", 100)]
    assert as_tuples(decoder.feed(line + b"\ndata: b\n\n")) == [("message", "b", "", None)]
    assert decoder.retry == 100


def test_valid_retry(impl: SimpleNamespace) -> None:
    decoder = impl.SSEDecoder()
    assert decoder.retry is None
    events = decoder.feed(b"retry: 007\ndata: a\n\ndata: b\n\nretry:86400000\n\n")
    assert as_tuples(events) == [("message", "a", "", 7), ("message", "b", "", None)]
    assert decoder.retry == 86400000  # set without any event being dispatched


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085"])
def test_unicode_line_separators_do_not_end_lines(impl: SimpleNamespace, separator: str) -> None:
    text = f'{{"a": "x{separator}y", "b": 1}}'
    events = decode_whole_and_bytewise(impl, f"data: {text}{separator}\n\n".encode())
    assert as_tuples(events) == [("message", text + separator, "", None)]
    assert impl.ServerSentEvent(data=text).json() == {"a": f"x{separator}y", "b": 1}


@pytest.mark.parametrize("empty_feeds", [0, 2])
def test_crlf_split_across_feeds_is_one_line_end(impl: SimpleNamespace, empty_feeds: int) -> None:
    decoder = impl.SSEDecoder()
    events = []
    for piece in [b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]:
        events.extend(decoder.feed(piece))
        for _ in range(empty_feeds):
            events.extend(decoder.feed(b""))
    # were any of those CR|LF pairs two line ends, "a" and "b" would be separate events
    assert as_tuples(events) == [("message", "a\nb", "", None)]


def test_cr_then_cr_across_feeds_is_two_line_ends(impl: SimpleNamespace) -> None:
    decoder = impl.SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert as_tuples(decoder.feed(b"\r")) == [("message", "a", "", None)]
    assert decoder.feed(b"data: b\r") == []
    assert decoder.feed(b"\n") == []
    assert as_tuples(decoder.feed(b"\r\n")) == [("message", "b", "", None)]


@pytest.mark.parametrize("bad", ["data: x\n\n", None, 5, ["data: x\n\n"]])
def test_feeding_a_non_bytes_raises_type_error(impl: SimpleNamespace, bad: object) -> None:
    with pytest.raises(TypeError):
        impl.SSEDecoder().feed(bad)
    with pytest.raises(TypeError):
        impl.LineSplitter().feed(bad)


def test_bytes_like_input_is_accepted(impl: SimpleNamespace) -> None:
    stream = b"data: a\n\ndata: b\n\n"
    for piece in (bytearray(stream), memoryview(stream)):
        assert as_tuples(impl.SSEDecoder().feed(piece)) == [("message", "a", "", None), ("message", "b", "", None)]
        assert impl.LineSplitter().feed(piece) == [b"data: a", b"", b"data: b", b""]


# ---------------------------------------------------------------------------
# ServerSentEvent


def test_server_sent_event_defaults_and_equality(impl: SimpleNamespace) -> None:
    event = impl.ServerSentEvent()
    assert (event.event, event.data, event.id, event.retry) == ("message", "", "", None)
    assert impl.ServerSentEvent("a", "b", "c", 1) == impl.ServerSentEvent(event="a", data="b", id="c", retry=1)
    assert impl.ServerSentEvent("a", "b", "c", 1) != impl.ServerSentEvent("a", "b", "c", 2)
    assert impl.ServerSentEvent(data="x") != impl.ServerSentEvent(data="y")
    assert impl.ServerSentEvent() != ("message", "", "", None)


def test_server_sent_event_json(impl: SimpleNamespace) -> None:
    [event] = impl.SSEDecoder().feed(b'data: {"choices": [{"delta": \ndata: {"content": "h\\u00e9"}}], "n": 1.5}\n\n')
    assert event.json() == {"choices": [{"delta": {"content": "hé"}}], "n": 1.5}
    assert impl.ServerSentEvent(data="[1, null, true]").json() == [1, None, True]
    with pytest.raises(ValueError):
        impl.ServerSentEvent(data="[DONE]").json()


# ---------------------------------------------------------------------------
# Cost is linear: big inputs in many pieces finish (a quadratic decoder would take minutes)


def test_eight_mib_event_in_4_kib_pieces(impl: SimpleNamespace) -> None:
    size = 8 * 2**20
    payload = bytes(range(97, 123)) * (size // 26 + 1)
    payload = payload[:size]
    stream = b"data: " + payload + b"\n\n"
    decoder = impl.SSEDecoder(max_event_bytes=None)
    events = []
    for i in range(0, len(stream), 4096):
        events.extend(decoder.feed(stream[i : i + 4096]))
    assert len(events) == 1
    assert events[0].data == payload.decode()


def test_many_data_lines_and_events_in_small_pieces(impl: SimpleNamespace) -> None:
    # one event of 100k data lines, then 50k small events, fed in 64-byte pieces
    stream = b"data: ab\n" * 100_000 + b"\n" + b"data: c\n\n" * 50_000
    decoder = impl.SSEDecoder()
    events = []
    for i in range(0, len(stream), 64):
        events.extend(decoder.feed(stream[i : i + 64]))
    assert len(events) == 50_001
    assert events[0].data == "\n".join(["ab"] * 100_000)
    assert {e.data for e in events[1:]} == {"c"}
