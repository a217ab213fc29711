"""``streamfold fold [FILE ...]``: fold recorded streams into completions (or show their events).

An input with no chunk is an error that says what the input is instead (see ``diagnose``);
a stream of only ``data: [DONE]`` is a complete, empty completion (the server said it
was done), printed with a warning.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from typing import Any

import orjson

from .. import (
    DEFAULT_MAX_EVENT_BYTES,
    ChatAccumulator,
    EventTooLargeError,
    IncompleteStreamError,
    SSEDecoder,
    StreamError,
)
from .common import FAILED, OK, UsageError, error, event_limit, report_partial, warning, write_json
from .diagnose import describe
from .inputs import Input, inputs_from
from .records import event_record, sse_record

EMPTY = "only [DONE], no chunk: the completion is empty"
#: Seconds between two updates of the progress line (several inputs, on a terminal).
PROGRESS_EVERY = 0.2


def add_parser(commands: Any) -> None:
    """The ``fold`` subcommand's arguments."""
    fold = commands.add_parser(
        "fold",
        help="fold recorded streams into completions, printed as JSON",
        description="Fold recorded chat-completion streams (the raw server-sent event bytes) into "
        "completions, printed as JSON. With no FILE, folds a small sample stream bundled with streamfold. "
        "Exit status 1 when a stream is bad or unfinished (the completion folded so far is printed on stderr).",
        epilog="An input of only 'data: [DONE]' is a complete, empty completion (with a warning); an input "
        "with no event at all is an error that says what it holds instead (empty, compressed, JSON...).",
    )
    fold.add_argument("files", nargs="*", metavar="FILE", help="recorded streams ('-' reads stdin)")
    output = fold.add_mutually_exclusive_group()
    output.add_argument("--compact", action="store_true", help="print the completion on one line")
    output.add_argument(
        "--jsonl",
        action="store_true",
        help='one JSON line per input: {"file", "completion"}, or {"file", "error", "partial"}',
    )
    output.add_argument(
        "--events",
        action="store_true",
        help="print the stream's events instead (content.delta, tool_calls.function.arguments.done, "
        "...: type, choice_index and fields), one JSON object a line",
    )
    output.add_argument(
        "--sse",
        action="store_true",
        help="print the raw server-sent events instead (event, data, id, retry; data parsed "
        "when it is JSON), one JSON object a line",
    )
    fold.add_argument(
        "--snapshots", action="store_true", help="with --events: add each delta's text so far (snapshot, arguments)"
    )
    fold.add_argument(
        "--partial", metavar="FILE", help="when the stream fails, write the completion folded so far, whole, to FILE"
    )
    fold.add_argument(
        "--max-event-bytes",
        type=event_limit,
        default=DEFAULT_MAX_EVENT_BYTES,
        metavar="N|none",
        help="refuse events larger than N bytes (default 16 MiB; 'none': no limit)",
    )
    fold.set_defaults(run=run)


@dataclass
class Outcome:
    """What folding one input gave: a completion, or an error and what was folded before it."""

    completion: dict[str, Any] | None = None
    error: str | None = None
    partial: dict[str, Any] | None = None
    #: the stream was only ``data: [DONE]``: complete, and empty
    empty: bool = False


def run(args: argparse.Namespace) -> int:
    """Run ``fold``: exit status 0, or 1 when an input failed."""
    _check(args)
    inputs = inputs_from(args.files)
    if args.events:
        return _print_events(inputs[0], args)
    if args.sse:
        return _print_sse(inputs[0], args)
    if args.jsonl:
        return _fold_all(inputs, args.max_event_bytes)
    outcome = fold_input(inputs[0], args.max_event_bytes)
    if outcome.empty:
        warning(EMPTY)
    if outcome.completion is not None:
        write_json(outcome.completion, sys.stdout.buffer, indent=not args.compact)
        return OK
    _report(outcome, args.partial)
    return FAILED


def _check(args: argparse.Namespace) -> None:
    several = len(args.files) > 1
    if several and (args.events or args.sse):
        raise UsageError(f"--{'events' if args.events else 'sse'} reads one input, got {len(args.files)}")
    if several and not args.jsonl:
        raise UsageError(f"{len(args.files)} inputs: add --jsonl for one JSON line per input")
    if args.partial and args.jsonl:
        raise UsageError("--partial goes with one input; with --jsonl each failed line holds its partial")
    if args.snapshots and not args.events:
        raise UsageError("--snapshots goes with --events")


