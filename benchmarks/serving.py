"""How much a serving benchmark distorts what it measures: ``streamfold bench`` and a peer
(AIPerf) side by side against the mock server, whose TTFT and ITL are known.

Run from the repository root::

    python benchmarks/serving.py              # full run (a few minutes)
    python benchmarks/serving.py --quick      # seconds, streamfold bench alone
    python benchmarks/serving.py --json serving.json

The mock (``streamfold serve --ttft T --itl I``) runs in its own process on one CPU; each
harness runs as a user runs it, a command in its own process (AIPerf: its process tree),
pinned to the other CPU, both sending the same prompt every time (so the mock's cost per
request is the same for both).  At each level the harness keeps that many streams in flight
(a Poisson arrival rate of ``streams / request duration``, capped at ``streams``; one at a
time at level 1), after as many warm-up requests as streams (each harness's own warm-up,
not measured: the connections are open when the measured requests begin).  From each
harness's own per-request output:

- TTFT error: its measured TTFT minus the configured ``T``, every request;
- ITL error: each measured inter-token latency minus the configured ``I``;
- client CPU per chunk: the CPU of the harness's processes over the span from its first
  request's start to its last request's end (sampled from ``/proc``, interpolated), over
  the chunks the mock sent in that span (the tokens, the role, finish and usage chunks),
  and, for streamfold bench, the figure it reports itself;
- the mock's CPU per chunk over the same span (it must not be the bottleneck).

The machine's own floor is measured too: how late a timerfd timer on each CPU wakes a
sleeping process (a harness cannot time a chunk better than the machine wakes it).

The machine is kept quiet meanwhile, unless ``--as-is`` is given (see ``quiet.py``):
its CPUs kept from halting when idle (on a virtual machine waking a halted vCPU goes through
the hypervisor: a sleeping process woke 1.8 ms late at p99 on an idle vCPU here), and the
kernel's movable threads moved off the mock's CPU.  The mock keeps its loop turning for
writes due within ``BUSY_WAIT_S`` rather than arming a timer for each (``--busy-wait``).
The floor is measured both ways, and nothing of this is in anybody's CPU figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamfold.mock._generate import LOREM_WORDS

if __package__:
    from . import e2e, quiet
else:  # python benchmarks/serving.py
    import e2e  # type: ignore[no-redef]
    import quiet  # type: ignore[no-redef]

MODEL = "mock-gpt"
#: Chunks the mock sends per request besides its tokens: the role, the finish and the usage chunk.
EXTRA_CHUNKS = 3
OURS = "streamfold bench"
PEER = "AIPerf"
SAMPLE_S = 0.1
#: The mock keeps its loop turning for writes due within this (MockConfig.busy_wait): measured,
#: 1,024 streams, three runs each, TTFT error p50 0.11-0.13 ms on a timer, 0.06-0.10 ms so.
BUSY_WAIT_S = 0.0003
RUN_TIMEOUT_S = 900.0
#: Words the peer's tokenizer knows: the mock's lorem words (others count as one token each).
_VOCABULARY = LOREM_WORDS
#: The one prompt both harnesses send, every request (the same body each time: the mock encodes
#: its answer once, as it would for either harness).
PROMPT = " ".join(_VOCABULARY[:8] * 4)


@dataclass(frozen=True)
class Level:
    """Streams in flight, requests sent, and their arrival rate (None: one after another);
    before them, ``streams`` warm-up requests, not measured, so that every connection the
    level needs is open when the measured requests begin (opening a thousand connections
    costs the mock, not the harness, and would be inside the first requests' TTFTs)."""

    streams: int
    requests: int
    rate: float | None

    @property
    def warmup(self) -> int:
        return self.streams


@dataclass(frozen=True)
class Mode:
    ttft: float
    itl: float
    tokens: int
    levels: tuple[Level, ...]
    peer: bool

    @property
    def request_s(self) -> float:
        """How long one request takes at the mock: the TTFT, then an ITL per later token."""
        return self.ttft + (self.tokens - 1) * self.itl


def _levels(
    ttft: float, itl: float, tokens: int, sequential: int, streams: Sequence[int], rounds: float
) -> tuple[Level, ...]:
    """Level 1 sends ``sequential`` requests one after another; the others ``rounds`` times
    their streams, at the rate that keeps that many in flight."""
    duration = ttft + (tokens - 1) * itl
    return (Level(1, sequential, None), *(Level(n, int(n * rounds), n / duration) for n in streams))


FULL = Mode(0.1, 0.1, 40, _levels(0.1, 0.1, 40, 10, (256, 1024), 4.0), peer=True)
QUICK = Mode(0.02, 0.01, 6, _levels(0.02, 0.01, 6, 3, (8,), 2.0), peer=False)


# -- measuring CPU from /proc ----------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(child) for child in (task / "children").read_text().split()]
    except (OSError, ValueError):
        pass
    return found


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of process ``pid`` and its descendants alive now."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        total += e2e._process_cpu_s(current) or 0.0
        pending += _children(current)
    return total


def _reaped_children_cpu_s() -> float:
    """CPU seconds of this process's children that have exited and been waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Sampler(threading.Thread):
    """Samples the CPU of a process tree (and of the server) every ``SAMPLE_S`` seconds, with
    the monotonic and the wall clock, until stopped."""

    def __init__(self, pid: int, server_pid: int) -> None:
        super().__init__(daemon=True)
        self._pid, self._server = pid, server_pid
        self.samples: list[tuple[float, float, float]] = []  # (monotonic, client CPU s, server CPU s)
        self.wall_offset = time.time() - time.monotonic()
        self._stop_event = threading.Event()

    def run(self) -> None:
        while True:
            self.samples.append((time.monotonic(), tree_cpu_s(self._pid), e2e._process_cpu_s(self._server) or 0.0))
            if self._stop_event.wait(SAMPLE_S):
                return

    def stop(self, exited_cpu_s: float | None = None) -> None:
        """Stop sampling; ``exited_cpu_s``, the CPU the whole tree had used when it exited (from
        the rusage of reaped children), closes the samples at the moment of its exit, so that a
        run that ends between two samples is still covered."""
        self._stop_event.set()
        self.join()
        if exited_cpu_s is not None:
            server = e2e._process_cpu_s(self._server) or (self.samples[-1][2] if self.samples else 0.0)
            self.samples.append(
                (time.monotonic(), max(exited_cpu_s, self.samples[-1][1] if self.samples else 0.0), server)
            )

    def cpu_between(self, start: float, end: float) -> tuple[float, float] | None:
        """(client, server) CPU seconds between two monotonic times, interpolated; None when
        the samples do not cover the span."""
        if len(self.samples) < 2 or not self.samples[0][0] <= start < end <= self.samples[-1][0]:
            return None
        return (
            _at(self.samples, end, 1) - _at(self.samples, start, 1),
            _at(self.samples, end, 2) - _at(self.samples, start, 2),
        )


def _at(samples: list[tuple[float, float, float]], moment: float, column: int) -> float:
    for earlier, later in itertools.pairwise(samples):
        if earlier[0] <= moment <= later[0]:
            share = (moment - earlier[0]) / (later[0] - earlier[0]) if later[0] > earlier[0] else 0.0
            return earlier[column] + (later[column] - earlier[column]) * share
    return samples[-1][column]


# -- the harnesses -----------------------------------------------------------------------------


@dataclass
class Measured:
    """One harness run: TTFT and ITL samples (ms), the span of its requests (monotonic),
    requests done and failed, and anything the harness reported about itself."""

    ttfts_ms: list[float]
    itls_ms: list[float]
    span: tuple[float, float]
    completed: int
    failed: int
    own: dict[str, Any]


def write_prompts(directory: Path) -> tuple[Path, Path]:
    """``PROMPT`` as each harness reads a file of prompts: streamfold bench's JSONL, AIPerf's."""
    ours, theirs = directory / "prompt.jsonl", directory / "prompt-aiperf.jsonl"
    ours.write_text(json.dumps({"prompt": PROMPT}) + "\n")
    theirs.write_text(json.dumps({"text": PROMPT}) + "\n")
    return ours, theirs


def _ours_command(base_url: str, mode: Mode, level: Level, result: Path, prompts: Path) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "streamfold",
        "bench",
        "--base-url",
        base_url,
        "--model",
        MODEL,
        "--dataset",
        str(prompts),
        "--num-prompts",
        str(level.requests),
        "--output-len",
        str(mode.tokens),
        "--max-concurrency",
        str(level.streams),
        "--result-json",
        str(result),
        "--warmup",
        str(level.warmup),
        "--quiet",
    ]
    if level.rate is not None:
        command += ["--request-rate", repr(level.rate)]
    return command


def _ours_result(result: Path) -> Measured:
    data = json.loads(result.read_text())
    ok = [i for i, error in enumerate(data["errors"]) if not error]
    starts = [data["start_times"][i] for i in ok]
    ends = [data["start_times"][i] + data["latencies"][i] for i in ok]
    cost = data["client_overhead"]
    return Measured(
        [data["ttfts"][i] * 1000 for i in ok],
        [gap * 1000 for i in ok for gap in data["itls"][i]],
        (min(starts), max(ends)) if ok else (0.0, 0.0),
        data["completed"],
        data["failed"],
        {
            "self_cpu_us_per_chunk": cost["cpu_us_per_chunk"],
            "busy": cost["busy"],
            "p99_loop_lag_ms": cost["p99_loop_lag_ms"],
            "warnings": data["warnings"],
        },
    )


def peer_available() -> bool:
    """Whether AIPerf and the tokenizers library it brings are installed."""
    return e2e._importable("aiperf") and e2e._importable("tokenizers")


def write_tokenizer(directory: Path) -> Path:
    """A small word-level Hugging Face tokenizer on disk, for AIPerf's prompt counting (it
    needs one, and none can be downloaded here): each known word a token, others ``[UNK]``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    vocabulary = {"[UNK]": 0, **{word: number for number, word in enumerate(_VOCABULARY, 1)}}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocabulary, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer.decoder = decoders.WordPiece(prefix="##")  # joins the words with spaces
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(directory / "tokenizer.json"))
    (directory / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "PreTrainedTokenizerFast", "unk_token": "[UNK]", "model_max_length": 1_000_000})
    )
    return directory


