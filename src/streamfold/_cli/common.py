"""What every subcommand shares: the parser class and its one error path, the message
prefix, the exit statuses, argument types, and JSON output."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import IO, Any, NoReturn, TypeVar

import orjson

PROG = "streamfold"
Number = TypeVar("Number", int, float)

#: Exit statuses: done; the work failed (a bad stream, a refused request); bad arguments
#: (a usage error); interrupted by Ctrl-C (128 + SIGINT, as shells report it).
OK, FAILED, USAGE, INTERRUPTED = 0, 1, 2, 130

#: How much of a partial completion is shown on a terminal (``--partial FILE`` writes it whole).
PARTIAL_PREVIEW_CHARS = 300


class UsageError(Exception):
    """Bad arguments: printed as one ``streamfold: error: ...`` line, exit status 2.

    Raised by the parser itself (``Parser.error``) and by a command for what argparse
    cannot check (a file that cannot be read, a JSON argument that does not parse).
    """


class Parser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose errors go through ``UsageError`` (one line, no usage dump)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def error(message: str) -> None:
    """Print ``streamfold: error: message`` on stderr."""
    _say("error", message)


def warning(message: str) -> None:
    """Print ``streamfold: warning: message`` on stderr."""
    _say("warning", message)


def _say(kind: str, message: str) -> None:
    sys.stderr.write(f"{PROG}: {kind}: {message}\n")
    sys.stderr.flush()


# -- argument types: each raises ArgumentTypeError, which the parser reports as a usage error


def positive_int(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text}")
    return value


def non_negative_int(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, got {text}")
    return value


def port_number(text: str) -> int:
    """A TCP port, 0 to 65535 (0: any free port)."""
    value = _int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535 (0: any free one), got {text}")
    return value


def event_limit(text: str) -> int | None:
    """``--max-event-bytes``: a positive number of bytes, or ``none`` for no limit."""
    return _positive_or_none(text, int, "a number of bytes >= 1")


def seconds_or_none(text: str) -> float | None:
    """A timeout: positive seconds, or ``none`` for no limit."""
    return _positive_or_none(text, float, "a number of seconds > 0")


def positive_seconds(text: str) -> float:
    """A number of seconds > 0 (a grace, an interval: no 'none')."""
    return _positive(text, float, "a number of seconds > 0")


def _positive_or_none(text: str, kind: Callable[[str], Number], what: str) -> Number | None:
    if text.strip().lower() == "none":
        return None
    return _positive(text, kind, what, ", or 'none' for no limit")


def _positive(text: str, kind: Callable[[str], Number], what: str, alternatives: str = "") -> Number:
    try:
        value: Number | None = kind(text)
    except ValueError:
        value = None
    if value is None or not 0 < value < math.inf:  # NaN and infinity too
        raise argparse.ArgumentTypeError(f"must be {what}{alternatives}, got {text}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None


# -- output


def write_json(value: Any, out: IO[bytes], *, indent: bool = False) -> None:
    """One JSON document and a newline, flushed (so a pipe sees it at once)."""
    out.write(orjson.dumps(value, default=str, option=orjson.OPT_INDENT_2 if indent else 0) + b"\n")
    out.flush()


def report_partial(partial: dict[str, Any] | None, *, whole_with: str) -> None:
    """Show on stderr the completion a failed stream kept: whole when stderr is a file or a
    pipe, cut to a readable length on a terminal (``whole_with`` says how to get all of it)."""
    if partial is None:
        return
    text = orjson.dumps(partial, default=str).decode()
    if sys.stderr.isatty() and len(text) > PARTIAL_PREVIEW_CHARS:
        cut = len(text) - PARTIAL_PREVIEW_CHARS
        text = f"{text[:PARTIAL_PREVIEW_CHARS]}... ({cut:,} more characters; {whole_with})"
    sys.stderr.write(f"partial completion: {text}\n")
    sys.stderr.flush()