def fold_input(source: Input, limit: int | None) -> Outcome:
    """Fold one input; a failure is described, never raised."""
    acc = ChatAccumulator(max_event_bytes=limit)
    try:
        for piece in source.pieces():
            acc.feed(piece)
        completion = acc.result()
    except StreamError as exc:
        return Outcome(error=_explain(exc, source, acc.events), partial=exc.partial)
    except OSError as exc:
        return Outcome(
            error=f"cannot read {source.label}: {exc.strerror or exc}", partial=acc.snapshot() if acc.chunks else None
        )
    return Outcome(completion=completion, empty=not acc.chunks)


def _explain(exc: StreamError, source: Input, events: int) -> str:
    if isinstance(exc, IncompleteStreamError) and exc.partial is None:  # no chunk at all
        return describe(source, events)
    return str(exc)


def _report(outcome: Outcome, partial_path: str | None) -> None:
    error(outcome.error or "failed")
    if partial_path is None:
        report_partial(outcome.partial, whole_with="--partial FILE writes it whole")
        return
    if outcome.partial is None:
        warning(f"no chunk was folded: {partial_path} not written")
        return
    try:
        with open(partial_path, "wb") as out:
            write_json(outcome.partial, out, indent=True)
    except OSError as exc:
        error(f"cannot write {partial_path}: {exc.strerror or exc}")
        return
    sys.stderr.write(f"partial completion written to {partial_path}\n")


def _fold_all(inputs: list[Input], limit: int | None) -> int:
    """``--jsonl``: one line per input, in order; the errors on stderr too."""
    out = sys.stdout.buffer
    status = OK
    progress = _Progress(len(inputs))
    for number, source in enumerate(inputs, 1):
        outcome = fold_input(source, limit)
        record: dict[str, Any] = {"file": source.path or source.label}
        if outcome.empty:
            progress.clear()
            warning(f"{source.label}: {EMPTY}")
        if outcome.completion is not None:
            record["completion"] = outcome.completion
        else:
            status = FAILED
            progress.clear()
            error(f"{source.label}: {outcome.error}")
            record.update(error=outcome.error, partial=outcome.partial)
        write_json(record, out)
        progress.show(number)
    progress.clear()
    return status


def _print_events(source: Input, args: argparse.Namespace) -> int:
    """``--events``: the API's events (``content.delta``, ...), one JSON line each."""
    acc = ChatAccumulator(max_event_bytes=args.max_event_bytes)
    try:
        for piece in source.pieces():
            lines: list[bytes] = []
            try:
                # line by line: an error drops the events of its feed() call, so only the bad event's
                for line in piece.splitlines(keepends=True):
                    for event in acc.feed_events(line):
                        lines.append(_line(event_record(event, snapshots=args.snapshots)))
            finally:
                _write(lines)
        acc.result()
    except StreamError as exc:
        _report(Outcome(error=_explain(exc, source, acc.events), partial=exc.partial), args.partial)
        return FAILED
    if not acc.chunks:
        warning(EMPTY)
    return OK


def _print_sse(source: Input, args: argparse.Namespace) -> int:
    """``--sse``: the server-sent events as framed, one JSON line each."""
    decoder = SSEDecoder(max_event_bytes=args.max_event_bytes)
    shown = 0
    try:
        for piece in source.pieces():
            lines = [_line(sse_record(raw)) for raw in decoder.feed(piece)]
            shown += len(lines)
            _write(lines)
        decoder.close()
    except EventTooLargeError as exc:  # the only error of framing; the events before it first
        _write([_line(sse_record(raw)) for raw in exc.events])
        _report(Outcome(error=str(exc)), args.partial)
        return FAILED
    if not shown:
        error(describe(source, 0))
        return FAILED
    return OK


def _write(lines: list[bytes]) -> None:
    """One write per piece read (stdout may be unbuffered), flushed so a pipe sees it live."""
    sys.stdout.buffer.write(b"".join(lines))
    sys.stdout.buffer.flush()


def _line(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record, default=str) + b"\n"


class _Progress:
    """``folded K/N`` on stderr, overwritten in place, when stderr is a terminal and N > 1."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.active = total > 1 and sys.stderr.isatty()
        self._last = 0.0
        self._shown = False

    def show(self, done: int) -> None:
        now = time.monotonic()
        if self.active and now - self._last >= PROGRESS_EVERY:
            self._last = now
            self._shown = True
            sys.stderr.write(f"\rfolded {done:,}/{self.total:,}")
            sys.stderr.flush()

    def clear(self) -> None:
        if self._shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
            self._shown = False
