"""The batch's parts on their own: token estimate, reset durations, buckets, the reorder
buffer, summaries added up, input checks; and the client's response headers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from streamfold.batch import InvalidLine, ReorderBuffer, Request, Summary, estimate_tokens, read_requests
from streamfold.batch._keys import KeySet
from streamfold.batch._limits import Limiter, TokenBucket, parse_reset
from streamfold.batch._output import record_for


def test_estimate_tokens() -> None:
    body = {"messages": [{"role": "user", "content": "x" * 41}], "max_tokens": 10}
    assert estimate_tokens(body) == 11 + 10
    assert estimate_tokens({**body, "max_completion_tokens": 5, "n": 2}) == 11 + 10
    assert estimate_tokens({"messages": [{"role": "user", "content": [{"type": "text", "text": "abcd"}]}]}) == 1 + 256


def test_parse_reset() -> None:
    assert parse_reset("1s") == 1.0 and parse_reset("20ms") == 0.02 and parse_reset("6m0s") == 360.0
    assert parse_reset("1h2m3.5s") == 3723.5 and parse_reset("2.5") == 2.5
    assert parse_reset("soon") is None and parse_reset("1x") is None


def test_bucket_debt_and_refund() -> None:
    now = [0.0]
    bucket = TokenBucket(600, lambda: now[0])  # 10 a second, at most 10 held
    assert bucket.wait() == 0.0
    bucket.take(25)  # dearer than a second's worth: it goes, the bucket owes 25
    assert bucket.wait() == pytest.approx(2.5)
    bucket.give(20)  # refunded: the request used 5, so 5 are owed
    assert bucket.wait() == pytest.approx(0.5)
    now[0] = 100.0
    assert bucket.wait() == 0.0 and bucket.level == 10  # full: one second's worth
    bucket.follow(60, None, None)  # the server's lower limit wins
    assert bucket.per_minute == 60


def test_a_share_of_the_limits_takes_its_part_of_what_the_headers_say() -> None:
    now = [0.0]
    limiter = Limiter(concurrency=4, share=0.25, clock=lambda: now[0])
    limiter.observe({"x-ratelimit-limit-requests": "1200"})
    assert limiter.requests.per_minute == 300  # a quarter of the account's limit
    now[0] = 10.0  # the bucket has filled: one second's worth of its share, 5
    limiter.observe({"x-ratelimit-remaining-requests": "8"})
    assert limiter.requests.level == 2  # a quarter of what is left
    limiter.observe({"x-ratelimit-limit-tokens": "40000", "x-ratelimit-remaining-tokens": "0"})
    assert limiter.tokens.per_minute == 10000 and limiter.tokens.level == 0
    whole = Limiter(concurrency=4, clock=lambda: now[0])
    whole.observe({"x-ratelimit-limit-requests": "1200"})
    assert whole.requests.per_minute == 1200
    with pytest.raises(ValueError, match="share"):
        Limiter(concurrency=4, share=0)


def test_reorder_buffer_keeps_input_order_within_its_window() -> None:
    written: list[int] = []

    async def main() -> None:
        buffer = ReorderBuffer(lambda record: written.append(record["n"]), window=3)
        for index in (0, 1, 2):
            await buffer.admit(index)
        admitted = asyncio.ensure_future(buffer.admit(3))
        await asyncio.sleep(0)
        assert not admitted.done()  # 3 ahead of the oldest unwritten one
        buffer.put(2, {"n": 2})
        buffer.put(1, {"n": 1})
        assert written == []
        buffer.put(0, {"n": 0})
        await admitted
        buffer.drop(3)
        buffer.put(4, {"n": 4})
        assert written == [0, 1, 2, 4]

    asyncio.run(main())


def _record(code: str | None, ttft: float, tokens: int) -> dict[str, Any]:
    usage = {"prompt_tokens": 1, "completion_tokens": tokens}
    error = None if code is None else {"code": code, "message": "m"}
    stats = {"attempts": 1, "ttft_s": ttft, "duration_s": ttft * 2}
    return record_for("x", line=1, status_code=200, request_id=None, body={"usage": usage}, error=error, stats=stats)


def test_summaries_add_up() -> None:
    one, two = Summary(elapsed_s=2.0), Summary(elapsed_s=3.0)
    for number in range(100):
        (one if number % 2 else two).record(_record(None if number % 10 else "stream_error", (number + 1) / 1000, 2))
    total = one + two
    assert Summary.merge(one, two).to_json() == total.to_json()
    figures = total.to_json()
    assert figures["requests"]["by_outcome"] == {"ok": 90, "stream_error": 10}
    assert figures["tokens"] == {"prompt": 100, "completion": 200} and figures["elapsed_s"] == 3.0
    assert figures["latency_s"]["ttft"]["p50"] == pytest.approx(0.050, rel=0.021)
    assert figures["latency_s"]["ttft"]["p99"] == pytest.approx(0.099, rel=0.021)
    assert "100 done (90 ok, 10 stream_error)" in total.text()


def test_read_requests_forces_streaming_and_numbers_lines() -> None:
    items = list(
        read_requests(
            [
                {"custom_id": "a", "body": {"messages": [], "stream": False, "stream_options": {"x": 1}}},
                "",
                b'{"custom_id": "b", "body": {"messages": []}}',
                {"custom_id": "b", "body": {"messages": []}},
                {"custom_id": "c", "body": {"messages": "hi"}},
            ]
        )
    )
    assert items[0] == Request(
        "a", {"messages": [], "stream": True, "stream_options": {"x": 1, "include_usage": True}}, 1
    )
    assert isinstance(items[1], Request) and items[1].line == 3
    assert isinstance(items[2], InvalidLine) and items[2].line == 4 and "duplicate" in items[2].message
    assert isinstance(items[3], InvalidLine) and "messages must be a list" in items[3].message


def test_a_key_set_holds_what_was_added_and_only_that() -> None:
    keys = KeySet(["a", "b"])
    assert "a" in keys and "b" in keys and "c" not in keys and len(keys) == 2
    assert keys.add("c") is True and keys.add("c") is False and len(keys) == 3
    assert 7 not in keys and "" not in keys and keys.add("") is True and "" in keys
    assert keys.add("naïve \ud800") is True and "naïve \ud800" in keys  # any str, lone surrogates too
    many = [f"req-{number}" for number in range(20_000)]  # grows many times over
    for key in many:
        assert keys.add(key) is True
    assert all(key in keys for key in many) and len(keys) == 20_005
    assert not any(f"req-{number}" in keys for number in range(20_000, 40_000))
    assert all(keys.add(key) is False for key in many[::97])
