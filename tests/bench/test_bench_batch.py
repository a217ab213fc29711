"""The batch benchmark section (benchmarks/batch.py): a quick run of both commands against the
mock, and the pieces that check an output and read the samples (no speed is asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))

import batch


def test_quick_section_runs_both_commands_and_checks_their_output(tmp_path: Path) -> None:
    pytest.importorskip("uvicorn")
    pytest.importorskip("openai")
    out = tmp_path / "batch.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "batch.py"), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert [(r["contender"], r["concurrency"]) for r in result["rows"]] == [(batch.OURS, 16), (batch.PEER, 16)]
    for row in result["rows"]:
        assert row["status"] == "ok", row
        assert row["requests_per_s"] > 0 and row["client_us_per_chunk"] > 0 and row["max_rss_mib"] > 0
    assert [(r["requests"], r["status"]) for r in result["memory"]] == [(200, "ok"), (2000, "ok")]
    assert batch.memory_growth(result) is not None and set(batch.ratios(result)) == {16}
    assert "| streamfold batch | 16 | 200 |" in proc.stdout and "| 2,000 | 16 |" in proc.stdout


def _line(custom_id: str, tokens: int, *, ours: bool = True, content: str = "text") -> str:
    completion = {"choices": [{"message": {"content": content}}], "usage": {"completion_tokens": tokens}}
    if ours:
        return json.dumps({"custom_id": custom_id, "response": {"body": completion}, "error": None})
    return json.dumps({"custom_id": custom_id, "response": completion})


def test_an_output_is_checked_for_every_request_once_and_whole(tmp_path: Path) -> None:
    output = tmp_path / "out.jsonl"
    output.write_text(_line("a", 4) + "\n" + _line("b", 4) + "\n")
    assert batch.check_output(batch.OURS, output, 2, 4) is None
    assert batch.check_output(batch.OURS, output, 3, 4) == "1 of 3 requests missing"
    assert batch.check_output(batch.OURS, output, 2, 5) == "a: not the completion the mock sent"
    output.write_text(_line("a", 4) + "\n" + _line("a", 4) + "\n")
    assert batch.check_output(batch.OURS, output, 2, 4) == "a written twice"
    output.write_text(_line("a", 4, ours=False) + "\n" + json.dumps({"custom_id": "b", "error": "boom"}) + "\n")
    assert batch.check_output(batch.PEER, output, 2, 4) == "b failed: boom"


def test_the_steady_span_runs_from_a_tenth_of_the_lines_to_nine_tenths() -> None:
    # (time, lines written, client CPU s, server CPU s): 100 lines over 10 s at an even pace
    samples = [(float(t), 10.0 * t, 0.5 * t, 0.1 * t) for t in range(11)]
    figures = batch.steady(samples, 100)
    assert figures is not None
    assert figures["span_s"] == pytest.approx(8.0) and figures["requests_per_s"] == pytest.approx(10.0)
    assert figures["client_cpu_s"] == pytest.approx(4.0) and figures["server_cpu_s"] == pytest.approx(0.8)
    assert batch.steady(samples[:5], 100) is None  # never reached 90%
