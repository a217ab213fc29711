"""The chat page of ``streamfold serve --ui`` in a real headless Chromium.

Debian's ``chromium`` (``.ci/run`` installs it with apt-get), driven by Playwright's Python
package without its own browser download.  Where no Chromium can be had, these tests are
skipped, saying so.  The page talks to the real relay and the real mock, over loopback.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from conftest import DATA
from relayed import Answers, wait_until

import streamfold
from streamfold.mock import MockConfig, MockServer
from streamfold.relay import ClientDisconnected
from streamfold.ui import chat_page

#: What Chromium needs to run headless here: no sandbox (root in a container), no GPU, and
#: nothing that reaches the network on its own.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
QUESTION = "What is a river?"
ANSWER = ".message.assistant .answer"
STATE = "document.querySelector('#status').dataset.state"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A Chromium context with a fresh profile directory."""
    if CHROMIUM is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium; .ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install '.[test]')")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 900, "height": 700},
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    yield page
    page.close()
    assert errors == [], errors  # no script error, no failed request


def served(config: MockConfig, answers: Answers) -> MockServer:
    """The page in front of a mock that answers its questions."""
    return MockServer(config, wrap=lambda mock: chat_page(mock, on_complete=answers))


def ask(page: Any, server: MockServer, question: str = QUESTION) -> None:
    page.goto(f"http://127.0.0.1:{server.port}/")
    page.wait_for_function("document.querySelector('#model').value === 'mock'")
    page.fill("#prompt", question)
    page.click("#send")


def answer_text(page: Any) -> str:
    text: str = page.eval_on_selector(ANSWER, "element => element.textContent")
    return text


def test_the_answer_streams_in_and_ends_as_the_folded_completion(page: Any, tmp_path: Path) -> None:
    answers = Answers()
    # 80 tokens 25 ms apart: two seconds of answer, which the page must show as it comes
    config = MockConfig(output_tokens=80, itl=0.025, seed=7)
    with served(config, answers) as server:
        ask(page, server)
        page.wait_for_function(f"{STATE} === 'streaming' && document.querySelector('{ANSWER}').textContent.length > 0")
        early = answer_text(page)
        page.wait_for_function(f"{STATE} === 'done'", timeout=30_000)
        final = answer_text(page)
        completion, error = answers.next()
        page.screenshot(path=str(tmp_path / "chat-page.png"))
        # the same question straight to the same mock, folded here
        with streamfold.Client(base_url=server.base_url) as client:
            direct = client.chat(model="mock", messages=[{"role": "user", "content": QUESTION}])
    assert error is None
    assert 0 < len(early) < len(final) and final.startswith(early)  # it came in progressively
    assert final == completion["choices"][0]["message"]["content"] == direct["choices"][0]["message"]["content"]
    stats = page.inner_text("#stats")
    assert "finish stop" in stats and "80 output tokens" in stats and "83 chunks" in stats, stats
    assert (tmp_path / "chat-page.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_stop_aborts_the_answer_and_the_upstream(page: Any) -> None:
    answers = Answers()
    # 8 chunks (a role, then 7 words), then nothing until the client leaves
    with served(MockConfig(text="one two three four five six seven", stall_after=8), answers) as server:
        ask(page, server)
        page.wait_for_function(f"document.querySelector('{ANSWER}').textContent.endsWith('seven')")
        assert page.is_enabled("#stop") and not page.is_enabled("#send")
        page.click("#stop")
        page.wait_for_function(f"{STATE} === 'stopped'")
        completion, error = answers.next()
        wait_until(lambda: server.app.stats.disconnects == 1)
    assert isinstance(error, ClientDisconnected)
    assert answer_text(page) == completion["choices"][0]["message"]["content"] == "one two three four five six seven"
    assert page.is_enabled("#send") and not page.is_enabled("#stop")
    assert page.eval_on_selector(".message.assistant", "element => element.classList.contains('stopped')")


def test_the_reader_keeps_what_a_read_cuts(page: Any) -> None:
    """The page's event-stream reader, fed the same bytes in pieces of every size from one
    byte up (cutting UTF-8 characters, lines, and CR LF pairs), gives the events that
    streamfold's own decoder gives."""
    recorded = (DATA / "openai-recorded" / "parse_pydantic_tool.sse").read_bytes()
    odd = (
        "data: h\u00e9llo \U0001f642 \u65e5\u672c\r\n\r\n: keep-alive\n\nevent: x\ndata: a\ndata: b\r\r"
        "id: 7\ndata\n\ndata:no space\r\ndata:  two spaces\n\n\n\nretry: 5\ndata: after\r\n\r\n"
        "data: cut off at the end"
    ).encode()
    body = recorded + odd
    decoder = streamfold.SSEDecoder()
    expected = [{"event": e.event, "data": e.data, "id": e.id} for e in decoder.feed(body) + decoder.close()]
    with served(MockConfig(), Answers()) as server:
        page.goto(f"http://127.0.0.1:{server.port}/")
        results = page.evaluate(
            """async ([bytes, sizes]) => {
            const { readEvents } = await import("/ui/sse.js");
            const data = new Uint8Array(bytes);
            const results = [];
            for (const size of sizes) {
                const body = new ReadableStream({ start(controller) {
                    for (let i = 0; i < data.length; i += size) controller.enqueue(data.slice(i, i + size));
                    controller.close();
                } });
                const events = [];
                for await (const event of readEvents(body)) events.push(event);
                results.push(events);
            }
            return results;
        }""",
            [list(body), [1, 2, 3, 5, 7, 64, 1000, len(body)]],
        )
    assert len(expected) > 20 and expected[-1]["data"] == "after"
    for events in results:
        assert events == expected