def _peer_command(
    base_url: str, mode: Mode, level: Level, artifacts: Path, tokenizer: Path, prompts: Path
) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "aiperf",
        "profile",
        "--model",
        MODEL,
        "--url",
        base_url.removesuffix("/v1"),
        "--endpoint-type",
        "chat",
        "--streaming",
        "--tokenizer",
        str(tokenizer),
        "--concurrency",
        str(level.streams),
        "--request-count",
        str(level.requests),
        "--warmup-request-count",
        str(level.warmup),
        "--input-file",
        str(prompts),
        "--custom-dataset-type",
        "single_turn",
        "--osl",
        str(mode.tokens),
        "--use-server-token-count",
        "--ui-type",
        "none",
        "--artifact-dir",
        str(artifacts),
    ]
    if level.rate is not None:
        command += ["--request-rate", repr(level.rate), "--arrival-pattern", "poisson"]
    return command


def _peer_result(artifacts: Path, wall_offset: float) -> Measured:
    ttfts, itls, starts, ends = [], [], [], []
    completed = failed = 0
    for line in (artifacts / "profile_export.jsonl").read_text().splitlines():
        record = json.loads(line)
        metrics, meta = record.get("metrics") or {}, record.get("metadata") or {}
        if meta.get("benchmark_phase") == "warmup":
            continue  # its warm-up requests are in the same file, marked
        if "time_to_first_token" not in metrics or record.get("error"):
            failed += 1
            continue
        completed += 1
        ttfts.append(metrics["time_to_first_token"]["value"])
        itls += metrics.get("inter_chunk_latency", {}).get("value") or []
        starts.append(meta["request_start_ns"] / 1e9 - wall_offset)
        ends.append(meta["request_end_ns"] / 1e9 - wall_offset)
    return Measured(ttfts, itls, (min(starts), max(ends)) if starts else (0.0, 0.0), completed, failed, {})


