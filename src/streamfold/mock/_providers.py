"""The ways real servers shape the same answer (docs/providers.md).

Each provider is a set of traits the generator applies; a fold that is correct gives the
same message for every one of them (Gemini's ``finish_reason`` for tool calls excepted).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Shape:
    """How one provider writes its chunks."""

    #: an ``obfuscation`` member on every chunk (OpenAI)
    obfuscation: bool = False
    #: a first chunk with ``choices: []`` and prompt filter results, empty id/model (Azure)
    azure_filters: bool = False
    #: ``role`` repeated in every delta (Groq, DeepSeek, Ollama)
    role_every_chunk: bool = False
    #: the member reasoning text goes in
    reasoning_key: str = "reasoning_content"
    #: ``content: null`` beside reasoning deltas (DeepSeek)
    null_content_with_reasoning: bool = False
    #: tool calls: "fragments" (OpenAI), "each" (every call whole in its own chunk), "all" (one chunk)
    tool_calls: str = "fragments"
    #: tool-call index: "keep", "zero" (every call index 0), "none" (no index member)
    call_index: str = "keep"
    #: the call's id and name resent in every fragment (vLLM, Fireworks)
    resend_ids: bool = False
    #: finish_reason given when the answer is tool calls
    tool_finish: str = "tool_calls"
    #: usage in a last ``choices: []`` chunk ("chunk") or under ``x_groq.usage`` of the finish chunk
    usage_in: str = "chunk"
    #: an SSE comment written before the first chunk (OpenRouter)
    preamble: bytes = b""
    #: reasoning and text as lists of typed parts, ``thinking`` then ``text``, and a last
    #: ``content: ""`` with the finish reason (Mistral's reasoning models)
    content_parts: bool = False
    #: a ``message`` beside every ``delta``, mirroring it (Writer)
    mirror_message: bool = False


SHAPES: dict[str, Shape] = {
    "openai": Shape(obfuscation=True),
    "azure": Shape(azure_filters=True),
    "groq": Shape(role_every_chunk=True, tool_calls="each", usage_in="x_groq"),
    "deepseek": Shape(role_every_chunk=True, null_content_with_reasoning=True, resend_ids=True),
    "openrouter": Shape(reasoning_key="reasoning", preamble=b": OPENROUTER PROCESSING\n\n"),
    "ollama": Shape(role_every_chunk=True, tool_calls="all", call_index="zero"),
    "vllm": Shape(resend_ids=True),
    "gemini": Shape(tool_calls="each", call_index="none", tool_finish="stop"),
    "mistral": Shape(content_parts=True),
    "writer": Shape(mirror_message=True),
}

#: Azure's content-filter verdict, on the prompt and on every choice.
AZURE_FILTER = {name: {"filtered": False, "severity": "safe"} for name in ("hate", "self_harm", "sexual", "violence")}
