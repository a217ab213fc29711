"""Writing a run down: the machine, Markdown tables, and the charts (matplotlib, optional)."""

from __future__ import annotations

import importlib.metadata
import os
import platform
from pathlib import Path
from typing import Any

DISTRIBUTIONS = (
    "streamfold",
    "orjson",
    "cython",
    "openai",
    "pydantic",
    "httpx",
    "httpx2",
    "httpx-sse",
    "aiohttp",
    "uvicorn",
    "httptools",
    "uvloop",
)


def machine() -> dict[str, Any]:
    """Platform, CPU, Python and the version of everything measured."""
    cpu = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as lines:
            cpu = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "")
    except OSError:
        pass
    versions: dict[str, str | None] = {}
    for name in DISTRIBUTIONS:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    import streamfold

    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu or platform.machine(),
        "cpu_count": os.cpu_count(),
        "versions": versions,
        "streamfold_implementation": streamfold.IMPLEMENTATION,
    }


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def decoders_markdown(section: dict[str, Any]) -> str:
    """One table per corpus: contenders as rows, both ways of reading as column groups."""
    out = []
    for described in section["corpora"]:
        name = described["name"]
        out.append(
            f"#### {name}: {described['title']} ({described['chunks']:,} chunks, "
            f"{described['bytes'] / 2**20:.1f} MiB)\n"
        )
        out.append(
            "| contender | µs/chunk (16 KiB reads) | spread | MB/s | x floor | x faster than openai "
            "| µs/chunk (read per event) | x floor | x faster than openai |"
        )
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        cells = [c for c in section["cells"] if c["corpus"] == name]
        for contender in dict.fromkeys(c["contender"] for c in cells):
            big = next(c for c in cells if c["contender"] == contender and c["reads"] == "16KiB")
            small = next(c for c in cells if c["contender"] == contender and c["reads"] == "per-event")
            if big["status"] != "ok":
                out.append(f"| {contender} | {big['status']} | | | | | | | |")
                continue
            out.append(
                f"| {contender} | {_fmt(big['us_per_chunk'])} | {big['spread'] * 100:.0f}% | {_fmt(big['mb_per_s'], 0)} "
                f"| {_fmt(big['x_floor'])} | {_fmt(big['x_faster_than_openai'], 1)} "
                f"| {_fmt(small.get('us_per_chunk'))} | {_fmt(small.get('x_floor'))} "
                f"| {_fmt(small.get('x_faster_than_openai'), 1)} |"
            )
        out.append("")
    return "\n".join(out)


def scaling_markdown(section: dict[str, Any]) -> str:
    out = [
        f"{section['contender']}, text stream in 16 KiB reads (max/min cost per chunk: {_fmt(section['spread'])})\n",
        "| chunks | MiB | µs/chunk (median) | best | peak memory while feeding | folded text | peak / text |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in section["points"]:
        if p["status"] != "ok":
            out.append(f"| {p['chunks']:,} | {p['status']} | | | | | |")
            continue
        out.append(
            f"| {p['chunks']:,} | {p['bytes'] / 2**20:.1f} | {_fmt(p['us_per_chunk'])} | "
            f"{_fmt(p['best_us_per_chunk'])} | {p['feed_peak_bytes'] / 2**20:.2f} MiB | "
            f"{p['text_bytes'] / 2**20:.2f} MiB | {_fmt(p['feed_peak_x_text'])} |"
        )
    return "\n".join(out) + "\n"


def charts(results: dict[str, Any], directory: Path) -> list[str]:
    """Write the PNG charts; returns their file names, or raises ImportError without matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    section = results["decoders"]
    corpora = [c["name"] for c in section["corpora"]]
    contenders = list(dict.fromkeys(c["contender"] for c in section["cells"]))
    fig, ax = plt.subplots(figsize=(11, 7.5))
    height = 0.8 / len(contenders)
    for k, contender in enumerate(contenders):
        values = []
        for corpus_name in corpora:
            cell = next(
                c
                for c in section["cells"]
                if c["corpus"] == corpus_name and c["contender"] == contender and c["reads"] == "16KiB"
            )
            values.append(cell["us_per_chunk"] if cell["status"] == "ok" else 0)
        positions = [i + k * height for i in range(len(corpora))]
        ax.barh(positions, values, height=height, label=contender)
    ax.set_yticks([i + 0.4 - height / 2 for i in range(len(corpora))], corpora)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("µs per chunk, median (log scale; shorter is faster)")
    ax.set_title("Decoding and folding a chat-completion stream (16 KiB reads)")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3)
    fig.tight_layout()
    fig.savefig(directory / "decoders.png", dpi=110)
    plt.close(fig)
    written.append("decoders.png")

    scaling = results["scaling"]
    points = [p for p in scaling["points"] if p["status"] == "ok"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    chunks = [p["chunks"] for p in points]
    left.plot(chunks, [p["us_per_chunk"] for p in points], marker="o")
    left.set_xscale("log")
    left.set_ylim(bottom=0)
    left.set_xlabel("chunks in the stream")
    left.set_ylabel("µs per chunk (median)")
    left.set_title(f"Cost per chunk: {scaling['contender']}")
    right.plot(chunks, [p["feed_peak_bytes"] / 2**20 for p in points], marker="o", label="peak while feeding")
    right.plot(chunks, [p["text_bytes"] / 2**20 for p in points], marker="x", linestyle="--", label="the folded text")
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlabel("chunks in the stream")
    right.set_ylabel("MiB (traced)")
    right.set_title("Peak memory")
    right.legend()
    fig.tight_layout()
    fig.savefig(directory / "scaling.png", dpi=110)
    plt.close(fig)
    written.append("scaling.png")
    return written
