"""End-to-end benchmark over loopback: whole streamed requests against the mock server.

Run from the repository root::

    python benchmarks/e2e.py                  # full run (a few minutes)
    python benchmarks/e2e.py --quick          # small levels, short streams: seconds
    python benchmarks/e2e.py --json e2e.json  # the result dict as JSON too

The mock server (``python -m streamfold serve``, uvicorn on 127.0.0.1, fixed lorem output)
runs in its own process, pinned to one CPU, and this process (the clients) to another, when
the machine has two (``pinned`` in the result says which).  Two settings, each with a server
of its own:

- ``itl 0``: no delay between chunks (the mock then writes 16 events at a time, so a read
  holds many events), 256 and 1,024 streams in flight;
- ``itl 20 ms``: 20 ms between chunks, one event per write, as real servers send, 1,024
  streams in flight.

Each contender makes whole streamed chat requests (``stream_options.include_usage`` true),
reads every chunk and keeps the text:

- ``streamfold AsyncClient``: the default (its own aiohttp session), ``stream_chat`` +
  ``text()`` + ``result()``; ``streamfold AsyncClient, result() only``: the same without
  reading the text as it comes (no event handed out; TTFB from its stats);
  ``streamfold AsyncClient on httpx``: the first over a caller's ``httpx.AsyncClient``;
  ``streamfold AsyncClient on TimestampedSession``: over the sockets-and-httptools session
  ``streamfold bench`` uses (not the default: aiohttp is);
- ``streamfold openai drop-in``: ``streamfold.openai.astream_chat`` over an ``AsyncOpenAI``;
- ``openai AsyncOpenAI``: ``chat.completions.create(stream=True)``, iterating the chunks;
- ``httpx + httpx-sse + json``: ``aconnect_sse`` + ``aiter_sse`` + stdlib ``json.loads``;
- ``aiohttp iter_any + feed``: a bare aiohttp request, each read into ``ChatAccumulator.feed``;
- ``floor: asyncio protocol + httptools + feed``: ``e2e_floor.py``, no client at all.

At each level a contender runs as many streams as the level, all started together, after a
warm-up of two streams, under ``streamfold.run`` (uvloop when installed, for every
contender alike).  Each (contender, level) gets its own event loop and a new client
(created before the timing, closed after it), with connection pools larger than the level.
Timed around the batch: ``time.process_time()`` (CPU of this process only: the server is
another process), ``time.perf_counter()`` (wall) and, from ``/proc``, the server's CPU.
TTFB is the time from just before a request starts to its first non-empty text (for the
two bare contenders: its first body byte); percentiles are nearest-rank.  Every stream's
text and chunk count are checked against a reference fetched once per server.

The ``mock server`` table loads the server of this checkout and the one of
``BASELINE_SERVER_REV`` (the mock before it was made cheap, run as its ``server`` extra
installed it then: uvicorn without httptools or uvloop) with the same client, at both
settings, and gives the server's CPU per chunk.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import importlib.metadata
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

MODEL = "mock-gpt"
MESSAGES = [{"role": "user", "content": "Tell me something long."}]
STREAM_OPTIONS = {"include_usage": True}
BODY = {"model": MODEL, "messages": MESSAGES, "stream": True, "stream_options": STREAM_OPTIONS}
#: Chunks of a stream beyond its text tokens: the role chunk, the finish chunk, the usage chunk.
EXTRA_CHUNKS = 3
ROOT = Path(__file__).resolve().parent.parent
#: The mock server before issue 13 made it cheap (the "before" of the mock server table).
BASELINE_SERVER_REV = "45db15d"


@dataclass(frozen=True)
class Setting:
    """One server setting: the delay between chunks, chunks per stream, the levels in flight."""

    name: str
    itl: float
    chunks: int
    levels: tuple[int, ...]

    @property
    def output_tokens(self) -> int:
        return self.chunks - EXTRA_CHUNKS


@dataclass(frozen=True)
class Mode:
    settings: tuple[Setting, ...]
    #: streams in flight for the mock server table, per setting name
    server_level: dict[str, int]


FULL = Mode(
    settings=(Setting("itl 0", 0.0, 300, (256, 1024)), Setting("itl 20 ms", 0.02, 50, (1024,))),
    server_level={"itl 0": 256, "itl 20 ms": 1024},
)
QUICK = Mode(
    settings=(Setting("itl 0", 0.0, 40, (4, 8)), Setting("itl 20 ms", 0.02, 10, (8,))),
    server_level={"itl 0": 8, "itl 20 ms": 8},
)
WARMUP_STREAMS = 2
TIMEOUT_S = 300.0
SERVER_START_S = 30.0
SERVER_STOP_S = 10.0

Result = tuple[str, int, float]  # (text, chunks seen, ttfb in seconds)
Request = Callable[[], Awaitable[Result]]
Session = Callable[[str, int], contextlib.AbstractAsyncContextManager[Request]]


# -- contenders -------------------------------------------------------------------------------


def _importable(module: str) -> bool:
    """Whether ``module`` can be imported (the tests patch this to fake a missing package)."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


