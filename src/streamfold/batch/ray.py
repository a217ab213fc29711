"""``streamfold batch --ray``: the same batch on a Ray cluster, through Ray Data.

The driver (the process that calls ``run``) reads the input and the output: it takes the
``custom_id`` values already written (resume), reads the input line by line with
``read_requests`` (so line numbers, duplicates and invalid lines are found as on one
machine; invalid lines are written at once), and puts the requests left to run into the
object store in blocks.  A Ray Data ``map_batches`` over those blocks runs them on a pool
of ``actors`` actors (``FoldActor``), each with its share of the limits: ``concurrency``,
``rpm`` and ``tpm`` divided by the number of actors.  Each actor runs one
``fold_requests`` for its whole life, on the event loop Ray Data keeps for an async actor,
with its own ``AsyncClient``; the batches Ray hands it feed that one engine, so its limits
hold across batches.  The records stream back to the driver (``iter_batches``), which
appends them to the output with the same ``OutputFile`` as a single-machine run: same
format, same crash-safe appends, same resume rule.

Each actor follows the ``x-ratelimit-*`` headers on its own, scaled by its share (the
counts a server sends are the whole account's: an actor takes 1 / actors of them).
"""

from __future__ import annotations

import asyncio
import importlib
import os
import time
from collections.abc import AsyncIterator, Callable, Container, Iterator
from typing import Any

import orjson

from ._input import InvalidLine, Request, Source, read_requests
from ._output import OutputFile, line_key, record_for_invalid
from ._runner import BatchOptions, fold_requests
from ._summary import Summary

#: What to install when Ray is missing.
INSTALL = 'pip install "streamfold[ray]"'
#: Requests per block put into the object store (per batch: ``batch_size``).
BLOCK_BATCHES = 16


class RayMissing(ImportError):
    """Ray (with Ray Data) is not installed."""


def need_ray() -> Any:
    """The ``ray`` module, with Ray Data, or ``RayMissing``."""
    try:
        module = importlib.import_module("ray")
        importlib.import_module("ray.data")
        importlib.import_module("pyarrow")
    except ImportError as exc:
        raise RayMissing(f"--ray needs Ray: {INSTALL}") from exc
    return module


def share(total: float | None, actors: int) -> float | None:
    """One actor's share of a limit (None: no limit)."""
    return None if total is None else total / actors


class FoldActor:
    """One actor of the pool: a ``fold_requests`` that lives as long as the actor, fed by the
    batches Ray Data hands it (an async ``__call__``: Ray runs several at once on the
    actor's event loop), each answered with the records of its requests, in its order."""

    def __init__(self, options: dict[str, Any]) -> None:
        self._options = BatchOptions(**options)
        self._queue: asyncio.Queue[Request] | None = None
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._engine: asyncio.Task[Summary] | None = None

    async def __call__(self, batch: Any) -> Any:
        pyarrow = importlib.import_module("pyarrow")
        engine = self._start()
        loop = asyncio.get_running_loop()
        futures = []
        assert self._queue is not None
        for custom_id, body, line in zip(
            batch.column("custom_id").to_pylist(), batch.column("body").to_pylist(), batch.column("line").to_pylist()
        ):
            future: asyncio.Future[dict[str, Any]] = loop.create_future()
            self._waiting[custom_id] = future
            futures.append(future)
            self._queue.put_nowait(Request(custom_id, orjson.loads(body), line))
        done = asyncio.gather(*futures)
        either: set[asyncio.Future[Any]] = {done, engine}
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        if not done.done():  # the engine stopped: it can only have failed
            done.cancel()
            engine.result()
            raise RuntimeError("the actor's batch engine stopped")
        return pyarrow.table({"record": [orjson.dumps(record) for record in done.result()]})

    def _start(self) -> asyncio.Task[Summary]:
        if self._engine is None:
            self._queue = asyncio.Queue()
            self._engine = asyncio.get_running_loop().create_task(
                fold_requests(self._requests(), self._options, self._emit)
            )
        return self._engine

    async def _requests(self) -> AsyncIterator[Request]:
        assert self._queue is not None
        while True:
            yield await self._queue.get()

    def _emit(self, record: dict[str, Any]) -> None:
        future = self._waiting.pop(record["custom_id"], None)
        if future is not None and not future.done():
            future.set_result(record)


