"""Chooses the implementation once, at import time.

The Cython extension is used when it imports; the pure-Python twin otherwise, on
interpreters other than CPython, or when ``STREAMFOLD_NO_EXTENSIONS`` is set (to
anything but "" or "0").
"""

from __future__ import annotations

import os
import platform
from typing import TYPE_CHECKING

NO_EXTENSIONS = os.environ.get("STREAMFOLD_NO_EXTENSIONS", "") not in ("", "0") or (
    platform.python_implementation() != "CPython"
)

if TYPE_CHECKING:  # the twin is the typing source
    from ._fold_py import ChatAccumulator
    from ._framing_py import LineSplitter, ServerSentEvent, SSEDecoder

    IMPLEMENTATION: str
else:
    IMPLEMENTATION = "python"
    if not NO_EXTENSIONS:
        try:
            from ._fold_c import ChatAccumulator
            from ._framing_c import LineSplitter, ServerSentEvent, SSEDecoder

            IMPLEMENTATION = "cython"
        except ImportError:  # not built (pure install, or an unsupported platform)
            pass
    if IMPLEMENTATION == "python":
        from ._fold_py import ChatAccumulator
        from ._framing_py import LineSplitter, ServerSentEvent, SSEDecoder

__all__ = ["IMPLEMENTATION", "ChatAccumulator", "LineSplitter", "SSEDecoder", "ServerSentEvent"]
