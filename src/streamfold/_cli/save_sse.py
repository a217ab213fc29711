"""``chat --save-sse FILE``: keep the bytes of the answer, for ``streamfold fold FILE``.

The client's ``on_read`` hook hands every read of the answer's body to ``Saver.write``,
which copies it to the file as it arrives, so the file holds what arrived even when the
stream fails or is interrupted.  The request asks for no compression
(``accept-encoding: identity``); a compressed answer would be saved decompressed anyway,
as the client reads it.
"""

from __future__ import annotations

from typing import IO

#: Header the saving client sends, so the server has no reason to compress.
IDENTITY = {"accept-encoding": "identity"}


class Saver:
    """Copies each read of the answer to ``out``, flushed at once."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out

    def write(self, arrived: float, piece: bytes) -> None:
        self._out.write(piece)
        self._out.flush()
