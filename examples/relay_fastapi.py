"""A FastAPI route that streams a chat answer to the browser and saves it once it has ended.

The answer goes out as ``data: {"content": "..."}`` events (a few tokens each) while
streamfold folds the same bytes; when the stream ends, fails, or the browser goes away,
``save`` gets the completion (or what had arrived, and why it stopped) and stores it in
SQLite.  Try it against streamfold's mock server:

    pip install ".[server]" fastapi
    streamfold serve --port 8000 --itl 0.02 &
    OPENAI_BASE_URL=http://127.0.0.1:8000/v1 uvicorn relay_fastapi:app --app-dir examples --port 8001
    curl -N http://127.0.0.1:8001/chat -H 'content-type: application/json' -d '{"question": "What is a river?"}'

``OPENAI_API_KEY`` and ``OPENAI_BASE_URL`` say which server answers, ``MODEL`` which model
(default gpt-4o-mini), ``ANSWERS_DB`` where the answers are kept (default answers.db).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

import streamfold
from streamfold.relay import relay

MODEL = os.environ.get("MODEL", "gpt-4o-mini")
database = sqlite3.connect(os.environ.get("ANSWERS_DB", "answers.db"), check_same_thread=False)
database.execute("CREATE TABLE IF NOT EXISTS answers (question TEXT, answer TEXT, finish_reason TEXT, error TEXT)")
client = streamfold.AsyncClient()  # OPENAI_BASE_URL, OPENAI_API_KEY


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    await client.aclose()


app = FastAPI(lifespan=lifespan)


class Question(BaseModel):
    question: str


@app.post("/chat")
async def chat(body: Question) -> Any:
    stream = client.stream_chat(model=MODEL, messages=[{"role": "user", "content": body.question}])

    def save(completion: dict[str, Any] | None, error: Exception | None) -> None:
        choice = completion["choices"][0] if completion and completion["choices"] else {}
        answer = choice.get("message", {}).get("content")
        with database:
            database.execute(
                "INSERT INTO answers VALUES (?, ?, ?, ?)",
                (body.question, answer, choice.get("finish_reason"), error and repr(error)),
            )

    return relay(stream, "text", on_complete=save, coalesce=streamfold.Coalescer(max_delay=0.05))
