"""The benchmark harness: ``python -m benchmarks`` (or ``python benchmarks/run.py``).

Sections: ``decoders`` (every contender on five corpora, two ways of reading), ``framing``
(SSE decoding alone against httpx-sse), ``scaling`` (1,000 to 1,000,000 chunks, peak
memory), ``dropin`` (``streamfold.openai`` against openai-python: its stream state, client
CPU per request, partial arguments), ``e2e`` (whole requests against the mock server over loopback, server and
clients pinned to separate CPUs: 256 and 1,024 streams in flight with no delay between
chunks, 1,024 at 20 ms; and the mock server's CPU per chunk before and after it was made
cheap) and ``serving`` (the distortion of ``streamfold bench`` and of AIPerf, side by side,
against the mock at 1, 256 and 1,024 streams) and ``batch`` (``streamfold batch`` against a
cookbook-style loop over ``AsyncOpenAI`` at 256 and 1,024 in flight, and its peak memory at
10,000 and 100,000 requests).  The speed targets (``targets.py``) are judged on the run's ratios and printed
last.  A full run writes
``results.json`` (every figure, the machine, the versions), ``results.md`` (the tables) and
the charts ``decoders.png`` and ``scaling.png`` (with matplotlib) into ``--out``
(default ``benchmarks/results``).  ``--quick`` runs tiny sizes in seconds and writes nothing
unless ``--out`` is given.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

if __package__:
    from . import corpora, decoders, dropin, framing, readme, report, scaling, targets
else:  # python benchmarks/run.py
    import corpora  # type: ignore[no-redef]
    import decoders  # type: ignore[no-redef]
    import dropin  # type: ignore[no-redef]
    import framing  # type: ignore[no-redef]
    import readme  # type: ignore[no-redef]
    import report  # type: ignore[no-redef]
    import scaling  # type: ignore[no-redef]
    import targets  # type: ignore[no-redef]


def _e2e() -> Any:
    """The end-to-end section's module (imported when that section runs)."""
    if __package__:
        from . import e2e
    else:
        import e2e  # type: ignore[no-redef]
    return e2e


def _batch() -> Any:
    """The batch section's module (imported when it runs)."""
    if __package__:
        from . import batch
    else:
        import batch  # type: ignore[no-redef]
    return batch


def _serving() -> Any:
    """The serving benchmark's section (imported when it runs)."""
    if __package__:
        from . import serving
    else:
        import serving  # type: ignore[no-redef]
    return serving


SECTIONS = ("decoders", "framing", "scaling", "dropin", "e2e", "serving", "batch")
RESULTS = Path(__file__).parent / "results"


def measure(quick: bool, sections: Sequence[str], progress: Callable[[str], None]) -> dict[str, Any]:
    """Run the sections asked for; returns every figure."""
    results: dict[str, Any] = {
        "machine": report.machine(),
        "quick": quick,
        "date": datetime.date.today().isoformat(),
        "seconds": {},
    }
    for name in sections:
        started = time.perf_counter()
        progress(f"[{name}] ...")
        if name == "decoders":
            results[name] = decoders.run(decoders.QUICK if quick else decoders.FULL, progress)
        elif name == "framing":
            results[name] = framing.run(corpora.QUICK if quick else corpora.FULL, 3 if quick else 7, progress)
        elif name == "scaling":
            results[name] = (
                scaling.run(scaling.QUICK_SIZES, rounds=3, min_sample_s=0.02, progress=progress)
                if quick
                else scaling.run(progress=progress)
            )
        elif name == "dropin":
            results[name] = dropin.run(dropin.QUICK if quick else dropin.FULL, progress)
        elif name == "e2e":
            results[name] = _e2e().run(quick=quick, progress=progress)
        elif name == "serving":
            results[name] = _serving().run(quick=quick, progress=progress)
        else:
            results[name] = _batch().run(quick=quick, progress=progress)
        results["seconds"][name] = round(time.perf_counter() - started, 1)
        progress(f"[{name}] done in {results['seconds'][name]:.0f} s")
    results["headline"] = headline(results)
    results["targets"] = targets.judge(results)
    return results


def merge(earlier: dict[str, Any], later: dict[str, Any]) -> dict[str, Any]:
    """``earlier`` (a committed run) with the sections of ``later`` (an ``--only`` run) in place
    of its own; each section's date is kept in ``section_dates``, the headline and the targets
    are judged again over the whole."""
    merged = dict(earlier)
    dates = dict(earlier.get("section_dates") or dict.fromkeys(earlier.get("seconds", {}), earlier.get("date")))
    seconds = dict(earlier.get("seconds", {}))
    for name in later["seconds"]:
        merged[name] = later[name]
        seconds[name] = later["seconds"][name]
        dates[name] = later["date"]
    merged["seconds"], merged["section_dates"] = seconds, dates
    merged["machine"] = later["machine"]
    merged["headline"] = headline(merged)
    merged["targets"] = targets.judge(merged)
    return merged


