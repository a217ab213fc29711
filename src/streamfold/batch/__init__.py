"""``streamfold batch``: many chat completions from a JSONL file (OpenAI Batch API format),
streamed, rate-limited, resumable, each written as one output line as it finishes.

``run(input, output, **options)`` (and ``await arun(...)``) runs a whole file, or an
iterable of request dicts, into ``output``, skipping every ``custom_id`` already in it;
the options are ``BatchOptions``'s.  The engine underneath, ``fold_requests``, takes
requests and a callback and returns a ``Summary``.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from ._input import InvalidLine, Request, Source, read_requests
from ._limits import Limiter, estimate_tokens
from ._output import OutputFile, ReorderBuffer, record_for
from ._runner import BatchOptions, fold_requests
from ._summary import Summary

__all__ = [
    "BatchOptions",
    "InvalidLine",
    "Limiter",
    "OutputFile",
    "ReorderBuffer",
    "Request",
    "Summary",
    "arun",
    "estimate_tokens",
    "fold_requests",
    "read_requests",
    "record_for",
    "run",
]


async def arun(
    input: Source,
    output: str | os.PathLike[str],
    *,
    stop: asyncio.Event | None = None,
    abandon: asyncio.Event | None = None,
    live: Summary | None = None,
    **options: Any,
) -> Summary:
    """Run the requests of ``input`` (a JSONL path, or an iterable of request dicts) into the
    JSONL file ``output``, skipping the custom_ids already there (resume).  ``options``:
    those of ``BatchOptions`` (``base_url``, ``concurrency``, ``rpm``, ``tpm``, ``ordered``...);
    ``stop`` / ``abandon`` / ``live``: those of ``fold_requests``."""
    batch_options = BatchOptions(**options)
    out = OutputFile(output)
    done = out.done_ids()
    with out:
        return await fold_requests(
            read_requests(input), batch_options, out.append, skip=done, stop=stop, abandon=abandon, live=live
        )


def run(input: Source, output: str | os.PathLike[str], **options: Any) -> Summary:
    """``arun`` in a new event loop (uvloop's when installed); returns the ``Summary``."""
    from .._run import run as run_loop

    return run_loop(arun(input, output, **options))
