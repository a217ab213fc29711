"""What the serving benchmark relies on in the mock and below it: the precise timer, the
pacer's schedule, where the mock waits, and usage in every chunk."""

from __future__ import annotations

import asyncio
import random
import sys
import time
from typing import Any

import orjson
import pytest

from streamfold._timer import PreciseTimer
from streamfold.mock import MockConfig
from streamfold.mock._generate import completion_chunks, delays
from streamfold.mock._pacer import WRITES_PER_TURN, Pacer

REQUEST = {
    "messages": [{"role": "user", "content": "one two three"}],
    "stream_options": {"include_usage": True, "continuous_usage_stats": True},
}


def test_the_timer_never_fires_before_its_deadline() -> None:
    async def scenario() -> tuple[list[float], bool]:
        loop = asyncio.get_running_loop()
        fired: list[float] = []
        done = loop.create_future()

        def callback() -> None:
            fired.append(time.monotonic())
            if len(fired) == 3:
                done.set_result(None)

        timer = PreciseTimer(loop, callback)
        deadlines = []
        for wait in (0.004, 0.002, -1.0):  # the last is in the past: it fires at once
            deadlines.append(time.monotonic() + wait)
            timer.at(deadlines[-1])
            await asyncio.wait_for(asyncio.shield(_next_fire(fired, len(deadlines))), 2)
        await asyncio.wait_for(done, 2)
        precise = timer.precise
        timer.cancel()
        timer.close()
        timer.close()  # twice is fine
        return [at - due for at, due in zip(fired, deadlines)], precise

    lateness, precise = asyncio.run(scenario())
    assert min(lateness[:2]) >= 0
    assert precise == sys.platform.startswith("linux")  # a timerfd on Linux


async def _next_fire(fired: list[float], count: int) -> None:
    while len(fired) < count:
        await asyncio.sleep(0.0005)


def test_a_cancelled_or_replaced_deadline_does_not_fire() -> None:
    async def scenario() -> list[str]:
        loop = asyncio.get_running_loop()
        calls: list[str] = []
        timer = PreciseTimer(loop, lambda: calls.append("fired"))
        timer.at(time.monotonic() + 0.001)
        timer.cancel()
        timer.at(time.monotonic() + 3600)  # replaces nothing pending; far away
        ends = loop.create_future()
        marker = PreciseTimer(loop, lambda: ends.set_result(None))
        marker.at(time.monotonic() + 0.02)
        await asyncio.wait_for(ends, 2)
        timer.close()
        marker.close()
        return calls

    assert asyncio.run(scenario()) == []


def test_a_near_deadline_is_busy_waited_for_and_fires_once() -> None:
    """Within ``busy_wait`` the timer keeps the loop turning: the callback comes after the
    deadline, once, also when the deadline was first set far (on the timerfd) and moved
    near, or set near and moved far."""

    async def scenario() -> tuple[list[float], list[float], bool]:
        loop = asyncio.get_running_loop()
        fired: list[float] = []
        timer = PreciseTimer(loop, lambda: fired.append(time.monotonic()), busy_wait=0.01)
        deadlines = [time.monotonic() + 0.003]
        timer.at(deadlines[0])  # near: turning
        turned = timer._turning
        await asyncio.wait_for(_next_fire(fired, 1), 2)
        timer.at(time.monotonic() + 0.05)  # far: on the timer ...
        deadlines.append(time.monotonic() + 0.004)
        timer.at(deadlines[1])  # ... then near: the timer's later firing is ignored
        await asyncio.wait_for(_next_fire(fired, 2), 2)
        deadlines.append(time.monotonic() + 0.002)
        timer.at(deadlines[2])  # near ...
        deadlines[2] = time.monotonic() + 0.03
        timer.at(deadlines[2])  # ... then far: the turns already queued do not fire it
        await asyncio.wait_for(_next_fire(fired, 3), 2)
        await asyncio.sleep(0.08)  # past the abandoned 50 ms deadline: nothing more
        timer.close()
        return fired, deadlines, turned

    fired, deadlines, turned = asyncio.run(scenario())
    assert turned
    assert len(fired) == 3
    assert all(at >= due for at, due in zip(fired, deadlines))


def test_a_first_write_goes_before_later_writes_due_earlier() -> None:
    """When the loop is behind, a stream's first write (its TTFT) is made before writes of
    other streams that were due earlier."""
    order: list[bytes] = []

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        pacer = Pacer(loop)

        async def send(message: Any) -> None:
            order.append(message["body"])
            if message["body"] == b"a1":
                time.sleep(0.02)  # the loop is held past a2's and b1's times

        began = time.monotonic()
        streams = [
            [(0.001, {"body": b"a1"}), (0.004, {"body": b"a2"})],  # a2 due at 5 ms
            [(0.006, {"body": b"b1"})],  # b1, a first write, due at 6 ms
        ]
        finished = [loop.create_future() for _ in streams]
        for plan, done in zip(streams, finished):
            pacer.start(plan, send, asyncio.Event(), random.Random(0), 0.0, done, since=began)
        await asyncio.wait_for(asyncio.gather(*finished), 2)
        pacer.close()

    asyncio.run(scenario())
    assert order == [b"a1", b"b1", b"a2"]


