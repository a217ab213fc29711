"""The end-to-end benchmark (benchmarks/e2e.py) in quick mode, so it never rots (no speed is asserted)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from typing import Any

import pytest
from conftest import ROOT

if str(ROOT) not in sys.path:  # plain `pytest` puts tests/ on sys.path, not the repository root
    sys.path.insert(0, str(ROOT))

from benchmarks import e2e

NAMES = [contender.name for contender in e2e.CONTENDERS]


def _installed(contender: e2e.Contender) -> bool:
    return all(importlib.util.find_spec(module) is not None for module in contender.requires)


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return e2e.run(quick=True, progress=lambda _: None)


def _cells(mode: e2e.Mode) -> set[tuple[str, int]]:
    return {(setting.name, level) for setting in mode.settings for level in setting.levels}


def test_every_contender_runs_at_every_setting_and_level(report: dict[str, Any]) -> None:
    assert [s["name"] for s in report["settings"]] == [s.name for s in e2e.QUICK.settings]
    for setting in e2e.QUICK.settings:
        server = report["servers"][setting.name]
        assert server["itl"] == setting.itl and server["chunks_per_stream"] == setting.chunks
    cells = {(row["contender"], row["setting"], row["concurrency"]) for row in report["rows"]}
    assert cells == {(name, setting, level) for name in NAMES for setting, level in _cells(e2e.QUICK)}
    assert len(report["rows"]) == len(cells)
    if e2e.cpus() is not None:
        assert report["pinned"]["server_cpu"] != report["pinned"]["client_cpu"]


def test_installed_contenders_are_correct_and_measured(report: dict[str, Any]) -> None:
    installed = {contender.name for contender in e2e.CONTENDERS if _installed(contender)}
    assert e2e.BASELINE in installed
    for row in report["rows"]:
        if row["contender"] not in installed:
            assert row["status"].startswith("skipped: "), row
            continue
        assert row["status"] == "ok", row
        per_stream = report["servers"][row["setting"]]["chunks_per_stream"]
        assert row["streams"] == row["concurrency"] and row["chunks"] == row["streams"] * per_stream
        assert row["wall_s"] > 0 and row["client_cpu_s"] > 0
        assert row["client_us_per_chunk"] == pytest.approx(row["client_cpu_s"] / row["chunks"] * 1e6)
        assert row["chunks_per_s"] == pytest.approx(row["chunks"] / row["wall_s"])
        ttfb = row["ttfb_ms"]
        assert 0 < ttfb["p50"] <= ttfb["p90"] <= ttfb["p99"] <= ttfb["max"]
        if os.path.exists("/proc/self/stat"):
            assert row["server_cpu_s"] is not None and row["server_cpu_s"] >= 0
            assert row["server_us_per_chunk"] == pytest.approx(row["server_cpu_s"] / row["chunks"] * 1e6)


def test_the_mock_server_table_has_before_and_after(report: dict[str, Any]) -> None:
    rows = report["server_rows"]
    assert [(row["contender"].split(":")[0], row["setting"]) for row in rows] == [
        (version, setting.name) for version in ("before", "after") for setting in e2e.QUICK.settings
    ]
    for row in rows:
        assert row["status"] == "ok" or row["status"].startswith("skipped: no git history"), row
    assert all(row["status"] == "ok" for row in rows if row["contender"].startswith("after"))


def test_markdown_has_a_line_per_row(report: dict[str, Any]) -> None:
    table = e2e.markdown(report)
    for name in NAMES:
        assert f"| {name} |" in table
    body = [
        line
        for line in table.splitlines()
        if line.startswith("| ") and not line.startswith(("| contender", "| server |"))
    ]
    assert len(body) == len(report["rows"]) + len(report["server_rows"])
    assert "| 1.00 |" in table  # the baseline against itself
    for setting in e2e.QUICK.settings:
        assert f"#### {setting.name} (" in table


def test_ratios_are_over_streamfolds_own_row() -> None:
    rows = [
        {"contender": name, "setting": "s", "concurrency": 4, "status": "ok", "client_us_per_chunk": us}
        for name, us in ((e2e.BASELINE, 2.0), (e2e.OPENAI, 90.0), (e2e.HTTPX_SSE, 11.0))
    ]
    found = e2e.ratios({"rows": rows})
    assert found == {("s", 4): {e2e.BASELINE: 1.0, e2e.OPENAI: 45.0, e2e.HTTPX_SSE: 5.5}}


def test_a_missing_package_skips_its_contender(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(e2e, "_importable", lambda module: module != "httpx_sse")
    report = e2e.run(quick=True, progress=lambda _: None, contenders=["httpx + httpx-sse + json"], server_table=False)
    assert [row["status"] for row in report["rows"]] == ["skipped: httpx_sse not installed"] * len(_cells(e2e.QUICK))
    assert all(row["chunks"] is None and row["ttfb_ms"] is None for row in report["rows"])
    assert "skipped: httpx_sse not installed" in e2e.markdown(report)
    assert report["server_rows"] == []


def test_unknown_contender_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown contender"):
        e2e.run(quick=True, progress=lambda _: None, contenders=["curl"])


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(100, 0, -1)]  # 1..100, shuffled order does not matter
    assert e2e.percentiles(values) == {"p50": 50.0, "p90": 90.0, "p99": 99.0, "max": 100.0}
    assert e2e.percentiles([3.0]) == {"p50": 3.0, "p90": 3.0, "p99": 3.0, "max": 3.0}
    few = e2e.percentiles([4.0, 1.0, 3.0, 2.0])
    assert (few["p50"], few["p90"], few["p99"], few["max"]) == (2.0, 4.0, 4.0, 4.0)


def test_the_server_process_is_stopped_and_pinned() -> None:
    cpus = e2e.cpus()
    with e2e._running_server(5, cpu=None if cpus is None else cpus[0]) as server:
        assert server.process.poll() is None
        if cpus is not None:
            assert os.sched_getaffinity(server.process.pid) == {cpus[0]}
        text, chunks = e2e._reference(server.base_url)
    assert server.process.returncode is not None
    assert chunks == 5 + e2e.EXTRA_CHUNKS and len(text.split()) == 5


def test_the_baseline_server_is_the_old_code_without_httptools_or_uvloop() -> None:
    with e2e.baseline_source() as source:
        if source is None:
            pytest.skip(f"no git history with {e2e.BASELINE_SERVER_REV}")
        assert (source / "src" / "streamfold" / "mock" / "_app.py").exists()
        probe = subprocess.run(
            [
                sys.executable,
                "-c",
                "import streamfold, sys\n"
                "try:\n    import httptools\nexcept ImportError:\n    print(streamfold.__file__)",
            ],
            env={**os.environ, "PYTHONPATH": f"{source / 'without'}{os.pathsep}{source / 'src'}"},
            capture_output=True,
            text=True,
            cwd=source,
            timeout=60,
        )
        assert probe.stdout.strip().startswith(str(source / "src" / "streamfold")), probe
