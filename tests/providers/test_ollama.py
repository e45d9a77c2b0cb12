"""The Ollama adapter: mapping details against a mock transport, then the whole
exchange against ``FakeOllama`` over loopback."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest

from aegis import errors
from aegis.http import HttpxClient
from aegis.providers.base import Provider
from aegis.providers.ollama import OllamaAdapter
from aegis.types import ChatRequest, Chunk, CompletionBuilder, EmbeddingRequest, Message, Tool
from tests.fakes.base import Fault
from tests.fakes.ollama import EMBED_DIM, FakeOllama

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n not really").decode()
TOOLS: list[Tool] = [{"type": "function", "function": {
    "name": "get_weather", "description": "Current weather",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
}}]
DONE = {"model": "llama3.2", "created_at": "2024-07-22T20:33:28.123648123Z", "done": True,
        "done_reason": "stop", "prompt_eval_count": 26, "eval_count": 298,
        "total_duration": 5191566416, "load_duration": 2154458}


def adapter_for(
    handler: Callable[[httpx.Request], httpx.Response], **options: Any
) -> OllamaAdapter:
    provider = Provider(name="local", kind="ollama", base_url="http://ollama.test:11434",
                        locality="local", options=options)
    return OllamaAdapter(provider, HttpxClient(transport=httpx.MockTransport(handler)))


class Body(httpx.AsyncByteStream):
    """A streamed body in small pieces, so lines straddle chunk boundaries. (A response
    built with ``content=`` is pre-read by httpx and cannot be streamed again.)"""

    def __init__(self, data: bytes, size: int = 7) -> None:
        self.pieces = [data[i:i + size] for i in range(0, len(data), size)]

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            yield piece


def respond(status: int, data: bytes, content_type: str) -> httpx.Response:
    return httpx.Response(status, stream=Body(data), headers={"content-type": content_type})


class Upstream:
    """A mock Ollama: records request bodies, answers with a canned reply."""

    def __init__(self, reply: Any = None, status: int = 200, lines: list[Any] | None = None):
        self.reply = reply if reply is not None else {
            **DONE, "message": {"role": "assistant", "content": "Hello! How are you today?"}}
        self.status = status
        self.lines = lines
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.lines is not None:
            body = b"".join(orjson.dumps(line) + b"\n" for line in self.lines)
            return respond(self.status, body, "application/x-ndjson")
        payload = self.reply if isinstance(self.reply, bytes) else orjson.dumps(self.reply)
        return respond(self.status, payload, "application/json; charset=utf-8")

    @property
    def body(self) -> Any:
        return orjson.loads(self.requests[-1].content)


def req(*messages: Message, **kwargs: Any) -> ChatRequest:
    return ChatRequest(model="local/llama3.2", messages=list(messages), **kwargs)


async def collect(chunks: AsyncIterator[Chunk]) -> list[Chunk]:
    return [chunk async for chunk in chunks]


# -- request mapping ----------------------------------------------------------


async def test_basic_request_is_native_chat_with_explicit_stream_false() -> None:
    up = Upstream()
    adapter = adapter_for(up, keep_alive="10m", num_ctx=8192)
    await adapter.complete(req({"role": "developer", "content": "be brief"},
                               {"role": "user", "content": "hi"},
                               max_tokens=64, temperature=0.2, top_p=0.9, stop=("END",),
                               extra={"seed": 7, "user": "u1"}), "llama3.2")
    request = up.requests[0]
    assert request.method == "POST" and request.url.path == "/api/chat"
    assert up.body == {
        "model": "llama3.2",
        "messages": [{"role": "system", "content": "be brief"},
                     {"role": "user", "content": "hi"}],
        "stream": False,
        "options": {"num_ctx": 8192, "num_predict": 64, "temperature": 0.2, "top_p": 0.9,
                    "stop": ["END"], "seed": 7},
        "keep_alive": "10m",
    }


async def test_data_url_images_become_base64_and_text_parts_join() -> None:
    up = Upstream()
    await adapter_for(up).complete(req({"role": "user", "content": [
        {"type": "text", "text": "what is"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "text", "text": "in this picture?"},
        {"type": "image_url", "image_url": {"url": "data:image/gif,GIF89a", "detail": "low"}},
    ]}), "llava")
    assert up.body["messages"] == [{
        "role": "user", "content": "what is\nin this picture?",
        "images": [PNG, base64.b64encode(b"GIF89a").decode()],
    }]


@pytest.mark.parametrize("url", ["https://example.com/cat.png", "http://10.0.0.1/x.jpg"])
async def test_remote_image_urls_are_refused_before_any_request(url: str) -> None:
    up = Upstream()
    message: Message = {"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": url}}]}
    with pytest.raises(errors.InvalidRequest, match="not supported by Ollama") as info:
        await adapter_for(up).complete(req(message), "llava")
    assert "data: URL" in info.value.message and info.value.param == "messages"
    assert up.requests == []


async def test_bad_base64_data_url_is_refused() -> None:
    message: Message = {"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,@@not-base64@@"}}]}
    with pytest.raises(errors.InvalidRequest, match="base64"):
        await adapter_for(Upstream()).complete(req(message), "llava")


async def test_tool_calls_and_results_map_to_objects_and_tool_name() -> None:
    up = Upstream()
    await adapter_for(up).complete(req(
        {"role": "user", "content": "weather in Paris and Rome?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_a", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"location": "Paris"}'}},
            {"id": "call_b", "type": "function",
             "function": {"name": "get_time", "arguments": ""}},
        ]},
        {"role": "tool", "tool_call_id": "call_b", "content": "12:00"},
        {"role": "tool", "tool_call_id": "call_a", "content": [{"type": "text", "text": "22C"}]},
        tools=TOOLS,
    ), "llama3.2")
    body = up.body
    assert body["tools"] == TOOLS
    assert body["messages"][1] == {"role": "assistant", "content": "", "tool_calls": [
        {"function": {"name": "get_weather", "arguments": {"location": "Paris"}}},
        {"function": {"name": "get_time", "arguments": {}}},
    ]}
    assert body["messages"][2] == {"role": "tool", "content": "12:00", "tool_name": "get_time"}
    assert body["messages"][3] == {"role": "tool", "content": "22C", "tool_name": "get_weather"}


async def test_tool_name_lookup_follows_reused_ids() -> None:
    """Two turns may reuse an id (``call_0``); a result names the latest call with it."""
    up = Upstream()
    def called(name: str) -> Message:
        return {"role": "assistant", "tool_calls": [
            {"id": "call_0", "type": "function", "function": {"name": name, "arguments": "{}"}}]}

    await adapter_for(up).complete(req(
        called("a"), {"role": "tool", "tool_call_id": "call_0", "content": "1"},
        called("b"), {"role": "tool", "tool_call_id": "call_0", "content": "2"},
    ), "llama3.2")
    assert [m.get("tool_name") for m in up.body["messages"]] == [None, "a", None, "b"]


@pytest.mark.parametrize("arguments", ["{not json", "[1, 2]", '"text"'])
async def test_non_object_tool_arguments_are_invalid_request(arguments: str) -> None:
    message: Message = {"role": "assistant", "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "f", "arguments": arguments}}]}
    with pytest.raises(errors.InvalidRequest, match="JSON object"):
        await adapter_for(Upstream()).complete(req(message), "llama3.2")


async def test_tool_choice_none_withholds_tools() -> None:
    up = Upstream()
    await adapter_for(up).complete(
        req({"role": "user", "content": "hi"}, tools=TOOLS, tool_choice="none"), "llama3.2")
    assert "tools" not in up.body


@pytest.mark.parametrize(("response_format", "expected"), [
    ({"type": "json_object"}, "json"),
    ({"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
     {"type": "object"}),
    ({"type": "text"}, None),
])
async def test_response_format_maps_to_format(
    response_format: dict[str, Any], expected: Any
) -> None:
    up = Upstream()
    await adapter_for(up).complete(
        req({"role": "user", "content": "hi"}, response_format=response_format), "llama3.2")
    assert up.body.get("format") == expected


# -- response mapping ---------------------------------------------------------


async def test_response_becomes_chat_completion_with_usage() -> None:
    completion = await adapter_for(Upstream()).complete(
        req({"role": "user", "content": "hi"}), "llama3.2")
    body = completion.body
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert body["model"] == "llama3.2"
    assert body["created"] == 1721680408  # 2024-07-22T20:33:28Z
    assert completion.content == "Hello! How are you today?"
    assert completion.finish_reason == "stop"
    assert body["usage"] == {"prompt_tokens": 26, "completion_tokens": 298, "total_tokens": 324}


async def test_a_prompt_prefix_from_the_kv_cache_counts_as_cached_tokens() -> None:
    reply = {**DONE, "message": {"role": "assistant", "content": "hi"},
             "prompt_eval_count": 2029, "prompt_eval_cached_count": 2000}
    completion = await adapter_for(Upstream(reply)).complete(
        req({"role": "user", "content": "hi"}), "llama3.2")
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.cached_tokens) == (2029, 2000)
    assert completion.body["usage"]["prompt_tokens_details"] == {"cached_tokens": 2000}


async def test_tool_call_response_gets_ids_and_json_text_arguments() -> None:
    reply = {**DONE, "message": {"role": "assistant", "content": "", "tool_calls": [
        {"function": {"name": "get_weather", "arguments": {"location": "Paris, FR"}}},
        {"function": {"name": "get_weather", "arguments": {"location": "Rome"}}},
    ]}}
    adapter = adapter_for(Upstream(reply))
    completion = await adapter.complete(req({"role": "user", "content": "hi"}), "llama3.2")
    calls = completion.tool_calls
    assert completion.finish_reason == "tool_calls"
    assert completion.message["content"] is None
    assert [c["function"]["arguments"] for c in calls] == [
        '{"location":"Paris, FR"}', '{"location":"Rome"}']
    assert all(c["type"] == "function" and c["id"].startswith("call_") for c in calls)
    assert len({c["id"] for c in calls}) == 2
    again = await adapter.complete(req({"role": "user", "content": "hi"}), "llama3.2")
    assert [c["id"] for c in again.tool_calls] == [c["id"] for c in calls]  # deterministic


async def test_upstream_tool_call_ids_are_kept() -> None:
    reply = {**DONE, "message": {"role": "assistant", "content": "", "tool_calls": [
        {"id": "call_x1y2z3w4", "function": {"index": 0, "name": "f", "arguments": {}}}]}}
    completion = await adapter_for(Upstream(reply)).complete(
        req({"role": "user", "content": "hi"}), "m")
    assert completion.tool_calls[0]["id"] == "call_x1y2z3w4"
    assert completion.tool_calls[0]["function"]["arguments"] == "{}"


async def test_done_reason_length_is_finish_reason_length() -> None:
    reply = {**DONE, "done_reason": "length", "message": {"role": "assistant", "content": "a"}}
    completion = await adapter_for(Upstream(reply)).complete(
        req({"role": "user", "content": "hi"}), "m")
    assert completion.finish_reason == "length"


async def test_thinking_becomes_reasoning_content() -> None:
    reply = {**DONE, "message": {"role": "assistant", "content": "4", "thinking": "2+2"}}
    completion = await adapter_for(Upstream(reply)).complete(
        req({"role": "user", "content": "2+2?"}), "qwen3")
    assert completion.message["reasoning_content"] == "2+2"


# -- streaming ----------------------------------------------------------------


def line(content: str = "", **extra: Any) -> dict[str, Any]:
    return {"model": "llama3.2", "created_at": "2024-07-22T20:33:28.1Z",
            "message": {"role": "assistant", "content": content, **extra}, "done": False}


async def test_stream_maps_lines_to_chunks() -> None:
    final = {**DONE, "message": {"role": "assistant", "content": ""}}
    up = Upstream(lines=[line("The"), line(" sky"), final])
    chunks = await collect(adapter_for(up).stream(req({"role": "user", "content": "hi"}), "m"))
    assert up.body["stream"] is True
    assert up.requests[0].headers["accept"] == "application/x-ndjson"
    assert [c.data["choices"][0]["delta"] for c in chunks[:2]] == [
        {"role": "assistant", "content": "The"}, {"content": " sky"}]
    assert chunks[-2].finish_reason == "stop" and chunks[-2].delta == {}
    assert chunks[-1].data["choices"] == []
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 324
    assert len({(c.data["id"], c.data["model"], c.data["created"]) for c in chunks}) == 1
    assert all(c.data["object"] == "chat.completion.chunk" and c.raw is None for c in chunks)


async def test_stream_tool_calls_are_one_indexed_delta() -> None:
    calls = [{"function": {"name": "get_weather", "arguments": {"location": "Toronto"}}}]
    up = Upstream(lines=[line("", tool_calls=calls),
                         {**DONE, "message": {"role": "assistant", "content": ""}}])
    chunks = await collect(adapter_for(up).stream(req({"role": "user", "content": "hi"}), "m"))
    delta = chunks[0].delta
    assert delta["tool_calls"] == [{"index": 0, "id": delta["tool_calls"][0]["id"],
                                    "type": "function", "function": {
                                        "name": "get_weather",
                                        "arguments": '{"location":"Toronto"}'}}]
    assert chunks[-2].finish_reason == "tool_calls"  # though Ollama's done line says "stop"


async def test_stream_error_line_raises_provider_error() -> None:
    error = {"error": "an error was encountered while running the model"}
    up = Upstream(lines=[line("Yes"), error])
    with pytest.raises(errors.UpstreamUnavailable, match="error was encountered"):
        await collect(adapter_for(up).stream(req({"role": "user", "content": "hi"}), "m"))


async def test_stream_without_done_line_is_invalid_response() -> None:
    up = Upstream(lines=[line("Yes"), line(".")])
    with pytest.raises(errors.InvalidUpstreamResponse, match="done"):
        await collect(adapter_for(up).stream(req({"role": "user", "content": "hi"}), "m"))


async def test_stream_malformed_line_is_invalid_response() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return respond(200, b'{"model":"m","message":{"con\n', "application/x-ndjson")
    with pytest.raises(errors.InvalidUpstreamResponse, match="malformed"):
        await collect(adapter_for(handler).stream(req({"role": "user", "content": "hi"}), "m"))


# -- errors ---------------------------------------------------------------------


@pytest.mark.parametrize("message", [
    "model 'llama9' not found",  # current /api/chat wording
    'model "llama9" not found, try pulling it first',  # the scheduler's wording
])
async def test_model_not_found_names_the_model(message: str) -> None:
    up = Upstream({"error": message}, status=404)
    with pytest.raises(errors.ModelUnavailable) as info:  # another candidate may have it
        await adapter_for(up).complete(req({"role": "user", "content": "hi"}), "llama9")
    assert "'llama9'" in info.value.message and "ollama pull llama9" in info.value.message
    assert info.value.upstream_status == 404 and info.value.param == "model"
    assert info.value.provider == "local"


@pytest.mark.parametrize(("status", "body", "expected"), [
    (500, {"error": "llama runner process has terminated"}, errors.UpstreamUnavailable),
    (503, {"error": "server busy, please try again.  maximum pending requests exceeded"},
     errors.UpstreamUnavailable),
    (400, {"error": "invalid options"}, errors.UpstreamBadRequest),
    (429, {"error": "too many requests"}, errors.RateLimited),
    (401, {"error": "unauthorized"}, errors.UpstreamAuthError),
    (502, b"<html>bad gateway</html>", errors.UpstreamUnavailable),
])
async def test_http_errors_are_classified(
    status: int, body: Any, expected: type[errors.ProviderError]
) -> None:
    with pytest.raises(expected) as info:
        await adapter_for(Upstream(body, status=status)).complete(
            req({"role": "user", "content": "hi"}), "m")
    assert info.value.upstream_status == status
    if status in (500, 400):
        assert body["error"] in info.value.message


async def test_malformed_json_is_invalid_response() -> None:
    with pytest.raises(errors.InvalidUpstreamResponse):
        await adapter_for(Upstream(b'{"model": "m", "mess')).complete(
            req({"role": "user", "content": "hi"}), "m")


async def test_connection_refused_is_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)
    with pytest.raises(errors.UpstreamUnavailable):
        await adapter_for(handler).complete(req({"role": "user", "content": "hi"}), "m")


def test_capabilities() -> None:
    caps = OllamaAdapter.capabilities
    assert OllamaAdapter.kind == "ollama"
    assert all((caps.streaming, caps.tools, caps.vision, caps.embeddings, caps.json_mode,
                caps.model_listing))


# -- loopback against FakeOllama ------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOllama]:
    with FakeOllama() as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
def fake(server: FakeOllama) -> FakeOllama:
    server.reset()
    return server


@pytest.fixture
async def ollama(fake: FakeOllama) -> AsyncIterator[OllamaAdapter]:
    provider = Provider(name="ollama", kind="ollama", base_url=fake.base_url, locality="local")
    # An explicit transport keeps proxy environment variables away from loopback.
    adapter = OllamaAdapter(provider, HttpxClient(transport=httpx.AsyncHTTPTransport()))
    yield adapter
    await adapter.aclose()


async def stream_body(adapter: OllamaAdapter, request: ChatRequest, model: str) -> dict[str, Any]:
    builder = CompletionBuilder()
    for chunk in await collect(adapter.stream(request, model)):
        builder.add(chunk)
    body: dict[str, Any] = builder.build().body
    return body


def comparable(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ("id", "created")}


async def test_loopback_complete(fake: FakeOllama, ollama: OllamaAdapter) -> None:
    completion = await ollama.complete(req({"role": "user", "content": "why is the sky blue?"},
                                           max_tokens=50), "llama3.2")
    assert completion.content == "echo: why is the sky blue?"
    assert completion.finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (5, 6)
    (sent,) = fake.requests
    assert (sent.method, sent.path) == ("POST", "/api/chat")
    assert sent.headers["content-type"] == "application/json"
    assert sent.json == {"model": "llama3.2", "stream": False, "options": {"num_predict": 50},
                         "messages": [{"role": "user", "content": "why is the sky blue?"}]}


async def test_loopback_stream_reassembles_to_the_non_streamed_answer(
    fake: FakeOllama, ollama: OllamaAdapter
) -> None:
    request = req({"role": "system", "content": "echo"},
                  {"role": "user", "content": "tell me about the sea"})
    streamed = await stream_body(ollama, request, "llama3.2")
    plain = (await ollama.complete(request, "llama3.2")).body
    assert comparable(streamed) == comparable(plain)
    assert streamed["choices"][0]["message"]["content"] == "echo: tell me about the sea"
    assert [b["stream"] for b in fake.bodies("/api/chat")] == [True, False]


async def test_loopback_truncation_reports_length(ollama: OllamaAdapter) -> None:
    request = req({"role": "user", "content": "one two three four five"}, max_tokens=3)
    completion = await ollama.complete(request, "llama3.2")
    assert completion.finish_reason == "length"
    assert comparable(await stream_body(ollama, request, "llama3.2")) == comparable(
        completion.body)


async def test_loopback_tools_round_trip(fake: FakeOllama, ollama: OllamaAdapter) -> None:
    question: Message = {"role": "user", "content": "weather in Paris?"}
    first = await ollama.complete(req(question, tools=TOOLS), "llama3.2")
    assert first.finish_reason == "tool_calls"
    (call,) = first.tool_calls
    assert call["function"]["name"] == "get_weather"
    assert orjson.loads(call["function"]["arguments"]) == FakeOllama.TOOL_ARGUMENTS
    streamed = await stream_body(ollama, req(question, tools=TOOLS), "llama3.2")
    assert comparable(streamed) == comparable(first.body)

    followup = req(question, {"role": "assistant", "content": None, "tool_calls": [call]},
                   {"role": "tool", "tool_call_id": call["id"], "content": "22 degrees"},
                   tools=TOOLS)
    second = await ollama.complete(followup, "llama3.2")
    assert second.content == "get_weather returned: 22 degrees"
    sent = fake.bodies("/api/chat")[-1]
    assert sent["tools"] == TOOLS
    assert sent["messages"][1] == {"role": "assistant", "content": "", "tool_calls": [
        {"function": {"name": "get_weather", "arguments": FakeOllama.TOOL_ARGUMENTS}}]}
    assert sent["messages"][2] == {"role": "tool", "content": "22 degrees",
                                   "tool_name": "get_weather"}


async def test_loopback_image_input(fake: FakeOllama, ollama: OllamaAdapter) -> None:
    request = req({"role": "user", "content": [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]})
    completion = await ollama.complete(request, "llava")
    assert completion.content == "echo: what is this? [1 image]"
    assert fake.bodies("/api/chat")[0]["messages"] == [
        {"role": "user", "content": "what is this?", "images": [PNG]}]


async def test_loopback_json_format(ollama: OllamaAdapter) -> None:
    completion = await ollama.complete(
        req({"role": "user", "content": "hi"}, response_format={"type": "json_object"}),
        "llama3.2")
    assert orjson.loads(completion.content or "") == {"echo": "echo: hi"}


async def test_loopback_embeddings(fake: FakeOllama, ollama: OllamaAdapter) -> None:
    result = await ollama.embed(
        EmbeddingRequest(model="e", input=["why is the sky blue?", "grass"]), "nomic-embed-text")
    assert len(result.vectors) == 2 and all(len(v) == EMBED_DIM for v in result.vectors)
    assert result.vectors[0] != result.vectors[1]
    assert result.usage.prompt_tokens == 6 and result.model == "nomic-embed-text"
    assert fake.bodies("/api/embed") == [
        {"model": "nomic-embed-text", "input": ["why is the sky blue?", "grass"]}]


async def test_loopback_list_models(fake: FakeOllama, ollama: OllamaAdapter) -> None:
    assert await ollama.list_models() == list(fake.models)
    assert (fake.requests[0].method, fake.requests[0].path) == ("GET", "/api/tags")


async def test_loopback_unknown_model(ollama: OllamaAdapter) -> None:
    with pytest.raises(errors.ModelUnavailable, match="'mystery:7b'"):
        await ollama.complete(req({"role": "user", "content": "hi"}), "mystery:7b")
    with pytest.raises(errors.ModelUnavailable, match="ollama pull mystery"):
        await collect(ollama.stream(req({"role": "user", "content": "hi"}), "mystery"))
    with pytest.raises(errors.ModelUnavailable, match="'mystery'"):
        await ollama.embed(EmbeddingRequest(model="e", input=["x"]), "mystery")


async def test_loopback_truncated_stream(fake: FakeOllama, ollama: OllamaAdapter) -> None:
    fake.fail(Fault(truncate_stream=True))
    request = req({"role": "user", "content": "a long enough answer please"})
    with pytest.raises(errors.InvalidUpstreamResponse):
        await collect(ollama.stream(request, "llama3.2"))


async def test_loopback_mid_stream_error(fake: FakeOllama, ollama: OllamaAdapter) -> None:
    fake.fail_mid_stream("an error was encountered while running the model")
    chunks: list[Chunk] = []
    with pytest.raises(errors.UpstreamUnavailable, match="running the model"):
        async for chunk in ollama.stream(req({"role": "user", "content": "a b c"}), "llama3.2"):
            chunks.append(chunk)
    assert chunks and chunks[0].delta["role"] == "assistant"


async def test_loopback_upstream_5xx(fake: FakeOllama, ollama: OllamaAdapter) -> None:
    fake.fail(Fault(status=503))
    with pytest.raises(errors.UpstreamUnavailable, match="injected HTTP 503") as info:
        await ollama.complete(req({"role": "user", "content": "hi"}), "llama3.2")
    assert info.value.retryable


async def test_loopback_connection_dropped_mid_stream(
    fake: FakeOllama, ollama: OllamaAdapter
) -> None:
    fake.fail(Fault(close_mid_body=True))
    with pytest.raises((errors.InvalidUpstreamResponse, errors.UpstreamUnavailable)):
        await collect(ollama.stream(req({"role": "user", "content": "a b c d"}), "llama3.2"))
