"""``streamfold serve``: the mock OpenAI-compatible server, in the foreground (``--ui``: with
a chat page at ``/``, whose answers come from the mock or from ``--base-url``).

Every ``MockConfig`` setting is an option, made from the dataclass's fields and their
types: a setting added to ``MockConfig`` later gets its option by itself (``SETTING_HELP``
gives it words; without them it still works, with a plain help line).  On start it
prints the base URL to give a client and a ``curl -N`` line to copy.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
import socket
import sys
import typing
from collections.abc import Callable
from typing import Any

import orjson

from ..mock import MockConfig
from ..mock._config import BURST_EVENTS
from ..mock._providers import SHAPES
from .chat import base_url
from .common import FAILED, OK, UsageError, error, port_number, positive_int, write_json

#: Namespace attributes of the settings are this prefix and the field's name.
DEST = "mock_"
#: Words for each setting: (metavar, help; None for on/off settings); the default is added to the help.
SETTING_HELP: dict[str, tuple[str | None, str]] = {
    "output_tokens": ("N", "tokens of text per answer (a lower max_tokens in the request wins)"),
    "text": ("TEXT", "'lorem' (generated words), 'echo' (the last user message), or a fixed text, repeated"),
    "tokens_per_chunk": ("N", "tokens per chunk"),
    "reasoning_tokens": ("N", "tokens of reasoning before the answer"),
    "tool_calls": ("N", "answer with N parallel tool calls instead of text"),
    "n": ("N", "choices per answer (default: the request's n)"),
    "usage": (None, "send usage (default: when the request asks with stream_options.include_usage)"),
    "continuous_usage": (
        None,
        "usage in every chunk, the tokens so far (default: when the request asks with "
        "stream_options.continuous_usage_stats, as vLLM)",
    ),
    "model": ("NAME", "the model named in the answer (default: the request's); with --ui, the model the page asks for"),
    "ttft": ("S", "seconds before the first chunk"),
    "itl": ("S", "seconds between chunks"),
    "jitter": ("F", "vary every delay at random by up to this fraction"),
    "events_per_write": (
        "N",
        f"events per network write (default: one when --itl is above 0, {BURST_EVENTS} when it is 0)",
    ),
    "split_writes": (None, "cut every write in two, inside a UTF-8 character when there is one"),
    "keepalive_every": ("N", "a ': keep-alive' comment every N chunks (0: none)"),
    "status": ("CODE", "answer every request with this HTTP status instead of a stream (429, 500, ...)"),
    "retry_after": ("S", "with --status: seconds sent in Retry-After (default: no header)"),
    "error_after": ("N", "an in-band error after N chunks (default: none)"),
    "close_after": ("N", "drop the connection after N chunks (default: never)"),
    "stall_after": ("N", "send nothing more after N chunks (default: never)"),
    "seed": ("N", "random seed: the same seed, the same output"),
    "provider": ("NAME", f"write the chunks as this server does: {', '.join(SHAPES)}"),
    "fault_times": (
        "N",
        "the faults hit only the first N requests with these settings, so a retry succeeds (default: every request)",
    ),
    "rate_limit_requests": (
        "N",
        "requests per minute, then 429 with Retry-After; x-ratelimit-* headers (default: none)",
    ),
    "rate_limit_tokens": ("N", "tokens per minute, then 429 with Retry-After; x-ratelimit-* headers (default: none)"),
    "busy_wait": (
        "S",
        "wait for paced writes due within S seconds by keeping the loop turning, not on a timer: "
        "more punctual, at the cost of a core",
    ),
}


def add_parser(commands: Any) -> None:
    """The ``serve`` subcommand's arguments: the server's, then one per ``MockConfig`` setting."""
    serve = commands.add_parser(
        "serve",
        help="run the mock OpenAI-compatible server (needs the 'server' extra)",
        description="Serve a mock OpenAI-compatible API (POST /v1/chat/completions, streaming or not; "
        "GET /v1/models) until Ctrl-C; with --ui, also a chat page at / to try it (or --base-url) in a browser.",
        epilog="A request may change any setting for itself with a JSON object of settings in the "
        "x-streamfold-mock header or a 'mock' member of its body ('--print-config' shows the object).",
    )
    server = serve.add_argument_group("server")
    server.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    server.add_argument(
        "--port",
        type=port_number,
        default=8000,
        help="port to listen on (default 8000; 0: any free port, shown on start)",
    )
    server.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        metavar="N",
        help="worker processes sharing the port, each with its own counters (default 1)",
    )
    server.add_argument("--quiet", action="store_true", help="log warnings only (no line per request)")
    server.add_argument(
        "--print-config",
        action="store_true",
        help="print the settings as JSON and exit (the object x-streamfold-mock takes)",
    )
    page = serve.add_argument_group("chat page")
    page.add_argument(
        "--ui", action="store_true", help="also serve a chat page at / whose answers stream through streamfold.relay"
    )
    page.add_argument(
        "--base-url",
        type=base_url,
        help="with --ui: the OpenAI-compatible API the page asks (default: this mock server)",
    )
    page.add_argument("--api-key", help="with --ui and --base-url: its API key (default: OPENAI_API_KEY)")
    taken = {"host", "port", "workers", "quiet", "print_config", "ui", "base_url", "api_key"}
    settings = serve.add_argument_group("what the mock sends (streamfold.mock.MockConfig)")
    hints = typing.get_type_hints(MockConfig)
    for field in dataclasses.fields(MockConfig):
        if field.name not in taken:  # a server option of the same name, defined above, wins
            _add_setting(settings, field, hints[field.name])
    serve.set_defaults(run=run)


def _add_setting(group: Any, field: dataclasses.Field[Any], hint: Any) -> None:
    kind, optional = _unwrap(hint)
    metavar, text = SETTING_HELP.get(field.name, (None, f"MockConfig.{field.name}"))
    default = field.default if field.default is not dataclasses.MISSING else None
    if default is not None or field.name not in SETTING_HELP:
        text += f" (default: {_shown(default)})"
    option = "--" + field.name.replace("_", "-")
    if kind is bool:
        group.add_argument(
            option, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS, dest=DEST + field.name, help=text
        )
        return
    group.add_argument(
        option,
        type=_value_parser(kind, optional),
        default=argparse.SUPPRESS,
        dest=DEST + field.name,
        metavar=metavar or getattr(kind, "__name__", "JSON").upper(),
        help=text + (" ('none' to unset)" if optional and default is not None else ""),
    )


def _unwrap(hint: Any) -> tuple[Any, bool]:
    """``int | None`` -> (int, True); ``int`` -> (int, False)."""
    members = typing.get_args(hint)
    if type(None) in members:
        rest = [member for member in members if member is not type(None)]
        return (rest[0] if len(rest) == 1 else Any), True
    return hint, False


def _value_parser(kind: Any, optional: bool) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        if optional and text.strip().lower() == "none":
            return None
        try:
            if kind in (int, float, str):
                return kind(text)
            return orjson.loads(text)  # a setting of another type: given as JSON
        except (ValueError, orjson.JSONDecodeError):
            what = {int: "a whole number", float: "a number"}.get(kind, "JSON")
            raise argparse.ArgumentTypeError(f"must be {what}{' or none' if optional else ''}, got {text!r}") from None

    return parse


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    return repr(value) if isinstance(value, str) else str(value)


def config_from(args: argparse.Namespace) -> MockConfig:
    """The ``MockConfig`` the options describe (unset options keep the config's defaults)."""
    values = {name[len(DEST) :]: value for name, value in vars(args).items() if name.startswith(DEST)}
    try:
        return MockConfig(**values)
    except (TypeError, ValueError) as exc:
        message = str(exc)
        for name in values:  # "output_tokens must be >= 0" -> "--output-tokens must be >= 0"
            if message.startswith(name + " "):
                message = "--" + name.replace("_", "-") + message[len(name) :]
        raise UsageError(message) from None


def run(args: argparse.Namespace) -> int:
    """Run ``serve`` until interrupted; exit status 0, 1 (cannot listen), 2 (bad arguments)."""
    config = config_from(args)
    if args.print_config:
        write_json(dataclasses.asdict(config), sys.stdout.buffer, indent=True)
        return OK
    if not args.ui and (args.base_url or args.api_key):
        raise UsageError(f"{'--base-url' if args.base_url else '--api-key'} is for the chat page: add --ui")
    if args.ui and args.workers > 1:
        raise UsageError("--ui serves the page from one process: drop --workers")
    try:
        import uvicorn  # noqa: F401  (checked before anything is printed)

        from ..mock import serve
    except ImportError:
        raise UsageError("the mock server needs uvicorn (the 'server' extra): pip install uvicorn") from None
    if args.ui:
        try:
            from ..ui import serve as serve_page
        except ImportError:
            raise UsageError("--ui needs Starlette (the 'server' extra): pip install starlette") from None
    port = _free_to_listen(args.host, args.port)
    if port is None:
        return FAILED
    sys.stdout.write(banner(args.host, port, config, ui=args.ui, upstream=args.base_url))
    sys.stdout.flush()
    if args.ui:
        serve_page(
            config,
            host=args.host,
            port=port,
            quiet=args.quiet,
            base_url=args.base_url,
            api_key=args.api_key or os.environ.get("OPENAI_API_KEY"),
            model=config.model or "mock",
        )
    else:
        serve(config, host=args.host, port=port, quiet=args.quiet, workers=args.workers)
    return OK


def _free_to_listen(host: str, port: int) -> int | None:
    """Try ``host:port`` before uvicorn does, so a port in use is one clear line: the port
    to serve on (for port 0, a free one found now), or None once the error is said."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise UsageError(f"--host {host}: {exc.strerror}") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            error(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
            return None
        return int(probe.getsockname()[1])


def banner(host: str, port: int, config: MockConfig, *, ui: bool = False, upstream: str | None = None) -> str:
    """What ``serve`` prints on start: where it listens, the base URL, a request to copy
    (and with ``ui``, the chat page's address and where its answers come from)."""
    shown = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    if ":" in shown:
        shown = f"[{shown}]"  # an IPv6 address in a URL
    base = f"http://{shown}:{port}/v1"
    body = orjson.dumps(
        {"model": config.model or "mock", "stream": True, "messages": [{"role": "user", "content": "Hello!"}]}
    ).decode()
    curl = f"curl -N {base}/chat/completions -H 'content-type: application/json' -d {shlex.quote(body)}"
    page = f"chat page: http://{shown}:{port}/   (answers from {upstream or 'this mock server'})\n" if ui else ""
    return (
        f"streamfold mock server on {host}:{port} (Ctrl-C stops it)\n"
        f"base URL:  {base}   (streamfold chat hi --base-url {base}, or OPENAI_BASE_URL={base})\n"
        f"try it:    {curl}\n{page}"
    )