def _run_harness(command: list[str], cpu: int | None, server: e2e.Server, env: dict[str, str] | None = None) -> Sampler:
    """Run ``command`` pinned to ``cpu`` while sampling its CPU; raise if it fails."""
    with tempfile.TemporaryFile() as log:
        reaped_before = _reaped_children_cpu_s()
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=env,
            preexec_fn=(lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None,
        )
        sampler = Sampler(process.pid, server.process.pid)
        sampler.start()
        try:
            status = process.wait(timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            status = -9
        finally:
            sampler.stop(_reaped_children_cpu_s() - reaped_before)
        if status != 0:
            log.seek(0)
            tail = log.read().decode("utf-8", "replace").strip()[-1500:]
            raise RuntimeError(f"exit status {status}: {tail}")
    return sampler


def _percentiles(values: Sequence[float], points: Sequence[float]) -> dict[str, float | None]:
    from streamfold.bench._metrics import percentile, percentile_name

    ordered = sorted(values)
    return {percentile_name(p): percentile(ordered, p) if ordered else None for p in points}


def _row(
    harness: str, mode: Mode, level: Level, measured: Measured | None, sampler: Sampler | None, status: str
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "harness": harness,
        "streams": level.streams,
        "requests": level.requests,
        "rate": level.rate,
        "status": status,
    }
    if measured is None or sampler is None:
        return row
    ttft_errors = [value - mode.ttft * 1000 for value in measured.ttfts_ms]
    itl_errors = [value - mode.itl * 1000 for value in measured.itls_ms]
    chunks = measured.completed * (mode.tokens + EXTRA_CHUNKS)
    cpu = sampler.cpu_between(*measured.span) if measured.completed else None
    span_s = measured.span[1] - measured.span[0]
    row.update(
        completed=measured.completed,
        failed=measured.failed,
        span_s=span_s,
        ttft_error_ms=_percentiles(ttft_errors, (1, 50, 99)),
        itl_error_ms=_percentiles(itl_errors, (1, 50, 99)),
        itl_abs_error_ms=_percentiles([abs(e) for e in itl_errors], (50, 99)),
        client_us_per_chunk=cpu[0] / chunks * 1e6 if cpu and chunks else None,
        client_busy=cpu[0] / span_s if cpu and span_s > 0 else None,
        server_us_per_chunk=cpu[1] / chunks * 1e6 if cpu and chunks else None,
        **measured.own,
    )
    return row


def timer_floor(cpu: int | None, seconds: float = 2.0) -> dict[str, float]:
    """How late (µs) a ``PreciseTimer`` wakes this process on ``cpu``, every 10 ms for ``seconds``."""
    import streamfold
    from streamfold._timer import PreciseTimer

    async def probe() -> list[float]:
        loop = asyncio.get_running_loop()
        late: list[float] = []
        finished = loop.create_future()
        due = [time.monotonic() + 0.01]

        def fired() -> None:
            late.append(time.monotonic() - due[0])
            if len(late) * 0.01 >= seconds:
                finished.set_result(None)
                return
            due[0] = time.monotonic() + 0.01
            timer.at(due[0])

        timer = PreciseTimer(loop, fired)
        timer.at(due[0])
        await finished
        timer.close()
        return late

    with e2e._pinned(cpu):
        late = streamfold.run(probe())
    return {key: value * 1e6 for key, value in _percentiles(late, (50, 99)).items() if value is not None}


def mock_lateness(base_url: str) -> dict[str, Any] | None:
    """How late the mock's paced writes went out over its life (its ``GET /mock/pacing``)."""
    import urllib.request

    url = base_url.removesuffix("/v1") + "/mock/pacing"
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            found: dict[str, Any] = json.loads(answer.read())
    except (OSError, ValueError):
        return None
    return found


def _floors(server_cpu: int | None, client_cpu: int | None, seconds: float) -> dict[str, dict[str, float]]:
    return {"server_cpu": timer_floor(server_cpu, seconds), "client_cpu": timer_floor(client_cpu, seconds)}


def run(
    *,
    quick: bool = False,
    progress: Callable[[str], None] = print,
    peer: bool | None = None,
    quiet_machine: bool = True,
) -> dict[str, Any]:
    """Run the section (see the module docstring); ``peer`` forces the peer on or off;
    ``quiet_machine``: keep the CPUs from halting and the kernel's threads off the mock's
    CPU meanwhile (``quiet.py``)."""
    mode = QUICK if quick else FULL
    with_peer = mode.peer if peer is None else peer
    pinned = e2e.cpus()
    server_cpu, client_cpu = pinned if pinned else (None, None)
    began = time.perf_counter()
    rows: list[dict[str, Any]] = []
    seconds = 0.5 if quick else 2.0
    idle_floors = _floors(server_cpu, client_cpu, seconds)
    peer_status = None if not with_peer else (None if peer_available() else "skipped: aiperf is not installed")
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    with (
        quiet.awake([server_cpu, client_cpu] if quiet_machine else []) as kept_awake,
        quiet.kernel_threads_moved_off(server_cpu if quiet_machine else None) as moved,
        tempfile.TemporaryDirectory() as scratch_name,
        e2e._pinned(client_cpu),
    ):
        floors = _floors(server_cpu, client_cpu, seconds) if kept_awake else idle_floors
        scratch = Path(scratch_name)
        tokenizer = write_tokenizer(scratch / "tokenizer") if with_peer and peer_status is None else None
        prompts = write_prompts(scratch)
        for level in mode.levels:
            harnesses = [OURS] + ([PEER] if with_peer else [])
            for harness in harnesses:
                if harness == PEER and peer_status is not None:
                    rows.append(_row(harness, mode, level, None, None, peer_status))
                    continue
                with e2e._running_server(
                    mode.tokens, mode.itl, ttft=mode.ttft, cpu=server_cpu, busy_wait=BUSY_WAIT_S
                ) as server:
                    row = _measure(harness, mode, level, server, client_cpu, scratch, tokenizer, prompts)
                    row["mock_lateness_us"] = mock_lateness(server.base_url)
                    rows.append(row)
                progress(_describe(rows[-1], time.perf_counter() - began))
    return {
        "quick": quick,
        "ttft_s": mode.ttft,
        "itl_s": mode.itl,
        "tokens": mode.tokens,
        "pinned": {"server_cpu": server_cpu, "client_cpu": client_cpu} if pinned else None,
        "timer_floor_us": floors,
        "timer_floor_idle_cpus_us": idle_floors,
        "cpus_kept_awake_by": kept_awake,
        "kernel_threads_moved_off_mock_cpu": moved,
        "mock_busy_wait_s": BUSY_WAIT_S,
        "load_average": load_before,
        "rows": rows,
        "peer_version": _version("aiperf"),
        "wall_s": time.perf_counter() - began,
    }


def _measure(
    harness: str,
    mode: Mode,
    level: Level,
    server: e2e.Server,
    cpu: int | None,
    scratch: Path,
    tokenizer: Path | None,
    prompts: tuple[Path, Path],
) -> dict[str, Any]:
    where = scratch / f"{harness.split()[0]}-{level.streams}"
    try:
        if harness == OURS:
            result = where.with_suffix(".json")
            sampler = _run_harness(_ours_command(server.base_url, mode, level, result, prompts[0]), cpu, server)
            measured = _ours_result(result)
        else:
            assert tokenizer is not None
            env = {
                key: value
                for key, value in os.environ.items()
                if not key.startswith(("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
            }
            sampler = _run_harness(
                _peer_command(server.base_url, mode, level, where, tokenizer, prompts[1]), cpu, server, env
            )
            measured = _peer_result(where, sampler.wall_offset)
    except (RuntimeError, OSError, ValueError, KeyError) as exc:
        return _row(harness, mode, level, None, None, f"failed: {type(exc).__name__}: {exc}"[:600])
    finally:
        shutil.rmtree(where, ignore_errors=True)
    return _row(harness, mode, level, measured, sampler, "ok")


def _version(name: str) -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:,.{digits}f}"


def _describe(row: dict[str, Any], elapsed: float) -> str:
    head = f"[serving {elapsed:6.1f} s] {row['harness']} x{row['streams']}"
    if row["status"] != "ok":
        return f"{head}: {row['status']}"
    return (
        f"{head}: TTFT error p99 {_fmt(row['ttft_error_ms']['p99'])} ms, |ITL error| p99 "
        f"{_fmt(row['itl_abs_error_ms']['p99'])} ms, client {_fmt(row['client_us_per_chunk'], 1)} µs/chunk"
    )


def _lateness_text(lateness: dict[str, Any] | None) -> str:
    if not lateness or lateness.get("p99_us") is None:
        return "–"
    return f"{lateness['p50_us'] / 1000:.2f} / {lateness['p99_us'] / 1000:.2f}"


def _floor_text(floor: dict[str, dict[str, float]]) -> str:
    server, client = floor["server_cpu"], floor["client_cpu"]
    return (
        f"{_fmt(server.get('p50'), 0)} / {_fmt(server.get('p99'), 0)} µs on the mock's CPU, "
        f"{_fmt(client.get('p50'), 0)} / {_fmt(client.get('p99'), 0)} µs on the harness's"
    )


#: How the CPUs were kept from halting, in the table's words.
_AWAKE_TEXT = {
    quiet.BY_PM_QOS: "a 0 µs wake-up latency request, /dev/cpu_dma_latency",
    quiet.BY_SPINNERS: "a SCHED_IDLE spinner on each",
}


def markdown(result: dict[str, Any]) -> str:
    """The section as Markdown: the setting, the machine's floor, one row per harness and level."""
    pinned = result.get("pinned")
    where = (
        f"mock on CPU {pinned['server_cpu']}, each harness on CPU {pinned['client_cpu']}"
        if pinned
        else "not pinned (fewer than two CPUs)"
    )
    floor = result["timer_floor_us"]
    idle = result.get("timer_floor_idle_cpus_us") or floor
    load = result.get("load_average")
    # runs before quiet.py say only whether spinners kept the CPUs awake
    awake_by = result.get("cpus_kept_awake_by") or (quiet.BY_SPINNERS if result.get("cpus_kept_awake") else None)
    moved = result.get("kernel_threads_moved_off_mock_cpu") or []
    busy_wait = result.get("mock_busy_wait_s")
    lines = [
        f"Mock: TTFT {result['ttft_s'] * 1000:g} ms, ITL {result['itl_s'] * 1000:g} ms, {result['tokens']} "
        f"tokens a request"
        + (f", writes due within {busy_wait * 1e6:g} µs waited for with its loop turning" if busy_wait else "")
        + f"; {where}; load average before the run "
        f"{', '.join(f'{x:.2f}' for x in load) if load else '?'}; "
        + (f"CPUs kept from halting ({_AWAKE_TEXT.get(awake_by, awake_by)})" if awake_by else "CPUs left to idle")
        + (
            f", {len(moved)} of the kernel's movable threads kept off the mock's CPU."
            if moved
            else ", the kernel's threads left where they were."
        )
        + "  The machine's floor, a timerfd waking a sleeping process, p50 / p99: "
        f"{_floor_text(floor)}" + (f" (with the CPUs left to idle: {_floor_text(idle)})." if awake_by else "."),
        "",
        "| harness | streams | requests | TTFT error p50 / p99 ms | ITL error p1 / p50 / p99 ms "
        "| abs ITL error p99 ms | client µs / chunk | client busy | mock µs / chunk | mock writes late p50 / p99 ms |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in result["rows"]:
        lead = f"| {row['harness']} | {row['streams']:,} | {row['requests']:,} "
        if row["status"] != "ok":
            lines.append(lead + f"| {row['status']} | | | | | | |")
            continue
        ttft, itl = row["ttft_error_ms"], row["itl_error_ms"]
        own = (
            f" (itself: {_fmt(row['self_cpu_us_per_chunk'], 1)})"
            if row.get("self_cpu_us_per_chunk") is not None
            else ""
        )
        failed = f", {row['failed']} failed" if row["failed"] else ""
        lines.append(
            lead + f"| {_fmt(ttft['p50'])} / {_fmt(ttft['p99'])} "
            f"| {_fmt(itl['p1'])} / {_fmt(itl['p50'])} / {_fmt(itl['p99'])} "
            f"| {_fmt(row['itl_abs_error_ms']['p99'])} | {_fmt(row['client_us_per_chunk'], 1)}{own} "
            f"| {_fmt(row['client_busy'] * 100 if row['client_busy'] is not None else None, 0)}%{failed} "
            f"| {_fmt(row['server_us_per_chunk'], 1)} | {_lateness_text(row.get('mock_lateness_us'))} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="short runs, streamfold bench alone (seconds)")
    parser.add_argument(
        "--peer", action=argparse.BooleanOptionalAction, default=None, help="run AIPerf too (default: in the full run)"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the result as JSON to PATH")
    parser.add_argument(
        "--as-is",
        action="store_true",
        help="leave the machine as it is: CPUs halting when idle, the kernel's threads where they are (quiet.py)",
    )
    args = parser.parse_args(argv)
    result = run(
        quick=args.quick,
        peer=args.peer,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
        quiet_machine=not args.as_is,
    )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    print(markdown(result))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
