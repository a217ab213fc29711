"""The errors a stream raises once its body has begun: openai-python's types, with ``.partial``.

openai's ``.stream()`` raises ``openai.APIError`` for an error the server sends inside the
stream, and ``openai.APITimeoutError`` / ``openai.APIConnectionError`` when the connection
fails mid-body; the drop-in raises the same types (so ``except openai.APIError`` still
catches them), each with ``.partial``, the completion folded so far.  The in-stream error
is also a ``streamfold.StreamAPIError`` (``.error``, the error object the server sent).
"""

from __future__ import annotations

from typing import Any

import openai

from .. import _errors as core


class StreamAPIError(core.StreamAPIError, openai.APIError):
    """An error the server sent inside the stream: openai's ``APIError`` (``.message``,
    ``.body``, ``.code``, ``.type``, ``.request``) and streamfold's ``StreamAPIError``
    (``.error``, ``.partial``)."""

    @classmethod
    def of(cls, error: core.StreamAPIError, request: Any) -> StreamAPIError:
        """The drop-in's error for the core's ``error``, on the response to ``request``."""
        new = cls.__new__(cls)
        openai.APIError.__init__(new, error.message, request, body=error.error)  # str(): the message, as openai's
        new.error = error.error
        new.partial = error.partial
        return new


def _transport_errors() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """(timeouts, other transport errors) of the HTTP library openai-python is built on."""
    try:  # openai-python 3: httpx2, and its legacy httpx support
        from openai._httpx2 import request_exceptions, timeout_exceptions

        return timeout_exceptions(), request_exceptions()
    except ImportError:  # before 3: httpx
        import httpx

        return (httpx.TimeoutException,), (httpx.RequestError,)


_TIMEOUTS, _TRANSPORT = _transport_errors()


def translate(exc: Exception, request: Any, partial: dict[str, Any] | None) -> Exception:
    """The error to raise for ``exc`` (raised while reading the body), with ``.partial``."""
    error: Exception = exc
    if isinstance(exc, core.StreamAPIError):
        error = StreamAPIError.of(exc, request)
    elif isinstance(exc, _TIMEOUTS):
        error = openai.APITimeoutError(request=request)
    elif isinstance(exc, _TRANSPORT):
        error = openai.APIConnectionError(request=request)
    if getattr(error, "partial", None) is None:
        try:
            error.partial = partial  # type: ignore[attr-defined]
        except AttributeError:  # exceptions with __slots__: nothing to attach to
            pass
    return error
