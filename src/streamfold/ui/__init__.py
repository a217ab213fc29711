"""A small chat page served beside the mock server (``streamfold serve --ui``; the ``server`` extra).

``chat_page(app, base_url=..., model=...)`` is the page and its relay route as an ASGI app
in front of ``app``; ``serve(config, ...)`` runs it with the mock server behind it until
interrupted.  The page is plain HTML and JavaScript shipped beside these modules, with no build step.
"""

from ._page import CHAT_PATH, FILES, chat_page
from ._serve import serve

__all__ = ["CHAT_PATH", "FILES", "chat_page", "serve"]
