"""The end-to-end benchmark (benchmarks/e2e.py) in quick mode, so it never rots (no speed is asserted)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parent.parent
if str(ROOT) not in sys.path:  # plain `pytest` puts tests/ on sys.path, not the repository root
    sys.path.insert(0, str(ROOT))

from benchmarks import e2e

NAMES = [contender.name for contender in e2e.CONTENDERS]


def _installed(contender: e2e.Contender) -> bool:
    return all(importlib.util.find_spec(module) is not None for module in contender.requires)


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return e2e.run(quick=True, progress=lambda _: None)


def test_every_contender_runs_at_every_level(report: dict[str, Any]) -> None:
    assert report["levels"] == list(e2e.QUICK.levels)
    assert report["server"]["output_tokens"] == e2e.QUICK.output_tokens
    assert report["server"]["chunks_per_stream"] == e2e.QUICK.chunks
    cells = {(row["contender"], row["concurrency"]) for row in report["rows"]}
    assert cells == {(name, level) for name in NAMES for level in e2e.QUICK.levels}
    assert len(report["rows"]) == len(cells)


def test_installed_contenders_are_correct_and_measured(report: dict[str, Any]) -> None:
    per_stream = report["server"]["chunks_per_stream"]
    installed = {contender.name for contender in e2e.CONTENDERS if _installed(contender)}
    assert e2e.BASELINE in installed
    for row in report["rows"]:
        if row["contender"] not in installed:
            assert row["status"].startswith("skipped: "), row
            continue
        assert row["status"] == "ok", row
        assert row["streams"] == max(row["concurrency"], e2e.QUICK.min_streams)
        assert row["chunks"] == row["streams"] * per_stream
        assert row["wall_s"] > 0 and row["client_cpu_s"] > 0
        assert row["client_cpu_s_per_1000_chunks"] == pytest.approx(row["client_cpu_s"] / row["chunks"] * 1000)
        assert row["chunks_per_s"] == pytest.approx(row["chunks"] / row["wall_s"])
        ttfb = row["ttfb_ms"]
        assert 0 < ttfb["p50"] <= ttfb["p90"] <= ttfb["p99"] <= ttfb["max"]
        if os.path.exists("/proc/self/stat"):
            assert row["server_cpu_s"] is not None and row["server_cpu_s"] >= 0


def test_markdown_has_a_line_per_row(report: dict[str, Any]) -> None:
    table = e2e.markdown(report)
    for name in NAMES:
        assert f"| {name} |" in table
    body = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| contender")]
    assert len(body) == len(report["rows"])
    assert "| 1.00x |" in table  # the baseline against itself


def test_a_missing_package_skips_its_contender(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(e2e, "_importable", lambda module: module != "httpx_sse")
    report = e2e.run(quick=True, progress=lambda _: None, contenders=["httpx + httpx-sse + json"])
    assert [row["status"] for row in report["rows"]] == ["skipped: httpx_sse not installed"] * len(e2e.QUICK.levels)
    assert all(row["chunks"] is None and row["ttfb_ms"] is None for row in report["rows"])
    assert "skipped: httpx_sse not installed" in e2e.markdown(report)


def test_unknown_contender_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown contender"):
        e2e.run(quick=True, progress=lambda _: None, contenders=["curl"])


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(100, 0, -1)]  # 1..100, shuffled order does not matter
    assert e2e.percentiles(values) == {"p50": 50.0, "p90": 90.0, "p99": 99.0, "max": 100.0}
    assert e2e.percentiles([3.0]) == {"p50": 3.0, "p90": 3.0, "p99": 3.0, "max": 3.0}
    few = e2e.percentiles([4.0, 1.0, 3.0, 2.0])
    assert (few["p50"], few["p90"], few["p99"], few["max"]) == (2.0, 4.0, 4.0, 4.0)


def test_the_server_process_is_stopped() -> None:
    with e2e._running_server(5) as server:
        assert server.process.poll() is None
        text, chunks = e2e._reference(server.base_url)
    assert server.process.returncode is not None
    assert chunks == 5 + e2e.EXTRA_CHUNKS and len(text.split()) == 5
