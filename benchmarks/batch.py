"""The batch section: ``streamfold batch`` against a loop over ``AsyncOpenAI``, and its memory.

Run from the repository root::

    python benchmarks/batch.py                # full run (a few minutes)
    python benchmarks/batch.py --quick        # seconds
    python benchmarks/batch.py --json batch.json

The mock (``streamfold serve --itl 0``) runs in its own process on one CPU; each contender
runs as a user runs it, a command in its own process pinned to the other CPU, on the same
Batch-API input file:

- ``streamfold batch``: ``python -m streamfold batch INPUT -o OUTPUT --concurrency N``;
- ``cookbook loop``: ``benchmarks/cookbook_loop.py`` (an asyncio semaphore, ``AsyncOpenAI``
  ``create(stream=True)``, ``ChatCompletionStreamState``, one JSON line per result).

Throughput: at 256 and 1,024 in flight, requests per second and the client's CPU per chunk,
both over the steady middle of the run (from the moment 10% of the output lines were written
to the moment 90% were: the interpreter's start and the last stragglers are left out), from
the line count of the output file and the CPU of the process sampled from ``/proc`` every
0.1 s.  Every output is then checked: each ``custom_id`` exactly once, each with the
completion the mock sent (its token count), else the row is a failure, never timed.

Memory: the peak resident set (the largest ``VmHWM`` of the ``streamfold batch`` process,
sampled from ``/proc``) at 10,000 and 100,000 short requests (8 tokens, no delay): the input is streamed
and the output appended, so the two must be close.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__:
    from . import e2e, serving
else:  # python benchmarks/batch.py
    import e2e  # type: ignore[no-redef]
    import serving  # type: ignore[no-redef]

MODEL = "mock-gpt"
OURS = "streamfold batch"
PEER = "cookbook loop"
COOKBOOK = Path(__file__).with_name("cookbook_loop.py")
#: The steady middle of a run: from this share of the output lines to the next.
SPAN = (0.1, 0.9)
SAMPLE_S = 0.1
#: Seconds between two reads of the peak RSS (VmHWM), which keeps growing to the very end
RSS_SAMPLE_S = 0.01
RUN_TIMEOUT_S = 900.0


@dataclass(frozen=True)
class Mode:
    """Throughput: ``requests`` of ``tokens`` at each level, ``itl`` seconds between tokens;
    memory: each count of ``memory_tokens``."""

    tokens: int
    requests: int
    levels: tuple[int, ...]
    memory_tokens: int
    memory_counts: tuple[int, ...]
    memory_level: int
    itl: float = 0.0


FULL = Mode(32, 6_000, (256, 1024), 8, (10_000, 100_000), 256)
#: quick: paced (80 ms a request), so that a run lasts about a second, long enough to sample
QUICK = Mode(8, 200, (16,), 8, (200, 2_000), 16, itl=0.01)


def write_input(path: Path, count: int, tokens: int) -> None:
    """``count`` Batch-API request lines, each asking for ``tokens`` tokens."""
    with path.open("w", encoding="utf-8") as out:
        for number in range(count):
            body = {
                "model": MODEL,
                "messages": [{"role": "user", "content": f"Say something, request {number}."}],
                "max_tokens": tokens,
            }
            out.write(
                json.dumps(
                    {"custom_id": f"req-{number}", "method": "POST", "url": "/v1/chat/completions", "body": body}
                )
                + "\n"
            )


def ours_command(input_path: Path, output: Path, base_url: str, level: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamfold",
        "batch",
        str(input_path),
        "-o",
        str(output),
        "--base-url",
        base_url,
        "--api-key",
        "benchmark",
        "--concurrency",
        str(level),
        "--no-progress",
    ]


def peer_command(input_path: Path, output: Path, base_url: str, level: int) -> list[str]:
    return [
        sys.executable,
        str(COOKBOOK),
        str(input_path),
        "-o",
        str(output),
        "--base-url",
        base_url,
        "--concurrency",
        str(level),
    ]


# -- running a contender ------------------------------------------------------------------------


class LineSampler(threading.Thread):
    """Every ``SAMPLE_S``: (monotonic, lines in ``output`` so far, client CPU s, server CPU s)."""

    def __init__(self, pid: int, server_pid: int, output: Path) -> None:
        super().__init__(daemon=True)
        self._pid, self._server, self._output = pid, server_pid, output
        self.samples: list[tuple[float, float, float, float]] = []
        self._lines = 0
        self._offset = 0
        self._stop_event = threading.Event()
        #: the largest VmHWM seen (bytes): the peak resident set of the program itself.  Not
        #: ``ru_maxrss`` from ``wait4``: Linux carries the forking parent's peak into the
        #: child's across ``exec``, so a large harness would set every command's figure.
        self.peak_rss = 0

    def _count(self) -> int:
        with contextlib.suppress(OSError), self._output.open("rb") as lines:
            lines.seek(self._offset)
            more = lines.read()
            self._offset += len(more)
            self._lines += more.count(b"\n")
        return self._lines

    def _high_water(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{self._pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    self.peak_rss = max(self.peak_rss, int(line.split()[1]) * 1024)
                    break

    def run(self) -> None:
        ticks = round(SAMPLE_S / RSS_SAMPLE_S)
        tick = 0
        while True:
            self._high_water()
            if tick % ticks == 0:
                cpu = serving.tree_cpu_s(self._pid)
                server = e2e._process_cpu_s(self._server) or 0.0
                self.samples.append((time.monotonic(), float(self._count()), cpu, server))
            tick += 1
            if self._stop_event.wait(RSS_SAMPLE_S):
                return

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def _moment(samples: Sequence[tuple[float, ...]], lines: float) -> float | None:
    """When the output reached ``lines`` lines (interpolated), or None if it never did."""
    for earlier, later in itertools.pairwise(samples):
        if earlier[1] < lines <= later[1]:
            return earlier[0] + (later[0] - earlier[0]) * (lines - earlier[1]) / (later[1] - earlier[1])
    return None


def steady(samples: Sequence[tuple[float, ...]], total: int) -> dict[str, float] | None:
    """Requests per second and CPU seconds (client, server) over the ``SPAN`` of the lines."""
    first, last = (_moment(samples, total * share) for share in SPAN)
    if first is None or last is None or last <= first:
        return None
    requests = total * (SPAN[1] - SPAN[0])
    return {
        "span_s": last - first,
        "requests": requests,
        "requests_per_s": requests / (last - first),
        "client_cpu_s": serving._at(samples, last, 2) - serving._at(samples, first, 2),
        "server_cpu_s": serving._at(samples, last, 3) - serving._at(samples, first, 3),
    }


@dataclass
class Ran:
    """A finished command: its samples, wall time, peak RSS (bytes) and exit status."""

    samples: list[tuple[float, float, float, float]]
    wall_s: float
    max_rss: int
    status: int
    log: str


def run_command(command: list[str], cpu: int | None, server: e2e.Server, output: Path) -> Ran:
    """Run ``command`` pinned to ``cpu``, sampling its output lines, CPU and peak RSS (VmHWM)."""
    with tempfile.TemporaryFile() as log:
        started = time.monotonic()
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            preexec_fn=(lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None,
        )
        sampler = LineSampler(process.pid, server.process.pid, output)
        sampler.start()
        killer = threading.Timer(RUN_TIMEOUT_S, process.kill)
        killer.start()
        try:
            _, status = os.waitpid(process.pid, 0)
        finally:
            killer.cancel()
            sampler.stop()
        process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - started
        log.seek(0)
        tail = log.read().decode("utf-8", "replace").strip()[-1500:]
    return Ran(sampler.samples, wall, sampler.peak_rss, process.returncode, tail)


# -- checking an output -------------------------------------------------------------------------


def check_output(contender: str, output: Path, count: int, tokens: int) -> str | None:
    """None if every ``custom_id`` is there once with a completion of ``tokens`` tokens, else what is wrong."""
    seen: set[str] = set()
    with output.open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            custom_id = record["custom_id"]
            if custom_id in seen:
                return f"{custom_id} written twice"
            seen.add(custom_id)
            completion = record["response"]["body"] if contender == OURS else record.get("response")
            if record.get("error") or not completion:
                return f"{custom_id} failed: {record.get('error')}"
            if completion["usage"]["completion_tokens"] != tokens or not completion["choices"][0]["message"]["content"]:
                return f"{custom_id}: not the completion the mock sent"
    if len(seen) != count:
        return f"{count - len(seen)} of {count} requests missing"
    return None


# -- the section --------------------------------------------------------------------------------


def _throughput_row(
    contender: str, level: int, mode: Mode, server: e2e.Server, cpu: int | None, scratch: Path, input_path: Path
) -> dict[str, Any]:
    row: dict[str, Any] = {"contender": contender, "concurrency": level, "requests": mode.requests}
    output = scratch / f"{contender.split()[0]}-{level}.jsonl"
    output.unlink(missing_ok=True)
    build = ours_command if contender == OURS else peer_command
    ran = run_command(build(input_path, output, server.base_url, level), cpu, server, output)
    try:
        if ran.status != 0:
            return {**row, "status": f"failed: exit status {ran.status}: {ran.log[-600:]}"}
        wrong = check_output(contender, output, mode.requests, mode.tokens)
        if wrong:
            return {**row, "status": f"wrong output: {wrong}"}
        figures = steady(ran.samples, mode.requests)
        if figures is None:
            return {**row, "status": "failed: too short to sample (raise the request count)"}
    finally:
        output.unlink(missing_ok=True)
    chunks = figures["requests"] * (mode.tokens + serving.EXTRA_CHUNKS)
    return {
        **row,
        "status": "ok",
        "wall_s": ran.wall_s,
        "requests_per_s": figures["requests_per_s"],
        "client_us_per_chunk": figures["client_cpu_s"] / chunks * 1e6,
        "client_busy": figures["client_cpu_s"] / figures["span_s"],
        "server_us_per_chunk": figures["server_cpu_s"] / chunks * 1e6,
        "max_rss_mib": ran.max_rss / 2**20,
    }


def _memory_row(count: int, mode: Mode, server: e2e.Server, cpu: int | None, scratch: Path) -> dict[str, Any]:
    row: dict[str, Any] = {"contender": OURS, "requests": count, "concurrency": mode.memory_level}
    input_path, output = scratch / f"memory-{count}.jsonl", scratch / f"memory-{count}-out.jsonl"
    write_input(input_path, count, mode.memory_tokens)
    try:
        ran = run_command(ours_command(input_path, output, server.base_url, mode.memory_level), cpu, server, output)
        if ran.status != 0:
            return {**row, "status": f"failed: exit status {ran.status}: {ran.log[-600:]}"}
        wrong = check_output(OURS, output, count, mode.memory_tokens)
        if wrong:
            return {**row, "status": f"wrong output: {wrong}"}
        return {
            **row,
            "status": "ok",
            "wall_s": ran.wall_s,
            "requests_per_s": count / ran.wall_s,
            "max_rss_mib": ran.max_rss / 2**20,
            "input_mib": input_path.stat().st_size / 2**20,
            "output_mib": output.stat().st_size / 2**20,
        }
    finally:
        input_path.unlink(missing_ok=True)
        output.unlink(missing_ok=True)


def run(*, quick: bool = False, progress: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the section (see the module docstring)."""
    mode = QUICK if quick else FULL
    pinned = e2e.cpus()
    server_cpu, client_cpu = pinned if pinned else (None, None)
    began = time.perf_counter()
    rows: list[dict[str, Any]] = []
    memory: list[dict[str, Any]] = []
    peer = None if e2e._importable("openai") else "skipped: openai is not installed (pip install '.[bench]')"
    with tempfile.TemporaryDirectory() as scratch_name, e2e._pinned(server_cpu):
        scratch = Path(scratch_name)
        input_path = scratch / "input.jsonl"
        write_input(input_path, mode.requests, mode.tokens)
        with e2e._running_server(mode.tokens, mode.itl, cpu=server_cpu) as server:
            for level in mode.levels:
                for contender in (OURS, PEER):
                    if contender == PEER and peer is not None:
                        rows.append(
                            {"contender": PEER, "concurrency": level, "requests": mode.requests, "status": peer}
                        )
                    else:
                        rows.append(_throughput_row(contender, level, mode, server, client_cpu, scratch, input_path))
                    progress(_describe(rows[-1], time.perf_counter() - began))
        with e2e._running_server(mode.memory_tokens, 0.0, cpu=server_cpu) as server:
            for count in mode.memory_counts:
                memory.append(_memory_row(count, mode, server, client_cpu, scratch))
                progress(_describe(memory[-1], time.perf_counter() - began))
    return {
        "quick": quick,
        "tokens": mode.tokens,
        "memory_tokens": mode.memory_tokens,
        "pinned": {"server_cpu": server_cpu, "client_cpu": client_cpu} if pinned else None,
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "rows": rows,
        "memory": memory,
        "wall_s": time.perf_counter() - began,
    }


