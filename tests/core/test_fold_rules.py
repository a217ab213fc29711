"""The folding rules of docs/contract.md, sections 2 to 4, one by one.

Expected values are written by hand from the rules, never computed by the code under test.
"""

from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from streams import chunk, pieces, sse

from streamfold import IncompleteStreamError, StreamAPIError, StreamDecodeError


def fold_chunks(impl: SimpleNamespace, *chunks: dict[str, Any]) -> dict[str, Any]:
    """The snapshot after ``add_chunk`` of each chunk (no completeness check)."""
    acc = impl.ChatAccumulator()
    for item in chunks:
        acc.add_chunk(item)
    return acc.snapshot()


def deltas(impl: SimpleNamespace, *bodies: dict[str, Any]) -> dict[str, Any]:
    """The message of choice 0 after one chunk per delta body."""
    chunks = [{"choices": [{"index": 0, "delta": body}]} for body in bodies]
    return fold_chunks(impl, *chunks)["choices"][0]["message"]


def calls(impl: SimpleNamespace, *fragment_lists: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The folded tool calls of choice 0, one chunk per list of fragments."""
    return deltas(impl, *({"tool_calls": frags} for frags in fragment_lists))["tool_calls"]


def tc(id: str = "", name: str = "", arguments: str = "", type: str = "function", **extra: Any) -> dict[str, Any]:
    """An expected folded tool call."""
    return {"id": id, "type": type, "function": {"name": name, "arguments": arguments}, **extra}


def msg(content: Any = None, role: Any = "assistant", refusal: Any = None, **extra: Any) -> dict[str, Any]:
    """An expected message."""
    return {"role": role, "content": content, "refusal": refusal, **extra}


# ---------------------------------------------------------------------------
# Top level


def test_top_level_first_non_empty_wins(impl: SimpleNamespace) -> None:
    result = fold_chunks(
        impl,
        {"id": None, "created": 0, "model": "", "system_fingerprint": None, "provider": "", "choices": []},
        {"id": "", "created": 0, "model": "m1", "system_fingerprint": "fp1", "provider": "p1"},
        {"id": "a", "created": 5, "model": "m2", "system_fingerprint": "fp2", "provider": "p2"},
        {"id": "b", "created": 6, "model": "m3", "system_fingerprint": None, "provider": None},
    )
    assert result == {
        "id": "a",
        "object": "chat.completion",
        "created": 5,
        "model": "m1",
        "system_fingerprint": "fp1",
        "provider": "p1",
        "choices": [],
    }


def test_top_level_empty_value_kept_when_nothing_better(impl: SimpleNamespace) -> None:
    result = fold_chunks(impl, {"id": "", "created": 0, "extra": "", "count": 0}, {"id": None, "created": None})
    assert result == {
        "id": "",
        "object": "chat.completion",
        "created": 0,
        "model": None,
        "extra": "",
        "count": 0,
        "choices": [],
    }


def test_top_level_zero_is_empty_but_other_values_are_not(impl: SimpleNamespace) -> None:
    result = fold_chunks(impl, {"n": 0, "flag": {}, "lst": []}, {"n": 7, "flag": {"x": 1}, "lst": [1]})
    assert (result["n"], result["flag"], result["lst"]) == (7, {}, [])


def test_top_level_never_seen_is_none(impl: SimpleNamespace) -> None:
    assert fold_chunks(impl) == {"id": None, "object": "chat.completion", "created": None, "model": None, "choices": []}


@pytest.mark.parametrize("objects", [["chat.completion.chunk"], [""], ["something.else", "chat.completion.chunk"], []])
def test_object_is_always_chat_completion(impl: SimpleNamespace, objects: list[str]) -> None:
    chunks = [{"object": obj, "choices": []} for obj in objects] or [{"choices": []}]
    assert fold_chunks(impl, *chunks)["object"] == "chat.completion"


def test_obfuscation_dropped(impl: SimpleNamespace) -> None:
    result = fold_chunks(impl, chunk("a", obfuscation="Qx1"), chunk("b", obfuscation="zz"))
    assert "obfuscation" not in result


def test_result_key_orders(impl: SimpleNamespace) -> None:
    first = {
        "usage": {"total_tokens": 1},
        "choices": [
            {
                "finish_reason": None,
                "zz_member": 1,
                "delta": {
                    "tool_calls": [
                        {
                            "index": 0,
                            "function": {"arguments": "{}", "name": "f", "strict": True},
                            "extra_call": "e",
                            "type": "function",
                            "id": "c1",
                        }
                    ],
                    "reasoning_content": "r",
                    "refusal": None,
                    "content": "c",
                    "role": "assistant",
                },
                "logprobs": None,
                "index": 0,
            }
        ],
        "zeta": 1,
        "model": "m",
        "alpha": 2,
        "id": "x",
        "created": 3,
    }
    second = {
        "beta": 3,
        "choices": [
            {"index": 0, "aa_member": 2, "delta": {"function_call": {"arguments": "", "name": "g"}, "annotations": [1]}}
        ],
    }
    result = fold_chunks(impl, first, second)
    assert list(result) == ["id", "object", "created", "model", "zeta", "alpha", "beta", "choices", "usage"]
    choice = result["choices"][0]
    assert list(choice) == ["index", "message", "logprobs", "finish_reason", "zz_member", "aa_member"]
    message = choice["message"]
    assert list(message) == [
        "role",
        "content",
        "refusal",
        "tool_calls",
        "reasoning_content",
        "function_call",
        "annotations",
    ]
    assert list(message["tool_calls"][0]) == ["id", "type", "function", "extra_call"]
    assert list(message["tool_calls"][0]["function"]) == ["name", "arguments", "strict"]
    assert list(message["function_call"]) == ["name", "arguments"]


# ---------------------------------------------------------------------------
# usage


def test_usage_last_non_null_wins(impl: SimpleNamespace) -> None:
    result = fold_chunks(impl, {"usage": {"a": 1}}, {"usage": None}, {"usage": {"b": 2}}, {"usage": None}, {})
    assert result["usage"] == {"b": 2}


def test_usage_absent_when_never_non_null(impl: SimpleNamespace) -> None:
    assert "usage" not in fold_chunks(impl, {"usage": None}, chunk("x"))


def test_x_groq_usage_only_without_top_level_usage(impl: SimpleNamespace) -> None:
    groq = {"x_groq": {"id": "r", "usage": {"g": 1}}}
    assert fold_chunks(impl, {"x_groq": {"id": "r"}}, groq)["usage"] == {"g": 1}
    assert fold_chunks(impl, groq, {"usage": {"top": 1}})["usage"] == {"top": 1}
    assert fold_chunks(impl, {"usage": {"top": 1}}, groq)["usage"] == {"top": 1}
    assert fold_chunks(impl, groq, {"x_groq": {"id": "r", "usage": {"g": 2}}}, {"x_groq": {"usage": None}})[
        "usage"
    ] == {"g": 2}


# ---------------------------------------------------------------------------
# choices


def test_choices_keyed_by_index_in_any_order_and_sorted(impl: SimpleNamespace) -> None:
    result = fold_chunks(
        impl,
        {"choices": [{"index": 1, "delta": {"content": "b"}}, {"index": 0, "delta": {"content": "a"}}]},
        {"choices": [{"index": 3, "delta": {"content": "d"}}]},
        {"choices": [{"index": 0, "delta": {"content": "A"}}, {"index": 3, "delta": {"content": "D"}}]},
    )
    assert [(c["index"], c["message"]["content"]) for c in result["choices"]] == [(0, "aA"), (1, "b"), (3, "dD")]


def test_missing_or_null_choice_index_is_zero(impl: SimpleNamespace) -> None:
    result = fold_chunks(
        impl,
        {"choices": [{"delta": {"content": "a"}}]},
        {"choices": [{"index": None, "delta": {"content": "b"}}]},
        {"choices": [{"index": 0, "delta": {"content": "c"}}]},
    )
    assert result["choices"] == [{"index": 0, "message": msg("abc"), "logprobs": None, "finish_reason": None}]


@pytest.mark.parametrize("choices", [[], None, "absent"])
def test_empty_choices_merge_nothing(impl: SimpleNamespace, choices: Any) -> None:
    extra = {} if choices == "absent" else {"choices": choices}
    result = fold_chunks(impl, chunk("x"), {"id": "other", **extra})
    assert result["choices"] == [{"index": 0, "message": msg("x"), "logprobs": None, "finish_reason": None}]


def test_choice_without_delta(impl: SimpleNamespace) -> None:
    result = fold_chunks(impl, {"choices": [{"index": 0, "finish_reason": "stop"}]})
    assert result["choices"] == [{"index": 0, "message": msg(), "logprobs": None, "finish_reason": "stop"}]


def test_finish_reason_last_non_null_wins(impl: SimpleNamespace) -> None:
    result = fold_chunks(impl, chunk(finish="length"), chunk(finish=None), chunk(finish="stop"), chunk(finish=None))
    assert result["choices"][0]["finish_reason"] == "stop"


def test_other_choice_members_last_non_null_wins(impl: SimpleNamespace) -> None:
    def with_member(value: Any) -> dict[str, Any]:
        return {"choices": [{"index": 0, "delta": {}, "content_filter_results": value}]}

    result = fold_chunks(
        impl, with_member({"hate": 1}), with_member(None), with_member({"violence": 2}), with_member(None)
    )
    # replaced whole, not merged: it is per-chunk information, not a delta
    assert result["choices"][0]["content_filter_results"] == {"violence": 2}
    result = fold_chunks(impl, with_member("a"), with_member("b"))
    assert result["choices"][0]["content_filter_results"] == "b"


# ---------------------------------------------------------------------------
# logprobs


def lp(value: Any) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": {}, "logprobs": value}]}


T1 = {"token": "Hi", "logprob": -0.1, "bytes": [72, 105], "top_logprobs": []}
T2 = {"token": "!", "logprob": -0.2, "bytes": [33], "top_logprobs": []}
R1 = {"token": "No", "logprob": -0.3, "bytes": [78, 111], "top_logprobs": []}


def test_logprobs_null_until_non_null(impl: SimpleNamespace) -> None:
    assert fold_chunks(impl, lp(None), lp(None))["choices"][0]["logprobs"] is None
    assert fold_chunks(impl, lp(None), lp({}))["choices"][0]["logprobs"] == {"content": None, "refusal": None}


def test_logprobs_lists_extended(impl: SimpleNamespace) -> None:
    result = fold_chunks(
        impl,
        lp(None),
        lp({"content": [T1], "refusal": None}),
        lp(None),
        lp({"content": None, "refusal": [R1]}),
        lp({"content": [T2]}),
        lp({"content": [], "refusal": []}),
        lp({}),
    )
    assert result["choices"][0]["logprobs"] == {"content": [T1, T2], "refusal": [R1]}


def test_logprobs_other_members_last_non_null(impl: SimpleNamespace) -> None:
    result = fold_chunks(
        impl, lp({"content": [T1], "extra": 1}), lp({"extra": None}), lp({"extra": 2, "content": [T2]})
    )
    assert result["choices"][0]["logprobs"] == {"content": [T1, T2], "refusal": None, "extra": 2}


# ---------------------------------------------------------------------------
# delta: generic rules


def test_generic_null_ignored(impl: SimpleNamespace) -> None:
    message = deltas(impl, {"x": "a"}, {"x": None}, {"y": {"p": 1}}, {"y": {"p": None}}, {"y": None})
    assert message == msg(x="a", y={"p": 1})


def test_generic_null_first_does_not_create_member(impl: SimpleNamespace) -> None:
    assert deltas(impl, {"x": None}) == msg()


def test_generic_strings_concatenated(impl: SimpleNamespace) -> None:
    assert deltas(impl, {"x": "a"}, {"x": ""}, {"x": "b"}, {"x": " c "})["x"] == "ab c "


def test_generic_objects_merged_recursively(impl: SimpleNamespace) -> None:
    message = deltas(
        impl,
        {"x": {"p": "a", "q": 1}},
        {"x": {"p": "b", "r": {"s": "t", "n": [1]}}},
        {"x": {"r": {"s": "u", "n": [2]}, "q": None}},
    )
    assert message["x"] == {"p": "ab", "q": 1, "r": {"s": "tu", "n": [1, 2]}}


def test_generic_list_of_indexed_objects_merged_by_index(impl: SimpleNamespace) -> None:
    message = deltas(
        impl,
        {"x": [{"index": 0, "t": "a"}]},
        {"x": [{"index": 1, "t": "b"}, {"index": 0, "t": "c", "n": 5}]},
        {"x": [{"index": 0, "n": 6}, {"index": 1, "t": "d"}]},
    )
    assert message["x"] == [{"index": 0, "t": "ac", "n": 6}, {"index": 1, "t": "bd"}]


def test_generic_same_index_inside_one_list_merges(impl: SimpleNamespace) -> None:
    assert deltas(impl, {"x": [{"index": 2, "t": "a"}, {"index": 2, "t": "b"}]})["x"] == [{"index": 2, "t": "ab"}]


def test_generic_other_lists_extended(impl: SimpleNamespace) -> None:
    message = deltas(
        impl,
        {"nums": [1, 2], "objs": [{"a": 1}], "mixed": ["s"], "strindex": [{"index": "0", "t": "a"}]},
        {"nums": [2, 3], "objs": [{"a": 2}], "mixed": [{"index": 0, "t": "x"}], "strindex": [{"index": "0", "t": "b"}]},
        {"nums": [], "mixed": [{"index": 0, "t": "y"}]},
    )
    assert message["nums"] == [1, 2, 2, 3]
    assert message["objs"] == [{"a": 1}, {"a": 2}]
    assert message["mixed"] == ["s", {"index": 0, "t": "xy"}]
    assert message["strindex"] == [{"index": "0", "t": "a"}, {"index": "0", "t": "b"}]


def test_generic_bool_index_is_not_integer_index(impl: SimpleNamespace) -> None:
    message = deltas(impl, {"x": [{"index": True, "t": "a"}]}, {"x": [{"index": 1, "t": "b"}]})
    assert message["x"] == [{"index": True, "t": "a"}, {"index": 1, "t": "b"}]


def test_generic_numbers_and_bools_replace(impl: SimpleNamespace) -> None:
    message = deltas(
        impl,
        {"n": 3, "f": 1.5, "b": True},
        {"n": 4, "f": 2.5, "b": False},
        {"n": 4},
    )
    assert (message["n"], message["f"], message["b"]) == (4, 2.5, False)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("a", 5),
        (5, "b"),
        ({"a": 1}, "s"),
        ("s", {"a": 1}),
        ([1], {"a": 1}),
        ({"a": 1}, [1]),
        ("s", [1]),
        (True, "t"),
        (1, False),
    ],
)
def test_generic_type_mismatch_replaces(impl: SimpleNamespace, old: Any, new: Any) -> None:
    assert deltas(impl, {"x": old}, {"x": new})["x"] == new


def test_generic_rules_nested_in_lists(impl: SimpleNamespace) -> None:
    message = deltas(
        impl,
        {"annotations": [{"index": 0, "type": "url_citation", "url_citation": {"url": "http://a", "title": "T"}}]},
        {"annotations": [{"index": 0, "url_citation": {"title": "itle", "start_index": 3}}]},
        {"annotations": [{"index": 0, "url_citation": {"start_index": 4}}]},
    )
    assert message["annotations"] == [
        {"index": 0, "type": "url_citation", "url_citation": {"url": "http://a", "title": "Title", "start_index": 4}}
    ]


# ---------------------------------------------------------------------------
# role, content, refusal


def test_role_default_and_replaced(impl: SimpleNamespace) -> None:
    assert deltas(impl, {"content": "x"})["role"] == "assistant"
    assert deltas(impl, {"role": "assistant"}, {"role": "assistant"}, {"role": "assistant"})["role"] == "assistant"
    assert deltas(impl, {"role": "assistant"}, {"role": "tool"})["role"] == "tool"
    assert deltas(impl, {"role": "tool"}, {"role": None})["role"] == "tool"


def test_content_and_refusal_always_present_null_until_string(impl: SimpleNamespace) -> None:
    assert deltas(impl, {}) == msg()
    assert deltas(impl, {"content": None, "refusal": None}) == msg()
    assert deltas(impl, {"content": ""}) == msg("")
    assert deltas(impl, {"refusal": ""}) == msg(refusal="")


def test_content_and_refusal_concatenated(impl: SimpleNamespace) -> None:
    message = deltas(
        impl,
        {"content": None, "refusal": "I can"},
        {"content": "a", "refusal": "'t"},
        {"content": None, "refusal": None},
        {"content": "b", "refusal": " help."},
    )
    assert message == msg("ab", refusal="I can't help.")


# ---------------------------------------------------------------------------
# content as a list of typed parts (Mistral's reasoning models)


def thinking(*texts: str) -> dict[str, Any]:
    """A thinking part as Mistral sends it."""
    return {"type": "thinking", "thinking": [{"type": "text", "text": t} for t in texts]}


def text_part(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def test_parts_mistral_sequence(impl: SimpleNamespace) -> None:
    message = deltas(
        impl,
        {"role": "assistant", "content": [thinking("Two and")]},
        {"content": [thinking(" two.")]},
        {"content": [text_part("It is")]},
        {"content": [text_part(" 4.")]},
        {"content": ""},
    )
    assert message == msg([thinking("Two and two."), text_part("It is 4.")])


def test_parts_string_before_list_becomes_leading_text_part(impl: SimpleNamespace) -> None:
    assert deltas(impl, {"content": "Hel"}, {"content": "lo"}, {"content": [text_part(" you")]}) == msg(
        [text_part("Hello you")]
    )
    assert deltas(impl, {"content": "Hi"}, {"content": [thinking("hmm")]}) == msg([text_part("Hi"), thinking("hmm")])
    # an empty string before the list gives no part
    assert deltas(impl, {"content": ""}, {"content": [thinking("hmm")]}) == msg([thinking("hmm")])


def test_parts_string_after_list_is_a_text_part(impl: SimpleNamespace) -> None:
    assert deltas(impl, {"content": [thinking("a")]}, {"content": "b"}, {"content": "c"}) == msg(
        [thinking("a"), text_part("bc")]
    )
    assert deltas(impl, {"content": [text_part("a")]}, {"content": "b"}) == msg([text_part("ab")])


def test_parts_empty_string_and_empty_list_add_nothing(impl: SimpleNamespace) -> None:
    assert deltas(impl, {"content": [text_part("a")]}, {"content": ""}, {"content": []}) == msg([text_part("a")])
    assert deltas(impl, {"content": []}) == msg([])
    assert deltas(impl, {"content": "a"}, {"content": []}) == msg([text_part("a")])


def test_parts_merge_only_into_the_last_part_of_the_same_kind(impl: SimpleNamespace) -> None:
    message = deltas(
        impl,
        {"content": [text_part("a"), text_part("b"), thinking("c"), thinking("d"), text_part("e")]},
        {"content": [text_part("f")]},
    )
    assert message == msg([text_part("ab"), thinking("cd"), text_part("ef")])


def test_parts_thinking_lists_merge_by_the_same_rule(impl: SimpleNamespace) -> None:
    image = {"type": "image_url", "image_url": {"url": "u"}}
    message = deltas(
        impl,
        {"content": [{"type": "thinking", "thinking": [text_part("a"), image]}]},
        {"content": [{"type": "thinking", "thinking": [text_part("b")]}]},
        {"content": [{"type": "thinking", "thinking": [image, text_part("c")]}]},
    )
    assert message == msg(
        [{"type": "thinking", "thinking": [text_part("a"), image, text_part("b"), image, text_part("c")]}]
    )


def test_parts_of_other_types_are_appended(impl: SimpleNamespace) -> None:
    ref = {"type": "reference", "reference_ids": [1]}
    message = deltas(
        impl, {"content": [text_part("a"), ref]}, {"content": [ref, {"other": 1}]}, {"content": [{"other": 2}]}
    )
    assert message == msg([text_part("a"), ref, ref, {"other": 1}, {"other": 2}])


def test_parts_other_members_follow_the_generic_rules(impl: SimpleNamespace) -> None:
    message = deltas(
        impl,
        {"content": [{"type": "thinking", "thinking": [text_part("a")], "closed": False, "note": "x"}]},
        {"content": [{"type": "thinking", "thinking": [text_part("b")], "closed": True, "note": "y", "tag": None}]},
    )
    assert message == msg([{"type": "thinking", "thinking": [text_part("ab")], "closed": True, "note": "xy"}])


def test_parts_thinking_as_a_string(impl: SimpleNamespace) -> None:
    message = deltas(
        impl, {"content": [{"type": "thinking", "thinking": "a"}]}, {"content": [{"type": "thinking", "thinking": "b"}]}
    )
    assert message == msg([{"type": "thinking", "thinking": "ab"}])


def test_parts_events_content_and_reasoning(impl: SimpleNamespace) -> None:
    data = sse(
        chunk(role="assistant", delta={"content": [thinking("Two")]}),
        chunk(delta={"content": [thinking(" and two")]}),
        chunk(delta={"content": [text_part("It is"), thinking("?")]}),
        chunk(" 4"),
        chunk("", finish="stop"),
    )
    acc = impl.ChatAccumulator()
    events = [e for e in acc.feed_events(data) if e.type != "chunk"]
    deltas_seen = [(e.type, e.delta, e.snapshot) for e in events if e.type.endswith(".delta")]
    assert deltas_seen == [
        ("reasoning.delta", "Two", "Two"),
        ("reasoning.delta", " and two", "Two and two"),
        ("content.delta", "It is", "It is"),
        ("reasoning.delta", "?", "Two and two?"),
        ("content.delta", " 4", "It is 4"),
    ]
    done = [
        (e.type, getattr(e, "reasoning", None) or getattr(e, "content", None), e.finish_reason)
        for e in events
        if e.type.endswith(".done")
    ]
    assert done == [("reasoning.done", "Two and two?", "stop"), ("content.done", "It is 4", "stop")]
    assert acc.result()["choices"][0]["message"]["content"] == [
        thinking("Two and two"),
        text_part("It is"),
        thinking("?"),
        text_part(" 4"),
    ]


def test_parts_events_string_text_carries_on(impl: SimpleNamespace) -> None:
    """Text folded as a string before the list: the content snapshots carry on from it."""
    data = sse(chunk("Hi", role="assistant"), chunk(delta={"content": [text_part(" there")]}), chunk(finish="stop"))
    events = [e for e in impl.ChatAccumulator().feed_events(data) if e.type.startswith("content.")]
    assert [(e.type, getattr(e, "snapshot", None)) for e in events] == [
        ("content.delta", "Hi"),
        ("content.delta", "Hi there"),
        ("content.done", None),
    ]
    assert events[-1].content == "Hi there"


@pytest.mark.parametrize("size", [1, 7, None], ids=["bytewise", "7-bytes", "whole"])
def test_parts_split_anywhere(impl: SimpleNamespace, size: int | None) -> None:
    data = sse(
        chunk(role="assistant", delta={"content": [thinking("pens\u00e9e \U0001f914")]}),
        chunk(delta={"content": [text_part("r\u00e9ponse")]}),
        chunk("", finish="stop"),
    )
    source = [data] if size is None else pieces(data, size)
    assert impl.fold(source)["choices"][0]["message"]["content"] == [
        thinking("pens\u00e9e \U0001f914"),
        text_part("r\u00e9ponse"),
    ]


def test_parts_kept_in_partial(impl: SimpleNamespace) -> None:
    data = sse(
        chunk(role="assistant", delta={"content": [thinking("a")]}),
        chunk(delta={"content": [text_part("b")]}),
        done=False,
    )
    with pytest.raises(IncompleteStreamError) as info:
        impl.fold(data)
    assert info.value.partial is not None
    assert info.value.partial["choices"][0]["message"]["content"] == [thinking("a"), text_part("b")]


def test_parts_snapshot_shares_nothing(impl: SimpleNamespace) -> None:
    acc = impl.ChatAccumulator()
    acc.add_chunk(chunk(delta={"content": [thinking("a"), {"type": "x", "v": [1]}]}))
    first = acc.snapshot()
    first["choices"][0]["message"]["content"][0]["thinking"].append("junk")
    first["choices"][0]["message"]["content"][1]["v"].append(2)
    acc.add_chunk(chunk(delta={"content": [thinking("b")]}))
    assert acc.snapshot()["choices"][0]["message"]["content"] == [thinking("a"), {"type": "x", "v": [1]}, thinking("b")]


# ---------------------------------------------------------------------------
# content and refusal of another type


@pytest.mark.parametrize(
    "value",
    [7, 1.5, True, {"type": "text", "text": "x"}, [1], ["a"], [None], [text_part("ok"), 3], [[]]],
    ids=["int", "float", "bool", "object", "list-of-int", "list-of-str", "list-of-null", "mixed", "list-of-list"],
)
def test_content_of_another_type_raises_and_keeps_the_text(impl: SimpleNamespace, value: Any) -> None:
    data = sse(chunk("Hello", role="assistant"), chunk(delta={"content": value}))
    with pytest.raises(
        StreamDecodeError, match=r"^event 2: choices\[0\]\.delta\.content must be a string or a list of objects, got "
    ):
        impl.fold(data)
    with pytest.raises(StreamDecodeError) as info:
        impl.fold(data)
    assert info.value.partial is not None
    assert info.value.partial["choices"][0]["message"]["content"] == "Hello"


@pytest.mark.parametrize(
    "value", [7, True, ["no"], {"a": 1}, [text_part("no")]], ids=["int", "bool", "list", "object", "parts"]
)
def test_refusal_of_another_type_raises_and_keeps_the_refusal(impl: SimpleNamespace, value: Any) -> None:
    data = sse(chunk(role="assistant", delta={"refusal": "I can't"}), chunk(delta={"refusal": value}))
    with pytest.raises(
        StreamDecodeError, match=r"^event 2: choices\[0\]\.delta\.refusal must be a string, got "
    ) as info:
        impl.fold(data)
    assert info.value.partial is not None
    assert info.value.partial["choices"][0]["message"]["refusal"] == "I can't"


def test_bad_content_is_checked_before_anything_of_the_chunk_is_folded(impl: SimpleNamespace) -> None:
    bad = {
        "id": "later-id",
        "choices": [
            {"index": 0, "delta": {"reasoning_content": "more", "content": "more"}},
            {"index": 1, "delta": {"content": 7}},
        ],
        "usage": {"total_tokens": 3},
    }
    data = sse({"id": "", "choices": [{"index": 0, "delta": {"content": "a", "reasoning_content": "r"}}]}, bad)
    with pytest.raises(StreamDecodeError) as info:
        impl.fold(data)
    assert info.value.partial == {
        "id": "",
        "object": "chat.completion",
        "created": None,
        "model": None,
        "choices": [{"index": 0, "message": msg("a", reasoning_content="r"), "logprobs": None, "finish_reason": None}],
    }


# ---------------------------------------------------------------------------
# message beside delta (Writer)


def test_message_beside_delta_is_ignored(impl: SimpleNamespace) -> None:
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    result = fold_chunks(
        impl,
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {"role": "assistant", "content": "Hi"},
                    "message": {"role": "assistant", "content": "Hi"},
                }
            ]
        },
        {
            "choices": [
                {"index": 0, "delta": {"tool_calls": [call]}, "message": {"content": None, "tool_calls": [call]}}
            ]
        },
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {},
                    "message": {"content": None, "tool_calls": None},
                    "finish_reason": "tool_calls",
                }
            ]
        },
    )
    assert result["choices"] == [
        {
            "index": 0,
            "message": msg("Hi", tool_calls=[tc("call_1", "f", "{}")]),
            "logprobs": None,
            "finish_reason": "tool_calls",
        }
    ]


def test_message_without_delta_is_another_choice_member(impl: SimpleNamespace) -> None:
    """Only beside a delta does ``message`` mirror it; alone it is per-chunk information (last wins)."""
    result = fold_chunks(
        impl,
        {"choices": [{"index": 0, "delta": {"content": "a"}}]},
        {"choices": [{"index": 0, "message": {"role": "assistant", "content": "whole"}, "finish_reason": "stop"}]},
    )
    assert result["choices"][0]["message"] == {"role": "assistant", "content": "whole"}


# ---------------------------------------------------------------------------
# tool calls


def test_tool_calls_openai_shape(impl: SimpleNamespace) -> None:
    result = calls(
        impl,
        [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "f", "arguments": ""}}],
        [{"index": 0, "function": {"arguments": '{"x"'}}],
        [{"index": 0, "function": {"arguments": ": 1}"}}],
    )
    assert result == [tc("call_a", "f", '{"x": 1}')]


def test_tool_calls_interleaved_by_index(impl: SimpleNamespace) -> None:
    result = calls(
        impl,
        [
            {"index": 0, "id": "a", "function": {"name": "f", "arguments": "["}},
            {"index": 1, "id": "b", "function": {"name": "g", "arguments": "{"}},
        ],
        [{"index": 1, "function": {"arguments": "}"}}],
        [{"index": 0, "function": {"arguments": "]"}}],
    )
    assert result == [tc("a", "f", "[]"), tc("b", "g", "{}")]


def test_tool_call_missing_index_continues_last_call(impl: SimpleNamespace) -> None:
    result = calls(
        impl,
        [{"index": 0, "id": "a", "function": {"name": "f", "arguments": "{"}}],
        [{"index": 1, "id": "b", "function": {"name": "g", "arguments": "["}}],
        [{"function": {"arguments": "]"}}],
        [{"index": 0, "function": {"arguments": "}"}}],
    )
    assert result == [tc("a", "f", "{}"), tc("b", "g", "[]")]


def test_tool_call_without_index_gets_previous_index_plus_one(impl: SimpleNamespace) -> None:
    result = calls(
        impl,
        [{"index": 2, "id": "x", "function": {"name": "c", "arguments": ""}}],
        [{"index": 0, "id": "y", "function": {"name": "a", "arguments": ""}}],
        [{"id": "z", "function": {"name": "b", "arguments": ""}}],  # previous call has index 0: this one is 1
        [{"index": 1, "function": {"arguments": "Z"}}],
    )
    assert result == [tc("y", "a"), tc("z", "b", "Z"), tc("x", "c")]


def test_first_tool_call_without_index_gets_zero(impl: SimpleNamespace) -> None:
    result = calls(
        impl,
        [{"id": "a", "function": {"name": "f"}}],
        [{"index": 0, "function": {"arguments": "A"}}],
        [{"index": 1, "id": "b", "function": {"name": "g", "arguments": "B"}}],
    )
    assert result == [tc("a", "f", "A"), tc("b", "g", "B")]


def test_different_id_starts_new_call_at_same_index(impl: SimpleNamespace) -> None:
    result = calls(
        impl,
        [{"index": 0, "id": "a", "function": {"name": "f", "arguments": "A"}}],
        [{"index": 0, "id": "b", "function": {"name": "g", "arguments": "B"}}],
        [{"index": 0, "function": {"arguments": "b"}}],  # continues the latest call with index 0
        [{"index": 0, "id": "b", "function": {"arguments": "!"}}],  # same id: same call
        [{"index": 0, "id": "", "function": {"arguments": "?"}}],  # empty id: same call
    )
    assert result == [tc("a", "f", "A"), tc("b", "g", "Bb!?")]


def test_id_on_call_that_had_none_is_set(impl: SimpleNamespace) -> None:
    result = calls(
        impl,
        [{"index": 0, "function": {"name": "f", "arguments": "1"}}],
        [{"index": 0, "id": "late", "function": {"arguments": "2"}}],
    )
    assert result == [tc("late", "f", "12")]


def test_id_type_name_first_non_empty_resend_ignored_different_appended(impl: SimpleNamespace) -> None:
    result = calls(
        impl,
        [{"index": 0, "id": "", "type": "", "function": {"name": ""}}],
        [{"index": 0, "id": "c1", "type": "func", "function": {"name": "get_"}}],
        [{"index": 0, "id": "c1", "type": "func", "function": {"name": "get_"}}],  # identical resend
        [{"index": 0, "id": "", "type": "tion", "function": {"name": "weather"}}],  # different: appended
        [{"index": 0, "id": "c1", "type": "function", "function": {"name": "get_weather"}}],  # identical again
    )
    assert result == [tc("c1", "get_weather", type="function")]


@pytest.mark.parametrize(
    ("pieces_", "expected"),
    [
        (["", {"a": 1}], '{"a":1}'),
        ([{"a": "é"}, "x"], '{"a":"é"}x'),
        (["[", [1, "x", None], "]"], '[[1,"x",null]]'),
        ([5, True, 1.5], "5true1.5"),
        (["a", None, "b"], "ab"),
    ],
)
def test_tool_arguments_concatenated_and_json_serialised(
    impl: SimpleNamespace, pieces_: list[Any], expected: str
) -> None:
    frags = [[{"index": 0, "function": {"arguments": piece}}] for piece in pieces_]
    assert calls(impl, *frags) == [tc(arguments=expected)]


def test_tool_call_defaults(impl: SimpleNamespace) -> None:
    assert calls(impl, [{"index": 0}]) == [tc()]
    assert calls(impl, [{"index": 0, "function": None, "id": None, "type": None}]) == [tc()]
    assert calls(impl, [{"index": 0, "function": {}}]) == [
        {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
    ]


def test_tool_call_extra_members_kept_and_index_dropped(impl: SimpleNamespace) -> None:
    result = calls(
        impl,
        [
            {
                "index": 0,
                "id": "c",
                "function": {"name": "f", "arguments": "", "strict": True},
                "extra_content": {"google": {"thought_signature": "ab"}},
            }
        ],
        [{"index": 0, "function": {"arguments": "{}"}, "extra_content": {"google": {"thought_signature": "cd"}}}],
    )
    assert result == [
        {
            "id": "c",
            "type": "function",
            "function": {"name": "f", "arguments": "{}", "strict": True},
            "extra_content": {"google": {"thought_signature": "abcd"}},
        }
    ]


@pytest.mark.parametrize(
    "bodies",
    [[{}], [{"tool_calls": None}], [{"tool_calls": []}, {"tool_calls": []}], [{"content": "x", "tool_calls": []}]],
)
def test_tool_calls_absent_when_none_arrived(impl: SimpleNamespace, bodies: list[dict[str, Any]]) -> None:
    assert "tool_calls" not in deltas(impl, *bodies)


def test_empty_tool_calls_after_calls_changes_nothing(impl: SimpleNamespace) -> None:
    assert calls(impl, [{"index": 0, "id": "a"}], [], [{"index": 0, "function": {"arguments": "x"}}], []) == [
        tc("a", arguments="x")
    ]


# ---------------------------------------------------------------------------
# legacy function_call


def test_function_call_legacy(impl: SimpleNamespace) -> None:
    message = deltas(
        impl,
        {"role": "assistant", "content": None, "function_call": {"name": "get_weather", "arguments": ""}},
        {"function_call": {"arguments": '{"a"'}},
        {"function_call": {"name": "get_weather", "arguments": ": 1}"}},
        {"function_call": None},
    )
    assert message == msg(function_call={"name": "get_weather", "arguments": '{"a": 1}'})


def test_function_call_defaults_and_name_pieces(impl: SimpleNamespace) -> None:
    assert deltas(impl, {"function_call": {}})["function_call"] == {"name": "", "arguments": ""}
    assert deltas(impl, {"function_call": {"name": "get_"}}, {"function_call": {"name": "weather"}})[
        "function_call"
    ] == {
        "name": "get_weather",
        "arguments": "",
    }


# ---------------------------------------------------------------------------
# snapshot, result, add_chunk


def test_snapshot_mid_stream(impl: SimpleNamespace) -> None:
    acc = impl.ChatAccumulator()
    acc.feed(
        sse(chunk("Hel", role="assistant"), done=False)
        + b"data: "
        + b'{"choices":[{"index":0,"delta":{"content":"lo"}}]'
    )
    assert acc.snapshot()["choices"] == [{"index": 0, "message": msg("Hel"), "logprobs": None, "finish_reason": None}]
    assert (acc.chunks, acc.events, acc.done) == (1, 1, False)
    acc.feed(b"}\n\n")
    assert acc.snapshot()["choices"][0]["message"]["content"] == "Hello"
    acc.feed(sse(chunk(" world", finish="stop")))
    assert acc.snapshot()["choices"] == [
        {"index": 0, "message": msg("Hello world"), "logprobs": None, "finish_reason": "stop"}
    ]
    assert (acc.chunks, acc.events, acc.done) == (3, 4, True)


def test_result_twice_gives_equal_dicts(impl: SimpleNamespace) -> None:
    acc = impl.ChatAccumulator()
    acc.feed(
        sse(
            chunk(
                "a",
                role="assistant",
                tool_calls=[{"index": 0, "id": "c", "function": {"name": "f", "arguments": "{}"}}],
            ),
            chunk(finish="stop", usage={"t": 1}),
        )
    )
    first = acc.result()
    second = acc.result()
    assert first == second
    assert first is not second


def test_mutating_a_snapshot_does_not_change_later_results(impl: SimpleNamespace) -> None:
    acc = impl.ChatAccumulator()
    acc.feed(
        sse(
            chunk("a", role="assistant", delta={"annotations": [{"index": 0, "t": "x"}], "audio": {"data": "A"}}),
            chunk(tool_calls=[{"index": 0, "id": "c", "function": {"name": "f", "arguments": "{}"}}], finish="stop"),
        )
    )
    expected = copy.deepcopy(acc.result())
    snap = acc.snapshot()
    snap["id"] = "changed"
    snap["choices"][0]["message"]["content"] = "changed"
    snap["choices"][0]["message"]["annotations"][0]["t"] = "changed"
    snap["choices"][0]["message"]["annotations"].append(1)
    snap["choices"][0]["message"]["audio"]["data"] = "changed"
    snap["choices"][0]["message"]["tool_calls"][0]["function"]["name"] = "changed"
    snap["choices"][0]["message"]["tool_calls"].append({})
    snap["choices"].append({})
    assert acc.result() == expected
    assert acc.snapshot() == expected


@pytest.mark.parametrize(
    "where",
    [
        "usage",
        "top-level object member",
        "choice member",
        "logprobs entry",
        "logprobs list",
    ],
)
def test_mutating_nested_snapshot_objects_does_not_change_later_results(impl: SimpleNamespace, where: str) -> None:
    acc = impl.ChatAccumulator()
    acc.add_chunk(
        {
            "id": "x",
            "prompt_filter_results": [{"prompt_index": 0}],
            "choices": [
                {
                    "index": 0,
                    "delta": {"content": "hi"},
                    "logprobs": {"content": [{"token": "hi", "logprob": -0.1}]},
                    "content_filter_results": {"hate": {"filtered": False}},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"total_tokens": 3},
        }
    )
    expected = copy.deepcopy(acc.result())
    snap = acc.snapshot()
    choice = snap["choices"][0]
    if where == "usage":
        snap["usage"]["total_tokens"] = 99
    elif where == "top-level object member":
        snap["prompt_filter_results"].append("changed")
    elif where == "choice member":
        choice["content_filter_results"]["hate"] = "changed"
    elif where == "logprobs entry":
        choice["logprobs"]["content"][0]["token"] = "changed"
    else:
        choice["logprobs"]["content"].append("changed")
    assert acc.result() == expected


def openai_like_stream() -> list[dict[str, Any]]:
    """Chunks touching most rules: two choices, tool calls, logprobs, usage, extras."""
    return [
        chunk("", role="assistant", service_tier="default", system_fingerprint="fp", usage=None),
        {
            **chunk(),
            "choices": [{"index": 1, "delta": {"role": "assistant", "content": "B"}, "logprobs": {"content": [T1]}}],
        },
        chunk("Hi", delta={"reasoning_content": "r"}),
        chunk(tool_calls=[{"index": 0, "id": "c", "type": "function", "function": {"name": "f", "arguments": '{"a"'}}]),
        chunk(tool_calls=[{"index": 0, "function": {"arguments": ": {}}"}}]),
        {**chunk(), "choices": [{"index": 1, "delta": {}, "logprobs": {"content": [T2]}, "finish_reason": "length"}]},
        chunk(finish="tool_calls"),
        chunk(choices=[], usage={"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}),
    ]


def test_add_chunk_equals_feed(impl: SimpleNamespace) -> None:
    chunks = openai_like_stream()
    fed = impl.ChatAccumulator()
    fed.feed(sse(*chunks))
    added = impl.ChatAccumulator()
    for item in chunks:
        added.add_chunk(item)
    assert (
        added.snapshot()
        == fed.result()
        == {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1700000000,
            "model": "gpt-test",
            "service_tier": "default",
            "system_fingerprint": "fp",
            "choices": [
                {
                    "index": 0,
                    "message": msg("Hi", reasoning_content="r", tool_calls=[tc("c", "f", '{"a": {}}')]),
                    "logprobs": None,
                    "finish_reason": "tool_calls",
                },
                {
                    "index": 1,
                    "message": msg("B"),
                    "logprobs": {"content": [T1, T2], "refusal": None},
                    "finish_reason": "length",
                },
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
        }
    )
    assert (added.chunks, added.events) == (8, 0)
    assert (fed.chunks, fed.events) == (8, 9)


# ---------------------------------------------------------------------------
# Section 4: end of stream


def test_done_completes_even_with_unfinished_choice(impl: SimpleNamespace) -> None:
    result = impl.fold(sse(chunk("x", role="assistant")))
    assert result["choices"] == [{"index": 0, "message": msg("x"), "logprobs": None, "finish_reason": None}]


def test_done_without_any_chunk_is_complete(impl: SimpleNamespace) -> None:
    assert impl.fold(sse()) == {"id": None, "object": "chat.completion", "created": None, "model": None, "choices": []}


def test_no_done_but_every_choice_finished_is_complete(impl: SimpleNamespace) -> None:
    data = sse(
        chunk("a", index=0),
        chunk("b", index=1),
        chunk(index=1, finish="stop"),
        chunk(index=0, finish="length"),
        done=False,
    )
    assert [(c["message"]["content"], c["finish_reason"]) for c in impl.fold(data)["choices"]] == [
        ("a", "length"),
        ("b", "stop"),
    ]


def test_no_done_and_a_choice_unfinished_is_incomplete(impl: SimpleNamespace) -> None:
    data = sse(chunk("a", index=0, finish="stop"), chunk("b", index=1), done=False)
    with pytest.raises(IncompleteStreamError) as info:
        impl.fold(data)
    assert info.value.partial == {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-test",
        "choices": [
            {"index": 0, "message": msg("a"), "logprobs": None, "finish_reason": "stop"},
            {"index": 1, "message": msg("b"), "logprobs": None, "finish_reason": None},
        ],
    }


@pytest.mark.parametrize(
    "data",
    [b"", b"data: : keepalive\n\n: ping\n\ndata: ping\n\n", b"data: {}"],
    ids=["empty", "keepalives", "unterminated"],
)
def test_no_chunk_is_incomplete_with_partial_none(impl: SimpleNamespace, data: bytes) -> None:
    with pytest.raises(IncompleteStreamError) as info:
        impl.fold(data)
    assert info.value.partial is None


NO_CHOICE = {"object": "chat.completion", "choices": []}


@pytest.mark.parametrize(
    ("chunks", "partial"),
    [
        (
            [
                {
                    "id": "",
                    "model": "",
                    "created": 0,
                    "object": "",
                    "choices": [],
                    "prompt_filter_results": [{"prompt_index": 0}],
                }
            ],
            {"id": "", "created": 0, "model": "", "prompt_filter_results": [{"prompt_index": 0}], **NO_CHOICE},
        ),
        (
            [chunk("x", role="assistant", choices=[]), {"choices": [], "usage": {"total_tokens": 5}}],
            {"id": "chatcmpl-1", "created": 1700000000, "model": "gpt-test", **NO_CHOICE, "usage": {"total_tokens": 5}},
        ),
        ([{"id": "only-top"}], {"id": "only-top", "created": None, "model": None, **NO_CHOICE}),
    ],
    ids=["azure-filter-chunk", "usage-only", "no-choices-member"],
)
def test_chunks_but_no_choice_without_done_is_incomplete(
    impl: SimpleNamespace, chunks: list[dict[str, Any]], partial: dict[str, Any]
) -> None:
    with pytest.raises(IncompleteStreamError, match=r"without \[DONE\] and without any choice$") as info:
        impl.fold(sse(*chunks, done=False))
    assert info.value.partial == partial


def test_chunks_but_no_choice_with_done_is_complete(impl: SimpleNamespace) -> None:
    result = impl.fold(sse({"id": "c", "choices": []}, {"choices": [], "usage": {"total_tokens": 1}}))
    assert result == {
        "id": "c",
        "object": "chat.completion",
        "created": None,
        "model": None,
        "choices": [],
        "usage": {"total_tokens": 1},
    }


# ---------------------------------------------------------------------------
# Section 2: events as chunks


def test_other_event_types_ignored_and_counted(impl: SimpleNamespace) -> None:
    data = sse(
        b'event: ping\ndata: {"choices":[{"delta":{"content":"NO"}}]}\n\n',
        b"event: Message\ndata: {}\n\n",  # event names are case-sensitive
        b"event: message\n",
        chunk("a", role="assistant"),
        b"event:\n",  # empty type: "message"
        chunk("b", finish="stop"),
    )
    acc = impl.ChatAccumulator()
    acc.feed(data)
    assert (acc.events, acc.chunks, acc.ignored, acc.done) == (5, 2, 2, True)
    assert acc.result()["choices"][0]["message"]["content"] == "ab"


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (
            b'{"error":{"message":"overloaded","type":"server_error"}}',
            {"message": "overloaded", "type": "server_error"},
            "overloaded",
        ),
        (b'{"message":"rate limited","code":429}', {"message": "rate limited", "code": 429}, "rate limited"),
        (b"Internal error", "Internal error", "Internal error"),
    ],
    ids=["json-error-member", "json-message", "text"],
)
def test_event_error_raises_api_error(impl: SimpleNamespace, data: bytes, error: Any, message: str) -> None:
    stream = sse(chunk("a", role="assistant"), done=False) + b"event: error\ndata: " + data + b"\n\n"
    with pytest.raises(StreamAPIError) as info:
        impl.fold(stream)
    exc = info.value
    assert exc.error == error
    assert str(exc).startswith("event 2: server error: ")
    assert message in str(exc)
    assert exc.partial is not None and exc.partial["choices"][0]["message"]["content"] == "a"


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (
            b'{"error": {"message": "Service Unavailable", "type": "internal_server_error"}}',
            {"message": "Service Unavailable", "type": "internal_server_error"},
            "Service Unavailable",
        ),
        (
            b'{"error": "overloaded", "message": "try later"}',
            {"error": "overloaded", "message": "try later"},
            "try later",
        ),
        (b'{"error": [1], "code": 5}', {"error": [1], "code": 5}, '\'{"error": [1], "code": 5}\''),
    ],
    ids=["inner-object", "inner-string", "inner-list"],
)
def test_event_error_inner_object_only_when_an_object(
    impl: SimpleNamespace, data: bytes, error: Any, message: str
) -> None:
    """``event: error`` with ``{"error": {...}}`` (Groq): ``.error`` is the inner object."""
    stream = sse(chunk("partial", role="assistant"), done=False) + b"event: error\ndata: " + data + b"\n\n"
    with pytest.raises(StreamAPIError) as info:
        impl.fold(stream)
    assert (info.value.error, info.value.message) == (error, message)
    assert info.value.partial is not None and info.value.partial["choices"][0]["message"]["content"] == "partial"


def test_done_exact_and_everything_after_ignored(impl: SimpleNamespace) -> None:
    acc = impl.ChatAccumulator()
    acc.feed(
        sse(chunk("a", role="assistant"), done=False)
        + b"data: [DONE] \n\ndata:  [DONE]\n\ndata: [done]\n\n"  # not exactly [DONE]: ignored
        + sse(chunk("b"))
        + b'data: {"bad json\n\nevent: error\ndata: x\n\ndata: {"error": {"message": "x"}}\n\n'
    )
    assert (acc.done, acc.chunks, acc.ignored) == (True, 2, 3)
    acc.feed(b'data: {"choices": 5}\n\n' + sse(chunk("c")))
    acc.feed(b"\xff\xfe garbage \x00\r\n\r\n")
    assert acc.result()["choices"] == [{"index": 0, "message": msg("ab"), "logprobs": None, "finish_reason": None}]
    assert (acc.chunks, acc.events) == (2, 6)


@pytest.mark.parametrize(
    "data",
    [
        b"data: ping",
        b"data: : keepalive",
        b"data:",
        b"data: [1, 2]",
        b"data: 42",
        b'data: "str"',
        b"data: null",
        b"data: \xff\xfe",
        b"data: x{}",
    ],
)
def test_non_json_data_ignored_and_counted(impl: SimpleNamespace, data: bytes) -> None:
    acc = impl.ChatAccumulator()
    acc.feed(data + b"\n\n" + sse(chunk("x", role="assistant", finish="stop"), done=False))
    assert (acc.events, acc.chunks, acc.ignored) == (2, 1, 1)
    assert acc.result()["choices"][0]["message"]["content"] == "x"


@pytest.mark.parametrize(
    "prefix",
    [b"data:  ", b"data: \t", b"data: \ndata: ", b"data:\ndata:\t \ndata:  "],
    ids=["space", "tab", "lf", "mixed"],
)
def test_data_starting_with_whitespace_then_brace_is_json(impl: SimpleNamespace, prefix: bytes) -> None:
    acc = impl.ChatAccumulator()
    acc.feed(prefix + b'{"choices":[{"delta":{"content":"x"},"finish_reason":"stop"}]}\n\n')
    assert (acc.chunks, acc.ignored) == (1, 0)
    assert acc.result()["choices"][0]["message"]["content"] == "x"


def test_field_name_with_leading_space_is_not_data(impl: SimpleNamespace) -> None:
    """`` data: {...}`` is a field named " data": ignored; the event's data is the empty line."""
    acc = impl.ChatAccumulator()
    acc.feed(b'data:\n data: {"choices":[]}\n\n')
    assert (acc.events, acc.chunks, acc.ignored) == (1, 0, 1)


@pytest.mark.parametrize("data", [b'{"id": ', b"{", b'{"a": 1}}', b"{'a': 1}", b'{"a": NaN}'])
def test_invalid_json_raises_decode_error(impl: SimpleNamespace, data: bytes) -> None:
    with pytest.raises(StreamDecodeError, match=r"^event 1: invalid JSON \("):
        impl.fold(b"data: " + data + b"\n\n")


def test_invalid_utf8_inside_json_raises_decode_error(impl: SimpleNamespace) -> None:
    with pytest.raises(StreamDecodeError, match=r"^event 2: invalid JSON \("):
        impl.fold(
            sse(chunk("a", role="assistant"), done=False) + b'data: {"choices":[{"delta":{"content":"\xff"}}]}\n\n'
        )


@pytest.mark.parametrize("error", [{"message": "boom"}, "boom", True, 1, [1]])
def test_truthy_error_member_raises_api_error(impl: SimpleNamespace, error: Any) -> None:
    with pytest.raises(StreamAPIError) as info:
        impl.fold(sse({"error": error, "choices": [{"delta": {"content": "x"}}]}))
    assert info.value.error == error
    assert info.value.partial is None


@pytest.mark.parametrize("error", [None, "", {}, [], False, 0])
def test_falsy_error_member_ignored(impl: SimpleNamespace, error: Any) -> None:
    result = impl.fold(sse(chunk("x", role="assistant", finish="stop", error=error)))
    assert result["choices"] == [{"index": 0, "message": msg("x"), "logprobs": None, "finish_reason": "stop"}]
    assert result["id"] == "chatcmpl-1"


# ---------------------------------------------------------------------------
# Long streams


@pytest.mark.parametrize("member", ["content", "refusal", "reasoning_content", "arguments"])
def test_5000_pieces_fold_to_exact_text(impl: SimpleNamespace, member: str) -> None:
    texts = [f"{i}," for i in range(5000)]

    def body(text: str) -> dict[str, Any]:
        if member == "arguments":
            return {"tool_calls": [{"index": 0, "function": {"arguments": text}}]}
        return {member: text}

    acc = impl.ChatAccumulator()
    for i, text in enumerate(texts, 1):
        acc.feed(b"data: " + f'{{"choices":[{{"index":0,"delta":{_json(body(text))}}}]}}'.encode() + b"\n\n")
        if i in (1023, 1024, 1025, 2048, 4999):
            assert _member(acc.snapshot(), member) == "".join(texts[:i])
    acc.feed(sse(chunk(finish="stop")))
    assert _member(acc.result(), member) == "".join(texts)


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _member(result: dict[str, Any], member: str) -> Any:
    message = result["choices"][0]["message"]
    if member == "arguments":
        return message["tool_calls"][0]["function"]["arguments"]
    return message[member]


def test_5000_pieces_split_anywhere(impl: SimpleNamespace) -> None:
    texts = [f"<{i}>" for i in range(5000)]
    data = sse(chunk("", role="assistant"), *(chunk(t) for t in texts), chunk(finish="stop"))
    assert impl.fold(pieces(data, 4093))["choices"][0]["message"]["content"] == "".join(texts)


def test_feed_text_gives_content_text_only(impl: SimpleNamespace) -> None:
    data = sse(
        chunk("", role="assistant", delta={"reasoning_content": "think"}),
        chunk("Hel", delta={"refusal": None}),
        chunk(index=1, delta={"content": [thinking("hidden"), text_part("B1")]}),
        chunk("lo", tool_calls=[{"index": 0, "id": "c", "function": {"name": "f", "arguments": "{}"}}]),
        chunk(index=1, delta={"content": "B2"}, finish="stop"),
        chunk(finish="tool_calls"),
    )
    acc = impl.ChatAccumulator()
    assert [text for piece in pieces(data, 9) for text in acc.feed_text(piece)] == ["Hel", "B1", "lo", "B2"]
    assert acc.result() == impl.fold(data)
