"""``streamfold batch INPUT.jsonl -o OUTPUT.jsonl``: run an OpenAI Batch API file as streams.

Every request is streamed and folded, and written to OUTPUT as one Batch API output line
when it finishes; running again with the same OUTPUT skips what is there (resume).  The
first Ctrl-C (or SIGTERM) stops sending new requests and lets those in flight finish (for
``--grace`` seconds at most); a second one abandons them.  Either way what finished is
written, the exit status is 130 (143 for SIGTERM), and one line says how many are left.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time
from collections.abc import Container, Iterator
from pathlib import Path
from typing import Any

import orjson

from .chat import base_url
from .common import (
    FAILED,
    INTERRUPTED,
    OK,
    UsageError,
    error,
    non_negative_int,
    positive_int,
    positive_seconds,
    warning,
)

#: Exit status after SIGTERM (128 + its number, as shells report it).
TERMINATED = 128 + signal.SIGTERM
#: Seconds the requests in flight get to finish after the first signal.
DEFAULT_GRACE_S = 30.0


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "batch",
        help="run a JSONL file of chat requests (OpenAI Batch API format) as streams, resumably",
        description="Stream every request of INPUT (OpenAI Batch API lines: custom_id, method, url, body) "
        "and write each folded completion to OUTPUT as a Batch API output line when it finishes. "
        "Running again with the same OUTPUT skips the custom_ids already there.",
    )
    parser.add_argument("input", metavar="INPUT.jsonl", help="the requests, one JSON object a line")
    parser.add_argument("-o", "--output", required=True, metavar="OUTPUT.jsonl", help="where the results go (appended)")
    server = parser.add_argument_group("server")
    server.add_argument("--base-url", type=base_url, help="the OpenAI-compatible API (default: OPENAI_BASE_URL)")
    server.add_argument("--api-key", help="its API key (default: OPENAI_API_KEY)")
    limits = parser.add_argument_group("limits")
    limits.add_argument("--concurrency", type=positive_int, default=64, metavar="N", help="requests in flight (64)")
    limits.add_argument("--rpm", type=positive_int, metavar="N", help="requests per minute (default: the server's)")
    limits.add_argument(
        "--tpm", type=positive_int, metavar="N", help="tokens per minute, prompt and completion (default: the server's)"
    )
    limits.add_argument(
        "--max-retries", type=non_negative_int, default=5, metavar="N", help="retries before an answer begins (5)"
    )
    limits.add_argument(
        "--timeout", type=positive_seconds, default=600.0, metavar="S", help="seconds to wait for each read (600)"
    )
    run_group = parser.add_argument_group("the run")
    run_group.add_argument("--ordered", action="store_true", help="write the results in input order")
    run_group.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="show progress on stderr: a bar on a terminal, a line every --progress-interval seconds elsewhere",
    )
    run_group.add_argument(
        "--progress-interval",
        type=positive_seconds,
        metavar="S",
        help="seconds between progress lines (5 off a terminal)",
    )
    run_group.add_argument("--summary", metavar="FILE", help="also write the summary as JSON to FILE")
    run_group.add_argument(
        "--grace",
        type=positive_seconds,
        default=DEFAULT_GRACE_S,
        metavar="S",
        help=f"after Ctrl-C, seconds the requests in flight get to finish ({DEFAULT_GRACE_S:g})",
    )
    cluster = parser.add_argument_group("on a Ray cluster (streamfold[ray])")
    cluster.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help="run on a Ray cluster: ADDRESS (ray://HOST:10001, auto), else RAY_ADDRESS, else a new local one; "
        "--concurrency, --rpm and --tpm are divided among the actors",
    )
    cluster.add_argument(
        "--actors", type=positive_int, default=2, metavar="N", help="with --ray: actors in the pool (2)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not Path(args.input).is_file():
        raise UsageError(f"no such input file: {args.input}")
    if Path(args.output).is_dir():
        raise UsageError(f"the output is a directory: {args.output}")
    if args.ray is not None:
        return _on_ray(args)
    from .._run import run as run_loop

    return run_loop(_batch(args))


async def _batch(args: argparse.Namespace) -> int:
    from ..batch import BatchOptions, OutputFile, Summary, fold_requests, read_requests
    from ..batch._progress import Progress, count_lines

    options = BatchOptions(**_options(args), ordered=args.ordered)
    out = OutputFile(args.output)
    done = out.done_ids()
    if out.truncated:
        warning(f"cut off an unfinished last line ({out.truncated} bytes) of {args.output}")
    total = max(0, count_lines(args.input) - len(done))
    live = Summary()
    stop, abandon = asyncio.Event(), asyncio.Event()
    signals = _Signals(stop, abandon, live, args.grace)
    progress = Progress(live, total, interval=args.progress_interval) if args.progress else None
    with out:
        signals.install()
        if progress is not None:
            progress.start()
        try:
            summary = await fold_requests(
                _InvalidLines().said(read_requests(args.input), done),
                options,
                out.append,
                skip=done,
                stop=stop,
                abandon=abandon,
                live=live,
            )
        finally:
            signals.remove()
            if progress is not None:
                await progress.close()
    status = _report(args, summary)
    if signals.received is not None:
        left = total - summary.done
        error(
            f"interrupted: {left:,} request{'s' if left != 1 else ''} not done; "
            f"run the same command again to resume (the {summary.done:,} done are in {args.output})"
        )
        return TERMINATED if signals.received == signal.SIGTERM else INTERRUPTED
    return status


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``BatchOptions`` the command line sets, on one machine and on Ray alike."""
    return {
        "base_url": args.base_url,
        "api_key": args.api_key,
        "concurrency": args.concurrency,
        "rpm": args.rpm,
        "tpm": args.tpm,
        "max_retries": args.max_retries,
        "timeout": args.timeout,
    }


