"""Arrival processes of streamfold bench, drawn from a seeded generator."""

from __future__ import annotations

import itertools
import math
import random
import statistics

import pytest

from streamfold.bench import Ramp, arrival_offsets


def gaps(offsets: list[float]) -> list[float]:
    return [later - earlier for earlier, later in itertools.pairwise(offsets)]


def test_all_at_once_without_a_rate() -> None:
    assert arrival_offsets(5) == [0.0] * 5
    assert arrival_offsets(0) == []


@pytest.mark.parametrize(("burstiness", "variation"), [(1.0, 1.0), (0.25, 2.0), (4.0, 0.5)])
def test_gamma_gaps_have_the_rate_and_the_burstiness(burstiness: float, variation: float) -> None:
    # gamma gaps of shape B and mean 1/rate: coefficient of variation 1/sqrt(B) (1 for Poisson)
    found = gaps(arrival_offsets(40_000, 50.0, burstiness=burstiness, rng=random.Random(7)))
    mean = statistics.fmean(found)
    assert mean == pytest.approx(1 / 50, rel=0.03)
    assert statistics.pstdev(found) / mean == pytest.approx(variation, rel=0.05)


def test_poisson_counts_per_second_are_poisson() -> None:
    offsets = arrival_offsets(30_000, 20.0, rng=random.Random(3))
    counts = [0] * int(offsets[-1])
    for at in offsets:
        if int(at) < len(counts):
            counts[int(at)] += 1
    assert statistics.fmean(counts) == pytest.approx(20, rel=0.03)
    assert statistics.pvariance(counts) == pytest.approx(20, rel=0.1)  # variance = mean


def test_infinite_burstiness_is_a_constant_rate() -> None:
    assert gaps(arrival_offsets(5, 4.0, burstiness=math.inf)) == [0.25] * 4


def test_the_same_seed_gives_the_same_arrivals() -> None:
    first = arrival_offsets(100, 10.0, burstiness=0.5, rng=random.Random(11))
    assert first == arrival_offsets(100, 10.0, burstiness=0.5, rng=random.Random(11))
    assert first != arrival_offsets(100, 10.0, burstiness=0.5, rng=random.Random(12))
    assert first[0] == 0.0 and first == sorted(first)


def test_a_ramp_interpolates_the_rate_over_the_requests() -> None:
    linear, geometric = Ramp(1.0, 100.0), Ramp(1.0, 100.0, "exponential")
    assert [linear.rate(i, 11) for i in (0, 5, 10)] == [1.0, 50.5, 100.0]
    assert [geometric.rate(i, 11) for i in (0, 5, 10)] == pytest.approx([1.0, 10.0, 100.0])
    found = gaps(arrival_offsets(20_000, ramp=Ramp(10.0, 1000.0), rng=random.Random(5)))
    early, late = statistics.fmean(found[:1000]), statistics.fmean(found[-1000:])
    assert 1 / early < 60 and 1 / late > 900  # the rate rose from about 10 to about 1,000 a second


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: arrival_offsets(3, 0.0), "rate must be > 0"),
        (lambda: arrival_offsets(3, 1.0, burstiness=0), "burstiness must be > 0"),
        (lambda: arrival_offsets(-1), "count must be >= 0"),
        (lambda: Ramp(0.0, 5.0), "start rate must be"),
        (lambda: Ramp(1.0, 5.0, "cubic"), "linear, exponential"),
    ],
)
def test_bad_arrival_settings_are_refused(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]