def headline(results: dict[str, Any]) -> dict[str, float | None]:
    """The ratios the README quotes, read off this run."""
    found: dict[str, float | None] = {}
    cells = results.get("decoders", {}).get("cells", [])

    def cell(contender: str, corpus: str, field: str) -> float | None:
        for c in cells:
            if c["contender"] == contender and c["corpus"] == corpus and c["reads"] == "16KiB" and c["status"] == "ok":
                value: float | None = c[field]
                return value
        return None

    for corpus in ("text", "tools", "n3_logprobs", "reasoning", "large"):
        found[f"cython_x_floor_{corpus}"] = cell("streamfold (Cython)", corpus, "x_floor")
        found[f"cython_x_faster_than_openai_{corpus}"] = cell("streamfold (Cython)", corpus, "x_faster_than_openai")
        found[f"python_x_floor_{corpus}"] = cell("streamfold (pure Python)", corpus, "x_floor")
    found.update(dropin_headline(results.get("dropin")))
    found.update(e2e_headline(results.get("e2e")))
    found.update(batch_headline(results.get("batch")))
    return found


def batch_headline(section: dict[str, Any] | None) -> dict[str, float | None]:
    """streamfold batch over the cookbook loop at each level (requests/s, CPU per chunk), and
    its peak memory at the largest request count over the smallest."""
    found: dict[str, float | None] = {}
    if not section:
        return found
    for level, pair in _batch().ratios(section).items():
        found[f"batch_requests_per_s_x_cookbook_at_{level}"] = pair["requests_per_s_x"]
        found[f"batch_cpu_per_chunk_x_below_cookbook_at_{level}"] = pair["cpu_per_chunk_x"]
    found["batch_memory_growth"] = _batch().memory_growth(section)
    return found


def dropin_headline(section: dict[str, Any] | None) -> dict[str, float | None]:
    """The drop-in's ratios over openai-python: its stream state per corpus, client CPU per
    request on each stream, and the partial-argument spread."""
    found: dict[str, float | None] = {}
    if not section:
        return found
    for corpus, row in section["ratios"]["state"].items():
        found[f"dropin_state_x_{corpus}"] = row[dropin.STATE]
    for stream, ratio in section["ratios"]["client"].items():
        found[f"dropin_client_x_{stream}".replace(" ", "_")] = ratio["whole"]
    found["dropin_partial_spread"] = section["partial_figures"]["spread"]
    return found


def e2e_headline(section: dict[str, Any] | None) -> dict[str, float | None]:
    """Client CPU per chunk of each contender over the streamfold client's, at each setting
    and level, and the mock server's CPU per chunk before and after."""
    found: dict[str, float | None] = {}
    if not section:
        return found
    for (setting, level), cell in _e2e().ratios(section).items():
        for contender, ratio in cell.items():
            if contender != _e2e().BASELINE:
                found[f"e2e_cpu_x_{contender}_{setting}_at_{level}".replace(" ", "_")] = ratio
    server = {
        (row["contender"].split(":")[0], row["setting"]): row["server_us_per_chunk"]
        for row in section.get("server_rows", [])
        if row["status"] == "ok"
    }
    for (version, setting), us in server.items():
        found[f"e2e_server_us_per_chunk_{version}_{setting}".replace(" ", "_")] = us
    return found


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        f"Machine: {m['cpu']} ({m['cpu_count']} cores), {m['platform']}, Python {m['python']}; "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v)
        + "\n"
    ]
    if "decoders" in results:
        lines += ["### Decoders\n", report.decoders_markdown(results["decoders"])]
    if "framing" in results:
        lines += ["### Framing alone (SSE decoding, no JSON)\n", framing.markdown(results["framing"])]
    if "scaling" in results:
        lines += ["### Scaling\n", report.scaling_markdown(results["scaling"])]
    if "dropin" in results:
        lines += ["### The openai drop-in\n", dropin.markdown(results["dropin"])]
    if "e2e" in results:
        lines += ["### End to end over loopback\n", _e2e().markdown(results["e2e"])]
    if "serving" in results:
        lines += ["### Serving benchmark: distortion against the mock\n", _serving().markdown(results["serving"])]
    if "batch" in results:
        lines += ["### Batch: streamfold batch against a loop over AsyncOpenAI\n", _batch().markdown(results["batch"])]
    lines += ["### Targets\n", targets.markdown(results["targets"])]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a few seconds (the tests use it)")
    parser.add_argument(
        "--only",
        action="append",
        choices=SECTIONS,
        help="run only this section (repeatable); its figures replace that section's in an existing results.json",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="directory for results.json, results.md and the charts "
        "(default: benchmarks/results for a full run, none for --quick)",
    )
    parser.add_argument(
        "--readme",
        action="store_true",
        help="write README.md's figures from benchmarks/results/results.json (the committed run) and stop",
    )
    args = parser.parse_args(argv)
    if args.readme:
        readme.update(json.loads((RESULTS / "results.json").read_text()))
        print(f"wrote the figures of {readme.README} from {RESULTS / 'results.json'}", file=sys.stderr)
        return 0
    out = args.out if args.out is not None else (None if args.quick else RESULTS)

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    results = measure(args.quick, args.only or SECTIONS, progress)
    if args.only and out is not None and (out / "results.json").exists():
        results = merge(json.loads((out / "results.json").read_text()), results)
        progress(f"merged {', '.join(args.only)} into the run in {out / 'results.json'}")
    text = markdown(results)
    print(text)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        written = ["results.json", "results.md"]
        if "decoders" in results and "scaling" in results:
            try:
                written += report.charts(results, out)
            except ImportError:
                results["charts"] = "skipped: matplotlib is not installed (pip install '.[bench]')"
                progress(results["charts"])
        (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
        (out / "results.md").write_text(text)
        progress("wrote " + ", ".join(str(out / name) for name in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
