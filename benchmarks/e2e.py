"""End-to-end benchmark over loopback: whole streamed requests against the mock server.

Run from the repository root::

    python benchmarks/e2e.py                  # full run: 1, 64 and 256 streams in flight
    python benchmarks/e2e.py --quick          # 1, 4 and 8 in flight, short streams: seconds
    python benchmarks/e2e.py --json e2e.json  # the result dict as JSON too

The mock server (``python -m streamfold serve``, uvicorn on 127.0.0.1, fixed lorem output,
no artificial delay) runs in its own process.  Each contender makes whole streamed chat
requests (``stream_options.include_usage`` true) and reads every chunk:

- ``streamfold AsyncClient``: ``stream_chat`` + ``text()`` + ``result()``;
- ``openai AsyncOpenAI``: ``chat.completions.create(stream=True)``, iterating the chunks;
- ``streamfold openai drop-in``: ``streamfold.openai.astream_chat`` over an ``AsyncOpenAI``;
- ``httpx + httpx-sse + json``: ``aconnect_sse`` + ``aiter_sse`` + stdlib ``json.loads``.

At each concurrency level a contender runs ``max(level, 16)`` streams (quick: ``max(level,
4)``) with at most ``level`` in flight, after a warm-up of two streams.  Each (contender,
level) pair gets its own ``asyncio.run`` with a new client (created before the timing, closed
after it); levels are the outer loop, so the contenders of one level run back to back.
Timed around the whole batch: ``time.process_time()`` (CPU of this process only: the
server is another process), ``time.perf_counter()`` (wall) and, from ``/proc``, the
server's CPU time, so one can see when the server, not the client, is the bottleneck.
TTFB is the time from just before a request starts (after waiting for a slot) to its first
non-empty text handed to the caller; percentiles are nearest-rank over the sorted values.
Every stream's text and chunk count are checked against a reference fetched once at start.
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
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

MODEL = "mock-gpt"
MESSAGES = [{"role": "user", "content": "Tell me something long."}]
STREAM_OPTIONS = {"include_usage": True}
#: Chunks of a stream beyond its text tokens: the role chunk, the finish chunk, the usage chunk.
EXTRA_CHUNKS = 3


@dataclass(frozen=True)
class Mode:
    """Concurrency levels, chunks per stream, and the fewest streams timed at a level."""

    levels: tuple[int, ...]
    chunks: int
    min_streams: int

    @property
    def output_tokens(self) -> int:
        return self.chunks - EXTRA_CHUNKS


FULL = Mode(levels=(1, 64, 256), chunks=500, min_streams=16)
QUICK = Mode(levels=(1, 4, 8), chunks=40, min_streams=4)
WARMUP_STREAMS = 2
#: Every client's pool: room for the largest level, every connection kept alive.
MAX_CONNECTIONS = 300
TIMEOUT_S = 120.0
SERVER_START_S = 30.0
SERVER_STOP_S = 10.0

Result = tuple[str, int, float]  # (text, chunks seen, ttfb in seconds)
Request = Callable[[], Awaitable[Result]]
Session = Callable[[str], contextlib.AbstractAsyncContextManager[Request]]


# -- contenders -------------------------------------------------------------------------------


def _importable(module: str) -> bool:
    """Whether ``module`` can be imported (the tests patch this to fake a missing package)."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def _httpx_limits(library: Any) -> Any:
    """A pool allowing ``MAX_CONNECTIONS``, in ``library`` (httpx or httpx2)."""
    return library.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS)


def _library_of(cls: type) -> Any:
    """The httpx or httpx2 module an HTTP client class comes from."""
    for base in cls.__mro__:
        root = base.__module__.partition(".")[0]
        if root in ("httpx", "httpx2"):
            return importlib.import_module(root)
    raise TypeError(f"{cls.__qualname__} is not an httpx or httpx2 client")


@contextlib.asynccontextmanager
async def _streamfold_session(base_url: str) -> AsyncIterator[Request]:
    """streamfold's own ``AsyncClient`` (its httpx pool set as the others' are)."""
    import httpx

    import streamfold

    http = httpx.AsyncClient(limits=_httpx_limits(httpx), timeout=TIMEOUT_S)
    async with http, streamfold.AsyncClient(base_url=base_url, max_retries=0, http_client=http) as client:

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

        yield request


def _openai_client(base_url: str) -> Any:
    """An ``AsyncOpenAI`` on ``base_url`` with the shared pool size and no retries."""
    import openai

    library = _library_of(openai.DefaultAsyncHttpxClient)
    http = openai.DefaultAsyncHttpxClient(limits=_httpx_limits(library), timeout=TIMEOUT_S)
    return openai.AsyncOpenAI(base_url=base_url, api_key="benchmark", max_retries=0, http_client=http)