#: Idle connections an httpx pool keeps: the openai client's default (httpcore's pool polls
#: every idle connection on each request and response, so a pool of 1,000 idle ones costs
#: milliseconds per request and can let the server's keep-alive timeout close connections).
HTTPX_KEEPALIVE = 100


def _httpx_limits(library: Any, level: int) -> Any:
    """A pool with room for ``level`` streams (and the openai client's default idle pool)."""
    return library.Limits(max_connections=max(1000, level + 16), max_keepalive_connections=HTTPX_KEEPALIVE)


def _library_of(cls: type) -> Any:
    """The httpx or httpx2 module an HTTP client class comes from."""
    for base in cls.__mro__:
        root = base.__module__.partition(".")[0]
        if root in ("httpx", "httpx2"):
            return importlib.import_module(root)
    raise TypeError(f"{cls.__qualname__} is not an httpx or httpx2 client")


async def _streamfold_requests(client: Any) -> Request:
    async def request() -> Result:
        started = time.perf_counter()
        first: float | None = None
        parts: list[str] = []
        async with client.stream_chat(model=MODEL, messages=MESSAGES, stream_options=STREAM_OPTIONS) as stream:
            async for text in stream.text():
                if first is None and text:
                    first = time.perf_counter()
                parts.append(text)
            await stream.result()
        return "".join(parts), stream.stats.chunks, _since(started, first)

    return request


@contextlib.asynccontextmanager
async def _streamfold_session(base_url: str, level: int) -> AsyncIterator[Request]:
    """streamfold's ``AsyncClient`` as it comes: its own aiohttp session."""
    import streamfold

    async with streamfold.AsyncClient(base_url=base_url, max_retries=0, timeout=TIMEOUT_S) as client:
        yield await _streamfold_requests(client)


@contextlib.asynccontextmanager
async def _streamfold_result_session(base_url: str, level: int) -> AsyncIterator[Request]:
    """streamfold's ``AsyncClient`` as it comes, ``result()`` alone: no events handed out."""
    import streamfold

    async with streamfold.AsyncClient(base_url=base_url, max_retries=0, timeout=TIMEOUT_S) as client:

        async def request() -> Result:
            async with client.stream_chat(model=MODEL, messages=MESSAGES, stream_options=STREAM_OPTIONS) as stream:
                completion = await stream.result()
            first = stream.stats.time_to_first_content
            return (
                completion["choices"][0]["message"]["content"] or "",
                stream.stats.chunks,
                math.nan if first is None else first,
            )

        yield request


@contextlib.asynccontextmanager
async def _streamfold_httpx_session(base_url: str, level: int) -> AsyncIterator[Request]:
    """streamfold's ``AsyncClient`` over a caller's ``httpx.AsyncClient``."""
    import httpx

    import streamfold

    http = httpx.AsyncClient(limits=_httpx_limits(httpx, level), timeout=TIMEOUT_S)
    async with http, streamfold.AsyncClient(base_url=base_url, max_retries=0, http_client=http) as client:
        yield await _streamfold_requests(client)


