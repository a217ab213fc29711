"""Which HTTP library an httpx-style client comes from (httpx or its successor httpx2).

Both libraries have the same API but separate exception classes, so the transport looks
its exceptions up in the module the caller's client belongs to.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

LIBRARIES = ("httpx", "httpx2")


def http_library(http_client: Any, *, asynchronous: bool) -> ModuleType:
    """The ``httpx`` or ``httpx2`` module ``http_client`` belongs to; TypeError for anything else."""
    wanted = "AsyncClient" if asynchronous else "Client"
    for cls in type(http_client).__mro__:
        root = cls.__module__.partition(".")[0]
        if root in LIBRARIES:
            module = sys.modules[root]
            if isinstance(http_client, getattr(module, wanted)):
                return module
            break
    raise TypeError(
        f"http_client must be an httpx.{wanted} or httpx2.{wanted}, not {type(http_client).__module__}."
        f"{type(http_client).__qualname__}"
    )
