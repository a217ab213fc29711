"""Take the README's picture of the chat page: ``python docs/screenshot.py [PATH]``.

The page of ``streamfold serve --ui`` with the mock server behind it (answering with the
text below, a word every 20 ms), one question asked in headless Chromium (Debian's
``chromium``, driven by Playwright, as in tests/relay/test_ui_browser.py); the picture is taken
once the answer and its statistics are in, after a first question asked out of sight.
Needs ``pip install ".[test]"`` and Chromium.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

from streamfold.mock import MockConfig, MockServer
from streamfold.ui import CHAT_PATH, chat_page

ANSWER = (
    "A river is a natural stream of fresh water that flows toward an ocean, a lake or another river. "
    "Rain, melting snow and springs feed it, and the water it carries shapes its valley as it goes, "
    "wearing rock away upstream and laying sand and silt down where it slows."
)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "chat-page.png"
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("screenshot.py: error: no chromium (apt-get install chromium)")
    config = MockConfig(text=ANSWER, output_tokens=len(ANSWER.split()), itl=0.02, usage=True, model="mock")
    with (
        MockServer(config, wrap=chat_page) as server,
        sync_playwright() as playwright,
        tempfile.TemporaryDirectory() as profile,
    ):
        browser = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=chromium,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 900, "height": 560},
            device_scale_factor=1,
        )
        # one question first, so that the figures shown are not those of a cold start
        # (the first question also makes the page's HTTP client, TLS setup included)
        httpx.post(
            f"http://127.0.0.1:{server.port}{CHAT_PATH}",
            json={"messages": [{"role": "user", "content": "hi"}]},
            timeout=30,
        )
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{server.port}/")
        page.wait_for_function("document.querySelector('#model').value !== ''")
        page.fill("#prompt", "What is a river?")
        page.click("#send")
        page.wait_for_function("document.querySelector('#status').dataset.state === 'done'", timeout=30_000)
        page.screenshot(path=str(path))
        browser.close()
    print(path)


if __name__ == "__main__":
    main()