@contextlib.asynccontextmanager
async def _openai_session(base_url: str) -> AsyncIterator[Request]:
    """openai-python's own streaming: a ``ChatCompletionChunk`` per event."""
    async with _openai_client(base_url) as client:

        async def request() -> Result:
            started = time.perf_counter()
            first: float | None = None
            parts: list[str] = []
            chunks = 0
            stream = await client.chat.completions.create(
                model=MODEL, messages=MESSAGES, stream=True, stream_options=STREAM_OPTIONS,
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
async def _dropin_session(base_url: str) -> AsyncIterator[Request]:
    """``streamfold.openai.astream_chat``: openai sends the request, streamfold reads it."""
    from streamfold.openai import astream_chat

    async with _openai_client(base_url) as client:

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
async def _httpx_sse_session(base_url: str) -> AsyncIterator[Request]:
    """httpx + httpx-sse's ``aiter_sse`` + the standard library's ``json.loads``."""
    import httpx
    from httpx_sse import aconnect_sse

    url = f"{base_url}/chat/completions"
    body = {"model": MODEL, "messages": MESSAGES, "stream": True, "stream_options": STREAM_OPTIONS}
    async with httpx.AsyncClient(limits=_httpx_limits(httpx), timeout=TIMEOUT_S) as client:

        async def request() -> Result:
            started = time.perf_counter()
            first: float | None = None
            parts: list[str] = []
            chunks = 0
            async with aconnect_sse(client, "POST", url, json=body) as source:
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


def _since(started: float, first: float | None) -> float:
    """Seconds from ``started`` to the first text (NaN when no text came: caught by the check)."""
    return math.nan if first is None else first - started


@dataclass(frozen=True)
class Contender:
    """One client stack: ``session(base_url)`` opens a client and yields its request function."""

    name: str
    session: Session
    requires: tuple[str, ...] = ()  # modules that must be importable


CONTENDERS = (
    Contender("streamfold AsyncClient", _streamfold_session),
    Contender("openai AsyncOpenAI", _openai_session, ("openai",)),
    Contender("streamfold openai drop-in", _dropin_session, ("openai",)),
    Contender("httpx + httpx-sse + json", _httpx_sse_session, ("httpx_sse",)),
)
BASELINE = CONTENDERS[0].name


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
    """User + system CPU seconds of process ``pid`` from ``/proc`` (None where there is none)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # after "pid (comm)": fields 3, 4, ...
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


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
def _running_server(output_tokens: int) -> Iterator[Server]:
    """Start ``python -m streamfold serve`` on a free port; stop it whatever happens."""
    port = _free_port()
    command = [sys.executable, "-m", "streamfold", "serve", "--host", "127.0.0.1", "--port", str(port),
               "--output-tokens", str(output_tokens), "--quiet"]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        try:
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


def _reference(base_url: str) -> tuple[str, int]:
    """The text and chunk count every stream must give, read once with plain httpx + streamfold."""
    import httpx

    from streamfold import ChatAccumulator

    body = {"model": MODEL, "messages": MESSAGES, "stream": True, "stream_options": STREAM_OPTIONS}
    acc = ChatAccumulator()
    with httpx.Client(timeout=TIMEOUT_S) as client, \
            client.stream("POST", f"{base_url}/chat/completions", json=body) as response:
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


async def _run_streams(request: Request, count: int, in_flight: int) -> list[Result]:
    """``count`` requests, at most ``in_flight`` at a time, results in start order."""
    slots = asyncio.Semaphore(in_flight)

    async def one() -> Result:
        async with slots:
            return await request()

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def _measure(contender: Contender, server: Server, streams: int, in_flight: int) -> tuple[list[Result], Batch]:
    """Warm up, then time ``streams`` streams with ``in_flight`` at a time, on a new client."""
    async with contender.session(server.base_url) as request:
        warmup = await _run_streams(request, WARMUP_STREAMS, WARMUP_STREAMS)
        server_before = server.cpu_s()
        cpu_before, wall_before = time.process_time(), time.perf_counter()
        results = await _run_streams(request, streams, in_flight)
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


def _row(contender: str, level: int, streams: int, status: str, batch: Batch | None = None) -> dict[str, Any]:
    """One line of the report; figures only for a correct batch."""
    row: dict[str, Any] = {
        "contender": contender, "concurrency": level, "streams": streams, "chunks": None, "wall_s": None,
        "client_cpu_s": None, "client_cpu_s_per_1000_chunks": None, "chunks_per_s": None, "ttfb_ms": None,
        "server_cpu_s": None, "status": status,
    }
    if batch is not None and status == "ok":
        chunks = sum(result[1] for result in batch.results)
        row.update(
            chunks=chunks, wall_s=batch.wall_s, client_cpu_s=batch.cpu_s,
            client_cpu_s_per_1000_chunks=batch.cpu_s / chunks * 1000, chunks_per_s=chunks / batch.wall_s,
            ttfb_ms={name: value * 1000 for name, value in percentiles([r[2] for r in batch.results]).items()},
            server_cpu_s=batch.server_cpu_s,
        )
    return row


def _measure_row(contender: Contender, server: Server, level: int, streams: int,
                 reference: tuple[str, int]) -> dict[str, Any]:
    """Run one (contender, level) under its own event loop and judge its output."""
    missing = _missing(contender)
    if missing is not None:
        return _row(contender.name, level, streams, f"skipped: {missing} not installed")
    try:
        warmup, batch = asyncio.run(_measure(contender, server, streams, level))
    except Exception as exc:  # noqa: BLE001 - a broken contender is reported, not fatal
        return _row(contender.name, level, streams, f"failed: {type(exc).__name__}: {exc}")
    wrong = _wrong_output(warmup + batch.results, *reference)
    return _row(contender.name, level, streams, f"wrong output: {wrong}" if wrong else "ok", batch)


def _describe(row: dict[str, Any], elapsed_s: float) -> str:
    head = f"[e2e {elapsed_s:6.1f} s] {row['contender']} x{row['concurrency']}"
    if row["status"] != "ok":
        return f"{head}: {row['status']}"
    return (f"{head}: {row['streams']} streams, {row['chunks']} chunks in {row['wall_s']:.2f} s, "
            f"client CPU {row['client_cpu_s']:.2f} s")


def _versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in ("streamfold", "openai", "httpx", "httpx2", "httpx-sse", "uvicorn"):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def run(*, quick: bool = False, progress: Callable[[str], None] = print,
        contenders: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the benchmark and return its report (see the module docstring).

    ``contenders`` restricts the run to those names (default: all of ``CONTENDERS``).
    """
    import streamfold

    chosen = _choose(contenders)
    mode = QUICK if quick else FULL
    began = time.perf_counter()
    rows: list[dict[str, Any]] = []
    with _running_server(mode.output_tokens) as server:
        reference = _reference(server.base_url)
        for level in mode.levels:
            streams = max(level, mode.min_streams)
            for contender in chosen:
                rows.append(_measure_row(contender, server, level, streams, reference))
                progress(_describe(rows[-1], time.perf_counter() - began))
    return {
        "quick": quick,
        "implementation": streamfold.IMPLEMENTATION,
        "versions": _versions(),
        "server": {"output_tokens": mode.output_tokens, "chunks_per_stream": reference[1]},
        "levels": list(mode.levels),
        "rows": rows,
        "wall_s": time.perf_counter() - began,
    }


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


def markdown(result: dict[str, Any]) -> str:
    """The report as a Markdown table: one line per contender and concurrency level."""
    baseline = {row["concurrency"]: row["client_cpu_s_per_1000_chunks"]
                for row in result["rows"] if row["contender"] == BASELINE and row["status"] == "ok"}
    server = result["server"]
    caption = (f"Mock server: {server['chunks_per_stream']} chunks per stream ({server['output_tokens']} text "
               f"tokens); streamfold core: {result.get('implementation', '?')}.")
    header = (f"| contender | in flight | streams | client CPU s / 1k chunks | x {BASELINE} | chunks/s "
              "| TTFB p50 ms | TTFB p90 ms | TTFB p99 ms | server CPU s |")
    lines = [caption, "", header, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for row in result["rows"]:
        lead = f"| {row['contender']} | {row['concurrency']} | {row['streams']} "
        if row["status"] != "ok":
            lines.append(lead + f"| {row['status']} | | | | | | |")
            continue
        per_1k = row["client_cpu_s_per_1000_chunks"]
        base = baseline.get(row["concurrency"])
        ratio = f"{per_1k / base:.2f}x" if base else "–"
        ttfb = row["ttfb_ms"]
        lines.append(
            lead + f"| {per_1k:.3f} | {ratio} | {_fmt(row['chunks_per_s'], 0)} | {ttfb['p50']:.1f} "
            f"| {ttfb['p90']:.1f} | {ttfb['p99']:.1f} | {_fmt(row['server_cpu_s'], 2)} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python benchmarks/e2e.py [--quick] [--json PATH]``: run, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small levels and short streams (seconds)")
    parser.add_argument("--json", metavar="PATH", help="also write the result dict as JSON to PATH")
    args = parser.parse_args(argv)
    result = run(quick=args.quick, progress=lambda line: print(line, file=sys.stderr, flush=True))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    print(markdown(result))
    print(f"\n(total {result['wall_s']:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
