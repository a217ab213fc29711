"""``--plot``: the latency distributions and the throughput over time, as one PNG (matplotlib)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._metrics import per_second
from ._runner import Run


def plot(run: Run, path: Path) -> None:
    """Draw TTFT, ITL, TPOT and E2EL histograms and output tokens per second with the
    requests in flight, second by second, into ``path`` (ImportError without matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ._metrics import latencies

    done = [record for record in run.records if record.ok]
    measured = [latencies(record) for record in done]
    series = {
        "TTFT": [m.ttft * 1000 for m in measured if m.ttft is not None],
        "ITL": [gap * 1000 for m in measured for gap in m.itls],
        "TPOT": [m.tpot * 1000 for m in measured if m.tpot is not None],
        "E2EL": [m.e2el * 1000 for m in measured],
    }
    figure, axes = plt.subplots(3, 2, figsize=(11, 10))
    for ax, (name, values) in zip(axes.flat, series.items()):
        if values:
            ax.hist(values, bins=60, color="#4472c4")
        ax.set_title(f"{name} ({len(values):,} samples)")
        ax.set_xlabel("ms")
        ax.set_ylabel("count")
    rates = per_second(done, run.origin)
    throughput: Any = axes[2][0]
    throughput.plot(range(len(rates)), rates, color="#2e7d32")
    throughput.set_title("output tokens per second")
    throughput.set_xlabel("s from the start")
    flight: Any = axes[2][1]
    step = max(run.duration / 300, 0.01)
    moments = [i * step for i in range(int(run.duration / step) + 1)]
    spans = [(r.sent - run.origin, (r.end or r.sent) - run.origin) for r in run.records if r.sent]
    flight.step(
        moments, [sum(1 for begin, end in spans if begin <= at < end) for at in moments], where="post", color="#c62828"
    )
    flight.set_title("requests in flight")
    flight.set_xlabel("s from the start")
    figure.suptitle(f"streamfold bench: {run.config.model} at {run.config.base_url}")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
