"""The chat page: its files and its relay route, as a Starlette app in front of another ASGI app.

``GET /`` is the page, ``GET /ui/<file>`` its script and style, ``GET /ui/config`` what it
talks to, and ``POST /ui/chat`` (``{"messages": [...], "model": ...}``) streams the answer
from the upstream server through ``streamfold.relay`` in ``events`` mode.  Every other
request goes to the app behind it (the mock server, for ``streamfold serve --ui``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp

from ..client import AsyncClient
from ..relay import OnComplete, relay

#: The page's files (package data beside this module) and their content types.
FILES = {
    "index.html": "text/html; charset=utf-8",
    "chat.js": "text/javascript; charset=utf-8",
    "sse.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
CHAT_PATH = "/ui/chat"


def chat_page(
    app: ASGIApp | None = None,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    model: str = "mock",
    on_complete: OnComplete | None = None,
) -> Starlette:
    """The chat page, in front of ``app`` (which gets every other request).

    ``base_url`` is the server the page's questions go to (None: this same server's
    ``/v1``, i.e. ``app`` when it is the mock), with ``api_key``; ``model`` is the model
    the page asks for unless the request names one; ``on_complete`` is the relay's,
    called with each answer's completion.
    """
    if app is None and base_url is None:
        raise ValueError("the chat page needs an upstream: base_url=, or the app behind it (the mock server)")
    files: dict[str, bytes] = {}

    def file(name: str) -> Response:
        if name not in FILES:
            return _json({"error": {"message": f"no file {name!r}", "type": "not_found"}}, 404)
        if name not in files:
            files[name] = resources.files(__package__).joinpath(name).read_bytes()
        return Response(files[name], media_type=FILES[name], headers={"cache-control": "no-cache"})

    async def index(request: Request) -> Response:
        return file("index.html")

    async def static(request: Request) -> Response:
        return file(request.path_params["name"])

    async def config(request: Request) -> Response:
        return _json({"model": model, "upstream": base_url or "the mock server"})

    async def chat(request: Request) -> Response:
        try:
            messages, asked = _question(await request.body())
        except ValueError as exc:
            return _json({"error": {"message": str(exc), "type": "invalid_request_error"}}, 400)
        client = clients.get(base_url or _own_base_url(request))
        stream = client.stream_chat(model=asked or model, messages=messages)
        return relay(stream, "events", on_complete=on_complete)

    clients = _Clients(api_key)

    @contextlib.asynccontextmanager
    async def lifespan(page: Starlette) -> AsyncIterator[None]:
        yield
        await clients.aclose()

    routes: list[BaseRoute] = [
        Route("/", index),
        Route("/ui/config", config),
        Route(CHAT_PATH, chat, methods=["POST"]),
        Route("/ui/{name}", static),
    ]
    if app is not None:
        routes.append(Mount("/", app=app))
    return Starlette(routes=routes, lifespan=lifespan)


class _Clients:
    """One ``AsyncClient`` per upstream URL, made on first use (in the server's event loop)
    and closed when the server stops (making one costs tens of milliseconds: TLS setup)."""

    def __init__(self, api_key: str | None) -> None:
        self._api_key = api_key
        self._clients: dict[str, AsyncClient] = {}

    def get(self, base_url: str) -> AsyncClient:
        client = self._clients.get(base_url)
        if client is None:
            client = self._clients[base_url] = AsyncClient(base_url=base_url, api_key=self._api_key)
        return client

    async def aclose(self) -> None:
        while self._clients:
            await self._clients.popitem()[1].aclose()


def _question(body: bytes) -> tuple[list[dict[str, Any]], str | None]:
    """The messages and the model (if any) of a ``POST /ui/chat``; ValueError if malformed."""
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"the body is not JSON: {exc}") from None
    messages = request.get("messages") if isinstance(request, dict) else None
    if not isinstance(messages, list) or not all(isinstance(message, dict) for message in messages):
        raise ValueError('the body must be {"messages": [{"role": ..., "content": ...}, ...], "model": ...}')
    model = request.get("model")
    if model is not None and not isinstance(model, str):
        raise ValueError("model must be a string")
    return messages, model


def _own_base_url(request: Request) -> str:
    """This server's ``/v1``, at the address the request came in on."""
    host, port = request.scope["server"]
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/v1"


def _json(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")
