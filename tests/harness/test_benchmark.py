"""The benchmark harness in quick mode, so it never rots (no speed is asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def test_quick_harness_runs_every_section(tmp_path: Path) -> None:
    """``python -m benchmarks --quick``: every contender checked, every section written down."""
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["quick"] is True and results["machine"]["versions"]["streamfold"]
    cells = results["decoders"]["cells"]
    assert {c["corpus"] for c in cells} == {"text", "tools", "n3_logprobs", "reasoning", "large"}
    assert {c["reads"] for c in cells} == {"16KiB", "per-event"}
    for cell in cells:  # right output, or skipped for a stated reason: never wrong
        assert cell["status"] == "ok" or cell["status"].startswith("skipped: "), cell
        if cell["status"] == "ok":
            assert cell["samples_ns"] and cell["us_per_chunk"] > 0 and cell["x_floor"] > 0
    ours = [c for c in cells if c["contender"] == "streamfold (pure Python)"]
    assert len(ours) == 10 and all(c["status"] == "ok" for c in ours)
    framing = results["framing"]["cells"]
    assert {(c["corpus"], c["reads"]) for c in framing} == {
        (n, r) for n in ("text", "tools") for r in ("16KiB", "per-event")
    }
    assert all(c["status"] == "ok" or c["status"].startswith("skipped: ") for c in framing)
    assert all(c["status"] == "ok" for c in framing if c["contender"] == "streamfold SSEDecoder (pure Python)")
    # every target is judged on a figure of this run, or skipped when its contender did not run
    assert results["targets"] and all(t["status"] in ("met", "NOT MET", "skipped") for t in results["targets"])
    assert all((t["measured"] is None) == (t["status"] == "skipped") for t in results["targets"])
    points = results["scaling"]["points"]
    assert len(points) == 4 and all(p["status"] == "ok" and p["feed_peak_bytes"] > 0 for p in points)
    assert results["e2e"]["rows"] and all(
        r["status"] == "ok" or r["status"].startswith("skipped: ") for r in results["e2e"]["rows"]
    )
    dropin = results["dropin"]
    assert {c["corpus"] for c in dropin["state"]} == {"text", "tools"}
    recorded = {path.stem for path in (ROOT / "tests" / "data" / "openai-recorded").glob("*.sse")}
    assert recorded < {c["corpus"] for c in dropin["client"]}  # every recorded stream, and a long one
    for cell in dropin["state"] + dropin["client"] + dropin["partial"]:  # checked, or skipped for a reason
        assert cell["status"] == "ok" or cell["status"].startswith("skipped: "), cell
    assert all(c["status"] == "ok" for c in dropin["state"] + dropin["client"])  # openai is a test dependency
    assert len([t for t in results["targets"] if t["target"].startswith("drop-in") and t["measured"] is not None]) == 5
    assert {"dropin_state_x_text", "dropin_state_x_tools", "dropin_partial_spread"} <= set(results["headline"])
    table = (tmp_path / "results.md").read_text()
    assert "### Decoders" in table and "### Scaling" in table and "### End to end" in table
    assert "### Framing alone" in table and "### The openai drop-in" in table and "### Targets" in table
    assert table in proc.stdout
    charts = {"decoders.png", "scaling.png"}
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert results["charts"].startswith("skipped: matplotlib")
    else:
        assert {p.name for p in tmp_path.glob("*.png")} == charts
        assert all((tmp_path / name).read_bytes().startswith(b"\x89PNG") for name in charts)
