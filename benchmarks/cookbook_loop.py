"""The loop a user writes today around ``AsyncOpenAI``: the batch section's peer.

Run as its own command, the way ``streamfold batch`` is::

    python benchmarks/cookbook_loop.py INPUT.jsonl -o OUTPUT.jsonl --base-url URL --concurrency N

The pattern of the openai-cookbook's parallel processor, reduced to what a batch of streams
needs: read the Batch-API JSONL line by line, an ``asyncio.Semaphore`` for the number in
flight, ``await client.chat.completions.create(stream=True)`` for each request, its chunks
accumulated with openai-python's own ``ChatCompletionStreamState``, and one JSON line per
finished request written as it finishes (``custom_id`` and the completion, or the error).
No rate limits and no resume, and only the openai client's own retries (two, its default):
the peer does what the loop in a notebook does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

#: Idle connections the pool keeps: the openai client's default.
KEEPALIVE = 100


def _client(base_url: str, concurrency: int) -> Any:
    """An ``AsyncOpenAI`` whose pool has room for ``concurrency`` streams, with openai's default retries."""
    import httpx
    import openai

    limits = httpx.Limits(max_connections=max(1000, concurrency + 16), max_keepalive_connections=KEEPALIVE)
    http = openai.DefaultAsyncHttpxClient(limits=limits, timeout=120.0)
    return openai.AsyncOpenAI(base_url=base_url, api_key="cookbook", http_client=http)


async def _one(client: Any, request: dict[str, Any], gate: asyncio.Semaphore, out: TextIO) -> bool:
    """Send one request, fold its stream, write its line; True if it succeeded."""
    from openai.lib.streaming.chat import ChatCompletionStreamState

    body = dict(request["body"], stream=True, stream_options={"include_usage": True})
    async with gate:
        state = ChatCompletionStreamState()
        try:
            stream = await client.chat.completions.create(**body)
            async with stream:
                async for chunk in stream:
                    state.handle_chunk(chunk)
            record = {"custom_id": request["custom_id"], "response": state.get_final_completion().model_dump()}
            ok = True
        except Exception as exc:  # a user's loop writes the failure and goes on
            record = {"custom_id": request["custom_id"], "error": f"{type(exc).__name__}: {exc}"}
            ok = False
    out.write(json.dumps(record) + "\n")
    return ok


async def process(input_path: str, output_path: str, base_url: str, concurrency: int) -> tuple[int, int]:
    """Run every request of ``input_path``; returns (succeeded, failed)."""
    gate = asyncio.Semaphore(concurrency)
    pending: set[asyncio.Task[bool]] = set()
    succeeded = failed = 0
    async with _client(base_url, concurrency) as client:
        with open(input_path, encoding="utf-8") as lines, open(output_path, "w", encoding="utf-8") as out:
            for line in lines:
                if not line.strip():
                    continue
                # keep the queue of waiting tasks short, as the cookbook's loop does with its
                # own queue, so the input is streamed rather than loaded
                while len(pending) >= 2 * concurrency:
                    finished, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                    for task in finished:
                        succeeded, failed = (succeeded + 1, failed) if task.result() else (succeeded, failed + 1)
                pending.add(asyncio.create_task(_one(client, json.loads(line), gate, out)))
            for task in asyncio.as_completed(pending):
                if await task:
                    succeeded += 1
                else:
                    failed += 1
    return succeeded, failed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("input")
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--concurrency", type=int, default=256)
    args = parser.parse_args(argv)
    succeeded, failed = asyncio.run(process(args.input, args.output, args.base_url, args.concurrency))
    print(json.dumps({"succeeded": succeeded, "failed": failed}))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
