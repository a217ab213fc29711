"""``chat --save-sse FILE``: keep the raw bytes of the answer, for ``streamfold fold FILE``.

An httpx transport that hands every request to the real one and copies the body of a
successful answer to the file as it is read, so the file holds what arrived even when
the stream fails or is interrupted.  The request asks for no compression
(``accept-encoding: identity``), so the bytes on the wire are the event stream itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

import httpx

#: Header the saving client sends, so the saved bytes are not compressed.
IDENTITY = {"accept-encoding": "identity"}


class SavingTransport(httpx.BaseTransport):
    """Sends requests with ``inner`` and copies each 2xx answer's body to ``out`` (the last one kept)."""

    def __init__(self, out: IO[bytes], inner: httpx.BaseTransport | None = None) -> None:
        self._out = out
        self._inner = inner or httpx.HTTPTransport()
        #: the content-encoding of the saved answer, if the server compressed it anyway
        self.encoding: str | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        if not 200 <= response.status_code < 300:
            return response
        self._out.seek(0)
        self._out.truncate()
        assert isinstance(response.stream, httpx.SyncByteStream)  # a sync transport's answer
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        self.encoding = None if encoding == "identity" else encoding
        return httpx.Response(response.status_code, headers=response.headers, request=request,
                              stream=_Copying(response.stream, self._out), extensions=response.extensions)

    def close(self) -> None:
        self._inner.close()


class _Copying(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, out: IO[bytes]) -> None:
        self._inner = inner
        self._out = out

    def __iter__(self) -> Iterator[bytes]:
        for piece in self._inner:
            self._out.write(piece)
            self._out.flush()
            yield piece

    def close(self) -> None:
        self._inner.close()
