"""A mock OpenAI-compatible chat-completions server (needs the ``server`` extra: uvicorn).

``MockApp`` is the ASGI application, ``MockServer`` runs it under uvicorn in a thread
(``with MockServer(MockConfig(...)) as server: server.base_url``), ``serve`` runs it in
the foreground (``python -m streamfold serve --port 8000``).  ``MockConfig`` says what it
sends: output length, text source, latency, write pattern, tool calls, ``n``, reasoning,
usage, and faults; a request overrides it with a JSON object in the ``x-streamfold-mock``
header or a ``mock`` member of its body.
"""

from ._app import LoggedRequest, MockApp, MockStats
from ._config import CONFIG_FIELD, CONFIG_HEADER, MockConfig
from ._server import MockServer, serve

__all__ = [
    "CONFIG_FIELD",
    "CONFIG_HEADER",
    "LoggedRequest",
    "MockApp",
    "MockConfig",
    "MockServer",
    "MockStats",
    "serve",
]