def _report(args: argparse.Namespace, summary: Any) -> int:
    """The summary on stderr (and as JSON in ``--summary``); the exit status it calls for."""
    sys.stderr.write(summary.text() + "\n")
    if args.summary:
        Path(args.summary).write_bytes(orjson.dumps(summary.to_json(), option=orjson.OPT_INDENT_2) + b"\n")
    if summary.failed:
        error(f"{summary.failed:,} of {summary.done:,} requests failed (their output lines have the error)")
        return FAILED
    return OK


def _on_ray(args: argparse.Namespace) -> int:
    """``--ray``: the run on a Ray cluster (``streamfold.batch.ray``), plain progress lines."""
    if args.ordered:
        raise UsageError("--ordered cannot be used with --ray")
    from ..batch import Summary
    from ..batch._progress import PLAIN_INTERVAL_S, progress_line

    try:
        from ..batch import ray as on_ray

        on_ray.need_ray()
    except ImportError as exc:
        raise UsageError(str(exc)) from None
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # its plan and timings, not the user's output
    started = time.perf_counter()
    interval = args.progress_interval or PLAIN_INTERVAL_S
    shown = [started]

    def progress(live: Summary) -> None:
        now = time.perf_counter()
        if args.progress and now - shown[0] >= interval:
            shown[0] = now
            sys.stderr.write(progress_line(live, None, now - started) + "\n")

    invalid = _InvalidLines()
    try:
        summary = on_ray.run(
            args.input,
            args.output,
            address=args.ray or None,
            actors=args.actors,
            progress=progress,
            on_invalid=invalid,
            **_options(args),
        )
    except KeyboardInterrupt:
        error(f"interrupted; run the same command again to resume (what finished is in {args.output})")
        return INTERRUPTED
    return _report(args, summary)


class _InvalidLines:
    """Invalid input lines said on stderr as they are found (the first ``SHOWN``, then how
    many more); each is also written to the output as an error record."""

    SHOWN = 20

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, invalid: Any) -> None:
        self.count += 1
        if self.count <= self.SHOWN:
            warning(invalid.message)
        elif self.count == self.SHOWN + 1:
            warning("more invalid lines: each is in the output with its error")

    def said(self, items: Iterator[Any], done: Container[str]) -> Iterator[Any]:
        """``items`` unchanged, saying each invalid line not already in the output."""
        from ..batch import InvalidLine
        from ..batch._output import line_key

        for item in items:
            if isinstance(item, InvalidLine) and line_key(item.line) not in done:
                self(item)
            yield item


class _Signals:
    """SIGINT / SIGTERM during a run: the first stops it, the second (or the grace's end) abandons."""

    def __init__(self, stop: asyncio.Event, abandon: asyncio.Event, live: Any, grace: float) -> None:
        self.stop = stop
        self.abandon = abandon
        self.live = live
        self.grace = grace
        self.received: int | None = None
        self._timer: asyncio.TimerHandle | None = None

    def install(self) -> None:
        loop = asyncio.get_running_loop()
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(number, self._on_signal, number)

    def remove(self) -> None:
        loop = asyncio.get_running_loop()
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(number)
        if self._timer is not None:
            self._timer.cancel()

    def _on_signal(self, number: int) -> None:
        if self.received is None:
            self.received = number
            self.stop.set()
            self._timer = asyncio.get_running_loop().call_later(self.grace, self.abandon.set)
            warning(
                f"stopping: no new requests; waiting up to {self.grace:g} s for the "
                f"{self.live.in_flight:,} in flight (again to abandon them)"
            )
        else:
            self.abandon.set()
