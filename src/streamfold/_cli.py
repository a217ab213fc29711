"""The command line: ``python -m streamfold chat|fold|serve ...``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from importlib import resources
from typing import IO

import orjson

from . import IMPLEMENTATION, __version__
from ._errors import StreamError
from ._impl import ChatAccumulator, SSEDecoder

READ_SIZE = 64 * 1024


def _reads(stream: IO[bytes]) -> Iterator[bytes]:
    while True:
        piece = stream.read(READ_SIZE)
        if not piece:
            return
        yield piece


def _open_source(path: str | None) -> IO[bytes]:
    if path is None:
        return resources.files("streamfold").joinpath("data/sample.sse").open("rb")
    if path == "-":
        return sys.stdin.buffer
    return open(path, "rb")


def _print_json(value: object, out: IO[bytes], *, indent: bool) -> None:
    out.write(orjson.dumps(value, option=orjson.OPT_INDENT_2 if indent else 0) + b"\n")
    out.flush()


def _fold(args: argparse.Namespace) -> int:
    out = sys.stdout.buffer
    limit = args.max_event_bytes
    try:
        source = _open_source(args.file)
    except OSError as exc:
        print(f"streamfold: error: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    with source:
        try:
            if args.events:
                decoder = SSEDecoder(max_event_bytes=limit)
                for piece in _reads(source):
                    for event in decoder.feed(piece):
                        _print_json({"event": event.event, "data": event.data, "id": event.id,
                                     "retry": event.retry}, out, indent=False)
                decoder.close()
                return 0
            acc = ChatAccumulator(max_event_bytes=limit)
            for piece in _reads(source):
                acc.feed(piece)
            _print_json(acc.result(), out, indent=not args.compact)
            return 0
        except StreamError as exc:
            print(f"streamfold: error: {exc}", file=sys.stderr)
            if exc.partial is not None:
                sys.stderr.buffer.write(b"partial completion: ")
                _print_json(exc.partial, sys.stderr.buffer, indent=False)
            return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m streamfold",
        description="Decode and fold OpenAI-style chat-completion streams (Server-Sent Events).",
    )
    parser.add_argument("--version", action="version",
                        version=f"streamfold {__version__} ({IMPLEMENTATION} implementation)")
    commands = parser.add_subparsers(dest="command", required=True)
    fold = commands.add_parser(
        "fold", help="fold a recorded stream into one completion, printed as JSON",
        description="Fold a recorded chat-completion stream (raw SSE bytes) into one completion. "
        "With no FILE, folds a small sample stream bundled with streamfold.",
    )
    fold.add_argument("file", nargs="?", metavar="FILE|-", help="the stream to read ('-' for stdin)")
    fold.add_argument("--events", action="store_true", help="print the framed events (JSON lines) instead")
    fold.add_argument("--compact", action="store_true", help="print the completion on one line")
    fold.add_argument("--max-event-bytes", type=int, default=16 * 2**20, metavar="N",
                      help="refuse events larger than N bytes (default 16 MiB)")
    fold.set_defaults(run=_fold)

    serve = commands.add_parser(
        "serve", help="run the mock OpenAI-compatible server (needs the 'server' extra)",
        description="Serve a mock OpenAI-compatible API (POST /v1/chat/completions, GET /v1/models). "
        "Requests may override any setting with a JSON object in the x-streamfold-mock header "
        "or a 'mock' member of the body.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    serve.add_argument("--output-tokens", type=int, default=32, metavar="N", help="tokens per answer (default 32)")
    serve.add_argument("--text", default="lorem", help="'lorem', 'echo' (the prompt), or a fixed text")
    serve.add_argument("--tokens-per-chunk", type=int, default=1, metavar="N")
    serve.add_argument("--ttft", type=float, default=0.0, metavar="S", help="seconds before the first chunk")
    serve.add_argument("--itl", type=float, default=0.0, metavar="S", help="seconds between chunks")
    serve.add_argument("--jitter", type=float, default=0.0, metavar="F", help="vary delays by up to this fraction")
    serve.add_argument("--workers", type=int, default=1, metavar="N",
                       help="worker processes sharing the port (default 1)")
    serve.add_argument("--quiet", action="store_true", help="log warnings only (no line per request)")
    serve.set_defaults(run=_serve)

    from . import _cli_chat

    _cli_chat.add_parser(commands)
    return parser


def _serve(args: argparse.Namespace) -> int:
    from .mock import MockConfig, serve

    try:
        config = MockConfig(output_tokens=args.output_tokens, text=args.text, tokens_per_chunk=args.tokens_per_chunk,
                            ttft=args.ttft, itl=args.itl, jitter=args.jitter)
        if args.workers < 1:
            raise ValueError(f"--workers must be >= 1, got {args.workers}")
    except ValueError as exc:
        print(f"streamfold: {exc}", file=sys.stderr)
        return 2
    serve(config, host=args.host, port=args.port, quiet=args.quiet, workers=args.workers)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m streamfold`` and the ``streamfold`` script."""
    args = _parser().parse_args(argv)
    try:
        status: int = args.run(args)
        return status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. piped into `head`
        return 0
