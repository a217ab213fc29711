"""The drop-in's event classes: openai's classes, whose costly fields wait until read."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest

pytest.importorskip("openai")

import pydantic
from openai.lib.streaming import chat as openai_chat
from openai.types.chat import ChatCompletionTokenLogprob

from streamfold.openai import _events as ev

_INSTANCE_DICT = pydantic.BaseModel.__dict__["__dict__"]


class Text:
    """An accumulating text like the core's, counting how often it is read."""

    def __init__(self, value: str) -> None:
        self.text = value
        self.reads = 0

    def value(self) -> str:
        self.reads += 1
        return self.text


def content_delta(text: Text, length: int, parse: bool = False) -> ev.ContentDeltaEvent:
    return ev.content_delta(2, text.text[length - 2 : length], text, length, parse)


def test_a_delta_event_reads_its_text_only_when_asked() -> None:
    text = Text('{"a": 1, "b": "two"}')
    event = content_delta(text, 8, parse=True)
    assert text.reads == 0 and "snapshot" not in _INSTANCE_DICT.__get__(event)
    text.text += ', "c": 3}'  # the text keeps growing after the event
    assert event.snapshot == '{"a": 1,' and text.reads == 1
    assert event.parsed == {"a": 1} and text.reads == 1
    assert event.snapshot == '{"a": 1,' and text.reads == 1  # computed once


@pytest.mark.parametrize(
    "read",
    [
        lambda e: e.model_dump(),
        lambda e: e.model_dump_json(),
        lambda e: e.to_dict(),
        lambda e: e.to_json(),
        repr,
        lambda e: e.model_dump(exclude_unset=True),
        dict,
    ],
)
def test_everything_that_reads_the_fields_gives_what_openai_gives(read: Any) -> None:
    event = content_delta(Text("Hello world"), 5)
    expected = openai_chat.ContentDeltaEvent(type="content.delta", delta="lo", snapshot="Hello", parsed=None)
    assert read(event) == read(expected)
    assert list(_INSTANCE_DICT.__get__(event)) == ["type", "delta", "snapshot", "parsed"]  # sources dropped


@pytest.mark.parametrize(
    "duplicate", [copy.copy, copy.deepcopy, lambda e: e.model_copy(), lambda e: pickle.loads(pickle.dumps(e))]
)
def test_copies_have_every_field(duplicate: Any) -> None:
    event = content_delta(Text("Hello world"), 5)
    twin = duplicate(event)
    assert type(twin) is ev.ContentDeltaEvent and twin == event
    assert (twin.snapshot, twin.parsed, twin.choice_index) == ("Hello", None, 2)


def test_fields_in_openais_order_whatever_was_read_first() -> None:
    event = ev.event(
        ev.FunctionToolCallArgumentsDeltaEvent,
        {
            "type": "tool_calls.function.arguments.delta",
            "name": "f",
            "index": 0,
            "arguments_delta": "1}",
            "choice_index": 0,
            "_text": Text('{"x": 1}'),
            "_length": 8,
            "_parsed": ev.PARSE_ARGUMENTS,
        },
    )
    assert event.parsed_arguments == {"x": 1}
    expected = openai_chat.FunctionToolCallArgumentsDeltaEvent(
        type="tool_calls.function.arguments.delta",
        name="f",
        index=0,
        arguments='{"x": 1}',
        parsed_arguments={"x": 1},
        arguments_delta="1}",
    )
    assert repr(event) == repr(expected) and event.to_json() == expected.to_json()


def test_extra_attributes_are_not_fields() -> None:
    event = content_delta(Text("Hello"), 5)
    assert event.choice_index == 2
    assert "choice_index" not in event.model_dump() and "choice_index" not in repr(event)
    assert copy.deepcopy(event).choice_index == 2 and pickle.loads(pickle.dumps(event)).choice_index == 2
    with pytest.raises(AttributeError):
        event.no_such_attribute  # noqa: B018


def test_events_of_the_same_fields_are_equal() -> None:
    assert content_delta(Text("Hello"), 5) == content_delta(Text("Hello there"), 5)
    assert content_delta(Text("Hello"), 5) != content_delta(Text("Hello"), 4)


def test_logprob_entries_become_openais_objects_when_read() -> None:
    entries = [
        {"token": "Foo", "logprob": -0.1, "bytes": [70, 111, 111], "top_logprobs": []},
        {"token": "!", "logprob": -0.2, "bytes": [33], "top_logprobs": []},
    ]
    event = ev.event(
        ev.LogprobsContentDeltaEvent,
        {"type": "logprobs.content.delta", "choice_index": 0, "_new": entries[:1], "_entries": entries, "_length": 1},
    )
    assert isinstance(event, openai_chat.LogprobsContentDeltaEvent)
    assert all(isinstance(entry, ChatCompletionTokenLogprob) for entry in event.content + event.snapshot)
    assert [entry.token for entry in event.snapshot] == ["Foo"]  # as of its event


def test_every_class_is_openais_or_streamfolds_own() -> None:
    for cls in ev.FIELDS:
        openai_class = getattr(openai_chat, cls.__name__, None)
        if openai_class is None:
            assert cls.__name__.startswith("Reasoning")
        else:
            assert issubclass(cls, openai_class) and set(ev.FIELDS[cls]) == set(openai_class.model_fields)
