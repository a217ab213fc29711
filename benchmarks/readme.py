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
    ("orjson.loads, keeping deltas and logprobs", "`orjson.loads`, keeping each delta and its logprobs"),
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
    dates = results.get("section_dates") or {}
    later = sorted({date for date in dates.values() if date and date != when})
    redone = [name for name, date in dates.items() if date != when]
    return (
        f"From the committed run{' of ' + when if when else ''}: {m['cpu_count']} vCPUs of an {m['cpu']}, "
        f"{m['platform'].split('-with-')[0]}, Python {m['python']}; {versions}"
        + (f" (sections {', '.join(redone)} redone on {', '.join(later)})" if redone else "")
        + ".\n"
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
            if not ratio or ratio == 1:
                versus = ""
            elif ratio > 1:
                versus = f" ({_f(ratio, 1)} x faster)"
            else:
                versus = f" ({_f(1 / ratio, 1)} x slower)"
            row.append(_f(cell["us_per_chunk"]) + versus)
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
    "streamfold AsyncClient on TimestampedSession",
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


def dropin(results: dict[str, Any]) -> str:
    """The drop-in against openai-python: stream state per chunk, client CPU per request on the
    long generated stream, the largest recorded one and the small recorded ones."""
    section = results["dropin"]
    state = {(c["contender"], c["corpus"]): c for c in section["state"] if c["status"] == "ok"}
    client = {(c["contender"], c["corpus"]): c for c in section["client"] if c["status"] == "ok"}
    ours, theirs = "streamfold StreamState", "openai ChatCompletionStreamState"
    ratio = section["ratios"]["state"]
    out = [
        "| | streamfold | openai-python | ratio |",
        "|---|--:|--:|--:|",
        "| `StreamState` vs `ChatCompletionStreamState`, µs per pre-built chunk (text / three tool calls) | "
        + " / ".join(_f(state[(ours, corpus)]["us_per_chunk"], 1) for corpus in ("text", "tools"))
        + " | "
        + " / ".join(_f(state[(theirs, corpus)]["us_per_chunk"], 0) for corpus in ("text", "tools"))
        + " | "
        + " / ".join(f"{_f(ratio[corpus][ours], 1)} x" for corpus in ("text", "tools"))
        + " |",
    ]

    def ms(contender: str, stream: str) -> float:
        value: float = client[(contender, stream)]["median_ns"] / 1e6
        return value

    def chunks(stream: str) -> int:
        found: int = client[("streamfold stream_chat", stream)]["chunks"]
        return found

    long_stream, largest = section["judged_streams"]
    for stream, what in ((long_stream, "a generated stream"), (largest, "the largest recorded OpenAI stream")):
        out.append(
            f"| client CPU per request, `stream_chat` vs `.stream()`, {what} ({chunks(stream):,} chunks) | "
            f"{_f(ms('streamfold stream_chat', stream))} ms | {_f(ms('openai .stream()', stream), 1)} ms | "
            f"{_f(section['ratios']['client'][stream]['whole'], 1)} x |"
        )
    small = [stream for stream in section["ratios"]["client"] if stream not in (long_stream, largest)]
    if small:
        ours_ms = [ms("streamfold stream_chat", stream) for stream in small]
        theirs_ms = [ms("openai .stream()", stream) for stream in small]
        ratios = [section["ratios"]["client"][stream]["whole"] for stream in small]
        sizes = [chunks(stream) for stream in small]
        out.append(
            f"| the same, the {len(small)} other recorded streams ({min(sizes)} to {max(sizes)} chunks) | "
            f"{_f(min(ours_ms), 1)} to {_f(max(ours_ms), 1)} ms | {_f(min(theirs_ms), 1)} to {_f(max(theirs_ms), 1)} ms "
            f"| {_f(min(ratios), 1)} x to {_f(max(ratios), 1)} x |"
        )
    above = section["ratios"]["client"]
    out.append(
        f"\nAbove a bare `create(stream=True)` whose bytes are drained (what both pay), `stream_chat` adds "
        f"{_f(above[largest]['above_bare'], 1)} x less CPU than `.stream()` on the largest recorded stream and "
        f"{_f(above[long_stream]['above_bare'], 1)} x less on the generated one.  Partial parsing of tool-call "
        f"arguments costs {_f(section['partial_figures']['spread'])} times as much per byte at the largest "
        f"size as at the smallest; re-parsing the text so far at every fragment (jiter) costs "
        f"{_f(section['partial_figures']['jiter_x_per_byte'], 1)} x as much per byte at the smallest size."
    )
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
    "dropin": dropin,
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
