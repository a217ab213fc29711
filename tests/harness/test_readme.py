"""The README's figures are the committed run's: every block renders back to itself."""

from __future__ import annotations

import json

from conftest import ROOT

from benchmarks import readme, run


def test_the_readme_holds_exactly_what_the_committed_run_renders_to() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    results = json.loads((ROOT / "benchmarks" / "results" / "results.json").read_text())
    found = readme.blocks(text)
    assert set(found) == set(readme.RENDERERS)  # every renderer has its block, every block a renderer
    rendered = readme.blocks(readme.render(text, results))
    for name, body in found.items():
        assert body == rendered[name], (
            f"README block {name!r} differs from the committed run: python -m benchmarks --readme"
        )


def test_a_section_run_alone_replaces_only_that_section() -> None:
    earlier = {
        "machine": {"cpu": "old"},
        "date": "2026-01-01",
        "seconds": {"framing": 5.0, "scaling": 9.0},
        "framing": {"cells": [], "which": "earlier"},
        "scaling": {"points": [], "which": "earlier"},
    }
    later = {"machine": {"cpu": "new"}, "date": "2026-02-02", "seconds": {"framing": 4.0}, "framing": {"cells": []}}
    merged = run.merge(earlier, later)
    assert merged["framing"] is later["framing"] and merged["scaling"]["which"] == "earlier"
    assert merged["seconds"] == {"framing": 4.0, "scaling": 9.0}
    assert merged["section_dates"] == {"framing": "2026-02-02", "scaling": "2026-01-01"}
    assert merged["machine"] == {"cpu": "new"} and earlier["framing"]["which"] == "earlier"
    assert all(target["status"] == "skipped" for target in merged["targets"])  # no figure, no verdict
