"""The README's figures, written from one committed run: ``python -m benchmarks --readme``.

Every number in README.md's Performance section sits between a pair of markers::

    <!-- figures: NAME -->
    ...
    <!-- /figures -->

and is rendered here from ``benchmarks/results/results.json``; nothing between the markers is
typed by hand.  ``tests`` check that the README holds exactly what the committed results
render to, so a figure cannot drift from its run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__:
    from . import targets
else:
    import targets  # type: ignore[no-redef]

README = Path(__file__).parent.parent / "README.md"
_BLOCK = re.compile(r"(<!-- figures: (?P<name>[a-z0-9_-]+) -->\n)(?P<body>.*?)(<!-- /figures -->)", re.S)

CORPORA = [
    ("text", "long text, 40k chunks"),
    ("tools", "tool calls"),
    ("n3_logprobs", "n=3 + logprobs"),
    ("reasoning", "reasoning"),
    ("large", "4 x 1 MiB events"),
]
DECODER_ROWS = [
    ("orjson.loads floor", "`orjson.loads` alone (the floor)"),
    ("streamfold (Cython)", "streamfold, Cython"),
    ("streamfold (pure Python)", "streamfold, pure-Python twin"),
    ("httpx-sse + orjson + plain fold", "httpx-sse + orjson + a plain fold"),
    ("httpx2 EventSource + orjson + plain fold", "httpx2 `EventSource` + orjson + a plain fold"),
    ("openai Stream (chunks only)", "openai-python `Stream` alone"),
    ("openai Stream + ChatCompletionStreamState", "openai-python `Stream` + `ChatCompletionStreamState`"),
]


def _f(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def machine(results: dict[str, Any]) -> str:
    m = results["machine"]
    versions = ", ".join(f"{name} {version}" for name, version in m["versions"].items() if version)
    when = results.get("date", "")
    return (
        f"From the committed run{' of ' + when if when else ''}: {m['cpu_count']} vCPUs of an {m['cpu']}, "
        f"{m['platform'].split('-with-')[0]}, Python {m['python']}; {versions}.\n"
    )


def decoders(results: dict[str, Any]) -> str:
    cells = {(c["contender"], c["corpus"], c["reads"]): c for c in results["decoders"]["cells"]}
    head = "| µs per chunk (x floor); MB/s for the 1 MiB events | " + " | ".join(t for _, t in CORPORA) + " |"
    out = [head, "|---|" + "---|" * len(CORPORA)]
    for contender, label in DECODER_ROWS:
        row = [label]
        for corpus, _ in CORPORA:
            cell = cells.get((contender, corpus, "16KiB"))
            if cell is None or cell["status"] != "ok":
                row.append("-")
                continue
            value = f"{cell['mb_per_s']:,.0f} MB/s" if corpus == "large" else _f(cell["us_per_chunk"])
            row.append(value if contender == "orjson.loads floor" else f"{value} ({_f(cell['x_floor'])})")
        out.append("| " + " | ".join(row) + " |")
    speedups = [
        cells.get(("streamfold (Cython)", corpus, "16KiB"), {}).get("x_faster_than_openai") for corpus, _ in CORPORA
    ]
    out.append(
        "| streamfold Cython, x faster than openai-python | " + " | ".join(f"{_f(x, 0)} x" for x in speedups) + " |"
    )
    return "\n".join(out) + "\n"


def framing(results: dict[str, Any]) -> str:
    out = ["| SSE decoding alone, µs per event (16 KiB reads) | long text | tool calls |", "|---|--:|--:|"]
    cells = {(c["contender"], c["corpus"], c["reads"]): c for c in results["framing"]["cells"]}
    for contender in dict.fromkeys(c["contender"] for c in results["framing"]["cells"]):
        row = [contender]
        for corpus in ("text", "tools"):
            cell = cells.get((contender, corpus, "16KiB"))
            if cell is None or cell["status"] != "ok":
                row.append("-")
                continue
            ratio = cell.get("x_faster_than_httpx_sse")
            row.append(f"{_f(cell['us_per_chunk'])}" + (f" ({_f(ratio, 1)} x faster)" if ratio and ratio != 1 else ""))
        out.append("| " + " | ".join(row) + " |")
    return "\n".join(out) + "\n"


def scaling(results: dict[str, Any]) -> str:
    section = results["scaling"]
    points = [p for p in section["points"] if p["status"] == "ok"]
    costs = ", ".join(f"{_f(p['us_per_chunk'])}" for p in points)
    sizes = ", ".join(f"{p['chunks']:,}" for p in points)
    last = points[-1]
    return (
        f"{section['contender']}, text stream: {costs} µs per chunk at {sizes} chunks (max / min "
        f"{_f(section['spread'])}); while feeding {last['chunks']:,} chunks ({last['bytes'] / 1e6:,.0f} MB) "
        f"traced memory peaks at {last['feed_peak_bytes'] / 2**20:.1f} MiB, for {last['text_bytes'] / 2**20:.1f} "
        f"MiB of folded text.\n"
    )


E2E_ROWS = [
    "streamfold AsyncClient",
    "streamfold AsyncClient, result() only",
    "streamfold AsyncClient on httpx",
    "streamfold openai drop-in",
    "openai AsyncOpenAI",
    "httpx + httpx-sse + json",
    "aiohttp iter_any + feed",
    "floor: asyncio protocol + httptools + feed",
]


def e2e(results: dict[str, Any]) -> str:
    section = results["e2e"]
    columns = [(r["setting"], r["concurrency"]) for r in section["rows"] if r["contender"] == E2E_ROWS[0]]
    rows = {(r["contender"], r["setting"], r["concurrency"]): r for r in section["rows"]}

    def title(setting: str, level: int) -> str:
        return f"{'no delay' if setting == 'itl 0' else setting.replace('itl ', '') + ' between chunks'}, {level:,} in flight"

    out = [
        "| client µs per chunk (x streamfold's) | " + " | ".join(title(*c) for c in columns) + " |",
        "|---|" + "--:|" * len(columns),
    ]
    for contender in [name for name in E2E_ROWS if any((name, *c) in rows for c in columns)]:
        row = [contender]
        for setting, level in columns:
            cell, ours = rows.get((contender, setting, level)), rows.get((E2E_ROWS[0], setting, level))
            if cell is None or cell["status"] != "ok" or ours is None or ours["status"] != "ok":
                row.append("-")
                continue
            row.append(
                f"{cell['client_us_per_chunk']:.1f} ({cell['client_us_per_chunk'] / ours['client_us_per_chunk']:.2f})"
            )
        out.append("| " + " | ".join(row) + " |")
    return "\n".join(out) + "\n"


def mock_server(results: dict[str, Any]) -> str:
    rows = [r for r in results["e2e"].get("server_rows", []) if r["status"] == "ok"]
    settings = list(dict.fromkeys((r["setting"], r["concurrency"]) for r in rows))
    out = [
        "| mock server CPU per chunk | " + " | ".join(f"{s} ({n:,} in flight)" for s, n in settings) + " |",
        "|---|" + "--:|" * len(settings),
    ]
    by = {(r["contender"], r["setting"]): r for r in rows}
    for contender in dict.fromkeys(r["contender"] for r in rows):
        out.append(
            f"| {contender} | "
            + " | ".join(
                f"{by[(contender, s)]['server_us_per_chunk']:.1f} µs" if (contender, s) in by else "-"
                for s, _ in settings
            )
            + " |"
        )
    before = [r for r in rows if r["contender"].startswith("before")]
    after = [r for r in rows if r["contender"].startswith("after")]
    if before and after:
        gains = []
        for setting, _ in settings:
            b = next((r for r in before if r["setting"] == setting), None)
            a = next((r for r in after if r["setting"] == setting), None)
            gains.append(f"{b['server_us_per_chunk'] / a['server_us_per_chunk']:.1f} x" if a and b else "-")
        out.append("| before / after | " + " | ".join(gains) + " |")
    return "\n".join(out) + "\n"


def serving(results: dict[str, Any]) -> str:
    if __package__:
        from . import serving as section
    else:
        import serving as section  # type: ignore[no-redef]
    table: str = section.markdown(results["serving"])
    return table


def batch(results: dict[str, Any]) -> str:
    if __package__:
        from . import batch as section
    else:
        import batch as section  # type: ignore[no-redef]
    table: str = section.markdown(results["batch"])
    return table


def target_table(results: dict[str, Any]) -> str:
    return targets.markdown(targets.judge(results))


#: The blocks of the README and what writes each; a section contributes its own renderers
#: (``readme_blocks``) when it has any.
RENDERERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "machine": machine,
    "decoders": decoders,
    "framing": framing,
    "scaling": scaling,
    "e2e": e2e,
    "mock-server": mock_server,
    "serving": serving,
    "batch": batch,
    "targets": target_table,
}


def render(
    text: str, results: dict[str, Any], renderers: dict[str, Callable[[dict[str, Any]], str]] | None = None
) -> str:
    """``text`` (the README) with every figures block rewritten from ``results``."""
    renderers = RENDERERS if renderers is None else renderers

    def block(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in renderers:
            raise KeyError(f"README block {name!r} has no renderer")
        return match.group(1) + renderers[name](results) + match.group(4)

    return _BLOCK.sub(block, text)


def blocks(text: str) -> dict[str, str]:
    """The figures blocks of ``text``, by name."""
    return {m.group("name"): m.group("body") for m in _BLOCK.finditer(text)}


def update(results: dict[str, Any], readme: Path = README) -> None:
    readme.write_text(render(readme.read_text(encoding="utf-8"), results), encoding="utf-8")
