"""What a benchmark run does: ``BenchConfig``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ._arrivals import Ramp

#: Service-level objectives goodput can be judged on (milliseconds each).
SLO_METRICS = ("ttft", "tpot", "e2el")
DEFAULT_PERCENTILES = (90.0, 99.0)


@dataclass(frozen=True)
class BenchConfig:
    """A serving benchmark against an OpenAI-compatible ``base_url`` (``.../v1``).

    Requests: ``num_prompts`` prompts from ``dataset`` (``"random"``: ``input_len`` tokens
    each; or a ``.jsonl`` / ShareGPT ``.json`` file), each asking for ``output_len`` tokens
    (``max_completion_tokens``; None: the server decides), with ``body`` merged into every
    request and ``headers`` sent with it.  Arrivals: ``request_rate`` per second (``inf``:
    all at once) with gamma-distributed gaps of shape ``burstiness`` (1: Poisson), or a
    ``ramp``; at most ``max_concurrency`` in flight (None: no cap).  ``warmup`` requests
    first, not measured.  ``goodput``: SLOs in milliseconds by metric (``ttft``, ``tpot``,
    ``e2el``); ``percentiles`` reported; ``seed`` for the dataset and the arrivals;
    ``tokenizer``: a tokenizer to load (exact random prompt lengths and counts); ``usage_per_chunk``:
    ask for usage in every chunk (``continuous_usage_stats``; None: ask, and do without if
    the server refuses).  ``timeout``: seconds to connect and between two reads.
    ``pause_gc``: turn Python's cyclic garbage collector off during the run (a collection
    over the objects of many streams in flight stops the event loop for 100s of ms).
    ``kernel_clock``: time chunks by the kernel's receive timestamps (True), by when each
    read returns (False), or the first whenever it can (None: a plain ``http://`` server on
    Linux with httptools installed).
    """

    base_url: str
    model: str
    api_key: str | None = None
    dataset: str = "random"
    num_prompts: int | None = None
    input_len: int = 1024
    output_len: int | None = 128
    request_rate: float = math.inf
    burstiness: float = 1.0
    ramp: Ramp | None = None
    max_concurrency: int | None = None
    warmup: int = 0
    goodput: dict[str, float] = field(default_factory=dict)
    percentiles: tuple[float, ...] = DEFAULT_PERCENTILES
    seed: int = 0
    tokenizer: str | None = None
    usage_per_chunk: bool | None = None
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float | None = 600.0
    pause_gc: bool = True
    kernel_clock: bool | None = None

    def __post_init__(self) -> None:
        if self.num_prompts is not None and self.num_prompts < 1:
            raise ValueError(f"num_prompts must be >= 1, got {self.num_prompts}")
        if self.input_len < 1:
            raise ValueError(f"input_len must be >= 1, got {self.input_len}")
        if self.output_len is not None and self.output_len < 1:
            raise ValueError(f"output_len must be >= 1 (or None), got {self.output_len}")
        if not self.request_rate > 0:
            raise ValueError(f"request_rate must be > 0 (or inf), got {self.request_rate}")
        if not self.burstiness > 0:
            raise ValueError(f"burstiness must be > 0, got {self.burstiness}")
        if self.ramp is not None and self.request_rate != math.inf:
            raise ValueError("give a request rate or a ramp, not both")
        if self.max_concurrency is not None and self.max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {self.max_concurrency}")
        if self.warmup < 0:
            raise ValueError(f"warmup must be >= 0, got {self.warmup}")
        for name, value in self.goodput.items():
            if name not in SLO_METRICS:
                raise ValueError(f"goodput SLOs are on {', '.join(SLO_METRICS)}, not {name!r}")
            if not 0 <= value < math.inf:
                raise ValueError(f"the {name} SLO must be a number of milliseconds >= 0, got {value}")
        if not self.percentiles or any(not 0 < p <= 100 for p in self.percentiles):
            raise ValueError(f"percentiles must be above 0 and at most 100, got {list(self.percentiles)}")
        if self.timeout is not None and not self.timeout > 0:
            raise ValueError(f"timeout must be > 0 seconds (or None), got {self.timeout}")
