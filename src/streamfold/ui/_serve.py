"""``streamfold serve --ui``: the chat page with the mock server behind it, in the foreground."""

from __future__ import annotations

from ..mock import MockApp, MockConfig
from ._page import chat_page


def serve(
    config: MockConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    quiet: bool = False,
    base_url: str | None = None,
    api_key: str | None = None,
    model: str = "mock",
) -> None:
    """Serve the page at ``/`` and the mock at ``/v1`` until interrupted; the page's questions
    go to ``base_url`` (with ``api_key``), or to the mock when it is None."""
    import uvicorn

    app = chat_page(MockApp(config), base_url=base_url, api_key=api_key, model=model)
    uvicorn.run(
        app, host=host, port=port, log_level="warning" if quiet else "info", access_log=not quiet, lifespan="on"
    )
