"""Helpers (not tests) for the ``streamfold.openai`` tests: a mock OpenAI endpoint behind the
client's own ``MockTransport``, the requests the recorded streams were made with, and
recorders that write down everything code using openai's stream helper can observe.

Requests go through the installed openai client and the mock transport of the HTTP library
it is built on (httpx2 for openai 3, httpx before), so nothing touches the network.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Literal

import openai
import pydantic
from conftest import DATA

try:
    import httpx2 as http
except ImportError:  # openai-python before 3 is built on httpx
    import httpx as http  # type: ignore[no-redef]

RECORDED = sorted((DATA / "openai-recorded").glob("*.sse"))
MESSAGES = [{"role": "user", "content": "What's the weather like in SF?"}]


class Location(pydantic.BaseModel):
    city: str
    temperature: float
    units: Literal["c", "f"]


class GetWeatherArgs(pydantic.BaseModel):
    city: str
    country: str
    units: Literal["c", "f"] = "c"


class GetStockPrice(pydantic.BaseModel):
    ticker: str
    exchange: str


STRICT_WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "strict": True,
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "state": {"type": "string"}},
            "required": ["city", "state"],
            "additionalProperties": False,
        },
    },
}
LOOSE_WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}

#: What each recorded stream was requested with (as in openai-python's own tests).
REQUESTS: dict[str, dict[str, Any]] = {
    "parse_pydantic_model": {"response_format": Location},
    "parse_pydantic_model_multiple_choices": {"response_format": Location, "n": 3},
    "parse_pydantic_model_refusal": {"response_format": Location},
    "parse_max_tokens_reached": {"response_format": Location, "max_tokens": 1},
    "parse_pydantic_tool": {"tools": [openai.pydantic_function_tool(GetWeatherArgs)]},
    "parse_multiple_pydantic_tools": {
        "tools": [
            openai.pydantic_function_tool(GetWeatherArgs),
            openai.pydantic_function_tool(GetStockPrice, name="get_stock_price"),
        ]
    },
    "parse_strict_tools": {"tools": [STRICT_WEATHER]},
    "allows_non_strict_tools_but_no_parsing": {"tools": [LOOSE_WEATHER]},
    "content_logprobs_events": {"logprobs": True},
    "refusal_logprobs_events": {"logprobs": True, "response_format": Location},
    "non_pydantic_response_format": {"response_format": {"type": "json_object"}},
}


def recorded(name: str) -> bytes:
    return (DATA / "openai-recorded" / f"{name}.sse").read_bytes()


def per_event(body: bytes) -> list[bytes]:
    """``body`` as one read per event (each ending with its blank line)."""
    return [event + b"\n\n" for event in body.split(b"\n\n") if event]


class Body(http.SyncByteStream, http.AsyncByteStream):  # type: ignore[misc]
    """A response body in pieces that records how far it was read and whether it was closed."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces
        self.sent = 0
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        for piece in self.pieces:
            self.sent += 1
            yield piece

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            self.sent += 1
            yield piece

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


class Server:
    """A mock OpenAI endpoint behind the client's own MockTransport.

    ``reads``: how the body is cut: ``"whole"`` (one read), ``"per-event"``, or a size in bytes.
    """

    def __init__(
        self,
        body: bytes,
        *,
        status: int = 200,
        reads: str | int = "whole",
        fail_after: int | None = None,
        failure: Exception | None = None,
    ) -> None:
        self.body = body
        self.status = status
        self.reads = reads
        self.fail_after = fail_after  # raise ``failure`` after this many pieces
        self.failure = failure
        self.requests: list[Any] = []
        self.bodies: list[Body] = []

    def pieces(self) -> list[bytes]:
        if self.reads == "whole" or not self.body:
            return [self.body]
        if self.reads == "per-event":
            return per_event(self.body)
        size = int(self.reads)
        return [self.body[i : i + size] for i in range(0, len(self.body), size)]

    def handle(self, request: Any) -> Any:
        self.requests.append(request)
        if self.status != 200:
            return http.Response(self.status, json={"error": {"message": "boom", "type": "server_error"}})
        pieces = self.pieces()
        body = Body(pieces) if self.fail_after is None else _Failing(pieces, self.fail_after, self.failure)
        self.bodies.append(body)
        return http.Response(200, headers={"content-type": "text/event-stream"}, stream=body)

    def client(self, **options: Any) -> Any:
        transport = http.MockTransport(self.handle)
        return openai.OpenAI(
            api_key="sk-test",
            base_url="http://mock.test/v1",
            max_retries=0,
            http_client=http.Client(transport=transport),
            **options,
        )

    def async_client(self, **options: Any) -> Any:
        transport = http.MockTransport(self.handle)
        return openai.AsyncOpenAI(
            api_key="sk-test",
            base_url="http://mock.test/v1",
            max_retries=0,
            http_client=http.AsyncClient(transport=transport),
            **options,
        )

    def sent_json(self, i: int = -1) -> dict[str, Any]:
        return json.loads(self.requests[i].content)  # type: ignore[no-any-return]


