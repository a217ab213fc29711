"""Conversions between openai-python's pydantic models and the plain dicts streamfold folds.

Chunks go in as dicts (a ``ChatCompletionChunk`` read through its ``__dict__``, which
costs two microseconds, where ``model_dump`` costs three or more); completions come out as
openai's own types, built with openai's recursive ``model_construct`` (no
validation, as openai-python itself does for server data).
"""

from __future__ import annotations

import inspect
import json
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

import pydantic
from jiter import from_json
from openai.lib._parsing import ResponseFormatT
from openai.types.chat import (
    ChatCompletionChunk,
    ChatCompletionTokenLogprob,
    ParsedChatCompletion,
    ParsedChatCompletionMessage,
    ParsedFunctionToolCall,
)
from openai.types.chat import chat_completion_chunk as chunk_types
from openai.types.chat.parsed_function_tool_call import ParsedFunction

_Model = pydantic.BaseModel
# Parametrising a generic pydantic model builds a new class each time (~0.3 ms): do it once.
# The classes openai-python gives: ParsedChatCompletion[object] for its snapshots, and
# ParsedChatCompletion[ResponseFormatT] (its type variable) for final completions.
_Snapshot = ParsedChatCompletion[object]
_Final = ParsedChatCompletion[ResponseFormatT]


def chunk_to_dict(chunk: Any) -> dict[str, Any]:
    """A chunk as a dict: dicts as they are, pydantic models (``ChatCompletionChunk``) read
    field by field (fields never set are there as None: the fold ignores null members, and
    ``set_members`` tells them apart), other mappings copied."""
    kind = type(chunk)
    if kind is dict:
        return chunk  # type: ignore[no-any-return]
    if is_model_type(kind):
        return _model_to_dict(chunk)
    if isinstance(chunk, Mapping):
        return dict(chunk)
    raise TypeError(f"a chunk must be a ChatCompletionChunk or a dict, not {kind.__name__}")


def set_members(source: Any) -> set[str]:
    """The members a chunk's part (dict, or the pydantic model it came from) was sent with."""
    if type(source) is dict:
        return set(source)
    members = set(source.__pydantic_fields_set__)
    shape = _SHAPES.get(type(source)) or _shape(type(source))
    for name, alias in shape[1]:
        if name in members:
            members.discard(name)
            members.add(alias)
    if source.__pydantic_extra__:
        members.update(source.__pydantic_extra__)
    return members


def _model_to_dict(model: _Model) -> dict[str, Any]:
    # Hot path of StreamState.handle_chunk (a chunk is a chunk, a choice and a delta model,
    # twenty fields, mostly strings or None).  Copying __dict__ and converting only the fields
    # whose type can hold a model or a container costs ~2 us a chunk; model_dump ~3.  The
    # parts the fold merges member by member keep their unset fields (None: ignored); the
    # values it keeps as they are (usage, logprob entries...) get the members that were set.
    out = model.__dict__.copy()
    shape = _SHAPES.get(model.__class__)
    if shape is None:
        shape = _shape(model.__class__)
    nested, aliases, exact = shape
    if exact:
        fields_set = model.__pydantic_fields_set__
        if len(fields_set) < len(out):
            for name in [name for name in out if name not in fields_set]:
                del out[name]
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
_SHAPES: dict[type, tuple[tuple[str, ...], tuple[tuple[str, str], ...], bool]] = {}
#: The parts of a chunk the fold merges member by member (it ignores their null members).
_MERGED = (
    ChatCompletionChunk,
    chunk_types.Choice,
    chunk_types.ChoiceDelta,
    chunk_types.ChoiceDeltaToolCall,
    chunk_types.ChoiceDeltaToolCallFunction,
    chunk_types.ChoiceDeltaFunctionCall,
    chunk_types.ChoiceLogprobs,
)