def test_the_pacer_lets_the_loop_turn_between_a_few_writes() -> None:
    """Many writes due at once go ``WRITES_PER_TURN`` at a time, the loop's other work (a
    request being read) in between."""
    seen: list[int] = []

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        pacer = Pacer(loop)
        written: list[bytes] = []

        async def send(message: Any) -> None:
            if not written:
                loop.call_soon(lambda: seen.append(len(written)))  # other work, queued by the first write
            written.append(message["body"])

        began = time.monotonic()
        finished = [loop.create_future() for _ in range(3 * WRITES_PER_TURN)]
        for done in finished:
            pacer.start([(0.002, {"body": b"x"})], send, asyncio.Event(), random.Random(0), 0.0, done, since=began)
        time.sleep(0.005)  # all of them due before the loop gets to them
        await asyncio.wait_for(asyncio.gather(*finished), 2)
        pacer.close()

    asyncio.run(scenario())
    assert seen == [WRITES_PER_TURN]


def test_the_mock_waits_ttft_then_itl_between_tokens_only() -> None:
    config = MockConfig(output_tokens=3, ttft=0.5, itl=0.1)
    chunks = completion_chunks(config, REQUEST)
    kinds = [
        "role"
        if "role" in (c["choices"] or [{}])[0].get("delta", {})
        else "usage"
        if not c["choices"]
        else "finish"
        if c["choices"][0]["finish_reason"]
        else "token"
        for c in chunks
    ]
    assert kinds == ["role", "token", "token", "token", "finish", "usage"]
    # the role chunk goes with the first token after TTFT; finish and usage right after the last
    assert delays(config, chunks) == [0.5, 0.0, 0.1, 0.1, 0.0, 0.0]
    tools = MockConfig(tool_calls=1, ttft=0.5, itl=0.1)
    assert delays(tools, completion_chunks(tools, REQUEST))[:3] == [0.5, 0.0, 0.1]


def test_usage_in_every_chunk_counts_the_tokens_so_far() -> None:
    config = MockConfig(output_tokens=5, tokens_per_chunk=2, reasoning_tokens=2)
    chunks = completion_chunks(config, REQUEST)
    assert [c["usage"]["completion_tokens"] for c in chunks] == [0, 2, 4, 6, 7, 7, 7]
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 3,
        "completion_tokens": 7,
        "total_tokens": 10,
        "completion_tokens_details": {"reasoning_tokens": 2},
    }
    # only when asked (or set), and only with usage
    plain = {"messages": REQUEST["messages"], "stream_options": {"include_usage": True}}
    assert [c["usage"] for c in completion_chunks(config, plain)][:-1] == [None] * 6
    forced = completion_chunks(MockConfig(output_tokens=2, continuous_usage=True), plain)
    assert [c["usage"]["completion_tokens"] for c in forced] == [0, 1, 2, 2, 2]
    assert all("usage" not in c for c in completion_chunks(config, {"messages": REQUEST["messages"]}))
    assert orjson.loads(orjson.dumps(chunks))  # plain JSON


def test_the_pacer_writes_each_stream_on_its_own_schedule() -> None:
    """Writes go out at their due times (never before), each due its delay after the
    previous one was due, however late that one went out."""
    plan = [(0.01, {"body": b"a"}), (0.005, {"body": b"b"}), (0.0, {"body": b"c"}), (0.005, {"body": b"d"})]

    async def scenario() -> tuple[float, list[tuple[bytes, float]], bool]:
        loop = asyncio.get_running_loop()
        pacer = Pacer(loop)
        written: list[tuple[bytes, float]] = []

        async def send(message: Any) -> None:
            written.append((message["body"], time.monotonic()))
            if message["body"] == b"a":
                time.sleep(0.008)  # this write is slow: the next one is due anyway

        finished: asyncio.Future[bool] = loop.create_future()
        began = time.monotonic()
        pacer.start(plan, send, asyncio.Event(), random.Random(0), 0.0, finished, since=began)
        result = await asyncio.wait_for(finished, 2)
        pacer.close()
        return began, written, result

    began, written, result = asyncio.run(scenario())
    assert result is True and [body for body, _ in written] == [b"a", b"b", b"c", b"d"]
    due = [began + 0.01, began + 0.015, began + 0.015, began + 0.02]
    assert all(at >= when for (_, at), when in zip(written, due))
    assert written[1][1] - written[0][1] < 0.01  # "b" was due 5 ms after "a" was due, not after "a" ended


@pytest.mark.parametrize("name", ["continuous_usage", "usage"])
def test_usage_settings_are_on_off_or_unset(name: str) -> None:
    with pytest.raises(ValueError, match=f"{name} must be true, false or null"):
        MockConfig().merged({name: "yes"})
    assert getattr(MockConfig().merged({name: True}), name) is True