class _Failing(Body):
    """A body that raises ``failure`` after ``after`` pieces (a connection lost mid-body)."""

    def __init__(self, pieces: list[bytes], after: int, failure: Exception | None) -> None:
        super().__init__(pieces)
        self.after = after
        self.failure = failure or http.ReadError("connection lost")

    def __iter__(self) -> Iterator[bytes]:
        for piece in self.pieces[: self.after]:
            self.sent += 1
            yield piece
        raise self.failure

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces[: self.after]:
            self.sent += 1
            yield piece
        raise self.failure


def stream_helper(client: Any) -> Callable[..., Any]:
    """openai-python's ``.stream()`` (under ``client.beta`` before openai 1.92)."""
    completions = client.chat.completions
    helper: Callable[..., Any] = getattr(completions, "stream", None) or client.beta.chat.completions.stream
    return helper


# --------------------------------------------------------------------------- what code can observe


def dump(model: Any) -> Any:
    """A pydantic model as JSON values (warnings off: openai's own generic models warn)."""
    return model.model_dump(mode="json", warnings=False)


def openai_class(event: Any) -> type:
    """The openai-python class an event is (streamfold's events subclass openai's)."""
    return next(cls for cls in type(event).__mro__ if cls.__module__.startswith("openai."))


def observe(event: Any, stream: Any) -> tuple[Any, ...]:
    """What code written for openai's helper sees of an event, read at the event: its type,
    class, fields (``model_dump``, which holds a chunk event's snapshot), ``repr`` and
    ``to_json()``, and the stream's ``current_completion_snapshot``."""
    return (
        event.type,
        openai_class(event),
        dump(event),
        repr(event),
        event.to_json(warnings=False),
        dump(stream.current_completion_snapshot),
    )


def outcome(final: Callable[[], Any]) -> tuple[Any, ...]:
    """The final completion's dump and repr, or the error raised (type, its completion's dump)."""
    try:
        completion = final()
    except (openai.LengthFinishReasonError, openai.ContentFilterFinishReasonError) as exc:
        return (type(exc), dump(exc.completion))
    return (dump(completion), repr(completion))


def record(open_stream: Callable[[], Any]) -> tuple[list[tuple[Any, ...]], tuple[Any, ...]]:
    """Every event observed while iterating the stream, then its final outcome (an error
    raised while iterating counts as the outcome, as in openai's own tests)."""
    seen: list[tuple[Any, ...]] = []
    try:
        with open_stream() as stream:
            for event in stream:
                seen.append(observe(event, stream))
    except (openai.LengthFinishReasonError, openai.ContentFilterFinishReasonError) as exc:
        return seen, (type(exc), dump(exc.completion))
    return seen, outcome(stream.get_final_completion)


async def arecord(open_stream: Callable[[], Any]) -> tuple[list[tuple[Any, ...]], tuple[Any, ...]]:
    """``record`` for an async stream."""
    seen: list[tuple[Any, ...]] = []
    try:
        async with open_stream() as stream:
            async for event in stream:
                seen.append(observe(event, stream))
    except (openai.LengthFinishReasonError, openai.ContentFilterFinishReasonError) as exc:
        return seen, (type(exc), dump(exc.completion))
    try:
        completion = await stream.get_final_completion()
    except (openai.LengthFinishReasonError, openai.ContentFilterFinishReasonError) as exc:
        return seen, (type(exc), dump(exc.completion))
    return seen, (dump(completion), repr(completion))