@contextlib.asynccontextmanager
async def _streamfold_timestamped_session(base_url: str, level: int) -> AsyncIterator[Request]:
    """streamfold's ``AsyncClient`` over a ``TimestampedSession`` (sockets and httptools:
    the transport ``streamfold bench`` uses; not the default)."""
    import streamfold
    from streamfold.client import TimestampedSession

    session = TimestampedSession(timeout=TIMEOUT_S)
    async with session, streamfold.AsyncClient(base_url=base_url, max_retries=0, http_client=session) as client:
        yield await _streamfold_requests(client)


def _openai_client(base_url: str, level: int) -> Any:
    """An ``AsyncOpenAI`` on ``base_url`` with a pool for ``level`` and no retries."""
    import openai

    library = _library_of(openai.DefaultAsyncHttpxClient)
    http = openai.DefaultAsyncHttpxClient(limits=_httpx_limits(library, level), timeout=TIMEOUT_S)
    return openai.AsyncOpenAI(base_url=base_url, api_key="benchmark", max_retries=0, http_client=http)


@contextlib.asynccontextmanager
async def _openai_session(base_url: str, level: int) -> AsyncIterator[Request]:
    """openai-python's own streaming: a ``ChatCompletionChunk`` per event."""
    async with _openai_client(base_url, level) as client:

        async def request() -> Result:
            started = time.perf_counter()
            first: float | None = None
            parts: list[str] = []
            chunks = 0
            stream = await client.chat.completions.create(
                model=MODEL,
                messages=MESSAGES,
                stream=True,
                stream_options=STREAM_OPTIONS,
            )
            async with stream:
                async for chunk in stream:
                    chunks += 1
                    if not chunk.choices:
                        continue
                    text = chunk.choices[0].delta.content
                    if text:
                        if first is None:
                            first = time.perf_counter()
                        parts.append(text)
            return "".join(parts), chunks, _since(started, first)

        yield request


@contextlib.asynccontextmanager
async def _dropin_session(base_url: str, level: int) -> AsyncIterator[Request]:
    """``streamfold.openai.astream_chat``: openai sends the request, streamfold reads it."""
    from streamfold.openai import astream_chat

    async with _openai_client(base_url, level) as client:

        async def request() -> Result:
            started = time.perf_counter()
            first: float | None = None
            parts: list[str] = []
            async with astream_chat(client, model=MODEL, messages=MESSAGES, stream_options=STREAM_OPTIONS) as stream:
                async for event in stream:
                    if event.type == "content.delta":
                        text = event.delta  # type: ignore[attr-defined]
                        if first is None and text:
                            first = time.perf_counter()
                        parts.append(text)
                await stream.get_final_completion()
            return "".join(parts), stream.state.accumulator.chunks, _since(started, first)

        yield request


@contextlib.asynccontextmanager
async def _httpx_sse_session(base_url: str, level: int) -> AsyncIterator[Request]:
    """httpx + httpx-sse's ``aiter_sse`` + the standard library's ``json.loads``."""
    import httpx
    from httpx_sse import aconnect_sse

    url = f"{base_url}/chat/completions"
    async with httpx.AsyncClient(limits=_httpx_limits(httpx, level), timeout=TIMEOUT_S) as client:

        async def request() -> Result:
            started = time.perf_counter()
            first: float | None = None
            parts: list[str] = []
            chunks = 0
            async with aconnect_sse(client, "POST", url, json=BODY) as source:
                source.response.raise_for_status()
                async for sse in source.aiter_sse():
                    if sse.data == "[DONE]":
                        break
                    chunk = json.loads(sse.data)
                    chunks += 1
                    choices = chunk.get("choices")
                    if not choices:
                        continue
                    text = choices[0]["delta"].get("content")
                    if text:
                        if first is None:
                            first = time.perf_counter()
                        parts.append(text)
            return "".join(parts), chunks, _since(started, first)

        yield request


