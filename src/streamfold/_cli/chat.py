"""``streamfold chat QUESTION``: stream an answer live, then print the stats.

With no ``--base-url`` (and no ``OPENAI_BASE_URL``) the built-in mock server answers, so the
command works on any machine, offline and without a key.  The answer goes to stdout as
it arrives; with ``--json`` stdout is the folded completion alone (a JSON document) and
the live answer goes to stderr, or nowhere with ``--quiet``.  The answer is read by
``AsyncClient`` on uvloop when it is installed (``streamfold.run``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from typing import IO, Any
from urllib.parse import urlsplit

import orjson

from .. import IMPLEMENTATION, StreamError
from .._run import run as run_async
from ..client import APIError, AsyncChatStream, AsyncClient, StreamStats, Timeout
from .common import (
    FAILED,
    INTERRUPTED,
    OK,
    PROG,
    UsageError,
    error,
    non_negative_int,
    positive_int,
    report_partial,
    seconds_or_none,
    write_json,
)
from .save_sse import IDENTITY, Saver

MOCK_ANSWER = (
    "This answer comes from streamfold's built-in mock server, because no base URL was given. "
    "It streams these words one token at a time, the way an OpenAI-compatible server does, and "
    "streamfold folds them as they arrive. Pass --base-url and --model (and set OPENAI_API_KEY) "
    "to ask a real model."
)
MOCK_MODEL = "mock-gpt"
DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_TIMEOUT = 600.0
#: Keywords of ``Client.stream_chat`` that are not request members.
CLIENT_OPTIONS = frozenset(
    {"extra_headers", "timeout", "raise_on_truncation", "parse_partial_arguments", "max_event_bytes", "on_read"}
)


def base_url(text: str) -> str:
    """``--base-url``: an http(s) URL with a host (checked here, not by three failed retries)."""
    problem = url_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def url_problem(text: str) -> str | None:
    """Why ``text`` is not a usable base URL, or None."""
    parts = urlsplit(text.strip())
    if parts.scheme.lower() not in ("http", "https"):
        bare = text.strip()
        if "://" not in bare and " " not in bare and ("." in bare or ":" in bare or bare.startswith("localhost")):
            return f"{text!r} has no scheme: did you mean http://{bare}?"
        return f"{text!r} is not an http:// or https:// URL"
    try:
        _ = parts.port
    except ValueError:
        return f"{text!r} has a port out of range (1 to 65535)"
    if not parts.hostname:
        return f"{text!r} has no host"
    return None


def add_parser(commands: Any) -> None:
    """The ``chat`` subcommand's arguments."""
    chat = commands.add_parser(
        "chat",
        help="ask a question and stream the answer (the mock server answers without --base-url)",
        description="Stream a chat completion live, then print timing and token statistics on stderr. "
        "Without --base-url or OPENAI_BASE_URL, streamfold's mock server answers (needs the 'server' extra). "
        "Exit status 1 when the request or the stream fails, 130 when interrupted.",
    )
    chat.add_argument("question", help="the user message ('-' reads it from stdin)")
    server = chat.add_argument_group("server")
    server.add_argument(
        "--base-url",
        type=base_url,
        help="an OpenAI-compatible API, e.g. https://api.openai.com/v1 "
        "(default: OPENAI_BASE_URL, else the built-in mock)",
    )
    server.add_argument("--api-key", help="API key (default: OPENAI_API_KEY)")
    server.add_argument(
        "--timeout",
        type=seconds_or_none,
        default=DEFAULT_TIMEOUT,
        metavar="S|none",
        help=f"seconds allowed to connect and between two reads (default {DEFAULT_TIMEOUT:.0f})",
    )
    server.add_argument(
        "--max-retries",
        type=non_negative_int,
        default=2,
        metavar="N",
        help="retries before the answer begins (default 2)",
    )
    request = chat.add_argument_group("request")
    request.add_argument("--model", help=f"model name (default {DEFAULT_MODEL}; {MOCK_MODEL} with the mock)")
    request.add_argument("--system", help="a system message to send first")
    request.add_argument("--max-tokens", type=positive_int, metavar="N", help="max_completion_tokens for the answer")
    request.add_argument("--temperature", type=float, metavar="T")
    request.add_argument(
        "--n", type=positive_int, metavar="N", help="answers to generate (the first is shown live, the others after it)"
    )
    request.add_argument("--tools", metavar="FILE.json", help="a JSON file holding the request's list of tools")
    request.add_argument(
        "--body",
        metavar="JSON|@FILE",
        help="more members of the request body, as a JSON object (or @FILE holding one); they override the flags",
    )
    output = chat.add_argument_group("output")
    output.add_argument(
        "--json",
        action="store_true",
        help="print the folded completion as JSON on stdout (the live answer goes to stderr)",
    )
    output.add_argument(
        "--quiet",
        action="store_true",
        help="no live answer with --json, no statistics, no notices: errors only on stderr",
    )
    output.add_argument("--save-sse", metavar="FILE", help="save the raw event stream to FILE (for streamfold fold)")
    chat.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run ``chat``; exit status 0, 1 (the request or the stream failed), 2 (bad arguments), 130."""
    request = _request(args)
    url = args.base_url or os.environ.get("OPENAI_BASE_URL") or None
    if url and url_problem(url):
        raise UsageError(f"OPENAI_BASE_URL: {url_problem(url)}")
    with _saving(args.save_sse) as saved, _endpoint(url) as (url, mock):
        if mock and not args.quiet:
            print(f"(no --base-url: answering from the built-in mock server at {url})", file=sys.stderr)
        request.setdefault("model", MOCK_MODEL if mock else DEFAULT_MODEL)
        return _ask(args, url, request, saved)


def _request(args: argparse.Namespace) -> dict[str, Any]:
    """The request body the flags describe (``model`` left out when not given)."""
    question = args.question
    if question == "-":
        try:
            question = sys.stdin.buffer.read().decode("utf-8").strip()
        except UnicodeDecodeError:
            raise UsageError("the question on stdin is not UTF-8 text") from None
        if not question:
            raise UsageError("no question on stdin")
    messages = [{"role": "system", "content": args.system}] if args.system else []
    messages.append({"role": "user", "content": question})
    request: dict[str, Any] = {"messages": messages}
    if args.model:
        request["model"] = args.model
    if args.max_tokens is not None:
        request["max_completion_tokens"] = args.max_tokens
    if args.temperature is not None:
        request["temperature"] = args.temperature
    if args.n is not None:
        request["n"] = args.n
    if args.tools:
        request["tools"] = _tools(args.tools)
    if args.body:
        request.update(_body(args.body))
    if request.get("stream") is False:
        raise UsageError('--body: chat always streams; leave out "stream": false')
    return request


def _tools(path: str) -> list[Any]:
    tools = _json_file(path, "--tools")
    if isinstance(tools, dict) and isinstance(tools.get("tools"), list):
        tools = tools["tools"]  # a request body, or a saved {"tools": [...]}
    elif isinstance(tools, dict):
        tools = [tools]  # one tool
    if not isinstance(tools, list) or not all(isinstance(tool, dict) for tool in tools):
        raise UsageError(f"--tools: {path} must hold a JSON list of tools (objects)")
    return tools


def _body(text: str) -> dict[str, Any]:
    if text.startswith("@"):
        body = _json_file(text[1:], "--body")
    else:
        try:
            body = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise UsageError(f"--body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise UsageError("--body must be a JSON object (members of the request body)")
    clashing = sorted(set(body) & CLIENT_OPTIONS)
    if clashing:
        raise UsageError(f"--body: {', '.join(clashing)} would be taken as the client's own option, not sent")
    return body


def _json_file(path: str, option: str) -> Any:
    try:
        with open(path, "rb") as file:
            return orjson.loads(file.read())
    except OSError as exc:
        raise UsageError(f"{option}: cannot read {path}: {exc.strerror or exc}") from None
    except orjson.JSONDecodeError as exc:
        raise UsageError(f"{option}: {path} is not JSON: {exc}") from None


@contextlib.contextmanager
def _saving(path: str | None) -> Iterator[Saver | None]:
    if path is None:
        yield None
        return
    try:
        out = open(path, "wb")  # noqa: SIM115 (opened first, so that a failure is a usage error)
    except OSError as exc:
        raise UsageError(f"--save-sse: cannot write {path}: {exc.strerror or exc}") from None
    with out:
        yield Saver(out)


@contextlib.contextmanager
def _endpoint(url: str | None) -> Iterator[tuple[str, bool]]:
    """The base URL to use, starting the mock server when there is none."""
    if url:
        yield url, False
        return
    try:
        from ..mock import MockConfig, MockServer

        config = MockConfig(
            text=MOCK_ANSWER, output_tokens=len(MOCK_ANSWER.split()), ttft=0.15, itl=0.03, jitter=0.5, model=MOCK_MODEL
        )
        server = MockServer(config)
    except ImportError as exc:  # the mock needs uvicorn
        raise UsageError(f"{exc} (or pass --base-url)") from None
    with server:
        yield server.base_url, True


def _ask(args: argparse.Namespace, url: str, request: dict[str, Any], saved: Saver | None) -> int:
    timeout = Timeout(connect=args.timeout, read=args.timeout)  # None: no limit
    return run_async(_ask_async(args, url, request, saved, timeout))


async def _ask_async(
    args: argparse.Namespace, url: str, request: dict[str, Any], saved: Saver | None, timeout: Timeout
) -> int:
    async with AsyncClient(base_url=url, api_key=args.api_key, timeout=timeout, max_retries=args.max_retries) as client:
        return await _stream(args, client, request, saved)


async def _stream(args: argparse.Namespace, client: AsyncClient, request: dict[str, Any], saved: Saver | None) -> int:
    live = _Answer(sys.stderr if args.json else sys.stdout, quiet=args.quiet and args.json)
    options: dict[str, Any] = {} if saved is None else {"extra_headers": IDENTITY, "on_read": saved.write}
    try:
        stream = client.stream_chat(**request, **options)
    except orjson.JSONEncodeError as exc:  # e.g. an argument that is not UTF-8
        raise UsageError(f"the request cannot be sent as JSON: {exc}") from None
    ctrl_c = _CtrlC()
    try:
        with ctrl_c:
            async with stream:
                async for event in stream:
                    if event.choice_index == 0 and event.type == "content.delta":
                        live.write(event.delta)  # type: ignore[attr-defined]
                completion = await stream.result()
    except (APIError, StreamError) as exc:
        live.write(_unshown(exc.partial, live.shown))  # what came in the same read as the error
        live.end_line()
        error(str(exc))
        return _failed(args, stream, exc.partial, FAILED)
    except asyncio.CancelledError:
        if not ctrl_c.fired:
            raise
        ctrl_c.forget()
        live.end_line()
        sys.stderr.write(f"{PROG}: interrupted after {stream.stats.chunks} chunks\n")
        return _failed(args, stream, stream.partial, INTERRUPTED)
    live.end_line()
    _show_rest(completion, live)
    if args.json:
        write_json(completion, sys.stdout.buffer, indent=True)
    if not args.quiet:
        _print_stats(stream.stats, completion)
    return OK


class _CtrlC:
    """While the answer is read, Ctrl-C cancels the reading task (the same on every Python
    and event loop), so that what arrived and its statistics can still be shown."""

    def __init__(self) -> None:
        self.fired = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None

    def _fire(self) -> None:
        self.fired = True
        if self._task is not None:
            self._task.cancel()

    def __enter__(self) -> _CtrlC:
        self._task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGINT, self._fire)
        except (NotImplementedError, RuntimeError, ValueError):  # no such signal handling here
            return self
        self._loop = loop
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._loop is not None:
            self._loop.remove_signal_handler(signal.SIGINT)
            self._loop = None

    def forget(self) -> None:
        """The cancellation was ours and is handled: the task goes on (Python 3.11+ counts it)."""
        if self._task is not None and hasattr(self._task, "uncancel"):
            self._task.uncancel()


def _unshown(partial: dict[str, Any] | None, shown: int) -> str:
    """The text of the first answer in ``partial`` beyond the ``shown`` characters."""
    choices = (partial or {}).get("choices") or []
    return _text((choices[0].get("message") or {}).get("content"))[shown:] if choices else ""


def _failed(args: argparse.Namespace, stream: AsyncChatStream, partial: dict[str, Any] | None, status: int) -> int:
    if args.json:  # the live text was not on stdout: keep what arrived
        hint = "--save-sse FILE keeps the whole stream" if args.save_sse is None else f"{args.save_sse} has it all"
        report_partial(partial, whole_with=hint)
    if not args.quiet:
        _print_stats(stream.stats)
    return status


class _Answer:
    """Where the answer is written as it arrives, remembering whether its line is open."""

    def __init__(self, out: IO[str], *, quiet: bool) -> None:
        self.out = None if quiet else out
        self._open = False
        #: characters of the first answer written so far
        self.shown = 0

    def write(self, text: str) -> None:
        self.shown += len(text)
        if self.out is not None and text:
            self.out.write(text)
            self.out.flush()
            self._open = not text.endswith("\n")

    def end_line(self) -> None:
        if self._open and self.out is not None:
            self.out.write("\n")
            self.out.flush()
        self._open = False


def _show_rest(completion: dict[str, Any], live: _Answer) -> None:
    """After the live text of the first answer: its tool calls and refusal, then the other answers."""
    for position, choice in enumerate(completion["choices"]):
        message = choice.get("message") or {}
        if position:
            live.write(f"--- answer {choice.get('index', position)} ---\n")
            live.write(_text(message.get("content")))
            live.end_line()
        if message.get("refusal"):
            live.write(f"[refusal] {message['refusal']}\n")
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            live.write(f"[tool call] {function.get('name')}({function.get('arguments')})\n")


def _text(content: Any) -> str:
    """The answer's text: ``content`` itself, or the text of its ``text`` parts (Mistral's lists)."""
    if isinstance(content, list):
        return "".join(
            str(part.get("text") or "") for part in content if isinstance(part, dict) and part.get("type") == "text"
        )
    return content if isinstance(content, str) else ""


def _print_stats(stats: StreamStats, completion: dict[str, Any] | None = None) -> None:
    def ms(seconds: float | None) -> str:
        return "-" if seconds is None else f"{seconds * 1000:.0f} ms"

    parts = []
    if completion is not None:
        parts.append(f"model {completion.get('model') or '?'}")
        finishes = [str(choice.get("finish_reason")) for choice in completion["choices"]] or ["-"]
        parts.append(f"finish {', '.join(finishes)}")
    parts += [
        f"{stats.chunks} chunks",
        f"first byte {ms(stats.time_to_first_byte)}",
        f"first token {ms(stats.time_to_first_content)}",
        f"total {ms(stats.duration)}",
    ]
    if stats.output_tokens is not None:
        parts.append(f"{stats.output_tokens} output tokens")
    if stats.output_tokens_per_second is not None:
        parts.append(f"{stats.output_tokens_per_second:.1f} tokens/s")
    if stats.attempts > 1:
        parts.append(f"{stats.attempts} attempts")
    parts.append(f"{IMPLEMENTATION} core")
    print("-- " + " | ".join(parts), file=sys.stderr)
