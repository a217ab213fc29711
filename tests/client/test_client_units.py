"""The client's parts that need no server: the retry policy, Retry-After, timeouts, errors."""

from __future__ import annotations

import email.utils
import time

import pytest

from streamfold.client import APIConnectionError, APIStatusError, APITimeoutError, RetryPolicy, Timeout
from streamfold.client._retry import retry_after
from streamfold.client._timeout import DEFAULT_TIMEOUT, as_timeout


def test_backoff_doubles_with_jitter_and_stops() -> None:
    policy = RetryPolicy(max_retries=4, initial_delay=0.5, max_delay=3.0)
    for retries_done, full in enumerate([0.5, 1.0, 2.0, 3.0]):
        delays = {policy.delay(retries_done) for _ in range(200)}
        assert all(d is not None and 0.75 * full <= d <= full for d in delays)
        assert len(delays) > 1  # jittered
    assert policy.delay(4) is None
    assert RetryPolicy(max_retries=0).delay(0) is None
    with pytest.raises(ValueError, match="max_retries"):
        RetryPolicy(max_retries=-1)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"retry-after": "0.25"}, 0.25),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after": "-3"}, 0.0),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_values(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after(headers) == expected


def test_retry_after_as_an_http_date() -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    seconds = retry_after({"retry-after": when})
    assert seconds is not None and 28 <= seconds <= 30
    policy = RetryPolicy(max_retries=3, max_retry_after=10)
    assert policy.delay(0, {"retry-after": when}) is None  # longer than we wait for: give up
    assert policy.delay(0, {"retry-after": "4"}) == 4.0


def test_errors_survive_pickling() -> None:
    import pickle

    error = APIStatusError(429, {"Retry-After": "2"}, b'{"error": {"message": "slow down"}}', method="POST", url="u")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is APIStatusError and str(copy) == str(error)
    assert (copy.status_code, copy.headers, copy.body, copy.message) == (
        429,
        {"retry-after": "2"},
        {"error": {"message": "slow down"}},
        "slow down",
    )
    timeout = pickle.loads(pickle.dumps(APITimeoutError("late", method="POST", url="u")))
    assert isinstance(timeout, APIConnectionError) and timeout.url == "u" and str(timeout) == "late"
    assert APIStatusError(500, {}, b"").message == "(empty body)"
    assert APIStatusError(502, {}, b"<html>bad gateway</html>").body == "<html>bad gateway</html>"


def test_timeouts_from_what_callers_pass() -> None:
    assert as_timeout(None) == DEFAULT_TIMEOUT == Timeout(connect=10.0, read=600.0, total=None)
    assert as_timeout(2) == Timeout(connect=2.0, read=2.0, total=None)
    assert as_timeout(Timeout(total=5)) == Timeout(total=5)
    httpx = pytest.importorskip("httpx")
    theirs = httpx.Timeout(3.0)
    assert as_timeout(theirs) is theirs  # an httpx transport takes it as it is
    with pytest.raises(TypeError, match="number of seconds"):
        as_timeout("soon")
    with pytest.raises(TypeError):
        as_timeout(True)
    for bad in ({"connect": 0}, {"read": -1}, {"total": 0.0}):
        with pytest.raises(ValueError, match="must be > 0"):
            Timeout(**bad)  # type: ignore[arg-type]