def _folded(acc: Any, started: float, first: float | None) -> Result:
    completion = acc.result()
    return completion["choices"][0]["message"]["content"] or "", acc.chunks, _since(started, first)


@contextlib.asynccontextmanager
async def _aiohttp_session(base_url: str, level: int) -> AsyncIterator[Request]:
    """A bare aiohttp request, each ``iter_any`` read into ``ChatAccumulator.feed``."""
    import aiohttp

    from streamfold import ChatAccumulator

    url = f"{base_url}/chat/completions"
    body = json.dumps(BODY).encode()
    headers = {"content-type": "application/json"}
    timeout = aiohttp.ClientTimeout(total=None, sock_read=TIMEOUT_S)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as session:

        async def request() -> Result:
            started = time.perf_counter()
            first: float | None = None
            acc = ChatAccumulator()
            async with session.post(url, data=body, headers=headers) as response:
                response.raise_for_status()
                async for piece in response.content.iter_any():
                    if first is None:
                        first = time.perf_counter()
                    acc.feed(piece)
            return _folded(acc, started, first)

        yield request


@contextlib.asynccontextmanager
async def _floor_session(base_url: str, level: int) -> AsyncIterator[Request]:
    """``e2e_floor.FloorClient``: an asyncio protocol, httptools, ``feed`` in the callback."""
    if __package__:
        from .e2e_floor import FloorClient
    else:  # python benchmarks/e2e.py
        from e2e_floor import FloorClient  # type: ignore[no-redef]

    from streamfold import ChatAccumulator

    client = FloorClient(f"{base_url}/chat/completions", json.dumps(BODY).encode())
    try:

        async def request() -> Result:
            started = time.perf_counter()
            first: list[float] = []
            acc = ChatAccumulator()
            feed = acc.feed

            def sink(piece: bytes) -> None:
                if not first:
                    first.append(time.perf_counter())
                feed(piece)

            status = await client.post(sink)
            if status != 200:
                raise RuntimeError(f"HTTP {status}")
            return _folded(acc, started, first[0] if first else None)

        yield request
    finally:
        client.close()


def _since(started: float, first: float | None) -> float:
    """Seconds from ``started`` to the first text (NaN when no text came: caught by the check)."""
    return math.nan if first is None else first - started


@dataclass(frozen=True)
class Contender:
    """One client stack: ``session(base_url, level)`` opens a client and yields its request function."""

    name: str
    session: Session
    requires: tuple[str, ...] = ()  # modules that must be importable


OURS = "streamfold AsyncClient"
OPENAI = "openai AsyncOpenAI"
HTTPX_SSE = "httpx + httpx-sse + json"
CONTENDERS = (
    Contender(OURS, _streamfold_session),
    Contender("streamfold AsyncClient, result() only", _streamfold_result_session),
    Contender("streamfold AsyncClient on httpx", _streamfold_httpx_session),
    Contender("streamfold AsyncClient on TimestampedSession", _streamfold_timestamped_session, ("httptools",)),
    Contender("streamfold openai drop-in", _dropin_session, ("openai",)),
    Contender(OPENAI, _openai_session, ("openai",)),
    Contender(HTTPX_SSE, _httpx_sse_session, ("httpx_sse",)),
    Contender("aiohttp iter_any + feed", _aiohttp_session),
    Contender("floor: asyncio protocol + httptools + feed", _floor_session, ("httptools",)),
)
BASELINE = OURS


def _missing(contender: Contender) -> str | None:
    """The first module ``contender`` needs that is not installed, else None."""
    return next((module for module in contender.requires if not _importable(module)), None)


