"""The coalescing helper: batches of text deltas every N deltas or M seconds, and at the end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

import streamfold
from streamfold import Coalescer, acoalesce, coalesce


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_batch_is_due_after_max_deltas() -> None:
    coalescer = Coalescer(3, 10.0, clock=Clock())
    assert [coalescer.add(d) for d in "abcdefg"] == [None, None, "abc", None, None, "def", None]
    assert coalescer.pending == 1 and coalescer.flush() == "g"
    assert coalescer.pending == 0 and coalescer.flush() == "" and coalescer.deadline is None


def test_a_batch_is_due_once_its_first_delta_has_waited_max_delay() -> None:
    clock = Clock()
    coalescer = Coalescer(100, 0.5, clock=clock)
    assert coalescer.add("a") is None
    assert coalescer.deadline == 100.5
    clock.now += 0.25
    assert coalescer.add("b") is None and coalescer.due() is None
    clock.now += 0.25  # 0.5 s since "a", 0.25 s since "b": the first delta's wait counts
    assert coalescer.due() == "ab"
    assert coalescer.due() is None and coalescer.deadline is None
    assert coalescer.add("c") is None
    clock.now += 0.75
    assert coalescer.add("d") == "cd"  # a delta that comes late lets the batch out with it


def test_empty_deltas_are_ignored_and_zero_delay_means_every_delta() -> None:
    coalescer = Coalescer(4, 1.0, clock=Clock())
    assert [coalescer.add(d) for d in ["", "a", "", "b"]] == [None, None, None, None]
    assert coalescer.pending == 2
    assert [Coalescer(4, 0.0).add(d) for d in "xy"] == ["x", "y"]


@pytest.mark.parametrize("arguments", [(0, 1.0), (1, -0.1)])
def test_bad_settings(arguments: tuple[int, float]) -> None:
    with pytest.raises(ValueError):
        Coalescer(*arguments)


def test_coalesce_an_iterable() -> None:
    deltas = [f"{i} " for i in range(10)]
    batches = list(coalesce(deltas, max_deltas=4, max_delay=60))
    assert batches == ["0 1 2 3 ", "4 5 6 7 ", "8 9 "]
    assert "".join(batches) == "".join(deltas)
    assert list(coalesce([], 4)) == [] and list(coalesce(["", ""], 4)) == []


def test_acoalesce_lets_a_batch_out_on_time_while_no_delta_comes() -> None:
    async def run() -> list[str]:
        release = asyncio.Event()
        batches: list[str] = []

        async def deltas() -> AsyncIterator[str]:
            yield "a"
            yield "b"
            await release.wait()  # no delta until the timed batch has been seen
            for delta in "cdefg":
                yield delta

        async for batch in acoalesce(deltas(), max_deltas=3, max_delay=0.02):
            batches.append(batch)
            release.set()
        return batches

    batches = asyncio.run(asyncio.wait_for(run(), 10))
    assert batches[0] == "ab"  # out by the timer: the source was waiting for it
    assert "".join(batches) == "abcdefg" and all(len(batch) <= 3 for batch in batches)


def test_acoalesce_raises_the_source_error_after_its_deltas() -> None:
    async def deltas() -> AsyncIterator[str]:
        yield "a"
        yield "b"
        raise streamfold.IncompleteStreamError("cut")

    async def run() -> list[str]:
        batches = []
        with pytest.raises(streamfold.IncompleteStreamError, match="cut"):
            async for batch in acoalesce(deltas(), max_deltas=10, max_delay=60):
                batches.append(batch)
        return batches

    assert asyncio.run(run()) == ["ab"]


def test_leaving_acoalesce_closes_the_source() -> None:
    closed = []

    async def deltas() -> AsyncIterator[str]:
        try:
            for i in range(1000):
                yield str(i)
                await asyncio.sleep(0)
        finally:
            closed.append(True)

    async def run() -> str:
        batches = acoalesce(deltas(), max_deltas=2, max_delay=60)
        first = await anext(batches)
        await batches.aclose()
        return first

    assert asyncio.run(run()) == "01" and closed == [True]
