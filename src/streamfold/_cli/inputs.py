"""The inputs of ``fold``: files, stdin (``-``) or the bundled sample, read as they arrive.

Each ``Input`` counts its bytes and keeps its first ``HEAD_BYTES``, so that an input
holding no stream can be described (see ``diagnose``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from importlib import resources
from typing import IO

from .common import UsageError

#: Bytes asked for per read; a pipe gives what it has (``read1``), so a live stream is
#: folded as it arrives.
READ_SIZE = 64 * 1024
#: How much of the start of an input is kept to describe it.
HEAD_BYTES = 1 << 20
SAMPLE = "(the bundled sample)"


class Input:
    """One input: ``label`` names it in messages, ``path`` is what the user gave (None: the sample)."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.label = SAMPLE if path is None else ("stdin" if path == "-" else path)
        self.size = 0
        self.head = b""

    def _open(self) -> IO[bytes]:
        if self.path is None:
            return resources.files("streamfold").joinpath("data/sample.sse").open("rb")
        if self.path == "-":
            return sys.stdin.buffer
        return open(self.path, "rb")

    def pieces(self) -> Iterator[bytes]:
        """The input's bytes, piece by piece, as they arrive (``OSError`` if it cannot be read)."""
        stream = self._open()
        read = getattr(stream, "read1", stream.read)
        try:
            while True:
                piece = read(READ_SIZE)
                if not piece:
                    return
                self.size += len(piece)
                if len(self.head) < HEAD_BYTES:
                    self.head += piece[: HEAD_BYTES - len(self.head)]
                yield piece
        finally:
            if self.path != "-":
                stream.close()

    @property
    def whole_head(self) -> bool:
        """True when ``head`` holds the whole input."""
        return self.size == len(self.head)


def inputs_from(paths: list[str]) -> list[Input]:
    """The inputs named on the command line (none: the bundled sample); a file that cannot
    be read is a usage error, reported before any work."""
    if paths.count("-") > 1:
        raise UsageError("stdin ('-') can be read only once")
    for path in paths:
        if path == "-":
            continue
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    return [Input(path) for path in paths] if paths else [Input(None)]