# -- the server ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _process_cpu_s(pid: int) -> float | None:
    """CPU seconds of process ``pid``: the sum of its threads' run times from
    ``/proc/PID/task/*/schedstat`` (nanoseconds), else user + system time from
    ``/proc/PID/stat`` (clock ticks); None where there is no ``/proc``."""
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
        return sum(int((task / "schedstat").read_text().split()[0]) for task in tasks) / 1e9
    except (OSError, ValueError, IndexError):
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # after "pid (comm)": fields 3, 4, ...
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def cpus() -> tuple[int, int] | None:
    """The CPUs for the server and for the clients, or None when there are not two to pin to."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    mine = sorted(os.sched_getaffinity(0))
    return (mine[0], mine[1]) if len(mine) >= 2 else None


@dataclass
class Server:
    """The mock server running in its own process."""

    process: subprocess.Popen[bytes]
    base_url: str
    log: IO[bytes]

    def cpu_s(self) -> float | None:
        return _process_cpu_s(self.process.pid)

    def failure(self) -> str:
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace").strip()[-2000:]


def _wait_until_serving(server: Server) -> None:
    """Poll ``GET /v1/models`` until it answers; raise if the process exits or time runs out."""
    import httpx

    deadline = time.monotonic() + SERVER_START_S
    with httpx.Client(timeout=2.0) as client:
        while True:
            if server.process.poll() is not None:
                status = server.process.returncode
                raise RuntimeError(f"the mock server exited with status {status}: {server.failure()}")
            try:
                if client.get(f"{server.base_url}/models").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the mock server did not answer within {SERVER_START_S:.0f} s: {server.failure()}")
            time.sleep(0.05)


@contextlib.contextmanager
def _running_server(
    output_tokens: int,
    itl: float = 0.0,
    *,
    source: Path | None = None,
    cpu: int | None = None,
    ttft: float = 0.0,
    busy_wait: float = 0.0,
) -> Iterator[Server]:
    """Start ``python -m streamfold serve`` on a free port (from ``source``, a directory holding
    another version of the package, when given), pinned to ``cpu``; stop it whatever happens."""
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "streamfold",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--output-tokens",
        str(output_tokens),
        "--itl",
        repr(itl),
        "--quiet",
    ]
    if ttft:
        command += ["--ttft", repr(ttft)]
    if busy_wait:
        command += ["--busy-wait", repr(busy_wait)]
    env = dict(os.environ)
    cwd = None
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(source / "without"), str(source / "src")])
        env["STREAMFOLD_NO_EXTENSIONS"] = "1"  # the server's cost does not depend on the core
        cwd = str(source)
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, cwd=cwd)
        try:
            if cpu is not None:
                os.sched_setaffinity(process.pid, {cpu})
            server = Server(process, f"http://127.0.0.1:{port}/v1", log)
            _wait_until_serving(server)
            yield server
        finally:
            _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=SERVER_STOP_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def baseline_source(rev: str = BASELINE_SERVER_REV) -> Iterator[Path | None]:
    """``src/`` of ``rev`` from this repository's git history in a temporary directory, with
    stand-ins that make ``import httptools`` and ``import uvloop`` fail (its ``server`` extra
    was uvicorn alone); None when there is no git or no such revision."""
    git = shutil.which("git")
    if git is None:
        yield None
        return
    with tempfile.TemporaryDirectory() as directory:
        archive = Path(directory) / "src.tar"
        made = subprocess.run(
            [git, "-C", str(ROOT), "archive", "--format=tar", "-o", str(archive), rev, "src"], capture_output=True
        )
        if made.returncode != 0:
            yield None
            return
        with tarfile.open(archive) as tar:
            tar.extractall(directory, filter="data") if sys.version_info >= (3, 12) else tar.extractall(directory)
        without = Path(directory) / "without"
        without.mkdir()
        for module in ("httptools", "uvloop"):
            (without / f"{module}.py").write_text(
                f"raise ImportError('{module} hidden: the baseline server ran without it')\n"
            )
        yield Path(directory)


def _reference(base_url: str) -> tuple[str, int]:
    """The text and chunk count every stream must give, read once with plain httpx + streamfold."""
    import httpx

    from streamfold import ChatAccumulator

    acc = ChatAccumulator()
    with (
        httpx.Client(timeout=TIMEOUT_S) as client,
        client.stream("POST", f"{base_url}/chat/completions", json=BODY) as response,
    ):
        response.raise_for_status()
        for piece in response.iter_bytes():
            acc.feed(piece)
    completion = acc.result()
    return completion["choices"][0]["message"]["content"], acc.chunks


# -- measuring ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    """What one timed batch of streams gave."""

    results: list[Result]
    wall_s: float
    cpu_s: float
    server_cpu_s: float | None


async def _run_streams(request: Request, count: int) -> list[Result]:
    """``count`` requests started together, results in start order."""
    return list(await asyncio.gather(*(request() for _ in range(count))))


async def _measure(contender: Contender, server: Server, level: int) -> tuple[list[Result], Batch]:
    """Warm up, then time ``level`` streams at once, on a new client."""
    async with contender.session(server.base_url, level) as request:
        warmup = await _run_streams(request, WARMUP_STREAMS)
        server_before = server.cpu_s()
        cpu_before, wall_before = time.process_time(), time.perf_counter()
        results = await _run_streams(request, level)
        wall_s, cpu_s = time.perf_counter() - wall_before, time.process_time() - cpu_before
        server_after = server.cpu_s()
    server_cpu_s = None if server_before is None or server_after is None else server_after - server_before
    return warmup, Batch(results, wall_s, cpu_s, server_cpu_s)


def _wrong_output(results: Sequence[Result], text: str, chunks: int) -> str | None:
    """Why some stream differs from the reference, or None when all match."""
    for number, (got_text, got_chunks, ttfb) in enumerate(results):
        if got_chunks != chunks:
            return f"stream {number}: {got_chunks} chunks, expected {chunks}"
        if got_text != text:
            return f"stream {number}: text of {len(got_text)} chars differs from the reference ({len(text)} chars)"
        if not ttfb >= 0:
            return f"stream {number}: no text arrived"
    return None


def percentiles(values: Sequence[float]) -> dict[str, float]:
    """p50, p90, p99 (nearest rank: the ceil(p% * n)-th smallest value) and max."""
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]

    return {"p50": rank(50), "p90": rank(90), "p99": rank(99), "max": ordered[-1]}


def _row(contender: str, setting: str, level: int, status: str, batch: Batch | None = None) -> dict[str, Any]:
    """One line of the report; figures only for a correct batch."""
    row: dict[str, Any] = {
        "contender": contender,
        "setting": setting,
        "concurrency": level,
        "streams": level,
        "chunks": None,
        "wall_s": None,
        "client_cpu_s": None,
        "client_us_per_chunk": None,
        "chunks_per_s": None,
        "ttfb_ms": None,
        "server_cpu_s": None,
        "server_us_per_chunk": None,
        "status": status,
    }
    if batch is not None and status == "ok":
        chunks = sum(result[1] for result in batch.results)
        row.update(
            chunks=chunks,
            wall_s=batch.wall_s,
            client_cpu_s=batch.cpu_s,
            client_us_per_chunk=batch.cpu_s / chunks * 1e6,
            chunks_per_s=chunks / batch.wall_s,
            ttfb_ms={name: value * 1000 for name, value in percentiles([r[2] for r in batch.results]).items()},
            server_cpu_s=batch.server_cpu_s,
            server_us_per_chunk=None if batch.server_cpu_s is None else batch.server_cpu_s / chunks * 1e6,
        )
    return row


def _measure_row(
    contender: Contender, server: Server, setting: Setting, level: int, reference: tuple[str, int]
) -> dict[str, Any]:
    """Run one (contender, level) under its own event loop and judge its output."""
    import streamfold

    missing = _missing(contender)
    if missing is not None:
        return _row(contender.name, setting.name, level, f"skipped: {missing} not installed")
    try:
        warmup, batch = streamfold.run(_measure(contender, server, level))
    except Exception as exc:
        return _row(contender.name, setting.name, level, f"failed: {type(exc).__name__}: {exc}")
    wrong = _wrong_output(warmup + batch.results, *reference)
    return _row(contender.name, setting.name, level, f"wrong output: {wrong}" if wrong else "ok", batch)


def _describe(row: dict[str, Any], elapsed_s: float) -> str:
    head = f"[e2e {elapsed_s:6.1f} s] {row['setting']}: {row['contender']} x{row['concurrency']}"
    if row["status"] != "ok":
        return f"{head}: {row['status']}"
    server = "-" if row["server_us_per_chunk"] is None else f"{row['server_us_per_chunk']:.1f}"
    return (
        f"{head}: {row['chunks']} chunks in {row['wall_s']:.2f} s, client {row['client_us_per_chunk']:.1f} "
        f"µs/chunk, server {server} µs/chunk"
    )


def _versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in ("streamfold", "openai", "httpx", "httpx2", "httpx-sse", "aiohttp", "uvicorn", "httptools", "uvloop"):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


@contextlib.contextmanager
def _pinned(cpu: int | None) -> Iterator[None]:
    """This process on ``cpu`` for the duration (no-op for None)."""
    if cpu is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def run(
    *,
    quick: bool = False,
    progress: Callable[[str], None] = print,
    contenders: Sequence[str] | None = None,
    server_table: bool = True,
) -> dict[str, Any]:
    """Run the benchmark and return its report (see the module docstring).

    ``contenders`` restricts the run to those names (default: all of ``CONTENDERS``);
    ``server_table=False`` leaves out the mock server's before/after table.
    """
    import streamfold

    chosen = _choose(contenders)
    mode = QUICK if quick else FULL
    pinned = cpus()
    server_cpu, client_cpu = pinned if pinned else (None, None)
    began = time.perf_counter()
    rows: list[dict[str, Any]] = []
    servers: dict[str, Any] = {}
    with _pinned(client_cpu):
        for setting in mode.settings:
            with _running_server(setting.output_tokens, setting.itl, cpu=server_cpu) as server:
                reference = _reference(server.base_url)
                servers[setting.name] = {
                    "itl": setting.itl,
                    "output_tokens": setting.output_tokens,
                    "chunks_per_stream": reference[1],
                }
                for level in setting.levels:
                    for contender in chosen:
                        rows.append(_measure_row(contender, server, setting, level, reference))
                        progress(_describe(rows[-1], time.perf_counter() - began))
        server_rows = _server_table(mode, server_cpu, progress, began) if server_table else []
    from streamfold._run import uvloop_available

    return {
        "quick": quick,
        "implementation": streamfold.IMPLEMENTATION,
        "versions": _versions(),
        "loop": "uvloop" if uvloop_available() else "asyncio",
        "pinned": {"server_cpu": server_cpu, "client_cpu": client_cpu} if pinned else None,
        "servers": servers,
        "settings": [
            {"name": s.name, "itl": s.itl, "chunks": s.chunks, "levels": list(s.levels)} for s in mode.settings
        ],
        "rows": rows,
        "server_rows": server_rows,
        "wall_s": time.perf_counter() - began,
    }


def _server_table(mode: Mode, cpu: int | None, progress: Callable[[str], None], began: float) -> list[dict[str, Any]]:
    """The mock server's CPU per chunk, this checkout's and the baseline's, at both settings."""
    ours = next(contender for contender in CONTENDERS if contender.name == OURS)
    rows: list[dict[str, Any]] = []
    with baseline_source() as old:
        for version, source in (("before", old), ("after", None)):
            for setting in mode.settings:
                level = mode.server_level[setting.name]
                name = f"{version}: {BASELINE_SERVER_REV}" if version == "before" else "after: this checkout"
                if version == "before" and source is None:
                    rows.append(_row(name, setting.name, level, f"skipped: no git history with {BASELINE_SERVER_REV}"))
                    continue
                try:
                    with _running_server(setting.output_tokens, setting.itl, source=source, cpu=cpu) as server:
                        reference = _reference(server.base_url)
                        row = _measure_row(ours, server, setting, level, reference)
                except RuntimeError as exc:
                    row = _row(ours.name, setting.name, level, f"failed: {exc}")
                row["contender"] = name
                rows.append(row)
                progress(_describe(row, time.perf_counter() - began))
    return rows


