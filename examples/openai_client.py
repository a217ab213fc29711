"""streamfold with the official openai client: stream a chat completion, print it live.

With OPENAI_API_KEY set, this asks the real API (or OPENAI_BASE_URL, e.g. a local vLLM or
Ollama server; MODEL picks the model).  Without a key it runs offline: the client is given
a mock transport that answers with the sample stream bundled with streamfold (whatever the
prompt: it says so on stderr), so the example runs anywhere:

    pip install ".[openai]" && python examples/openai_client.py
"""

from __future__ import annotations

import os
import sys
from importlib.resources import files

from openai import OpenAI

from streamfold.openai import stream_chat


def offline_client() -> OpenAI:
    """An OpenAI client whose every request is answered with streamfold's sample stream."""
    try:
        import httpx2 as http  # what openai-python 3 is built on
    except ImportError:
        import httpx as http  # type: ignore[no-redef]

    sample = files("streamfold.data").joinpath("sample.sse").read_bytes()

    def answer(request: object) -> object:
        return http.Response(200, headers={"content-type": "text/event-stream"}, content=sample)

    return OpenAI(
        api_key="offline",
        base_url="http://offline.invalid/v1",
        http_client=http.Client(transport=http.MockTransport(answer)),
    )


def main() -> None:
    if os.environ.get("OPENAI_API_KEY"):
        client = OpenAI()
    else:
        client = offline_client()
        print(
            "(offline: OPENAI_API_KEY is not set, so the answer below is streamfold's bundled sample "
            "stream, not a model's answer to the prompt)",
            file=sys.stderr,
        )
    messages = [{"role": "user", "content": "Write a haiku about rivers."}]
    with stream_chat(client, model=os.environ.get("MODEL", "gpt-4o-mini"), messages=messages) as stream:
        for event in stream:
            if event.type == "content.delta":
                print(event.delta, end="", flush=True)
    completion = stream.get_final_completion()  # openai's ParsedChatCompletion
    print()
    print(f"finish_reason={completion.choices[0].finish_reason} usage={completion.usage}")


if __name__ == "__main__":
    main()
