"""uvicorn's HTTP protocol (httptools) noting when each request began to arrive.

A paced answer's TTFT counts from the request's arrival.  The app itself starts later: after
uvicorn has parsed the head and the request's task has had its turn of the event loop, which,
with a thousand streams being written, waits behind every write due meanwhile.  The protocol
sees the request as its first bytes are parsed; it puts that moment in the ASGI scope, and the
app counts from there.
"""

from __future__ import annotations

import time

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ._app import RECEIVED


class ReceiptTimedProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol``, with ``scope[RECEIVED]``: the ``time.monotonic()`` at which the
    request's first bytes were parsed."""

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope[RECEIVED] = time.monotonic()  # type: ignore[literal-required]
