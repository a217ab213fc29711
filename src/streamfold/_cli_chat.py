"""``python -m streamfold chat "question"``: stream an answer live, then print the stats.

With no ``--base-url`` (and no ``OPENAI_BASE_URL``) the built-in mock server answers, so the
command works on any machine, offline and without a key.  The answer is read by
``AsyncClient`` on uvloop when it is installed (``streamfold.run``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

from . import IMPLEMENTATION
from ._errors import StreamError
from ._run import run as run_async
from .client import APIError, AsyncChatStream, AsyncClient, StreamStats

MOCK_ANSWER = (
    "This answer comes from streamfold's built-in mock server, because no base URL was given. "
    "It streams these words one token at a time, the way an OpenAI-compatible server does, and "
    "streamfold folds them as they arrive. Pass --base-url and --model (and set OPENAI_API_KEY) "
    "to ask a real model."
)
MOCK_MODEL = "mock-gpt"
DEFAULT_MODEL = "gpt-4o-mini"


def add_parser(commands: Any) -> None:
    """The ``chat`` subcommand's arguments."""
    chat = commands.add_parser(
        "chat", help="ask a question and stream the answer (the mock server answers without --base-url)",
        description="Stream a chat completion live, then print timing and token statistics on stderr. "
        "Without --base-url or OPENAI_BASE_URL, streamfold's mock server answers (needs the 'server' extra).",
    )
    chat.add_argument("question", help="the user message")
    chat.add_argument("--base-url", help="an OpenAI-compatible API, e.g. https://api.openai.com/v1 "
                      "(default: OPENAI_BASE_URL, else the built-in mock)")
    chat.add_argument("--model", help=f"model name (default {DEFAULT_MODEL}; {MOCK_MODEL} with the mock)")
    chat.add_argument("--api-key", help="API key (default: OPENAI_API_KEY)")
    chat.add_argument("--system", help="a system message to send first")
    chat.add_argument("--max-tokens", type=int, metavar="N", help="max_completion_tokens for the answer")
    chat.add_argument("--temperature", type=float, metavar="T")
    chat.add_argument("--timeout", type=float, default=600.0, metavar="S", help="seconds (default 600)")
    chat.add_argument("--max-retries", type=int, default=2, metavar="N", help="retries before the answer begins")
    chat.add_argument("--json", action="store_true", help="print the folded completion as JSON at the end")
    chat.set_defaults(run=run)


@contextlib.contextmanager
def _endpoint(base_url: str | None) -> Iterator[tuple[str, bool]]:
    """The base URL to use, starting the mock server when there is none."""
    base_url = base_url or os.environ.get("OPENAI_BASE_URL")
    if base_url:
        yield base_url, False
        return
    from .mock import MockConfig, MockServer

    config = MockConfig(text=MOCK_ANSWER, output_tokens=len(MOCK_ANSWER.split()), ttft=0.15, itl=0.03,
                        jitter=0.5, model=MOCK_MODEL)
    with MockServer(config) as server:
        yield server.base_url, True


def run(args: argparse.Namespace) -> int:
    """Run ``chat``; the exit status is 0, 1 (the request or the stream failed) or 2 (bad setup)."""
    try:
        with _endpoint(args.base_url) as (base_url, mock):
            if mock:
                print(f"(no --base-url: answering from the built-in mock server at {base_url})", file=sys.stderr)
            return run_async(_ask(args, base_url, mock))
    except ImportError as exc:  # the mock needs uvicorn
        print(f"streamfold: {exc}", file=sys.stderr)
        return 2


async def _ask(args: argparse.Namespace, base_url: str, mock: bool) -> int:
    messages = [{"role": "system", "content": args.system}] if args.system else []
    messages.append({"role": "user", "content": args.question})
    request: dict[str, Any] = {"model": args.model or (MOCK_MODEL if mock else DEFAULT_MODEL), "messages": messages}
    if args.max_tokens is not None:
        request["max_completion_tokens"] = args.max_tokens
    if args.temperature is not None:
        request["temperature"] = args.temperature
    out = sys.stdout
    async with AsyncClient(base_url=base_url, api_key=args.api_key, timeout=args.timeout,
                           max_retries=args.max_retries) as client:
        stream = client.stream_chat(**request)
        shown = 0  # characters of the answer written so far
        try:
            async with stream:
                async for text in stream.text():
                    out.write(text)
                    out.flush()
                    shown += len(text)
                completion = await stream.result()
        except (APIError, StreamError) as exc:
            out.write(_unshown_text(exc.partial, shown) + "\n")
            print(f"streamfold: error: {exc}", file=sys.stderr)
            _print_stats(stream.stats, stream)
            return 1
    out.write("\n")
    for call in completion["choices"][0]["message"].get("tool_calls") or []:
        print(f"[tool call] {call['function']['name']}({call['function']['arguments']})", file=sys.stderr)
    if args.json:
        import orjson

        sys.stdout.buffer.write(orjson.dumps(completion, option=orjson.OPT_INDENT_2) + b"\n")
    _print_stats(stream.stats, stream, completion)
    return 0


def _unshown_text(partial: dict[str, Any] | None, shown: int) -> str:
    """The text of a failed stream's partial completion beyond what was written (text that
    came in the same read as an in-band error is in the partial only)."""
    choices = (partial or {}).get("choices") or []
    content = choices[0].get("message", {}).get("content") if choices else None
    return content[shown:] if isinstance(content, str) else ""


def _print_stats(stats: StreamStats, stream: AsyncChatStream, completion: dict[str, Any] | None = None) -> None:
    def ms(seconds: float | None) -> str:
        return "-" if seconds is None else f"{seconds * 1000:.0f} ms"

    parts = []
    if completion is not None:
        parts.append(f"model {completion.get('model') or '?'}")
        parts.append(f"finish {completion['choices'][0].get('finish_reason') if completion['choices'] else '-'}")
    parts += [f"{stats.chunks} chunks", f"first byte {ms(stats.time_to_first_byte)}",
              f"first token {ms(stats.time_to_first_content)}", f"total {ms(stats.duration)}"]
    if stats.output_tokens is not None:
        parts.append(f"{stats.output_tokens} output tokens")
    if stats.output_tokens_per_second is not None:
        parts.append(f"{stats.output_tokens_per_second:.1f} tokens/s")
    if stats.attempts > 1:
        parts.append(f"{stats.attempts} attempts")
    parts.append(f"{IMPLEMENTATION} core")
    print("-- " + " | ".join(parts), file=sys.stderr)
