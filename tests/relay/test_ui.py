"""The chat page's server side (``streamfold serve --ui``), over loopback without a browser:
its files, its relay route, the command line.  The page itself runs in test_ui_browser.py."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from relayed import Answers
from run_cli import one_error, run, serving

import streamfold
from streamfold.mock import MockConfig, MockServer
from streamfold.relay import ClientDisconnected
from streamfold.ui import CHAT_PATH, FILES, chat_page

QUESTION = {"messages": [{"role": "user", "content": "What is a river?"}]}


@pytest.fixture(scope="module")
def answers() -> Answers:
    return Answers()


@pytest.fixture(scope="module")
def page(answers: Answers) -> Iterator[MockServer]:
    """The page in front of the mock, its questions answered by that mock."""
    with MockServer(
        MockConfig(output_tokens=12, text="one two three", usage=True),
        wrap=lambda mock: chat_page(mock, on_complete=answers),
    ) as server:
        yield server


def root(server: MockServer) -> str:
    return f"http://127.0.0.1:{server.port}"


def sse_data(body: bytes) -> list[Any]:
    decoder = streamfold.SSEDecoder()
    return [event.data if event.data == "[DONE]" else orjson.loads(event.data) for event in decoder.feed(body)]


def test_the_page_and_its_files(page: MockServer) -> None:
    index = httpx.get(root(page) + "/")
    assert index.status_code == 200 and index.headers["content-type"] == "text/html; charset=utf-8"
    for name, content_type in FILES.items():
        if name != "index.html":
            assert f"/ui/{name}".encode() in index.content or name == "sse.js"
            response = httpx.get(f"{root(page)}/ui/{name}")
            assert response.status_code == 200 and response.headers["content-type"] == content_type
            assert len(response.content) > 100
    assert httpx.get(root(page) + "/ui/secret.py").status_code == 404
    assert httpx.get(root(page) + "/ui/config").json() == {"model": "mock", "upstream": "the mock server"}
    assert httpx.get(root(page) + "/v1/models").json()["object"] == "list"  # the mock behind it


def test_a_question_streams_through_the_relay(page: MockServer, answers: Answers) -> None:
    response = httpx.post(root(page) + CHAT_PATH, json=QUESTION, timeout=30)
    assert response.status_code == 200 and response.headers["content-type"] == "text/event-stream; charset=utf-8"
    events = sse_data(response.content)
    completion, error = answers.next()
    assert error is None and completion["choices"][0]["message"]["content"] == "one two three " * 3 + "one two three"
    deltas = [event["delta"] for event in events[:-1] if event["type"] == "content.delta"]
    assert "".join(deltas) == completion["choices"][0]["message"]["content"]
    assert events[-2]["type"] == "completion" and events[-2]["completion"]["usage"]["completion_tokens"] == 12
    assert events[-1] == "[DONE]" and page.app.stats.last_body["messages"] == QUESTION["messages"]


@pytest.mark.parametrize("body", [b"{", b"[]", b'{"messages": "hi"}', b'{"messages": [], "model": 3}'])
def test_a_malformed_question_is_a_400(page: MockServer, body: bytes) -> None:
    response = httpx.post(root(page) + CHAT_PATH, content=body)
    assert response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"


def test_the_page_can_ask_another_server(answers: Answers) -> None:
    with (
        MockServer(MockConfig(output_tokens=3, text="far away", model="remote-model")) as upstream,
        MockServer(
            wrap=lambda _: chat_page(
                base_url=upstream.base_url, api_key="sk-test", model="remote-model", on_complete=answers
            )
        ) as server,
    ):
        assert httpx.get(root(server) + "/ui/config").json()["upstream"] == upstream.base_url
        response = httpx.post(root(server) + CHAT_PATH, json=QUESTION, timeout=30)
        assert response.status_code == 200
        completion, error = answers.next()
        assert error is None and completion["choices"][0]["message"]["content"] == "far away far"
        assert upstream.app.stats.last_headers["authorization"] == "Bearer sk-test"
        assert upstream.app.stats.last_body["model"] == "remote-model"
        assert server.app.stats.requests == 0  # its own mock was not asked


def test_leaving_mid_answer_cancels_the_upstream(answers: Answers) -> None:
    with MockServer(MockConfig(stall_after=4), wrap=lambda mock: chat_page(mock, on_complete=answers)) as server:
        with httpx.stream("POST", root(server) + CHAT_PATH, json=QUESTION, timeout=30) as response:
            for line in response.iter_lines():
                if line.startswith("data:") and orjson.loads(line[5:])["type"] == "content.delta":
                    break
        completion, error = answers.next()
        assert isinstance(error, ClientDisconnected) and completion["choices"][0]["finish_reason"] is None


def test_serve_ui_prints_the_page_and_serves_it() -> None:
    with serving("--ui", "--text", "served here", "--output-tokens", "2", banner_lines=4) as (proc, banner):
        assert banner[3].startswith("chat page: http://127.0.0.1:") and "this mock server" in banner[3]
        page_url = banner[3].split()[2]
        assert httpx.get(page_url).text.startswith("<!doctype html>")
        response = httpx.post(page_url + "ui/chat", json=QUESTION, timeout=30)
        deltas = [e["delta"] for e in sse_data(response.content)[:-1] if e["type"] == "content.delta"]
        assert "".join(deltas) == "served here"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        assert proc.stderr is not None and b"Traceback" not in proc.stderr.read()


def test_serve_page_options_need_ui() -> None:
    assert (
        one_error(run("serve", "--base-url", "http://127.0.0.1:9/v1"), 2) == "--base-url is for the chat page: add --ui"
    )
    assert one_error(run("serve", "--api-key", "k"), 2) == "--api-key is for the chat page: add --ui"
    assert "has no scheme" in one_error(run("serve", "--ui", "--base-url", "example.com/v1"), 2)
    message = one_error(run("serve", "--ui", "--workers", "2"), 2)
    assert message == "--ui serves the page from one process: drop --workers"


def test_serve_ui_without_starlette_says_what_to_install(tmp_path: Any) -> None:
    (tmp_path / "starlette").mkdir()
    (tmp_path / "starlette" / "__init__.py").write_text("raise ImportError('No module named starlette')\n")
    assert "--ui needs Starlette" in one_error(run("serve", "--ui", env={"PYTHONPATH": str(tmp_path)}), 2)
