"""``streamfold bench``: a serving benchmark of an OpenAI-compatible server.

The final table goes to stdout; the live progress line, the notes on how tokens were
counted and the warnings about the client's own overhead go to stderr; ``--result-json``
writes ``vllm bench serve``'s result file (the same fields, per-request lists included) and
``--plot`` a PNG of the latency distributions and the throughput over time.  Exit status 1
when every request failed or the first one (a probe, before the run) did.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import Any

from .chat import _body, base_url
from .common import FAILED, OK, UsageError, error, non_negative_int, positive_int, seconds_or_none, warning, write_json

DEFAULT_TIMEOUT = 600.0
#: --chunk-clock's choices, as BenchConfig.kernel_clock
CHUNK_CLOCKS = {"auto": None, "kernel": True, "read": False}


def positive_number(text: str) -> float:
    """``--request-rate`` and ``--burstiness``: a number > 0, or ``inf``."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, or inf, got {text!r}")
    return value


def ramp(text: str) -> Any:
    """``--ramp START:END[:linear|exponential]``."""
    from ..bench import Ramp

    parts = text.split(":")
    try:
        if len(parts) not in (2, 3):
            raise ValueError("the form is START:END or START:END:exponential (requests per second)")
        return Ramp(float(parts[0]), float(parts[1]), parts[2] if len(parts) == 3 else "linear")
    except ValueError as exc:
        message = str(exc)
        if "could not convert" in message:
            message = "START and END are requests per second"
        raise argparse.ArgumentTypeError(f"{message}, got {text!r}") from None


def slo(text: str) -> tuple[str, float]:
    """One ``--goodput`` item, ``ttft:MS``, ``tpot:MS`` or ``e2el:MS``."""
    from ..bench import SLO_METRICS

    name, _, value = text.partition(":")
    try:
        milliseconds = float(value)
    except ValueError:
        milliseconds = math.nan
    if name not in SLO_METRICS or not 0 <= milliseconds < math.inf:
        raise argparse.ArgumentTypeError(
            f"each SLO is NAME:MS with NAME one of {', '.join(SLO_METRICS)} and MS milliseconds >= 0, got {text!r}"
        )
    return name, milliseconds


