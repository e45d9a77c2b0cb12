"""The OpenAI adapter's request headers, built once per adapter: every exchange must still
send exactly what building them per request sent, and callers get a copy to change."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from aegis import errors
from aegis.http import HttpxClient
from aegis.providers.base import Provider, Secret
from aegis.providers.openai import OpenAIAdapter
from aegis.types import ChatRequest

COMPLETION = {"id": "c", "object": "chat.completion", "created": 1, "model": "m",
              "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"},
                           "finish_reason": "stop"}],
              "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}
SSE = (b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m",'
       b'"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}]}\n\n'
       b"data: [DONE]\n\n")


class Body(httpx.AsyncByteStream):
    def __init__(self, data: bytes) -> None:
        self.data = data

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.data


def expected_headers(provider: Provider, *, stream: bool) -> dict[str, str]:
    """What the adapter built per request before: JSON, the key, the provider's own."""
    headers = {"content-type": "application/json", "accept": "application/json"}
    if provider.api_key:
        headers["authorization"] = f"Bearer {provider.api_key.reveal()}"
    headers.update(provider.headers)
    if stream:
        headers["accept"] = "text/event-stream"
    return headers


@pytest.mark.parametrize("provider", [
    Provider(name="p", kind="openai", base_url="https://u.example/v1",
             api_key=Secret("sk-test-123456")),
    Provider(name="p", kind="openai", base_url="https://u.example/v1"),
    Provider(name="p", kind="openai", base_url="https://u.example/v1", api_key=Secret("k"),
             headers={"x-org": "o", "accept": "application/x-custom", "Authorization": "t"}),
], ids=["key", "no-key", "provider-headers"])
async def test_every_exchange_sends_the_headers_built_per_request_before(
    provider: Provider,
) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if orjson.loads(request.content).get("stream"):
            return httpx.Response(200, stream=Body(SSE))
        return httpx.Response(200, stream=Body(orjson.dumps(COMPLETION)))

    adapter = OpenAIAdapter(provider, HttpxClient(transport=httpx.MockTransport(handler)))
    chat = ChatRequest(model="m", messages=[{"role": "user", "content": "hi"}])
    expected: list[dict[str, Any]] = []
    for _ in range(2):
        await adapter.complete(chat, "m")
        expected.append(expected_headers(provider, stream=False))
        async for _chunk in adapter.stream(chat, "m"):
            pass
        expected.append(expected_headers(provider, stream=True))
    added = ("host", "content-length", "accept-encoding", "connection", "user-agent")
    for request, headers in zip(sent, expected, strict=True):
        got = [(k, v) for k, v in request.headers.multi_items() if k not in added]
        assert got == httpx.Headers(headers).multi_items()
    await adapter.aclose()


def test_callers_get_their_own_copy_of_the_headers() -> None:
    provider = Provider(name="p", kind="openai", api_key=Secret("sk-test-123456"))
    adapter = OpenAIAdapter(provider, None)
    first = adapter._headers()
    first["accept"] = "text/event-stream"
    first["x-mine"] = "1"
    assert adapter._headers() == expected_headers(provider, stream=False)
    assert adapter._headers() is not adapter._headers()


def reference_body(adapter: OpenAIAdapter, request: ChatRequest, model: str, *,
                   stream: bool) -> dict[str, Any]:
    """``build_body`` as it was: the optional parameters through a loop of getattr."""
    body: dict[str, Any] = dict(request.extra)
    body["model"] = model
    body["messages"] = request.messages
    if request.max_tokens is not None:
        body[adapter.provider.options.get("max_tokens_field", "max_tokens")] = request.max_tokens
    for name in ("temperature", "top_p", "tool_choice", "response_format"):
        value = getattr(request, name)
        if value is not None:
            body[name] = value
    if request.stop is not None:
        body["stop"] = list(request.stop)
    if request.tools:
        body["tools"] = request.tools
    if stream:
        body["stream"] = True
        if adapter.provider.options.get("stream_usage", True):
            body["stream_options"] = {"include_usage": True}
    return body


@pytest.mark.parametrize("options", [{}, {"max_tokens_field": "max_completion_tokens",
                                          "stream_usage": False}])
def test_request_bodies_are_built_as_before(options: dict[str, Any]) -> None:
    adapter = OpenAIAdapter(Provider(name="p", kind="openai", options=options), None)
    values: dict[str, list[Any]] = {
        "max_tokens": [None, 16], "temperature": [None, 0.0, 0.7], "top_p": [None, 1.0],
        "tool_choice": [None, "auto", {"type": "function"}],
        "response_format": [None, {"type": "json_object"}], "stop": [None, (), ("a", "b")],
        "tools": [None, [{"type": "function", "function": {"name": "f"}}]],
        "extra": [{}, {"seed": 1, "temperature": 9, "user": "u"}],
    }
    names = list(values)
    for combo in itertools.product(*values.values()):
        request = ChatRequest(model="m", messages=[{"role": "user", "content": "hi"}],
                              **dict(zip(names, combo, strict=True)))
        for stream in (False, True):
            got = adapter.build_body(request, "up", stream=stream)
            expected = reference_body(adapter, request, "up", stream=stream)
            assert list(got.items()) == list(expected.items())  # same keys, same order


async def test_an_error_whose_message_is_an_object_reads_as_json() -> None:
    """Mistral's 422 puts FastAPI's `detail` list where the message goes."""
    detail = {"detail": [{"type": "extra_forbidden", "msg": "Extra inputs are not permitted",
                          "loc": ["body", "stream_options", "include_usage"]}]}
    body = {"object": "error", "message": detail, "type": "invalid_request_message_error",
            "code": None}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(422, json=body)

    provider = Provider(name="mistral", kind="openai", base_url="https://api.mistral.test/v1",
                        api_key=Secret("k-0123456789"))
    adapter = OpenAIAdapter(provider, HttpxClient(transport=httpx.MockTransport(handler)))
    with pytest.raises(errors.UpstreamBadRequest) as info:
        await adapter.complete(ChatRequest(model="m", messages=[
            {"role": "user", "content": "hi"}]), "mistral-small-latest")
    assert info.value.message == "mistral: " + orjson.dumps(detail).decode()
