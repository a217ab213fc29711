"""The output of a batch: Batch API output lines, appended crash-safely, read back to resume.

Each record is one line, written with one ``os.write`` of the whole line on a file opened
in append mode, with no buffer in between: a process that is killed leaves either the
whole line or (rarely: a write cut short by a full disk or a kill inside the kernel) a
last line without its newline, which ``done_ids`` detects and cuts off before the next
run appends.  There is no fsync per line (it would cost a disk flush per request): lines
written survive the death of the process at once, and an operating system crash at worst
loses the last ones, which a resumed run then sends again.  ``close`` fsyncs.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

from ._input import InvalidLine
from ._keys import KeySet

#: The error code of a record for an input line that could not be run.
INVALID = "invalid_request"


def line_key(line: int) -> str:
    """The key by which a resumed run knows an invalid input line was already reported (it may
    have no custom_id, or a duplicate one)."""
    return f"\0line:{line}"


def record_key(record: dict[str, Any]) -> str | None:
    """The custom_id a record stands for, or ``line_key`` for an invalid line's record."""
    error = record.get("error")
    if isinstance(error, dict) and error.get("code") == INVALID:
        line = (record.get("streamfold") or {}).get("line")
        return line_key(line) if isinstance(line, int) else None
    custom_id = record.get("custom_id")
    return custom_id if isinstance(custom_id, str) else None


# -- records -------------------------------------------------------------------------------


def record_for(
    custom_id: str | None,
    *,
    line: int,
    status_code: int | None,
    request_id: str | None,
    body: Any,
    error: dict[str, str] | None,
    stats: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One Batch API output record, with streamfold's stats of the request as ``streamfold``
    (and ``line``, its input line).  ``response`` is null when no answer came at all."""
    response = None if status_code is None else {"status_code": status_code, "request_id": request_id, "body": body}
    return {
        "id": f"batch_req_{uuid.uuid4().hex}",
        "custom_id": custom_id,
        "response": response,
        "error": error,
        "streamfold": {"line": line, **(stats or {})},
    }


def error_of(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


def record_for_invalid(invalid: InvalidLine) -> dict[str, Any]:
    """The error record of an input line that could not be run."""
    return record_for(
        invalid.custom_id,
        line=invalid.line,
        status_code=None,
        request_id=None,
        body=None,
        error=error_of(INVALID, invalid.message),
    )


# -- the file ------------------------------------------------------------------------------


class OutputFile:
    """The output JSONL file, to append to (``with OutputFile(path) as out: out.append(record)``)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fd: int | None = None
        #: bytes cut off the end by ``done_ids`` (a line a killed process did not finish)
        self.truncated = 0

    def done_ids(self) -> KeySet:
        """The keys (``record_key``) of the records already in the file; a last line with no
        newline, or one that is not a whole JSON record, is cut off the file."""
        done = KeySet()
        if not self.path.exists():
            return done
        good_end = 0
        with self.path.open("rb") as lines:
            for raw in lines:
                if not raw.endswith(b"\n"):
                    break
                try:
                    record = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    break
                key = record_key(record) if isinstance(record, dict) else None
                if key is not None:
                    done.add(key)
                good_end += len(raw)
        size = self.path.stat().st_size
        if size > good_end:
            self.truncated = size - good_end
            os.truncate(self.path, good_end)
        return done

    def open(self) -> OutputFile:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        return self

    def append(self, record: dict[str, Any]) -> None:
        """Write ``record`` as one line: one write of the whole line (a short write, which a
        regular file makes only when the disk is full, goes on from where it stopped)."""
        if self._fd is None:
            self.open()
        assert self._fd is not None
        data = memoryview(orjson.dumps(record) + b"\n")
        while data:
            written = os.write(self._fd, data)
            data = data[written:]

    def close(self) -> None:
        """fsync and close (safe to call more than once)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def __enter__(self) -> OutputFile:
        return self.open()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


# -- input order ---------------------------------------------------------------------------


class ReorderBuffer:
    """Records back in input order, with at most ``window`` of them started and not yet written.

    The runner numbers what it starts (0, 1, 2...), awaits ``admit(index)`` before starting
    it (which waits while ``index`` is ``window`` or more ahead of the oldest unwritten one),
    and hands every record to ``put``; records go to ``emit`` in their order.  ``drop`` says
    an index will have no record (abandoned); ``flush`` writes what is held, in order, gaps
    skipped (at a stop).
    """

    def __init__(self, emit: Callable[[dict[str, Any]], None], window: int) -> None:
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self._emit = emit
        self.window = window
        self._next = 0
        self._held: dict[int, dict[str, Any] | None] = {}
        self._moved = asyncio.Event()

    @property
    def held(self) -> int:
        return len(self._held)

    async def admit(self, index: int) -> None:
        while index >= self._next + self.window:
            self._moved.clear()
            await self._moved.wait()

    def put(self, index: int, record: dict[str, Any] | None) -> None:
        self._held[index] = record
        moved = False
        while self._next in self._held:
            ready = self._held.pop(self._next)
            if ready is not None:
                self._emit(ready)
            self._next += 1
            moved = True
        if moved:
            self._moved.set()

    def drop(self, index: int) -> None:
        self.put(index, None)

    def flush(self) -> None:
        for index in sorted(self._held):
            ready = self._held.pop(index)
            if ready is not None:
                self._emit(ready)
        self._moved.set()