def _choose(names: Sequence[str] | None) -> list[Contender]:
    if names is None:
        return list(CONTENDERS)
    known = {contender.name: contender for contender in CONTENDERS}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"unknown contender(s): {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[name] for name in names]


# -- the report -----------------------------------------------------------------------------------


def _fmt(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def ratios(result: dict[str, Any]) -> dict[tuple[str, int], dict[str, float]]:
    """For each (setting, level): every contender's client CPU per chunk over streamfold's."""
    found: dict[tuple[str, int], dict[str, float]] = {}
    rows = [row for row in result["rows"] if row["status"] == "ok"]
    for row in rows:
        ours = next(
            (
                r
                for r in rows
                if r["contender"] == BASELINE
                and r["setting"] == row["setting"]
                and r["concurrency"] == row["concurrency"]
            ),
            None,
        )
        if ours is not None:
            cell = found.setdefault((row["setting"], row["concurrency"]), {})
            cell[row["contender"]] = row["client_us_per_chunk"] / ours["client_us_per_chunk"]
    return found


def markdown(result: dict[str, Any]) -> str:
    """The report as Markdown: one table per setting, then the mock server's before and after."""
    loop = result.get("loop", "?")
    pinned = result.get("pinned")
    where = (
        f"server on CPU {pinned['server_cpu']}, clients on CPU {pinned['client_cpu']}"
        if pinned
        else "not pinned (fewer than two CPUs)"
    )
    lines = [f"Clients on {loop}; {where}; streamfold core: {result.get('implementation', '?')}.", ""]
    found = ratios(result)
    for setting in result["settings"]:
        server = result["servers"].get(setting["name"], {})
        lines += [
            f"#### {setting['name']} ({server.get('chunks_per_stream', setting['chunks'])} chunks per stream)",
            "",
            f"| contender | in flight | client µs / chunk | x {BASELINE} | chunks/s | TTFB p50 ms "
            "| TTFB p99 ms | server µs / chunk |",
            "|---|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for row in result["rows"]:
            if row["setting"] != setting["name"]:
                continue
            lead = f"| {row['contender']} | {row['concurrency']} "
            if row["status"] != "ok":
                lines.append(lead + f"| {row['status']} | | | | | |")
                continue
            ratio = found.get((row["setting"], row["concurrency"]), {}).get(row["contender"])
            ttfb = row["ttfb_ms"]
            lines.append(
                lead + f"| {row['client_us_per_chunk']:.1f} | {_fmt(ratio, 2)} | {_fmt(row['chunks_per_s'], 0)} "
                f"| {ttfb['p50']:.1f} | {ttfb['p99']:.1f} | {_fmt(row['server_us_per_chunk'], 1)} |"
            )
        lines.append("")
    if result.get("server_rows"):
        lines += [
            "#### The mock server's CPU per chunk (loaded by streamfold AsyncClient)",
            "",
            "| server | setting | in flight | server µs / chunk | chunks/s |",
            "|---|---|--:|--:|--:|",
        ]
        for row in result["server_rows"]:
            if row["status"] != "ok":
                lines.append(f"| {row['contender']} | {row['setting']} | {row['concurrency']} | {row['status']} | |")
                continue
            lines.append(
                f"| {row['contender']} | {row['setting']} | {row['concurrency']} "
                f"| {_fmt(row['server_us_per_chunk'], 1)} | {_fmt(row['chunks_per_s'], 0)} |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python benchmarks/e2e.py [--quick] [--json PATH]``: run, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small levels and short streams (seconds)")
    parser.add_argument("--json", metavar="PATH", help="also write the result dict as JSON to PATH")
    parser.add_argument("--contender", action="append", metavar="NAME", help="run only this contender (repeatable)")
    parser.add_argument("--no-server-table", action="store_true", help="leave out the mock server's before/after")
    args = parser.parse_args(argv)
    result = run(
        quick=args.quick,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
        contenders=args.contender,
        server_table=not args.no_server_table,
    )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    print(markdown(result))
    print(f"\n(total {result['wall_s']:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