def _blocks(
    items: Iterator[Request | InvalidLine],
    done: Container[str],
    out: OutputFile,
    summary: Summary,
    rows: int,
    ray: Any,
    on_invalid: Callable[[InvalidLine], None] | None,
) -> list[Any]:
    """Object refs of pyarrow tables of the requests left to run; invalid lines written now."""
    pyarrow = importlib.import_module("pyarrow")
    refs: list[Any] = []
    columns: dict[str, list[Any]] = {"custom_id": [], "body": [], "line": []}

    def put() -> None:
        refs.append(ray.put(pyarrow.table({**columns, "body": pyarrow.array(columns["body"], pyarrow.binary())})))
        for values in columns.values():
            values.clear()

    for item in items:
        if (line_key(item.line) if isinstance(item, InvalidLine) else item.custom_id) in done:
            summary.skipped += 1
        elif isinstance(item, InvalidLine):
            record = record_for_invalid(item)
            out.append(record)
            if on_invalid is not None:
                on_invalid(item)
            summary.record(record)
        else:
            columns["custom_id"].append(item.custom_id)
            columns["body"].append(orjson.dumps(item.body))
            columns["line"].append(item.line)
            if len(columns["line"]) >= rows:
                put()
    if columns["line"]:
        put()
    return refs


def run(
    input: Source,
    output: str | os.PathLike[str],
    *,
    address: str | None = None,
    actors: int = 2,
    actor_cpus: float = 1.0,
    batch_size: int | None = None,
    progress: Callable[[Summary], None] | None = None,
    on_invalid: Callable[[InvalidLine], None] | None = None,
    **options: Any,
) -> Summary:
    """Run the requests of ``input`` into ``output`` on a Ray cluster; returns the ``Summary``.

    ``address``: the cluster's (``ray://HOST:10001``, ``auto``...; None: the one this process
    is already connected to, else ``RAY_ADDRESS``, else a new local one).  ``actors``: the
    pool's size, each reserving ``actor_cpus`` CPUs; ``options``: those of ``BatchOptions``,
    ``concurrency``, ``rpm`` and ``tpm`` being the whole run's (each actor gets its share).
    ``batch_size``: requests per batch handed to an actor (default: half its concurrency).
    ``progress``: called with the summary so far after each batch of records is written;
    ``on_invalid``: called with each invalid input line as its error record is written.
    """
    if actors < 1:
        raise ValueError(f"actors must be >= 1, got {actors}")
    if options.get("ordered"):
        raise ValueError("ordered output is not supported on Ray")
    ray = need_ray()
    whole = BatchOptions(**options)
    per_actor = dict(options)
    per_actor.update(
        concurrency=max(1, -(-whole.concurrency // actors)),
        rpm=share(whole.rpm, actors),
        tpm=share(whole.tpm, actors),
        limit_share=whole.limit_share / actors,
    )
    BatchOptions(**per_actor)  # refuse a bad share before the cluster starts
    rows = batch_size or max(1, per_actor["concurrency"] // 2)
    started = time.perf_counter()
    owned = not ray.is_initialized()
    if owned:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        summary = Summary()
        out = OutputFile(output)
        done = out.done_ids()
        with out:
            refs = _blocks(read_requests(input), done, out, summary, rows * BLOCK_BATCHES, ray, on_invalid)
            if refs:
                dataset = ray.data.from_arrow_refs(refs).map_batches(
                    FoldActor,
                    fn_constructor_kwargs={"options": per_actor},
                    batch_size=rows,
                    batch_format="pyarrow",
                    compute=ray.data.ActorPoolStrategy(size=actors),
                    num_cpus=actor_cpus,
                )
                for batch in dataset.iter_batches(batch_format="pyarrow", batch_size=None):
                    for line in batch.column("record").to_pylist():
                        record = orjson.loads(line)
                        out.append(record)
                        summary.record(record)
                    if progress is not None:
                        summary.elapsed_s = time.perf_counter() - started
                        progress(summary)
        summary.elapsed_s = time.perf_counter() - started
        return summary
    finally:
        if owned:
            ray.shutdown()
