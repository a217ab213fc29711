"""Conversions between openai-python's pydantic models and the plain dicts streamfold folds.

Chunks go in as dicts (a ``ChatCompletionChunk`` is read through its ``__dict__``, which
costs a few microseconds, where ``model_dump`` costs ten); completions come out as
openai's own types, built with openai's recursive ``model_construct`` (no validation,
as openai-python itself does for server data).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
import pydantic
from openai.types.chat import (
    ChatCompletionChunk,
    ChatCompletionTokenLogprob,
    ParsedChatCompletion,
)

from .._errors import TRUNCATED
from .._partial_json import PartialJSON, PartialJSONError

_Model = pydantic.BaseModel
# Parametrising a generic pydantic model builds a new class each time (~0.3 ms): do it once.
_ParsedCompletion = ParsedChatCompletion[Any]


def chunk_to_dict(chunk: Any) -> dict[str, Any]:
    """A chunk as a dict: dicts as they are, pydantic models (``ChatCompletionChunk``) read
    field by field, other mappings copied."""
    if type(chunk) is dict:
        return chunk
    if isinstance(chunk, _Model):
        return _model_to_dict(chunk)
    if isinstance(chunk, Mapping):
        return dict(chunk)
    raise TypeError(f"a chunk must be a ChatCompletionChunk or a dict, not {type(chunk).__name__}")


def _model_to_dict(model: _Model) -> dict[str, Any]:
    # Hot path of StreamState.handle_chunk (a chunk is a chunk, a choice and a delta model,
    # twenty fields, mostly strings or None).  Copying __dict__ and converting only the
    # fields whose type can hold a model or a container costs ~3 us a chunk; model_dump ~10.
    out = model.__dict__.copy()
    shape = _SHAPES.get(model.__class__)
    if shape is None:
        shape = _shape(model.__class__)
    nested, aliases = shape
    for name in nested:
        value = out.get(name)
        if value is not None:
            out[name] = _plain(value)
    for name, alias in aliases:
        if name in out:
            out[alias] = out.pop(name)
    extra = model.__pydantic_extra__
    if extra:  # members the model does not declare: plain JSON values as received
        out.update(extra)
    return out


_LEAF = frozenset((str, int, float, bool, type(None)))
_SHAPES: dict[type, tuple[tuple[str, ...], tuple[tuple[str, str], ...]]] = {}


def _shape(cls: type[_Model]) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """A model class's fields that may hold models or containers, and its aliased fields."""
    fields = cls.model_fields
    nested = tuple(name for name, info in fields.items() if not _is_scalar(info.annotation))
    aliases = tuple((name, info.alias) for name, info in fields.items() if info.alias and info.alias != name)
    _SHAPES[cls] = shape = (nested, aliases)
    return shape


def _is_scalar(annotation: Any) -> bool:
    if annotation in _LEAF:
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return True
    if origin is typing.Union or origin is types.UnionType:
        return all(_is_scalar(arg) for arg in typing.get_args(annotation))
    return False


