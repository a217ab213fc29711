"""The serving benchmark's section (benchmarks/serving.py): a quick run, and the pieces that
read the peer's output and the CPU samples (no speed is asserted here)."""

from __future__ import annotations

import contextlib
import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))

import quiet
import serving


def test_quick_section_measures_streamfold_bench_against_the_mock(tmp_path: Path) -> None:
    pytest.importorskip("uvicorn")
    out = tmp_path / "serving.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "serving.py"), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    rows = result["rows"]
    assert [(row["harness"], row["streams"]) for row in rows] == [("streamfold bench", 1), ("streamfold bench", 8)]
    for row in rows:
        assert row["status"] == "ok" and row["completed"] == row["requests"] and row["failed"] == 0
        # the mock waits at least TTFT after the request reached it, which is after it was sent
        assert row["ttft_error_ms"]["p1"] >= 0
        assert row["client_us_per_chunk"] > 0 and row["server_us_per_chunk"] > 0
        assert row["self_cpu_us_per_chunk"] > 0
        # the mock's own record: every paced write (the tokens, after TTFT and each ITL) of
        # the measured, warm-up and probe requests
        tokens = serving.QUICK.tokens
        assert row["mock_lateness_us"]["writes"] == (row["requests"] + row["streams"] + 1) * tokens
    assert set(result["timer_floor_us"]) == {"server_cpu", "client_cpu"}
    assert set(result["timer_floor_idle_cpus_us"]) == {"server_cpu", "client_cpu"}
    assert "| streamfold bench | 8 |" in proc.stdout and "TTFT error p50 / p99 ms" in proc.stdout


def test_the_peers_records_are_read_as_it_wrote_them(tmp_path: Path) -> None:
    def line(ttft: float, chunks: list[float], start: int, end: int, phase: str = "profiling", **extra: object) -> str:
        return json.dumps(
            {
                "metadata": {"request_start_ns": start, "request_end_ns": end, "benchmark_phase": phase},
                "metrics": {
                    "time_to_first_token": {"value": ttft, "unit": "ms"},
                    "inter_chunk_latency": {"value": chunks, "unit": "ms"},
                },
                **extra,
            }
        )

    (tmp_path / "profile_export.jsonl").write_text(
        "\n".join(
            [
                line(150.0, [90.0], 9_000_000_000, 9_400_000_000, phase="warmup"),  # not measured
                line(101.5, [100.2, 99.9], 10_000_000_000, 10_400_000_000),
                line(100.7, [100.1], 10_100_000_000, 10_500_000_000),
                json.dumps(
                    {
                        "metadata": {"request_start_ns": 1, "request_end_ns": 2},
                        "metrics": {},
                        "error": {"message": "boom"},
                    }
                ),
            ]
        )
        + "\n"
    )
    measured = serving._peer_result(tmp_path, wall_offset=9.0)
    assert measured.ttfts_ms == [101.5, 100.7] and measured.itls_ms == [100.2, 99.9, 100.1]
    assert (measured.completed, measured.failed) == (2, 1)
    assert measured.span == pytest.approx((1.0, 1.5))  # wall-clock seconds less the offset: monotonic


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="Linux's SCHED_IDLE")
def test_spinners_of_the_lowest_priority_keep_a_cpu_busy_while_inside() -> None:
    cpu = sorted(os.sched_getaffinity(0))[0]
    before = set(serving._children(os.getpid()))
    with quiet._spinners([cpu]) as spinning:
        assert spinning
        spinners = set(serving._children(os.getpid())) - before
        assert len(spinners) == 1
        (spinner,) = spinners
        assert os.sched_getaffinity(spinner) == {cpu}
        deadline = time.monotonic() + 10
        while os.sched_getscheduler(spinner) != os.SCHED_IDLE:  # it sets its own policy first
            assert time.monotonic() < deadline
            time.sleep(0.01)
    assert spinners.isdisjoint(serving._children(os.getpid()))  # gone once the block is left


