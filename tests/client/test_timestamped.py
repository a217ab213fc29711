"""``TimestampedSession``'s own promise: a read's time is when the kernel received it, not
when the event loop got to it.  (Every other promise of a client transport is checked on it
with the rest in test_client.py.)"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

import streamfold
from streamfold.client import TimestampedSession
from streamfold.mock import MockConfig, MockServer

pytest.importorskip("uvicorn")
pytest.importorskip("httptools")

ITL = 0.05
BLOCKED = 0.3
MESSAGES = [{"role": "user", "content": "hi"}]
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="receive timestamps are Linux's")


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer(MockConfig(output_tokens=8, itl=ITL)) as running:
        yield running


async def reads_while_blocked(base_url: str) -> list[tuple[float, float]]:
    """Read a paced stream, holding the event loop for ``BLOCKED`` s after the first read;
    returns (the read's time as given, when on_read ran) for every read."""
    reads: list[tuple[float, float]] = []

    def on_read(at: float, piece: bytes) -> None:
        reads.append((at, time.perf_counter()))
        if len(reads) == 1:
            time.sleep(BLOCKED)  # the loop stops: the next chunks arrive meanwhile, unread

    async with (
        TimestampedSession() as session,
        streamfold.AsyncClient(base_url=base_url, http_client=session, max_retries=0) as client,
        client.stream_chat(model="m", messages=MESSAGES, on_read=on_read) as stream,
    ):
        await stream.result()
    return reads


@linux_only
def test_a_read_is_timed_when_the_kernel_got_it_however_late_the_loop_reads_it(server: MockServer) -> None:
    reads = asyncio.run(reads_while_blocked(server.base_url))
    assert all(at <= handled for at, handled in reads)
    # the second read came while the loop was held: it is timed about ITL after the first,
    # although it was handled only once the loop was free again
    (first, _), (second, second_handled) = reads[0], reads[1]
    assert second_handled - first >= BLOCKED
    assert second - first < BLOCKED - ITL
    assert [at for at, _ in reads] == sorted(at for at, _ in reads)


def test_on_another_transport_the_same_read_is_timed_when_it_returned(server: MockServer) -> None:
    async def main() -> list[tuple[float, float]]:
        reads: list[tuple[float, float]] = []

        def on_read(at: float, piece: bytes) -> None:
            reads.append((at, time.perf_counter()))
            if len(reads) == 1:
                time.sleep(BLOCKED)

        async with (
            streamfold.AsyncClient(base_url=server.base_url, max_retries=0) as client,
            client.stream_chat(model="m", messages=MESSAGES, on_read=on_read) as stream,
        ):
            await stream.result()
        return reads

    reads = asyncio.run(main())
    assert reads[1][0] - reads[0][0] >= BLOCKED  # what the timestamped session takes out


def test_only_plain_http(server: MockServer) -> None:
    async def main() -> Any:
        async with (
            TimestampedSession() as session,
            streamfold.AsyncClient(base_url="https://example.invalid/v1", http_client=session) as client,
        ):
            return await client.chat(model="m", messages=MESSAGES)

    with pytest.raises(ValueError, match=r"plain http:// only"):
        asyncio.run(main())


def test_a_closed_session_refuses_requests(server: MockServer) -> None:
    async def main() -> Any:
        session = TimestampedSession()
        await session.close()
        async with streamfold.AsyncClient(base_url=server.base_url, http_client=session, max_retries=0) as client:
            return await client.chat(model="m", messages=MESSAGES)

    with pytest.raises(RuntimeError, match="closed"):
        asyncio.run(main())