def ratios(result: dict[str, Any]) -> dict[int, dict[str, float]]:
    """At each level: requests/s of ours over the peer's, and the peer's CPU per chunk over ours."""
    ok = {(r["contender"], r["concurrency"]): r for r in result["rows"] if r["status"] == "ok"}
    found: dict[int, dict[str, float]] = {}
    for (contender, level), ours in ok.items():
        theirs = ok.get((PEER, level))
        if contender == OURS and theirs is not None:
            found[level] = {
                "requests_per_s_x": ours["requests_per_s"] / theirs["requests_per_s"],
                "cpu_per_chunk_x": theirs["client_us_per_chunk"] / ours["client_us_per_chunk"],
            }
    return found


def memory_growth(result: dict[str, Any]) -> float | None:
    """Peak RSS at the largest request count over the smallest (1.0: flat)."""
    points = [r for r in result.get("memory", []) if r["status"] == "ok"]
    if len(points) < 2:
        return None
    value: float = points[-1]["max_rss_mib"] / points[0]["max_rss_mib"]
    return value


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _describe(row: dict[str, Any], elapsed: float) -> str:
    head = f"[batch {elapsed:6.1f} s] {row['contender']} x{row['concurrency']}, {row['requests']:,} requests"
    if row["status"] != "ok":
        return f"{head}: {row['status']}"
    cpu = f", {_fmt(row['client_us_per_chunk'])} µs/chunk" if "client_us_per_chunk" in row else ""
    return f"{head}: {_fmt(row['requests_per_s'], 0)} requests/s{cpu}, peak RSS {_fmt(row['max_rss_mib'])} MiB"


