"""``chat_request`` / ``embedding_request``, pinned to the straightforward versions they
replaced (keyword construction, extras always by comprehension) over many varied bodies:
the same requests -- every field, the key order of the extras -- and the same errors."""

from __future__ import annotations

import itertools
import random
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import pytest

from aegis.errors import InvalidRequest
from aegis.types import ChatRequest, EmbeddingRequest
from aegis.validation import (
    _CHAT_FIELDS,
    _EMBED_FIELDS,
    _ChatBody,
    _check_part,
    _convert,
    _EmbeddingBody,
    chat_request,
    embedding_request,
)


def reference_chat_request(data: Mapping[str, Any]) -> ChatRequest:
    body = _convert(data, _ChatBody)
    if not body.messages:
        raise InvalidRequest("messages: must contain at least one message", param="messages")
    for i, msg in enumerate(body.messages):
        if isinstance(msg.content, list):
            for j, part in enumerate(msg.content):
                _check_part(part, f"messages[{i}].content[{j}]")
        if msg.role == "tool" and not msg.tool_call_id:
            raise InvalidRequest(f"messages[{i}].tool_call_id: required for role 'tool'",
                                 param=f"messages[{i}].tool_call_id")
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
            param="tool_choice")
    if body.response_format is not None and body.response_format.get("type") not in (
            "text", "json_object", "json_schema"):
        raise InvalidRequest(
            "response_format.type: must be 'text', 'json_object' or 'json_schema'",
            param="response_format.type")
    stop = (body.stop,) if isinstance(body.stop, str) else (
        tuple(body.stop) if body.stop is not None else None)
    extra = {k: v for k, v in data.items() if k not in _CHAT_FIELDS}
    return ChatRequest(
        model=body.model, messages=data["messages"], stream=body.stream,
        include_usage=bool(body.stream_options and body.stream_options.include_usage),
        max_tokens=max_tokens, temperature=body.temperature, top_p=body.top_p, stop=stop,
        tools=data.get("tools") or None, tool_choice=body.tool_choice,
        response_format=body.response_format, extra=extra)


def reference_embedding_request(data: Mapping[str, Any]) -> EmbeddingRequest:
    body = _convert(data, _EmbeddingBody)
    inputs = [body.input] if isinstance(body.input, str) else body.input
    if not inputs:
        raise InvalidRequest("input: must not be empty", param="input")
    extra = {k: v for k, v in data.items() if k not in _EMBED_FIELDS}
    return EmbeddingRequest(model=body.model, input=inputs, dimensions=body.dimensions,
                            encoding=body.encoding_format or "float", extra=extra)


TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
MESSAGES: list[Any] = [
    [{"role": "user", "content": "Say hello."}],
    [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi", "name": "n"}],
    [{"role": "user", "content": [{"type": "text", "text": "look"},
                                  {"type": "image_url", "image_url": {"url": "https://x/i.png"}}]}],
    [{"role": "assistant", "content": None,
      "tool_calls": [{"id": "c1", "type": "function",
                      "function": {"name": "f", "arguments": "{}"}}]},
     {"role": "tool", "content": "42", "tool_call_id": "c1"}],
    [{"role": "tool", "content": "42"}],  # no tool_call_id
    [{"role": "user", "content": [{"type": "audio"}]}],
    [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x"}}]}],
    [{"role": "robot", "content": "x"}],
    [{"role": "user", "content": "x", "unknown": 1}],
    [],
    "not a list",
]
OPTIONS: dict[str, list[Any]] = {
    "stream": [True, False, 1],
    "stream_options": [{"include_usage": True}, {"include_usage": False}, {}],
    "max_tokens": [16, 0, -1, True, 2**70, 1.5],
    "max_completion_tokens": [8, 0],
    "temperature": [0, 0.7, 2, 2.5, -0.1, True, "1"],
    "top_p": [0.5, 1, 1.5],
    "stop": ["\n", ["a", "b"], [], 3],
    "tools": [[TOOL], [], [{"type": "other"}]],
    "tool_choice": ["auto", "none", "required", "any", {"type": "function"}],
    "response_format": [{"type": "json_object"}, {"type": "json_schema"}, {"type": "xml"}],
    "n": [1, 2, None],
    "aegis": [{"task_type": "chat"}],
    "user": ["u-1"], "seed": [7], "logprobs": [True],
}


def bodies() -> list[Any]:
    rnd = random.Random(7)
    names = list(OPTIONS)
    out: list[Any] = [[], None, "text", {"messages": MESSAGES[0]}, {"model": "m"},
                      {"model": 3, "messages": MESSAGES[0]}]
    for messages in MESSAGES:
        out.append({"model": "auto", "messages": messages})
    for _ in range(3000):
        body: dict[str, Any] = {}
        keys = rnd.sample(names, rnd.randrange(0, 6))
        if rnd.random() < 0.95:
            body["model"] = rnd.choice(["auto", "gpt-4o-mini"])
        if rnd.random() < 0.95:
            body["messages"] = rnd.choice(MESSAGES[:4] if rnd.random() < 0.8 else MESSAGES)
        for key in keys:
            body[key] = rnd.choice(OPTIONS[key])
        items = list(body.items())
        rnd.shuffle(items)  # extras keep the caller's order, wherever they are
        body = dict(items)
        out.append(body if rnd.random() < 0.9 else MappingProxyType(body))
    return out


def outcome(fn: Any, data: Any) -> Any:
    try:
        result = fn(data)
    except InvalidRequest as exc:
        return ("error", type(exc), exc.message, exc.param)
    return result


def test_chat_requests_are_what_the_reference_builds() -> None:
    valid = 0
    for data in bodies():
        got, expected = outcome(chat_request, data), outcome(reference_chat_request, data)
        assert got == expected, data
        if isinstance(expected, ChatRequest):
            valid += 1
            assert isinstance(got, ChatRequest)
            assert got.messages is expected.messages  # the caller's own objects
            assert list(got.extra.items()) == list(expected.extra.items())  # same order
            assert type(got.extra) is dict
    assert valid > 500  # plenty of bodies pass, with and without extras


@pytest.mark.parametrize(("inputs", "extra"), list(itertools.product(
    ["text", ["a", "b"], [], 3], [{}, {"user": "u", "aegis": {}}, {"encoding_format": "x"}])))
def test_embedding_requests_are_what_the_reference_builds(
    inputs: Any, extra: dict[str, Any],
) -> None:
    for data in ({"model": "e", "input": inputs, **extra},
                 {**extra, "input": inputs, "model": "e", "dimensions": 8}):
        got = outcome(embedding_request, data)
        assert got == outcome(reference_embedding_request, data)
        if isinstance(got, EmbeddingRequest):
            assert list(got.extra) == [k for k in data if k not in _EMBED_FIELDS]
