"""How far a batch has gone, shown while it runs: done/total, in flight, errors, tokens/s, ETA.

On a terminal, a live bar drawn by ``rich`` (the ``batch`` extra) or, without it, one line
rewritten in place; elsewhere (a file, a pipe, CI logs), a plain line every ``interval``
seconds.  A last line is always written at the end.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import IO, Any

from ._summary import Summary

#: Seconds between two plain lines when stderr is not a terminal.
PLAIN_INTERVAL_S = 5.0
#: Seconds between two redraws on a terminal.
LIVE_INTERVAL_S = 0.25


def progress_line(live: Summary, total: int | None, elapsed: float) -> str:
    """``batch: 120/2,000 done, 16 in flight, 3 errors, 1,234 tokens/s, ETA 12 s``."""
    done = live.done
    of = f"/{total:,}" if total is not None else ""
    rate = done / elapsed if elapsed > 0 else 0.0
    tokens = live.completion_tokens / elapsed if elapsed > 0 else 0.0
    parts = [
        f"batch: {done:,}{of} done",
        f"{live.in_flight:,} in flight",
        f"{live.failed:,} errors",
        f"{tokens:,.0f} tokens/s",
    ]
    if total is not None and rate > 0:
        parts.append(f"ETA {max(0.0, (total - done) / rate):,.0f} s")
    return ", ".join(parts)


class Progress:
    """Shows ``live`` (filled by the runner) until ``close``; ``total``: requests to do (None: unknown)."""

    def __init__(
        self,
        live: Summary,
        total: int | None,
        *,
        stream: IO[str] | None = None,
        terminal: bool | None = None,
        interval: float | None = None,
    ) -> None:
        self.live = live
        self.total = total
        self.stream = stream or sys.stderr
        self.terminal = self.stream.isatty() if terminal is None else terminal
        self.interval = interval or (LIVE_INTERVAL_S if self.terminal else PLAIN_INTERVAL_S)
        self._started = time.perf_counter()
        self._bar: Any = None
        self._task_id: Any = None
        self._ticker: asyncio.Task[None] | None = None

    def start(self) -> Progress:
        if self.terminal:
            self._bar = _rich_bar(self.stream)
            if self._bar is not None:
                self._task_id = self._bar.add_task("batch", total=self.total, info="")
                self._bar.start()
        self._ticker = asyncio.ensure_future(self._tick())
        return self

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.show()

    def show(self, *, last: bool = False) -> None:
        elapsed = time.perf_counter() - self._started
        if self._bar is not None:
            live = self.live
            rate = live.completion_tokens / elapsed if elapsed > 0 else 0.0
            info = f"{live.in_flight:,} in flight, {live.failed:,} errors, {rate:,.0f} tokens/s"
            self._bar.update(self._task_id, completed=live.done, info=info)
            return
        line = progress_line(self.live, self.total, elapsed)
        if self.terminal and not last:
            self.stream.write(f"\r\x1b[K{line}")
        else:
            self.stream.write(("\r\x1b[K" if self.terminal else "") + line + "\n")
        self.stream.flush()

    async def close(self) -> None:
        """Stop the updates and show the last state."""
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
            self._ticker = None
        self.show(last=True)
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def _rich_bar(stream: IO[str]) -> Any:
    """A ``rich`` progress bar on ``stream``, or None when rich is not installed."""
    try:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    except ImportError:
        return None
    return Progress(
        TextColumn("batch"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(file=stream),
        transient=False,
    )


def count_lines(path: str) -> int:
    """Non-blank lines of a file, read in blocks (the total of a progress bar)."""
    count = 0
    with open(path, "rb") as lines:
        for line in lines:
            if line.strip():
                count += 1
    return count