def test_the_cpus_are_kept_awake_by_a_latency_request_or_else_spinners() -> None:
    cpu = sorted(os.sched_getaffinity(0))[0]
    with quiet.awake([None]) as how:
        assert how is None  # nothing to pin to
    try:
        with open(quiet.CPU_DMA_LATENCY, "rb") as file:
            usual = struct.unpack("i", file.read(4))[0]
    except OSError:
        usual = None
    with quiet.awake([cpu]) as how:
        if usual is None:
            assert how in (quiet.BY_SPINNERS, None)
            return
        assert how == quiet.BY_PM_QOS
        with open(quiet.CPU_DMA_LATENCY, "rb") as file:
            assert struct.unpack("i", file.read(4))[0] == 0  # the kernel's target while inside
    with open(quiet.CPU_DMA_LATENCY, "rb") as file:
        assert struct.unpack("i", file.read(4))[0] == usual  # withdrawn on leaving


def test_the_kernels_movable_threads_are_kept_off_a_cpu_and_given_back() -> None:
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one CPU")
    cpu = sorted(os.sched_getaffinity(0))[0]
    before = {pid: allowed for pid, _, allowed in quiet.kernel_threads(cpu)}
    assert all(cpu in allowed and len(allowed) > 1 for allowed in before.values())
    with quiet.kernel_threads_moved_off(cpu) as moved:
        still = {pid for pid, _, _ in quiet.kernel_threads(cpu)}
        if not moved:
            pytest.skip("no kernel thread can be moved here (needs root, and the kernel's threads in view)")
        assert len(before) - len(still) == len(moved)  # each moved one no longer may run on cpu
    for pid, allowed in before.items():  # given back
        with contextlib.suppress(ProcessLookupError):  # unless gone meanwhile
            assert os.sched_getaffinity(pid) == allowed


def test_cpu_between_two_moments_is_interpolated() -> None:
    sampler = serving.Sampler(0, 0)
    sampler.samples = [(0.0, 0.0, 0.0), (1.0, 0.5, 0.1), (2.0, 0.7, 0.3)]
    assert sampler.cpu_between(0.5, 1.5) == pytest.approx((0.35, 0.15))
    assert sampler.cpu_between(0.5, 2.5) is None  # not covered by the samples


def test_rows_give_errors_against_the_configured_latencies() -> None:
    mode = serving.Mode(0.1, 0.05, 4, (), peer=False)
    level = serving.Level(2, 2, None)
    measured = serving.Measured([100.5, 101.0], [50.0, 49.5, 50.5, 51.0, 50.2, 50.0], (0.0, 1.0), 2, 0, {})
    sampler = serving.Sampler(0, 0)
    sampler.samples = [(0.0, 0.0, 0.0), (1.0, 0.014, 0.007)]
    row = serving._row("x", mode, level, measured, sampler, "ok")
    assert row["ttft_error_ms"]["p50"] == pytest.approx(0.75)
    assert row["itl_error_ms"]["p50"] == pytest.approx(0.1)
    assert row["itl_abs_error_ms"]["p99"] == pytest.approx(0.975)  # 0.5 + (1.0 - 0.5) * 0.95
    assert row["client_us_per_chunk"] == pytest.approx(0.014 / 14 * 1e6)  # 2 requests x (4 tokens + 3 chunks)
    assert row["server_us_per_chunk"] == pytest.approx(500.0) and row["client_busy"] == pytest.approx(0.014)


def test_the_peers_tokenizer_is_written_to_disk(tmp_path: Path) -> None:
    pytest.importorskip("tokenizers")
    transformers = pytest.importorskip("transformers")
    directory = serving.write_tokenizer(tmp_path / "tok")
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(directory))
    ids = tokenizer("lorem ipsum river")["input_ids"]
    assert len(ids) == 3 and tokenizer.decode(ids) == "lorem ipsum [UNK]"