def _plain(value: Any) -> Any:
    kind = type(value)
    if kind is list:
        return [_plain(item) for item in value]
    if kind in _LEAF:
        return value
    if kind in _SHAPES or isinstance(value, _Model):  # isinstance on pydantic's metaclass is slow
        return _model_to_dict(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def to_chunk(data: dict[str, Any]) -> ChatCompletionChunk:
    """openai's ``ChatCompletionChunk`` for a decoded chunk (built without validation)."""
    return ChatCompletionChunk.model_construct(**data)


def to_token_logprobs(entries: Iterable[Any]) -> list[ChatCompletionTokenLogprob]:
    """openai's ``ChatCompletionTokenLogprob`` objects for logprobs entries."""
    return [
        entry if isinstance(entry, ChatCompletionTokenLogprob) else ChatCompletionTokenLogprob.model_construct(**entry)
        for entry in entries
    ]


# --------------------------------------------------------------------------- parsing


def is_given(value: Any) -> bool:
    """openai's ``omit`` / ``NOT_GIVEN`` markers are falsy, as are None and empty lists."""
    return bool(value)


def is_rich_format(response_format: Any) -> bool:
    """True for a type to parse content into (a pydantic model, a dataclass...), not a dict."""
    return is_given(response_format) and isinstance(response_format, type)


def request_format(response_format: Any) -> Any:
    """The ``response_format`` request parameter for a type, as openai's ``.stream()`` sends it."""
    if not is_rich_format(response_format):
        return response_format
    # openai-python's own conversion (strict JSON schema), so requests match .stream()'s.
    from openai.lib._parsing._completions import type_to_response_format_param

    return type_to_response_format_param(response_format)


def parse_content(response_format: Any, content: str) -> Any:
    """Content parsed into ``response_format`` (a pydantic model or any type pydantic knows)."""
    if isinstance(response_format, type) and issubclass(response_format, _Model):
        return response_format.model_validate_json(content)
    return pydantic.TypeAdapter(response_format).validate_json(content)


def partial_value(text: str) -> Any:
    """The JSON value a prefix of a JSON document shows so far (None if nothing yet)."""
    parser = PartialJSON()
    try:
        parser.feed(text)
    except PartialJSONError:
        return None
    return parser.value


def _find_tool(tools: list[Any], name: str) -> Any:
    for tool in tools:
        if isinstance(tool, Mapping) and tool.get("type") == "function":
            function = tool.get("function")
            if isinstance(function, Mapping) and function.get("name") == name:
                return function
    return None


def is_parseable(function: Any) -> bool:
    """openai-python parses the arguments of strict tools and ``pydantic_function_tool``s only."""
    return function is not None and (_tool_model(function) is not None or function.get("strict") is True)


def _tool_model(function: Any) -> type[_Model] | None:
    model = getattr(function, "model", None)  # openai.pydantic_function_tool(...)
    return model if isinstance(model, type) and issubclass(model, _Model) else None


def tool_arguments(tools: list[Any], name: str, arguments: str) -> Any:
    """A call's arguments parsed the way openai-python does: into the tool's pydantic model,
    as JSON for a strict tool, None for any other tool."""
    function = _find_tool(tools, name)
    if not is_parseable(function):
        return None
    model = _tool_model(function)
    if model is not None:
        return model.model_validate_json(arguments)
    return orjson.loads(arguments)


# --------------------------------------------------------------------------- completions


def to_completion(
    completion: dict[str, Any], response_format: Any, tools: list[Any], *, final: bool
) -> ParsedChatCompletion[Any]:
    """openai's ``ParsedChatCompletion`` for a folded completion dict.

    ``final``: parse content into ``response_format`` and arguments of parseable tools
    (skipped for a choice cut short, whose JSON is unfinished); otherwise (a snapshot)
    parse them partially, as openai-python's snapshots do.
    """
    rich = is_rich_format(response_format)
    choices = []
    for choice in completion["choices"]:
        message = dict(choice["message"])
        # the final JSON of a choice cut short is unfinished: nothing of it is parsed
        cut_short = final and choice.get("finish_reason") in TRUNCATED
        content = message.get("content")
        parsed = None
        if rich and content and not message.get("refusal") and not cut_short:
            parsed = parse_content(response_format, content) if final else partial_value(content)
        message["parsed"] = parsed
        calls = message.get("tool_calls")
        if calls:
            message["tool_calls"] = [_parsed_call(call, tools, final, cut_short) for call in calls]
        choices.append({**choice, "message": message})
    return _ParsedCompletion.model_construct(**{**completion, "choices": choices})


def _parsed_call(call: dict[str, Any], tools: list[Any], final: bool, cut_short: bool) -> dict[str, Any]:
    function = call.get("function") or {}
    name = function.get("name", "")
    arguments = function.get("arguments", "")
    parsed = None
    if cut_short:
        pass
    elif final:
        parsed = tool_arguments(tools, name, arguments)
    elif is_parseable(_find_tool(tools, name)):
        parsed = partial_value(arguments)
    return {**call, "function": {**function, "parsed_arguments": parsed}}
