"""Running the mock app under uvicorn: in a background thread (tests, benchmarks, the CLI's
``chat`` with no base URL) or in the foreground (``python -m streamfold serve``), in one
process or in several worker processes sharing the port.

uvicorn picks its C HTTP parser (httptools) and uvloop when they are installed (the
``server`` extra brings both); the thread's loop is uvloop's too when it is there.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
import os
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

import orjson

from ._app import DroppedConnection, MockApp
from ._config import MockConfig


def _uvicorn() -> Any:
    try:
        import uvicorn
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("the mock server needs uvicorn: pip install 'streamfold[server]'") from exc
    return uvicorn


class _HideDeliberateDrops(logging.Filter):
    """uvicorn logs an app exception with its traceback; a fault the config asked for
    (``close_after``) is not an error of the server."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], DroppedConnection))


logging.getLogger("uvicorn.error").addFilter(_HideDeliberateDrops())

#: uvicorn settings that cost per request and that a mock does not need: no proxy-header
#: middleware (no proxy in front), no Server header.
_LEAN: dict[str, Any] = {"proxy_headers": False, "server_header": False}


def _http_protocol() -> Any:
    """uvicorn's ``http`` setting: its httptools protocol timing each request's arrival
    (``_protocol.py``) when httptools is installed, else uvicorn's own choice."""
    try:
        from ._protocol import ReceiptTimedProtocol
    except ImportError:
        return "auto"
    return ReceiptTimedProtocol


class MockServer:
    """The mock server on ``host`` (127.0.0.1) and an ephemeral port, in a thread.

    ``with MockServer(MockConfig(output_tokens=100)) as server: ... server.base_url``
    (``http://127.0.0.1:PORT/v1``).  ``server.app.stats`` counts what it saw.  ``wrap``
    puts an ASGI app of yours in front of it (served: ``wrap(server.app)``, which hands
    the mock what it does not answer itself; a relay, a page).
    """

    def __init__(
        self,
        config: MockConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        wrap: Callable[[MockApp], Any] | None = None,
    ) -> None:
        uvicorn = _uvicorn()
        self.app = MockApp(config)
        served = self.app if wrap is None else wrap(self.app)
        self._server = uvicorn.Server(
            uvicorn.Config(  # the app in front may hold resources to close
                served,
                host=host,
                port=port,
                log_level="warning",
                lifespan="off" if wrap is None else "on",
                access_log=False,
                http=_http_protocol(),
                **_LEAN,
            )
        )
        self._thread: threading.Thread | None = None
        self.host = host
        self.port = port

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL, ``http://HOST:PORT/v1``."""
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> MockServer:
        """Start serving; returns once the socket is listening."""
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = _new_event_loop()
            try:
                loop.run_until_complete(self._serve(started))
            except BaseException as exc:  # reported to start()
                failure.append(exc)
                started.set()
            finally:
                self.app.close()
                loop.close()

        self._thread = threading.Thread(target=run, name="streamfold-mock", daemon=True)
        self._thread.start()
        started.wait()
        if failure or not self._server.started:
            raise RuntimeError(f"the mock server did not start: {failure[0] if failure else 'unknown'}")
        return self

    async def _serve(self, started: threading.Event) -> None:
        config = self._server.config
        if not config.loaded:
            config.load()
        self._server.lifespan = config.lifespan_class(config)
        task = asyncio.ensure_future(self._server.serve())
        while not self._server.started and not task.done():
            await asyncio.sleep(0.005)
        if self._server.started:
            self.port = self._server.servers[0].sockets[0].getsockname()[1]
        started.set()
        await task

    def stop(self) -> None:
        """Stop serving and wait for the thread to end."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _new_event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


#: How ``serve(workers=N)`` hands the config to its worker processes.
CONFIG_ENVIRONMENT = "STREAMFOLD_MOCK_CONFIG"


def app_from_environment() -> MockApp:
    """The app of one worker process: the config ``serve`` left in the environment."""
    settings = orjson.loads(os.environ.get(CONFIG_ENVIRONMENT, "{}"))
    _without_pauses()
    return MockApp(MockConfig(**settings))


def _without_pauses() -> None:
    """Turn the cyclic garbage collector off in a process that only serves: a full collection
    walks every object of every stream in flight (100s of ms at 1,000 streams, every stream's
    writes held back meanwhile), and an answer leaves almost no cyclic garbage (0.06 objects
    a request, measured); reference counting frees the rest as before."""
    gc.collect()
    gc.freeze()
    gc.disable()


def serve(
    config: MockConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    quiet: bool = False,
    workers: int = 1,
) -> None:
    """Serve the mock in the foreground until interrupted (``quiet``: no line per request).

    ``workers`` > 1 runs that many processes on the same port (uvicorn's supervisor); each
    keeps its own ``stats`` and counts ``fault_times`` on its own.  The cyclic garbage
    collector is off in the serving processes (see ``_without_pauses``).
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "warning" if quiet else "info",
        "access_log": not quiet,
        "lifespan": "off",
        "http": _http_protocol(),
        **_LEAN,
    }
    if workers == 1:
        _without_pauses()
        _uvicorn().run(MockApp(config), **options)
        return
    os.environ[CONFIG_ENVIRONMENT] = orjson.dumps(dataclasses.asdict(config or MockConfig())).decode()
    _uvicorn().run(f"{__name__}:app_from_environment", factory=True, workers=workers, **options)
