"""``streamfold bench``: a serving benchmark whose own overhead stays out of what it measures.

Requests go out at their arrival times (all at once, a Poisson process, gamma-distributed
gaps, or a ramp; capped in flight by ``max_concurrency``, the wait for a slot reported
apart), through ``AsyncClient``; each chunk is timed when its bytes arrive, before any
parsing.  From the records come TTFT, ITL (per token when the server counts the tokens of
each chunk), TPOT and E2EL, throughputs, goodput against SLOs and failures by kind, in the
field names of ``vllm bench serve``'s result file, with the client's own CPU per chunk and
event-loop lag::

    from streamfold.bench import BenchConfig, run, result_json, table

    config = BenchConfig(base_url="http://127.0.0.1:8000/v1", model="m", num_prompts=200, request_rate=20)
    outcome = run(config)
    result = result_json(outcome)
    print(table(result, config.percentiles))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .._run import run as _run_loop
from ._arrivals import Ramp, arrival_offsets
from ._config import SLO_METRICS, BenchConfig
from ._datasets import Prompt, load_prompts
from ._metrics import Latencies, latencies, summarize
from ._plot import plot
from ._record import RequestRecord
from ._result import result_json, table
from ._runner import BenchError, Progress, Run, arun, prepare
from ._tokenizer import WORDS_PER_TOKEN, Tokenizer, load_tokenizer


def run(
    config: BenchConfig,
    *,
    prompts: Sequence[Prompt] | None = None,
    tokenizer: Tokenizer | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> Run:
    """Run the benchmark in a new event loop (uvloop when installed); see ``arun``."""
    return _run_loop(arun(config, prompts=prompts, tokenizer=tokenizer, progress=progress))


__all__ = [
    "SLO_METRICS",
    "WORDS_PER_TOKEN",
    "BenchConfig",
    "BenchError",
    "Latencies",
    "Progress",
    "Prompt",
    "Ramp",
    "RequestRecord",
    "Run",
    "Tokenizer",
    "arrival_offsets",
    "arun",
    "latencies",
    "load_prompts",
    "load_tokenizer",
    "plot",
    "prepare",
    "result_json",
    "run",
    "summarize",
    "table",
]
