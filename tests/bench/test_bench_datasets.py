"""The prompts streamfold bench sends: random, JSONL and ShareGPT, and how tokens are counted."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from streamfold.bench import WORDS_PER_TOKEN, load_prompts
from streamfold.bench._datasets import jsonl_prompts, random_prompts, sharegpt_prompts
from streamfold.bench._tokenizer import estimate_tokens, load_tokenizer, words_for


class Spaces:
    """A tokenizer for the tests: every character is a token."""

    name = "characters"

    def encode(self, text: str) -> list[int]:
        return [ord(character) for character in text]

    def decode(self, tokens: list[int]) -> str:
        return "".join(map(chr, tokens))


def test_the_estimate_is_three_quarters_of_a_word_per_token() -> None:
    assert WORDS_PER_TOKEN == 0.75
    assert estimate_tokens("one two three") == 4 and estimate_tokens("") == 0 and estimate_tokens("a") == 1
    assert words_for(100) == 75 and words_for(1) == 1 and words_for(0) == 0


def test_random_prompts_by_the_estimate_and_by_a_tokenizer() -> None:
    prompts = random_prompts(5, 100, 20, rng=random.Random(1))
    assert len(prompts) == 5 and {len(p.messages[0]["content"].split()) for p in prompts} == {75}
    assert {(p.input_tokens, p.output_tokens) for p in prompts} == {(100, 20)}
    assert prompts == random_prompts(5, 100, 20, rng=random.Random(1))
    assert prompts != random_prompts(5, 100, 20, rng=random.Random(2))
    exact = random_prompts(3, 64, None, rng=random.Random(1), tokenizer=Spaces())
    assert [len(p.messages[0]["content"]) for p in exact] == [64, 64, 64]


def test_jsonl_of_prompts_and_messages(tmp_path: Path) -> None:
    path = tmp_path / "prompts.jsonl"
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "name three rivers"}]
    path.write_text(
        json.dumps({"prompt": "what is a river", "output_len": 7}) + "\n\n" + json.dumps({"messages": messages}) + "\n"
    )
    prompts = jsonl_prompts(path, None, None)
    assert [p.messages for p in prompts] == [[{"role": "user", "content": "what is a river"}], messages]
    assert [p.output_tokens for p in prompts] == [7, None] and prompts[0].input_tokens == 5
    assert [p.output_tokens for p in jsonl_prompts(path, 5, 3)] == [3] * 5  # repeated; the option wins
    assert jsonl_prompts(path, 1, None, tokenizer=Spaces())[0].input_tokens == len("what is a river")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "prompts.jsonl:2: not JSON"),
        ('{"text": "x"}', "prompts.jsonl:2: needs 'prompt'"),
        ('["x"]', "prompts.jsonl:2: each line must be a JSON object"),
        ('{"prompt": "x", "output_len": 0}', "prompts.jsonl:2: output_len must be a whole number >= 1"),
    ],
)
def test_a_bad_jsonl_line_is_named(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "prompts.jsonl"
    path.write_text('{"prompt": "fine"}\n' + line + "\n")
    with pytest.raises(ValueError, match=message):
        jsonl_prompts(path, None, None)


def test_sharegpt_first_human_turn_and_the_reply_length(tmp_path: Path) -> None:
    path = tmp_path / "sharegpt.json"
    data = [
        {
            "id": "a",
            "conversations": [
                {"from": "human", "value": "hello there"},
                {"from": "gpt", "value": "one two three four five six"},
            ],
        },
        {"id": "b", "conversations": [{"from": "gpt", "value": "no question first"}]},
        {
            "id": "c",
            "conversations": [
                {"from": "system", "value": "x"},
                {"from": "human", "value": "why"},
                {"from": "gpt", "value": "because"},
            ],
        },
        "not a conversation",
    ]
    path.write_text(json.dumps(data))
    prompts = sharegpt_prompts(path, 4, None, rng=random.Random(0))
    assert sorted({p.messages[0]["content"] for p in prompts}) == ["hello there", "why"]
    lengths = {p.messages[0]["content"]: p.output_tokens for p in prompts}
    assert lengths == {"hello there": 8, "why": 1}  # the reply's tokens by the estimate
    assert {p.output_tokens for p in sharegpt_prompts(path, 2, 50, rng=random.Random(0))} == {50}


def test_load_prompts_picks_the_dataset_and_says_what_is_wrong(tmp_path: Path) -> None:
    assert len(load_prompts("random", input_len=8, output_len=4)) == 1000
    assert len(load_prompts("random", count=3, input_len=8)) == 3
    with pytest.raises(ValueError, match="no such file"):
        load_prompts(str(tmp_path / "missing.jsonl"))
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(ValueError, match="no prompts in it"):
        load_prompts(str(empty))
    listing = tmp_path / "list.json"
    listing.write_text('{"conversations": []}')
    with pytest.raises(ValueError, match="a JSON list of conversations"):
        load_prompts(str(listing))


def test_an_unknown_tokenizer_says_what_was_tried(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-tokenizer")  # a path, so transformers (when installed) does not ask the Hub
    with pytest.raises(ValueError, match=r"cannot load the tokenizer '.*no-such-tokenizer'"):
        load_tokenizer(missing)