def percentiles(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        values = ()
    if not values or any(not 0 < value <= 100 for value in values):
        raise argparse.ArgumentTypeError(f"must be numbers above 0 and at most 100, separated by commas, got {text!r}")
    return values


def add_parser(commands: Any) -> None:
    """The ``bench`` subcommand's arguments."""
    bench = commands.add_parser(
        "bench",
        help="benchmark an OpenAI-compatible server (TTFT, ITL, TPOT, E2EL, throughput, goodput)",
        description="Send chat-completion requests at their arrival times and measure the server: time to first "
        "token, inter-token latency, time per output token, end-to-end latency, throughputs and goodput, with "
        "the client's own CPU per chunk and event-loop lag.  The table goes to stdout, progress and warnings "
        "to stderr.",
        epilog="Example: streamfold bench --base-url http://127.0.0.1:8000/v1 --model m --num-prompts 200 "
        "--request-rate 20 --result-json result.json",
    )
    server = bench.add_argument_group("server")
    server.add_argument(
        "--base-url", type=base_url, help="the API, e.g. http://127.0.0.1:8000/v1 (default: OPENAI_BASE_URL)"
    )
    server.add_argument("--model", required=True, help="the model to ask for")
    server.add_argument("--api-key", help="API key (default: OPENAI_API_KEY)")
    server.add_argument(
        "--timeout",
        type=seconds_or_none,
        default=DEFAULT_TIMEOUT,
        metavar="S|none",
        help=f"seconds allowed to connect and between two reads (default {DEFAULT_TIMEOUT:.0f})",
    )
    data = bench.add_argument_group("requests")
    data.add_argument(
        "--dataset",
        default="random",
        metavar="random|FILE",
        help='\'random\' (random words), a .jsonl file of {"prompt"} or {"messages"} lines, or a '
        "ShareGPT .json file (default random)",
    )
    data.add_argument(
        "--num-prompts",
        type=positive_int,
        metavar="N",
        help="requests to send (default 1000; a .jsonl file: each line once)",
    )
    data.add_argument(
        "--input-len", type=positive_int, default=1024, metavar="N", help="tokens per random prompt (default 1024)"
    )
    data.add_argument(
        "--output-len",
        type=positive_int,
        metavar="N",
        help="max_completion_tokens of every request (default: 128 for random prompts, the dataset's for files)",
    )
    data.add_argument(
        "--tokenizer",
        metavar="NAME|DIR",
        help="count tokens with this tokenizer (transformers or tiktoken, when installed) instead "
        "of the 0.75 words-per-token estimate",
    )
    data.add_argument(
        "--ignore-eos", action="store_true", help="send ignore_eos: true (vLLM, SGLang: answers run to --output-len)"
    )
    data.add_argument("--body", metavar="JSON|@FILE", help="more members of every request body, as a JSON object")
    data.add_argument(
        "--usage-per-chunk",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="ask for usage in every chunk (stream_options.continuous_usage_stats), to count the "
        "tokens of each chunk (default: ask, and do without when the server refuses)",
    )
    data.add_argument("--seed", type=int, default=0, help="seed of the random prompts and arrivals (default 0)")
    load = bench.add_argument_group("load")
    load.add_argument(
        "--request-rate",
        type=positive_number,
        default=math.inf,
        metavar="R|inf",
        help="requests per second (default inf: all at once)",
    )
    load.add_argument(
        "--burstiness",
        type=positive_number,
        default=1.0,
        metavar="B",
        help="shape of the gamma-distributed gaps: 1 a Poisson process (default), below 1 burstier, inf evenly spaced",
    )
    load.add_argument(
        "--ramp",
        type=ramp,
        metavar="START:END[:exponential]",
        help="a request rate going from START to END requests per second over the run",
    )
    load.add_argument(
        "--max-concurrency",
        type=positive_int,
        metavar="N",
        help="requests in flight at most (the wait for a slot is reported apart)",
    )
    load.add_argument(
        "--warmup",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="requests sent first and not measured (default 0)",
    )
    out = bench.add_argument_group("results")
    out.add_argument(
        "--goodput", type=slo, nargs="+", metavar="NAME:MS", help="SLOs for goodput: ttft:MS tpot:MS e2el:MS"
    )
    out.add_argument("--percentiles", type=percentiles, metavar="P,P,...", help="percentiles to report (default 90,99)")
    out.add_argument("--result-json", metavar="FILE", help="write vllm bench serve's result JSON to FILE")
    out.add_argument("--plot", metavar="FILE.png", help="draw the latency distributions and throughput (matplotlib)")
    out.add_argument(
        "--chunk-clock",
        choices=tuple(CHUNK_CLOCKS),
        default="auto",
        help="time each chunk by the kernel's receive timestamp (kernel: a plain http:// server, Linux, "
        "httptools), by when its read returned (read), or the first whenever it can (auto, the default)",
    )
    out.add_argument("--quiet", action="store_true", help="no progress line")
    bench.set_defaults(run=run)


def config_from(args: argparse.Namespace) -> Any:
    """The ``BenchConfig`` the options describe."""
    from ..bench import BenchConfig

    url = args.base_url or os.environ.get("OPENAI_BASE_URL")
    if not url:
        raise UsageError("--base-url is needed (or OPENAI_BASE_URL): the server to benchmark")
    extra = _body(args.body) if args.body else {}
    if extra.get("stream") is False or "messages" in extra:
        raise UsageError(
            '--body: the benchmark streams and sends the dataset\'s messages; leave out "stream" and "messages"'
        )
    if args.ignore_eos:
        extra["ignore_eos"] = True
    options: dict[str, Any] = {}
    if args.percentiles:
        options["percentiles"] = args.percentiles
    if args.ramp is not None and args.request_rate != math.inf:
        raise UsageError("give --request-rate or --ramp, not both")
    output_len = args.output_len if args.output_len is not None else (128 if args.dataset == "random" else None)
    kernel_clock = CHUNK_CLOCKS[args.chunk_clock]
    if kernel_clock:
        from ..bench._session import kernel_clock_usable

        if not kernel_clock_usable(url):
            raise UsageError(
                "--chunk-clock kernel needs a plain http:// server, Linux and httptools (pip install 'streamfold[bench]')"
            )
    try:
        return BenchConfig(
            base_url=url,
            model=args.model,
            api_key=args.api_key or os.environ.get("OPENAI_API_KEY"),
            dataset=args.dataset,
            num_prompts=args.num_prompts,
            input_len=args.input_len,
            output_len=output_len,
            request_rate=args.request_rate,
            burstiness=args.burstiness,
            ramp=args.ramp,
            max_concurrency=args.max_concurrency,
            warmup=args.warmup,
            goodput=dict(args.goodput or ()),
            seed=args.seed,
            tokenizer=args.tokenizer,
            usage_per_chunk=args.usage_per_chunk,
            body=extra,
            timeout=args.timeout,
            kernel_clock=kernel_clock,
            **options,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    """Run ``bench``; exit status 0, 1 (the probe or every request failed), 2 (bad arguments)."""
    from .. import bench

    config = config_from(args)
    for option, path in (("--result-json", args.result_json), ("--plot", args.plot)):
        if path:  # a place the results cannot be written to is found now, not after the run
            try:
                with open(path, "ab"):
                    pass
            except OSError as exc:
                raise UsageError(f"{option}: cannot write {path}: {exc.strerror or exc}") from None
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise UsageError("--plot needs matplotlib (the 'bench' extra): pip install matplotlib") from None
    tokenizer = None
    if config.tokenizer:
        try:
            tokenizer = bench.load_tokenizer(config.tokenizer)
        except ValueError as exc:
            raise UsageError(f"--tokenizer: {exc}") from None
    try:
        prompts, tokenizer = bench.prepare(config, tokenizer)
    except OSError as exc:
        raise UsageError(f"--dataset: cannot read {args.dataset}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise UsageError(f"--dataset: {exc}") from None
    show = None if args.quiet else _ProgressLine(sys.stderr)
    try:
        outcome = bench.run(config, prompts=prompts, tokenizer=tokenizer, progress=show)
    except bench.BenchError as exc:
        if show is not None:
            show.end()
        error(str(exc))
        return FAILED
    if show is not None:
        show.end()
    result = bench.result_json(outcome)
    if not args.quiet:
        sys.stderr.write(f"output tokens counted from: {result['token_counts']}\n")
    for text in result["warnings"]:
        warning(text)
    sys.stdout.write(bench.table(result, config.percentiles) + "\n")
    sys.stdout.flush()
    if args.result_json:
        with open(args.result_json, "wb") as file:
            write_json(result, file)
    if args.plot:
        bench.plot(outcome, Path(args.plot))
    return OK if result["completed"] else FAILED


class _ProgressLine:
    """One line rewritten in place on a terminal; elsewhere a line every ten reports."""

    def __init__(self, out: Any) -> None:
        self._out = out
        self._terminal = out.isatty()
        self._reports = 0
        self._shown = False

    def __call__(self, progress: Any) -> None:
        self._reports += 1
        line = (
            f"[bench {progress.elapsed:6.1f} s] {progress.done:,}/{progress.total:,} done"
            f"{f' ({progress.failed:,} failed)' if progress.failed else ''}, {progress.in_flight:,} in flight, "
            f"{progress.waiting:,} waiting, {progress.output_chunks:,} output chunks"
        )
        if self._terminal:
            self._out.write("\r" + line + "\x1b[K")
            self._shown = True
        elif self._reports % 10 == 1 or progress.done == progress.total:
            self._out.write(line + "\n")
        self._out.flush()

    def end(self) -> None:
        if self._shown:
            self._out.write("\n")
            self._out.flush()
            self._shown = False
