"""Running a benchmark: a probe request, the warm-up, then the requests at their arrival
times, with the client's own overhead measured alongside."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..client import AsyncClient, Timeout
from ._arrivals import arrival_offsets
from ._config import BenchConfig
from ._datasets import Prompt, load_prompts
from ._monitor import LoopMonitor, Overhead
from ._record import OUTPUT_CHUNKS, RequestRecord, send
from ._session import bench_session
from ._tokenizer import Tokenizer, load_tokenizer

#: Seconds between two progress reports.
PROGRESS_INTERVAL_S = 0.5


class BenchError(Exception):
    """The benchmark could not run (the server refused the first request, ...)."""


@dataclass(frozen=True)
class Progress:
    """Where a run is: requests ``done`` (``failed`` among them), ``in_flight``, ``waiting``
    for a slot or their arrival time, output chunks so far, seconds since the start."""

    total: int
    done: int
    failed: int
    in_flight: int
    waiting: int
    output_chunks: int
    elapsed: float


@dataclass
class Run:
    """What a run left: the records in arrival order, when it began (``perf_counter``), how
    long it took, the client's overhead, how late requests left against their arrival
    times (seconds), and whether per-chunk usage was asked for."""

    config: BenchConfig
    records: list[RequestRecord]
    origin: float
    duration: float
    overhead: Overhead
    send_lateness: list[float]
    usage_per_chunk: bool
    tokenizer: Tokenizer | None
    chunk_clock: str


def prepare(config: BenchConfig, tokenizer: Tokenizer | None = None) -> tuple[list[Prompt], Tokenizer | None]:
    """The prompts of ``config`` and its tokenizer (loaded unless given); ``ValueError`` for
    a bad dataset or tokenizer, ``OSError`` for a file that cannot be read."""
    if tokenizer is None and config.tokenizer:
        tokenizer = load_tokenizer(config.tokenizer)
    prompts = load_prompts(
        config.dataset,
        count=config.num_prompts,
        input_len=config.input_len,
        output_len=config.output_len,
        seed=config.seed,
        tokenizer=tokenizer,
    )
    return prompts, tokenizer


def _body(config: BenchConfig, prompt: Prompt, usage_per_chunk: bool) -> dict[str, Any]:
    options: dict[str, Any] = {"include_usage": True}
    if usage_per_chunk:
        options["continuous_usage_stats"] = True
    body: dict[str, Any] = {"model": config.model, "messages": prompt.messages, "stream_options": options}
    if prompt.output_tokens is not None:
        body["max_completion_tokens"] = prompt.output_tokens
    body.update(config.body)
    return body


async def _probe(client: AsyncClient, config: BenchConfig, prompt: Prompt) -> bool:
    """Send one request before the run: it must succeed.  Returns whether to ask for usage
    in every chunk (asked first unless ``config.usage_per_chunk`` is False; a 400 answer to
    it is taken as a refusal of the option, and the probe is sent again without it)."""
    ask = config.usage_per_chunk is not False
    record = RequestRecord(-1, prompt.input_tokens)
    await send(client, record, _body(config, prompt, ask))
    if not record.ok and ask and config.usage_per_chunk is None and record.error_kind == "HTTP 400":
        ask = False
        record = RequestRecord(-1, prompt.input_tokens)
        await send(client, record, _body(config, prompt, ask))
    if not record.ok:
        raise BenchError(f"the first request failed: {record.error}")
    return ask


async def arun(
    config: BenchConfig,
    *,
    prompts: Sequence[Prompt] | None = None,
    tokenizer: Tokenizer | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> Run:
    """Run the benchmark in the running event loop (``prompts`` and ``tokenizer``: made from
    ``config`` unless given)."""
    if prompts is None:
        prompts, tokenizer = prepare(config)
    if not prompts:
        raise BenchError("no prompts to send")
    session, chunk_clock = bench_session(config.base_url, kernel_clock=config.kernel_clock)
    async with (
        session,
        AsyncClient(
            base_url=config.base_url,
            api_key=config.api_key or "benchmark",
            headers=config.headers,
            timeout=Timeout(config.timeout, config.timeout),
            max_retries=0,
            http_client=session,
        ) as client,
    ):
        usage_per_chunk = await _probe(client, config, prompts[0])
        bodies = [_body(config, prompt, usage_per_chunk) for prompt in prompts]
        slots = asyncio.Semaphore(config.max_concurrency) if config.max_concurrency else None
        if config.warmup:
            warm = [RequestRecord(-1, 0) for _ in range(config.warmup)]
            await asyncio.gather(
                *(_in_slot(slots, client, record, bodies[i % len(bodies)]) for i, record in enumerate(warm))
            )
        records = [RequestRecord(index, prompt.input_tokens) for index, prompt in enumerate(prompts)]
        offsets = arrival_offsets(
            len(prompts),
            config.request_rate,
            burstiness=config.burstiness,
            ramp=config.ramp,
            rng=random.Random(config.seed),
        )
        paused = _pause_collector() if config.pause_gc else False
        monitor = LoopMonitor()
        monitor.start()
        origin = time.perf_counter()
        tally = _Tally(len(records))
        reporter = asyncio.ensure_future(_report(progress, tally, origin)) if progress else None
        lateness: list[float] = []
        tasks = []
        try:
            for record, body, offset in zip(records, bodies, offsets):
                due = origin + offset
                wait = due - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
                record.arrival = time.perf_counter()
                lateness.append(record.arrival - due)
                tasks.append(asyncio.ensure_future(_in_slot(slots, client, record, body, tally)))
            await asyncio.gather(*tasks)
            duration = time.perf_counter() - origin
        finally:
            overhead = monitor.stop()
            if paused:
                gc.enable()
            for task in tasks:
                task.cancel()
            if reporter is not None:
                reporter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reporter
    if progress is not None:
        progress(tally.progress(origin))
    if tokenizer is not None:
        _count_output(records, tokenizer)
    return Run(config, records, origin, duration, overhead, lateness, usage_per_chunk, tokenizer, chunk_clock)


def _pause_collector() -> bool:
    """Collect, then turn the cyclic garbage collector off for the run (True if it was on).

    With 1,000 streams in flight, a full collection walks every object of every stream:
    150 ms of CPU measured, the event loop stopped meanwhile and every chunk's arrival
    time late by as much.  A request leaves less than one object of cyclic garbage
    (measured), and reference counting frees everything else as before.
    """
    if not gc.isenabled():
        return False
    gc.collect()
    gc.disable()
    return True


#: How output tokens were counted when a tokenizer counted them after the run.
TOKENIZER_COUNT = "the tokenizer, after the run"


def _count_output(records: Sequence[RequestRecord], tokenizer: Tokenizer) -> None:
    """Where the server sent no usage, count the output text with the tokenizer (after the
    run, so tokenizing never delays a read)."""
    for record in records:
        if record.ok and record.token_source == OUTPUT_CHUNKS and record.text:
            record.output_tokens = len(tokenizer.encode(record.text))
            record.token_source = TOKENIZER_COUNT


class _Tally:
    """Counts kept as requests go, for the progress line (no pass over every record)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = self.failed = self.chunks_done = 0
        self.running: set[RequestRecord] = set()

    def progress(self, origin: float) -> Progress:
        in_flight = len(self.running)
        chunks = self.chunks_done + sum(len(record.chunk_times) for record in self.running)
        return Progress(
            self.total,
            self.done,
            self.failed,
            in_flight,
            self.total - self.done - in_flight,
            chunks,
            time.perf_counter() - origin,
        )


async def _in_slot(
    slots: asyncio.Semaphore | None,
    client: AsyncClient,
    record: RequestRecord,
    body: dict[str, Any],
    tally: _Tally | None = None,
) -> None:
    if slots is None:
        await _counted(client, record, body, tally)
        return
    async with slots:
        await _counted(client, record, body, tally)


async def _counted(client: AsyncClient, record: RequestRecord, body: dict[str, Any], tally: _Tally | None) -> None:
    if tally is None:
        await send(client, record, body)
        return
    tally.running.add(record)
    try:
        await send(client, record, body)
    finally:
        tally.running.discard(record)
        tally.done += 1
        tally.failed += record.error is not None
        tally.chunks_done += len(record.chunk_times)


async def _report(progress: Callable[[Progress], None], tally: _Tally, origin: float) -> None:
    while True:
        await asyncio.sleep(PROGRESS_INTERVAL_S)
        progress(tally.progress(origin))
