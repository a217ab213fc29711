"""The command line: ``streamfold chat|fold|serve ...`` (also ``python -m streamfold ...``).

Conventions every subcommand follows (a new one, e.g. ``batch`` or ``bench``, too):

- One module per subcommand in this package, with ``add_parser(commands)`` adding its
  parser (``commands.add_parser(NAME, ...)``) and ``set_defaults(run=run)``, where
  ``run(args) -> int`` returns the exit status; the module is listed in ``COMMANDS``.
- Messages go to stderr as one line each, ``streamfold: error: ...`` (or ``warning:``),
  through ``common.error`` / ``common.warning``; stdout carries only the command's
  output (JSON, the answer), so it can be piped.
- Exit statuses (``common``): 0 done; 1 the work failed (a bad stream, a refused
  request), with what was done kept (a partial completion is printed); 2 bad arguments;
  130 interrupted.  Bad arguments take one path: the parser (``common.Parser``: its
  errors, and the ``common`` argument types, which raise ``ArgumentTypeError``) or, for
  what argparse cannot check (files, JSON arguments), ``raise common.UsageError(message)``
  anywhere in ``run``; ``main`` prints them and returns 2.  No traceback for either.
- An optional dependency is imported inside ``run`` and its absence is a ``UsageError``
  that says what to install, so ``--help`` and the other commands work without it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from .._impl import IMPLEMENTATION
from .._version import __version__
from . import batch, bench, chat, fold, serve
from .common import FAILED, INTERRUPTED, OK, PROG, USAGE, Parser, UsageError, error

#: The subcommands, in the order ``--help`` lists them.
COMMANDS = (chat, fold, serve, batch, bench)


def build_parser() -> Parser:
    """The parser of every subcommand."""
    parser = Parser(
        prog=PROG,
        description="Decode and fold OpenAI-style chat-completion streams (server-sent events); "
        "ask a server; run a batch of requests; run a mock one; benchmark a server.",
        epilog=f"'{PROG} COMMAND --help' for each command's options.",
    )
    parser.add_argument(
        "--version", action="version", version=f"streamfold {__version__} ({IMPLEMENTATION} implementation)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``streamfold`` command and ``python -m streamfold``."""
    try:
        args = build_parser().parse_args(argv)
        status: int = args.run(args)
        return status
    except UsageError as exc:
        error(str(exc))
        return USAGE
    except KeyboardInterrupt:
        sys.stderr.write(f"\n{PROG}: interrupted\n" if sys.stderr.isatty() else f"{PROG}: interrupted\n")
        return INTERRUPTED
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly
        _silence_stdout()
        return OK
    except OSError as exc:  # e.g. the disk filled up while writing the output
        error(f"{exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}")
        return FAILED


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush finds no broken pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