def _shape(cls: type[_Model]) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...], bool]:
    """A model class's fields that may hold models or containers, its aliased fields, and
    whether only its fields that were set are kept."""
    fields = cls.model_fields
    nested = tuple(name for name, info in fields.items() if not _is_scalar(info.annotation))
    aliases = tuple((name, info.alias) for name, info in fields.items() if info.alias and info.alias != name)
    _SHAPES[cls] = shape = (nested, aliases, not issubclass(cls, _MERGED))
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
    if kind in _SHAPES or is_model_type(kind):
        return _model_to_dict(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


_MODEL_TYPES: dict[type, bool] = {}


def is_model_type(kind: type) -> bool:
    """``issubclass(kind, pydantic.BaseModel)``, remembered: pydantic's metaclass makes
    ``isinstance`` cost a microsecond, twice per chunk on the hot path."""
    known = _MODEL_TYPES.get(kind)
    if known is None:
        known = _MODEL_TYPES[kind] = issubclass(kind, _Model)
    return known


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
    return inspect.isclass(response_format)


def request_format(response_format: Any) -> Any:
    """The ``response_format`` request parameter for a type, as openai's ``.stream()`` sends it."""
    if not is_rich_format(response_format):
        return response_format
    # openai-python's own conversion (strict JSON schema), so requests match .stream()'s.
    from openai.lib._parsing._completions import type_to_response_format_param

    return type_to_response_format_param(response_format)


def parse_content(response_format: Any, content: str) -> Any:
    """Content parsed into ``response_format`` (a pydantic model or any type pydantic knows)."""
    if issubclass(response_format, _Model):
        return response_format.model_validate_json(content)
    return pydantic.TypeAdapter(response_format).validate_json(content)


def partial_json(text: str) -> Any:
    """The JSON value a prefix of a JSON document shows so far, as openai-python computes it
    (jiter's partial mode: unfinished strings left out).  Raises ValueError if it is not JSON."""
    return from_json(text.encode(), partial_mode=True)


class Tools:
    """The tools of a request, looked up by name as openai-python does (first function tool
    of that name), with what openai parses their arguments into."""

    def __init__(self, tools: Iterable[Any] | None) -> None:
        self.tools: list[Any] = list(tools) if is_given(tools) else []  # type: ignore[arg-type]
        self._by_name: dict[str, Any] = {}
        for tool in self.tools:
            if isinstance(tool, Mapping) and tool.get("type") == "function":
                function = tool.get("function")
                if isinstance(function, Mapping) and isinstance(function.get("name"), str):
                    self._by_name.setdefault(function["name"], function)

    def any_parseable(self) -> bool:
        """True if a tool's arguments are parsed (a ``pydantic_function_tool`` or a strict tool)."""
        return any(_model(function) is not None or function.get("strict") for function in self._by_name.values())

    def is_strict(self, name: str) -> bool:
        """openai parses a call's arguments as they stream for strict (and pydantic) tools only."""
        function = self._by_name.get(name)
        return bool(function is not None and function.get("strict"))

    def parse(self, name: str, arguments: str) -> Any:
        """A finished call's arguments as openai-python parses them: into the tool's pydantic
        model, as JSON for a strict tool, None for any other tool (or an unknown name)."""
        function = self._by_name.get(name)
        if function is None:
            return None
        model = _model(function)
        if model is not None:
            return model.model_validate_json(arguments)
        if not function.get("strict"):
            return None
        return json.loads(arguments)


def _model(function: Any) -> type[_Model] | None:
    model = getattr(function, "model", None)  # openai.pydantic_function_tool(...)
    return model if isinstance(model, type) and issubclass(model, _Model) else None


def has_parseable_input(response_format: Any, tools: Tools) -> bool:
    """openai-python's condition for raising on ``length`` / ``content_filter`` mid-stream."""
    return (is_given(response_format) and not isinstance(response_format, Mapping)) or tools.any_parseable()


# --------------------------------------------------------------------------- completions

#: The fields of openai's message, tool call and function models that a message dump
#: lists (the parse results are the drop-in's to set).
MESSAGE_FIELDS = tuple(name for name in ParsedChatCompletionMessage.model_fields if name != "parsed")
CALL_FIELDS = tuple(ParsedFunctionToolCall.model_fields)
FUNCTION_FIELDS = tuple(name for name in ParsedFunction.model_fields if name != "parsed_arguments")


def completion_model(data: dict[str, Any], *, final: bool) -> ParsedChatCompletion[Any]:
    """openai's ``ParsedChatCompletion`` for a completion dict (its members are the fields
    set: what ``to_dict()`` and ``to_json()`` list).

    openai-python builds it with its lenient recursive ``construct`` (which itself validates
    the optional members, usage and logprobs among them); on a completion that validates,
    pydantic's validation gives the same model fifteen times faster, so it is tried first.
    Anything it rejects (a provider's own finish reason, content as typed parts...) is built
    as openai builds it.
    """
    cls = _Final if final else _Snapshot
    try:
        return cls.model_validate(data)
    except pydantic.ValidationError:
        return cls.model_construct(**data)
