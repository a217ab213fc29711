"""The incremental parser of partial tool-call arguments (shared by both implementations).

The reference is orjson, which decodes the final arguments: on any JSON text cut anywhere,
the parser ends with orjson's value or fails where orjson fails; after every fragment its
live value is a prefix of the final value.
"""

from __future__ import annotations

import json
import random
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamfold._partial_json import PartialJSON, PartialJSONError

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=30,
)


@st.composite
def documents(draw: st.DrawFn) -> str:
    value = draw(json_values)
    indent = draw(st.sampled_from([None, 0, 2]))
    separators = draw(st.sampled_from([None, (",", ":"), (" , ", " : ")]))
    return json.dumps(value, indent=indent, separators=separators, ensure_ascii=draw(st.booleans()))


@st.composite
def cuts(draw: st.DrawFn, text: str) -> list[str]:
    points = sorted(draw(st.sets(st.integers(0, len(text)), max_size=12)))
    bounds = [0, *points, len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:])]


def is_prefix(partial: Any, final: Any) -> bool:
    """``partial`` is what a parser may show of ``final`` part-way: complete members equal,
    the last one possibly still growing, containers never holding anything ``final`` lacks."""
    if type(final) is dict:
        if type(partial) is not dict:
            return False
        keys = list(partial)
        if keys != list(final)[: len(keys)]:
            return False
        return all(partial[k] == final[k] for k in keys[:-1]) and (
            not keys or is_prefix(partial[keys[-1]], final[keys[-1]])
        )
    if type(final) is list:
        if type(partial) is not list or len(partial) > len(final):
            return False
        if not partial:
            return True
        return partial[:-1] == final[: len(partial) - 1] and is_prefix(partial[-1], final[len(partial) - 1])
    return partial == final


def parse(pieces: list[str]) -> PartialJSON:
    parser = PartialJSON()
    for piece in pieces:
        parser.feed(piece)
    return parser


@given(data=st.data(), text=documents())
def test_any_cut_ends_with_orjsons_value_and_grows_by_prefixes(data: st.DataObject, text: str) -> None:
    final = orjson.loads(text)
    parser = PartialJSON()
    for piece in data.draw(cuts(text)):
        parser.feed(piece)
        if parser.value is not None or parser.complete:
            assert is_prefix(parser.value, final), (parser.value, final)
    assert parser.close() == final


@given(text=documents())
def test_one_character_at_a_time(text: str) -> None:
    assert parse(list(text)).close() == orjson.loads(text)


def mutate(text: str, rng: random.Random) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 3)):
        where = rng.randint(0, len(chars))
        op = rng.random()
        if op < 0.4 and chars:
            del chars[min(where, len(chars) - 1)]
        elif op < 0.8:
            chars.insert(where, rng.choice('{}[],:"\\ 0123456789-.eEtrufalsn\x01\u00e9'))
        elif chars:
            chars[min(where, len(chars) - 1)] = rng.choice('"\\{}[]')
    return "".join(chars)


@given(text=documents(), seed=st.integers(0, 2**32 - 1), data=st.data())
def test_broken_text_fails_exactly_where_orjson_fails(text: str, seed: int, data: st.DataObject) -> None:
    broken = mutate(text, random.Random(seed))
    try:
        expected: Any = orjson.loads(broken)
    except orjson.JSONDecodeError:
        expected = PartialJSONError
    parser = PartialJSON()
    try:
        for piece in data.draw(cuts(broken)):
            parser.feed(piece)
        got: Any = parser.close()
    except PartialJSONError:
        got = PartialJSONError
    assert got == expected or (got is not PartialJSONError and expected is not PartialJSONError and got != got)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1,]", "unexpected ']'"),
        ('{"a" 1}', "expected ':'"),
        ('"\\ud800"', "no low surrogate"),
        ("01", "leading zero"),
        ("tru e", "invalid literal"),
        ("[1] x", "extra data"),
        ("[1", "unfinished"),
        ("", "unfinished"),
    ],
)
def test_errors_say_what_is_wrong_and_stick(text: str, message: str) -> None:
    parser = PartialJSON()
    with pytest.raises(PartialJSONError, match=message) as info:
        parser.feed(text)
        parser.close()
    assert parser.error is info.value
    with pytest.raises(PartialJSONError):  # a broken parser stays broken
        parser.feed("1")


def test_unfinished_scalars_are_left_out_until_complete() -> None:
    parser = PartialJSON()
    parser.feed('{"city": "Edin')
    assert parser.value == {}  # the string is not complete yet
    parser.feed('burgh", "days": 1')
    assert parser.value == {"city": "Edinburgh"}  # 1 could still be 10
    parser.feed("0, ")
    assert parser.value == {"city": "Edinburgh", "days": 10}
    parser.feed('"units": [tr')
    assert parser.value == {"city": "Edinburgh", "days": 10, "units": []}
    parser.feed("ue]}")
    assert parser.close() == {"city": "Edinburgh", "days": 10, "units": [True]}


def test_a_backslash_at_the_end_of_a_fragment_escapes_the_next_one() -> None:
    assert parse(['"a\\', '"b"']).close() == 'a"b'
    assert parse(['["\\', "u00", "e9", '"]']).close() == ["\u00e9"]


def test_value_is_live_and_never_copied() -> None:
    parser = PartialJSON()
    parser.feed('{"items": [1, ')
    seen = parser.value
    parser.feed("2]}")
    assert seen is parser.value and seen == {"items": [1, 2]}