def markdown(result: dict[str, Any]) -> str:
    """Throughput side by side with the ratios, then the memory table."""
    pinned = result.get("pinned")
    where = (
        f"mock on CPU {pinned['server_cpu']}, each command on CPU {pinned['client_cpu']}"
        if pinned
        else "not pinned (fewer than two CPUs)"
    )
    found = ratios(result)
    lines = [
        f"Mock: {result['tokens']} tokens a request, no delay between chunks; {where}.  Over the middle 80% of "
        "each run's output lines.",
        "",
        "| command | in flight | requests | requests/s | client µs / chunk | client busy | peak RSS MiB "
        "| requests/s x cookbook | CPU/chunk x below cookbook |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in result["rows"]:
        lead = f"| {row['contender']} | {row['concurrency']:,} | {row['requests']:,} "
        if row["status"] != "ok":
            lines.append(lead + f"| {row['status']} | | | | | |")
            continue
        pair = found.get(row["concurrency"]) if row["contender"] == OURS else None
        lines.append(
            lead + f"| {_fmt(row['requests_per_s'], 0)} | {_fmt(row['client_us_per_chunk'])} "
            f"| {row['client_busy'] * 100:.0f}% | {_fmt(row['max_rss_mib'])} "
            f"| {_fmt(pair['requests_per_s_x'], 2) if pair else ''} | {_fmt(pair['cpu_per_chunk_x'], 2) if pair else ''} |"
        )
    lines += [
        "",
        f"Memory of `streamfold batch` ({result['memory_tokens']} tokens a request): peak RSS at each request count "
        f"(largest / smallest: {_fmt(memory_growth(result), 2)}).",
        "",
        "| requests | in flight | input MiB | output MiB | requests/s (whole run) | peak RSS MiB |",
        "|--:|--:|--:|--:|--:|--:|",
    ]
    for row in result.get("memory", []):
        lead = f"| {row['requests']:,} | {row['concurrency']:,} "
        if row["status"] != "ok":
            lines.append(lead + f"| {row['status']} | | | |")
            continue
        lines.append(
            lead + f"| {_fmt(row['input_mib'])} | {_fmt(row['output_mib'])} | {_fmt(row['requests_per_s'], 0)} "
            f"| {_fmt(row['max_rss_mib'])} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small runs (seconds)")
    parser.add_argument("--json", metavar="PATH", help="also write the result as JSON to PATH")
    args = parser.parse_args(argv)
    result = run(quick=args.quick, progress=lambda line: print(line, file=sys.stderr, flush=True))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    print(markdown(result))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
