"""Validating OpenAI-shaped request bodies into canonical requests.

One validator for the HTTP gateway and the in-process API, so both reject the
same things with the same messages. ``msgspec`` checks the shape (fast, and it
names the offending path); the original mappings are kept and forwarded, so
fields Aegis does not model still reach OpenAI-compatible upstreams.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeVar

import msgspec

from aegis.errors import InvalidRequest
from aegis.types import ChatRequest, EmbeddingRequest

# -- shapes (validation only; the request keeps the caller's own mappings) -----


class _ImageURL(msgspec.Struct):
    url: str
    detail: str | None = None


class _Part(msgspec.Struct):
    type: str
    text: str | None = None
    image_url: _ImageURL | None = None


class _Function(msgspec.Struct):
    name: str
    arguments: str


class _ToolCall(msgspec.Struct):
    id: str
    function: _Function
    type: str = "function"


class _Message(msgspec.Struct):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[_Part] | None = None
    name: str | None = None
    tool_calls: list[_ToolCall] | None = None
    tool_call_id: str | None = None


class _FunctionDef(msgspec.Struct):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None


class _Tool(msgspec.Struct):
    type: Literal["function"]
    function: _FunctionDef


class _StreamOptions(msgspec.Struct):
    include_usage: bool = False


class _ChatBody(msgspec.Struct):
    model: str
    messages: list[_Message]
    stream: bool = False
    stream_options: _StreamOptions | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: str | list[str] | None = None
    tools: list[_Tool] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    n: int | None = None


class _EmbeddingBody(msgspec.Struct):
    model: str
    input: str | list[str]
    dimensions: int | None = None
    encoding_format: Literal["float", "base64"] | None = None


_T = TypeVar("_T")

_CHAT_FIELDS = frozenset(_ChatBody.__struct_fields__) | {"aegis"}
_EMBED_FIELDS = frozenset(_EmbeddingBody.__struct_fields__) | {"aegis"}


def _convert(data: Any, shape: type[_T]) -> _T:
    if not isinstance(data, Mapping):
        raise InvalidRequest("the request body must be a JSON object")
    try:
        return msgspec.convert(data, shape)
    except msgspec.ValidationError as exc:
        message = str(exc)
        param = None
        if " - at `$." in message:
            message, _, path = message.partition(" - at `$.")
            param = path.rstrip("`")
            message = f"{param}: {message}"
        elif "Object missing required field" in message:
            field = message.split("`")[1] if "`" in message else None
            param = field
            message = f"{field}: required field is missing"
        raise InvalidRequest(message, param=param) from None


def chat_request(data: Mapping[str, Any]) -> ChatRequest:
    body = _convert(data, _ChatBody)
    if not body.messages:
        raise InvalidRequest("messages: must contain at least one message", param="messages")
    for i, msg in enumerate(body.messages):
        if isinstance(msg.content, list):
            for j, part in enumerate(msg.content):
                _check_part(part, f"messages[{i}].content[{j}]")
        if msg.role == "tool" and not msg.tool_call_id:
            raise InvalidRequest(
                f"messages[{i}].tool_call_id: required for role 'tool'",
                param=f"messages[{i}].tool_call_id",
            )
    if body.n not in (None, 1):
        raise InvalidRequest("n: only n=1 is supported", param="n")
    max_tokens = body.max_completion_tokens if body.max_tokens is None else body.max_tokens
    if max_tokens is not None and max_tokens < 1:
        raise InvalidRequest("max_tokens: must be at least 1", param="max_tokens")
    if body.temperature is not None and not 0 <= body.temperature <= 2:
        raise InvalidRequest("temperature: must be between 0 and 2", param="temperature")
    if body.top_p is not None and not 0 <= body.top_p <= 1:
        raise InvalidRequest("top_p: must be between 0 and 1", param="top_p")
    if isinstance(body.tool_choice, str) and body.tool_choice not in ("auto", "none", "required"):
        raise InvalidRequest(
            "tool_choice: must be 'auto', 'none', 'required' or a function object",
            param="tool_choice",
        )
    if body.response_format is not None and body.response_format.get("type") not in (
        "text", "json_object", "json_schema"
    ):
        raise InvalidRequest(
            "response_format.type: must be 'text', 'json_object' or 'json_schema'",
            param="response_format.type",
        )
    stop = (body.stop,) if isinstance(body.stop, str) else (
        tuple(body.stop) if body.stop is not None else None
    )
    return ChatRequest(
        model=body.model,
        messages=data["messages"],
        stream=body.stream,
        include_usage=bool(body.stream_options and body.stream_options.include_usage),
        max_tokens=max_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
        stop=stop,
        tools=data.get("tools") or None,
        tool_choice=body.tool_choice,
        response_format=body.response_format,
        extra=_extra(data, _CHAT_FIELDS),
    )


def _check_part(part: _Part, where: str) -> None:
    if part.type == "text":
        if part.text is None:
            raise InvalidRequest(f"{where}.text: required for a text part", param=f"{where}.text")
    elif part.type == "image_url":
        if part.image_url is None:
            raise InvalidRequest(
                f"{where}.image_url: required for an image_url part", param=f"{where}.image_url"
            )
        if not part.image_url.url.startswith(("data:image/", "http://", "https://")):
            raise InvalidRequest(
                f"{where}.image_url.url: expected an http(s) URL or a data:image/... URL",
                param=f"{where}.image_url.url",
            )
    else:
        raise InvalidRequest(
            f"{where}.type: unsupported content part type {part.type!r} "
            "(supported: text, image_url)",
            param=f"{where}.type",
        )


def embedding_request(data: Mapping[str, Any]) -> EmbeddingRequest:
    body = _convert(data, _EmbeddingBody)
    inputs = [body.input] if isinstance(body.input, str) else body.input
    if not inputs:
        raise InvalidRequest("input: must not be empty", param="input")
    return EmbeddingRequest(model=body.model, input=inputs, dimensions=body.dimensions,
                            encoding=body.encoding_format or "float",
                            extra=_extra(data, _EMBED_FIELDS))


def _extra(data: Mapping[str, Any], known: frozenset[str]) -> dict[str, Any]:
    """The parameters Aegis does not model, in the caller's order (usually none at all)."""
    if known.issuperset(data):
        return {}
    return {k: v for k, v in data.items() if k not in known}
