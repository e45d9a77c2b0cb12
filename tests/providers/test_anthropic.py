"""The Anthropic adapter: mapping details against a mock transport, then the whole exchange
against ``FakeAnthropic`` over real sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest

from aegis import errors
from aegis.http import HttpxClient
from aegis.providers.anthropic import AnthropicAdapter
from aegis.providers.base import Provider, Secret
from aegis.types import ChatRequest, Chunk, Completion, CompletionBuilder
from tests.fakes.anthropic import API_KEY, MODELS, FakeAnthropic

KEY = "sk-ant-api03-SECRET-do-not-leak"
MODEL = "claude-haiku-4-5"
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}

Handler = Callable[[httpx.Request], httpx.Response]


def adapter_for(handler: Handler | None = None, *, base_url: str = "https://api.anthropic.com",
                key: str = KEY, **options: Any) -> AnthropicAdapter:
    transport = httpx.MockTransport(handler) if handler else httpx.AsyncHTTPTransport()
    provider = Provider(name="claude", kind="anthropic", base_url=base_url,
                        api_key=Secret(key), options=options)
    return AnthropicAdapter(provider, HttpxClient(transport=transport))


def chat(*messages: dict[str, Any], **kwargs: Any) -> ChatRequest:
    return ChatRequest(model=MODEL, messages=list(messages), **kwargs)  # type: ignore[arg-type]


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


class Body(httpx.AsyncByteStream):
    """A body httpx has not read yet: ``HttpxClient`` streams raw bytes, which a response
    built with ``content=`` / ``json=`` (already read) cannot give twice."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.data


class Recorder:
    """A mock upstream that answers every request with ``reply`` and keeps the requests."""

    def __init__(self, reply: httpx.Response | Callable[[httpx.Request], httpx.Response]) -> None:
        self.reply = reply
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.reply(request) if callable(self.reply) else self.reply
        return httpx.Response(reply.status_code, headers=reply.headers, stream=Body(reply.content))

    @property
    def body(self) -> Any:
        return orjson.loads(self.requests[-1].content)


def message(content: list[dict[str, Any]], stop_reason: str = "end_turn",
            **usage: int) -> httpx.Response:
    return httpx.Response(200, json={
        "id": "msg_01", "type": "message", "role": "assistant",
        "model": "claude-haiku-4-5-20251001", "content": content,
        "stop_reason": stop_reason, "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 5, **usage},
    })


def sse(*events: dict[str, Any]) -> httpx.Response:
    body = b"".join(b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps(e) + b"\n\n"
                    for e in events)
    return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})


TEXT_OK = message([{"type": "text", "text": "ok"}])


async def sent_body(request: ChatRequest, **options: Any) -> dict[str, Any]:
    rec = Recorder(TEXT_OK)
    adapter = adapter_for(rec, **options)
    await adapter.complete(request, MODEL)
    await adapter.aclose()
    return rec.body  # type: ignore[no-any-return]


async def collect(stream: AsyncIterator[Chunk]) -> list[Chunk]:
    return [chunk async for chunk in stream]


# -- request mapping -------------------------------------------------------------


async def test_system_messages_lift_out_and_same_role_turns_merge() -> None:
    rec = Recorder(TEXT_OK)
    adapter = adapter_for(rec)
    await adapter.complete(chat(
        {"role": "system", "content": "You are terse."},
        {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
        user("first"),
        user([{"type": "text", "text": "second"}]),
        {"role": "assistant", "content": "ok"},
        {"role": "assistant", "content": ""},  # empty text is dropped, not sent
        user("third"),
    ), MODEL)
    assert rec.body == {
        "model": MODEL,
        "max_tokens": 4096,
        "system": "You are terse.\n\nAnswer in French.",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "first"},
                                         {"type": "text", "text": "second"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "ok"}]},
            {"role": "user", "content": [{"type": "text", "text": "third"}]},
        ],
    }
    sent = rec.requests[-1]
    assert str(sent.url) == "https://api.anthropic.com/v1/messages"
    assert sent.headers["x-api-key"] == KEY
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in sent.headers


async def test_parameters_map_and_openai_only_ones_are_dropped() -> None:
    body = await sent_body(chat(
        user("hi"), max_tokens=50, temperature=1.7, top_p=0.9, stop=("END", "STOP"),
        extra={"seed": 7, "logprobs": True, "n": 1, "frequency_penalty": 0.5,
               "response_format": {"type": "json_object"}, "top_k": 40, "user": "u-42"},
    ))
    assert body == {
        "model": MODEL, "max_tokens": 50,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        "temperature": 1.0,  # OpenAI's range is 0..2, Anthropic's 0..1
        "stop_sequences": ["END", "STOP"], "top_k": 40,  # top_p: not beside a temperature
        "metadata": {"user_id": "u-42"},
    }


async def test_what_the_api_would_refuse_is_left_out() -> None:
    """Newer models refuse temperature with top_p, and every model refuses a
    whitespace-only stop sequence (the "\n" OpenAI clients like to send)."""
    assert (await sent_body(chat(user("hi"), top_p=0.9)))["top_p"] == 0.9  # alone: sent
    body = await sent_body(chat(user("hi"), temperature=0.3, top_p=0.9))
    assert body["temperature"] == 0.3 and "top_p" not in body
    body = await sent_body(chat(user("hi"), stop=("\n", " ", "END")))
    assert body["stop_sequences"] == ["END"]
    assert "stop_sequences" not in await sent_body(chat(user("hi"), stop=("\n\n",)))


async def test_max_tokens_defaults_and_version_option() -> None:
    assert (await sent_body(chat(user("hi"))))["max_tokens"] == 4096
    assert "top_p" not in await sent_body(chat(user("hi"), temperature=0.5, top_p=1.0))
    assert (await sent_body(chat(user("hi")), default_max_tokens=300))["max_tokens"] == 300
    body = await sent_body(chat(user("hi"), extra={"max_completion_tokens": 77}))
    assert body["max_tokens"] == 77
    # Version 2026-10-21 refuses sampling parameters, so they are not sent.
    rec = Recorder(TEXT_OK)
    adapter = adapter_for(rec, anthropic_version="2026-10-21")
    await adapter.complete(chat(user("hi"), temperature=0.2, top_p=0.5,
                                extra={"top_k": 3}), MODEL)
    assert rec.requests[0].headers["anthropic-version"] == "2026-10-21"
    assert not {"temperature", "top_p", "top_k"} & set(rec.body)


async def test_images_become_base64_or_url_sources() -> None:
    body = await sent_body(chat(user([
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg",
                                            "detail": "high"}},
    ])))
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "what is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]


@pytest.mark.parametrize(
    ("part", "param"),
    [
        ({"type": "image_url", "image_url": {"url": "data:image/png,rawbytes"}},
         "messages[0].content[0]"),
        ({"type": "image_url", "image_url": {"url": "ftp://example.com/x.png"}},
         "messages[0].content[0]"),
        ({"type": "input_audio", "input_audio": {"data": "", "format": "wav"}},
         "messages[0].content[0]"),
    ],
)
async def test_unsupported_content_is_a_request_error(part: dict[str, Any], param: str) -> None:
    rec = Recorder(TEXT_OK)
    with pytest.raises(errors.InvalidRequest) as info:
        await adapter_for(rec).complete(chat(user([part])), MODEL)
    assert info.value.param == param
    assert not rec.requests


async def test_tool_calls_become_tool_use_and_tool_results_one_user_turn() -> None:
    body = await sent_body(chat(
        user("weather in Paris and Rome?"),
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "toolu_a", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
            {"id": "toolu_b", "type": "function",
             "function": {"name": "get_weather", "arguments": ""}},
        ]},
        {"role": "tool", "tool_call_id": "toolu_a", "content": "sunny"},
        {"role": "tool", "tool_call_id": "toolu_b",
         "content": [{"type": "text", "text": "rain"}]},
        user("and tomorrow?"),
        tools=[WEATHER_TOOL], tool_choice="required",
    ))
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "weather in Paris and Rome?"}]},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_a", "name": "get_weather",
             "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "toolu_b", "name": "get_weather", "input": {}},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_a", "content": "sunny"},
            {"type": "tool_result", "tool_use_id": "toolu_b",
             "content": [{"type": "text", "text": "rain"}]},
            {"type": "text", "text": "and tomorrow?"},
        ]},
    ]
    assert body["tools"] == [{
        "name": "get_weather", "description": "Current weather for a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    }]
    assert body["tool_choice"] == {"type": "any"}


@pytest.mark.parametrize(
    ("choice", "extra", "expected"),
    [
        ("auto", {}, {"type": "auto"}),
        ("none", {}, {"type": "none"}),
        ("required", {}, {"type": "any"}),
        ({"type": "function", "function": {"name": "get_weather"}}, {},
         {"type": "tool", "name": "get_weather"}),
        (None, {}, None),
        (None, {"parallel_tool_calls": False}, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", {"parallel_tool_calls": False},
         {"type": "any", "disable_parallel_tool_use": True}),
    ],
)
async def test_tool_choice(choice: Any, extra: dict[str, Any], expected: Any) -> None:
    body = await sent_body(chat(user("hi"), tools=[WEATHER_TOOL], tool_choice=choice,
                                extra=extra))
    assert body.get("tool_choice") == expected


async def test_tool_choice_without_tools_is_not_sent() -> None:
    assert "tool_choice" not in await sent_body(chat(user("hi"), tool_choice="none"))


async def test_bad_tool_arguments_name_the_param() -> None:
    rec = Recorder(TEXT_OK)
    with pytest.raises(errors.InvalidRequest) as info:
        await adapter_for(rec).complete(chat(
            user("q"),
            {"role": "assistant", "tool_calls": [
                {"id": "t1", "type": "function",
                 "function": {"name": "f", "arguments": "{not json"}}]},
            {"role": "tool", "tool_call_id": "t1", "content": "r"},
        ), MODEL)
    assert info.value.param == "messages[1].tool_calls[0].function.arguments"
    assert not rec.requests


# -- response mapping -------------------------------------------------------------


async def test_response_maps_text_tools_thinking_and_cache_usage() -> None:
    rec = Recorder(message([
        {"type": "thinking", "thinking": "They want weather.", "signature": "sig"},
        {"type": "text", "text": "Let me "},
        {"type": "text", "text": "check."},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
         "input": {"city": "Paris", "days": 2}},
    ], "tool_use", input_tokens=10, output_tokens=7, cache_read_input_tokens=100,
        cache_creation_input_tokens=5))
    completion = await adapter_for(rec).complete(chat(user("hi")), MODEL)
    body = completion.body
    assert body["id"] == "msg_01" and body["object"] == "chat.completion"
    assert body["model"] == "claude-haiku-4-5-20251001"
    assert isinstance(body["created"], int)
    assert body["choices"] == [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": "Let me check.",
        "reasoning_content": "They want weather.",
        "tool_calls": [{"id": "toolu_1", "type": "function", "function": {
            "name": "get_weather", "arguments": '{"city":"Paris","days":2}'}}],
    }}]
    assert body["usage"] == {
        "prompt_tokens": 115, "completion_tokens": 7, "total_tokens": 122,
        "prompt_tokens_details": {"cached_tokens": 100, "cache_write_tokens": 5},
    }
    assert completion.usage is not None and completion.usage.cached_tokens == 100


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"),
     ("tool_use", "tool_calls"), ("refusal", "content_filter"),
     ("model_context_window_exceeded", "length"), ("pause_turn", "stop")],
)
async def test_stop_reasons(stop_reason: str, finish: str) -> None:
    rec = Recorder(message([{"type": "text", "text": "x"}], stop_reason))
    assert (await adapter_for(rec).complete(chat(user("hi")), MODEL)).finish_reason == finish


@pytest.mark.parametrize(
    "response",
    [httpx.Response(200, content=b'{"id": "msg_1", "content": [{"type": "te'),
     httpx.Response(200, json={"id": "msg_1", "type": "message"}),
     httpx.Response(200, json=["not", "an", "object"])],
)
async def test_malformed_responses(response: httpx.Response) -> None:
    with pytest.raises(errors.InvalidUpstreamResponse):
        await adapter_for(Recorder(response)).complete(chat(user("hi")), MODEL)


# -- errors -----------------------------------------------------------------------


def error(status: int, kind: str, message: str, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers, json={
        "type": "error", "error": {"type": kind, "message": message},
        "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy",
    })


@pytest.mark.parametrize(
    ("response", "error_class"),
    [
        (error(429, "rate_limit_error", "Number of request tokens has exceeded your limit"),
         errors.RateLimited),
        (error(529, "overloaded_error", "Overloaded"), errors.UpstreamUnavailable),
        (error(500, "api_error", "Internal server error"), errors.UpstreamUnavailable),
        (error(401, "authentication_error", f"invalid x-api-key {KEY}"),
         errors.UpstreamAuthError),
        (error(403, "permission_error", f"key {KEY} may not use this model"),
         errors.UpstreamAuthError),
        (error(400, "invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum"),
         errors.ContextTooLong),
        (error(400, "invalid_request_error", "messages.0.content: Field required"),
         errors.UpstreamBadRequest),
        (error(413, "request_too_large", "Request exceeds the maximum allowed number of bytes"),
         errors.UpstreamBadRequest),
        (httpx.Response(502, content=b"<html>Bad gateway</html>"), errors.UpstreamUnavailable),
    ],
)
async def test_error_classification(response: httpx.Response,
                                    error_class: type[errors.ProviderError]) -> None:
    with pytest.raises(error_class) as info:
        await adapter_for(Recorder(response)).complete(chat(user("hi")), MODEL)
    exc = info.value
    assert type(exc) is error_class
    assert exc.provider == "claude" and exc.upstream_status == response.status_code
    assert KEY not in str(exc) and KEY not in exc.message


async def test_rate_limit_carries_retry_after_and_the_message() -> None:
    response = error(429, "rate_limit_error", "slow down", **{"retry-after": "12"})
    with pytest.raises(errors.RateLimited) as info:
        await adapter_for(Recorder(response)).complete(chat(user("hi")), MODEL)
    assert info.value.retry_after == 12.0
    assert "slow down" in str(info.value)


async def test_transport_errors_never_show_the_key() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"refused {request.headers['x-api-key']}", request=request)

    with pytest.raises(errors.UpstreamUnavailable) as info:
        await adapter_for(refuse).complete(chat(user("hi")), MODEL)
    assert KEY not in str(info.value)
    assert KEY not in repr(adapter_for(refuse).provider)


# -- streaming (mock transport) ------------------------------------------------------

START = {"type": "message_start", "message": {
    "id": "msg_s1", "type": "message", "role": "assistant", "content": [],
    "model": "claude-haiku-4-5-20251001", "stop_reason": None, "stop_sequence": None,
    "usage": {"input_tokens": 12, "cache_read_input_tokens": 30,
              "cache_creation_input_tokens": 0, "output_tokens": 1},
}}
STOP = {"type": "message_stop"}


def block_start(index: int, block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": block}


def delta(index: int, **fields: str) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": fields}


def message_delta(stop_reason: str, **usage: int) -> dict[str, Any]:
    return {"type": "message_delta", "delta": {"stop_reason": stop_reason,
                                               "stop_sequence": None}, "usage": usage}


async def test_stream_events_become_openai_chunks() -> None:
    rec = Recorder(sse(
        START,
        block_start(0, {"type": "thinking", "thinking": "", "signature": ""}),
        {"type": "ping"},
        delta(0, type="thinking_delta", thinking="hmm"),
        delta(0, type="signature_delta", signature="sig"),
        {"type": "content_block_stop", "index": 0},
        block_start(1, {"type": "text", "text": ""}),
        delta(1, type="text_delta", text="Hi"),
        {"type": "content_block_stop", "index": 1},
        block_start(2, {"type": "tool_use", "id": "toolu_9", "name": "f", "input": {}}),
        delta(2, type="input_json_delta", partial_json=""),
        delta(2, type="input_json_delta", partial_json='{"a":'),
        delta(2, type="input_json_delta", partial_json="1}"),
        {"type": "content_block_stop", "index": 2},
        {"type": "some_future_event", "x": 1},
        message_delta("tool_use", output_tokens=9, input_tokens=14),
        STOP,
    ))
    adapter = adapter_for(rec)
    chunks = await collect(adapter.stream(chat(user("hi")), MODEL))
    assert rec.body["stream"] is True
    assert rec.requests[0].headers["accept"] == "text/event-stream"
    assert {(c.data["id"], c.data["model"], c.data["created"]) for c in chunks} == {
        ("msg_s1", "claude-haiku-4-5-20251001", chunks[0].data["created"])}
    assert all(c.data["object"] == "chat.completion.chunk" for c in chunks)
    assert [c.delta for c in chunks[:-2]] == [
        {"role": "assistant", "content": ""},
        {"reasoning_content": "hmm"},
        {"content": "Hi"},
        {"tool_calls": [{"index": 0, "id": "toolu_9", "type": "function",
                         "function": {"name": "f", "arguments": ""}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"a":'}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]},
    ]
    assert chunks[-2].finish_reason == "tool_calls" and chunks[-2].delta == {}
    assert chunks[-1].data["choices"] == []
    # message_delta usage is cumulative: its input_tokens replaces message_start's
    assert chunks[-1].data["usage"] == {
        "prompt_tokens": 44, "completion_tokens": 9, "total_tokens": 53,
        "prompt_tokens_details": {"cached_tokens": 30},
    }


@pytest.mark.parametrize(
    ("kind", "error_class"),
    [("overloaded_error", errors.UpstreamUnavailable), ("rate_limit_error", errors.RateLimited),
     ("api_error", errors.UpstreamUnavailable),
     ("invalid_request_error", errors.UpstreamBadRequest)],
)
async def test_stream_error_event(kind: str, error_class: type[errors.ProviderError]) -> None:
    rec = Recorder(sse(START, {"type": "error", "error": {"type": kind, "message": "Overloaded"}}))
    seen: list[Chunk] = []
    with pytest.raises(error_class):
        async for chunk in adapter_for(rec).stream(chat(user("hi")), MODEL):
            seen.append(chunk)
    assert len(seen) == 1  # the role chunk went out before the error arrived


async def test_stream_without_message_stop_is_invalid() -> None:
    rec = Recorder(sse(START, block_start(0, {"type": "text", "text": ""}),
                       delta(0, type="text_delta", text="Hi")))
    with pytest.raises(errors.InvalidUpstreamResponse):
        await collect(adapter_for(rec).stream(chat(user("hi")), MODEL))


async def test_stream_events_before_message_start_are_invalid() -> None:
    rec = Recorder(sse(delta(0, type="text_delta", text="Hi"), STOP))
    with pytest.raises(errors.InvalidUpstreamResponse):
        await collect(adapter_for(rec).stream(chat(user("hi")), MODEL))


async def test_stream_http_error_raises_before_any_chunk() -> None:
    rec = Recorder(error(529, "overloaded_error", "Overloaded"))
    with pytest.raises(errors.UpstreamUnavailable):
        await collect(adapter_for(rec).stream(chat(user("hi")), MODEL))


async def test_list_models_follows_pages() -> None:
    pages = {
        None: {"data": [{"type": "model", "id": "a"}, {"type": "model", "id": "b"}],
               "has_more": True, "first_id": "a", "last_id": "b"},
        "b": {"data": [{"type": "model", "id": "c"}], "has_more": False,
              "first_id": "c", "last_id": "c"},
    }
    rec = Recorder(lambda r: httpx.Response(200, json=pages[r.url.params.get("after_id")]))
    assert await adapter_for(rec).list_models() == ["a", "b", "c"]
    assert [r.method for r in rec.requests] == ["GET", "GET"]
    assert rec.requests[0].url.path == "/v1/models"
    assert rec.requests[0].headers["x-api-key"] == KEY


# -- against the fake, over loopback ---------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(cache_read_input_tokens=20) as fake:
        yield fake


@pytest.fixture
def fake(server: FakeAnthropic) -> FakeAnthropic:
    server.reset()
    return server


@pytest.fixture
async def claude(fake: FakeAnthropic) -> AsyncIterator[AnthropicAdapter]:
    adapter = adapter_for(base_url=fake.base_url, key=API_KEY)
    yield adapter
    await adapter.aclose()


async def streamed(adapter: AnthropicAdapter, request: ChatRequest) -> tuple[Completion,
                                                                             list[Chunk]]:
    builder = CompletionBuilder()
    chunks = await collect(adapter.stream(request, MODEL))
    for chunk in chunks:
        builder.add(chunk)
    return builder.build(), chunks


def comparable(completion: Completion) -> dict[str, Any]:
    """The body without what differs per call (ids, time); the fake mints fresh ids."""
    body = orjson.loads(orjson.dumps(completion.body))
    for call in body["choices"][0]["message"].get("tool_calls") or ():
        assert call.pop("id").startswith("toolu_")
    return {k: v for k, v in body.items() if k not in ("id", "created")}


async def test_complete_against_fake(claude: AnthropicAdapter, fake: FakeAnthropic) -> None:
    completion = await claude.complete(chat(
        {"role": "system", "content": "be brief"}, user("hello there"), max_tokens=64,
    ), MODEL)
    assert fake.requests[-1].headers["x-api-key"] == API_KEY
    assert fake.bodies("/v1/messages") == [{
        "model": MODEL, "max_tokens": 64, "system": "be brief",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hello there"}]}],
    }]
    assert completion.content == "echo: hello there"
    assert completion.model == "claude-haiku-4-5-20251001"
    assert completion.finish_reason == "stop"
    assert completion.body["usage"] == {
        "prompt_tokens": 24, "completion_tokens": 3, "total_tokens": 27,
        "prompt_tokens_details": {"cached_tokens": 20},
    }


@pytest.mark.parametrize(
    "request_",
    [
        chat(user("tell me a story about streams and sockets")),
        chat(user("weather in Paris?"), tools=[WEATHER_TOOL]),
        chat(user("think first"), extra={"thinking": {"type": "enabled", "budget_tokens": 1024}}),
        chat(user("one two three four five six"), max_tokens=3),
        chat(user("alpha beta STOP gamma"), stop=("STOP",)),
    ],
    ids=["text", "tool_call", "thinking", "length", "stop_sequence"],
)
async def test_stream_reassembles_to_the_non_streamed_answer(
    claude: AnthropicAdapter, request_: ChatRequest,
) -> None:
    whole = await claude.complete(request_, MODEL)
    built, chunks = await streamed(claude, request_)
    assert comparable(built) == comparable(whole)
    assert chunks[0].delta == {"role": "assistant", "content": ""}
    assert len({(c.data["id"], c.data["created"]) for c in chunks}) == 1
    assert chunks[-1].data["choices"] == [] and chunks[-1].usage == whole.usage


async def test_stream_tool_call_deltas(claude: AnthropicAdapter) -> None:
    built, chunks = await streamed(claude, chat(user("weather?"), tools=[WEATHER_TOOL]))
    assert built.content == "Let me check."
    assert built.finish_reason == "tool_calls"
    [call] = built.tool_calls
    assert call["function"] == {"name": "get_weather", "arguments": '{"city":"Paris","days":3}'}
    fragments = [c.delta["tool_calls"][0] for c in chunks if "tool_calls" in c.delta]
    assert fragments[0]["id"] == call["id"] and fragments[0]["index"] == 0
    assert len(fragments) > 2 and all(f["index"] == 0 for f in fragments)


async def test_a_tool_called_without_arguments_has_json_arguments(
        claude: AnthropicAdapter, fake: FakeAnthropic) -> None:
    """The API streams no input JSON for an argument-less call (only an empty fragment);
    OpenAI clients json.loads `arguments`, so both paths must give "{}"."""
    fake.tool_input = {}
    try:
        request = chat(user("what time is it?"), tools=[WEATHER_TOOL])
        built, _ = await streamed(claude, request)
        whole = await claude.complete(request, MODEL)
    finally:
        fake.tool_input = {"city": "Paris", "days": 3}
    assert [c["function"]["arguments"] for c in built.tool_calls] == ["{}"]
    assert [c["function"]["arguments"] for c in whole.tool_calls] == ["{}"]


async def test_tools_round_trip(claude: AnthropicAdapter, fake: FakeAnthropic) -> None:
    first = await claude.complete(chat(user("weather in Paris?"), tools=[WEATHER_TOOL]), MODEL)
    [call] = first.tool_calls
    history = [
        user("weather in Paris?"),
        {"role": "assistant", "content": first.content, "tool_calls": first.tool_calls},
        {"role": "tool", "tool_call_id": call["id"], "content": "sunny, 21C"},
    ]
    second = await claude.complete(chat(*history, tools=[WEATHER_TOOL]), MODEL)
    assert second.content == "tool said: sunny, 21C"
    assert second.finish_reason == "stop"
    sent = fake.bodies("/v1/messages")[-1]
    assert sent["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "weather in Paris?"}]},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": call["id"], "name": "get_weather",
             "input": {"city": "Paris", "days": 3}},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": call["id"], "content": "sunny, 21C"},
        ]},
    ]
    assert sent["tools"][0]["input_schema"] == WEATHER_TOOL["function"]["parameters"]


async def test_image_input_reaches_the_fake(claude: AnthropicAdapter, fake: FakeAnthropic) -> None:
    completion = await claude.complete(chat(user([
        {"type": "text", "text": "describe"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.webp"}},
    ])), MODEL)
    assert completion.content == "echo: describe [images: 2]"
    assert fake.bodies("/v1/messages")[-1]["messages"][0]["content"] == [
        {"type": "text", "text": "describe"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.webp"}},
    ]


async def test_truncated_stream(claude: AnthropicAdapter, fake: FakeAnthropic) -> None:
    fake.fail(truncate_stream=True)
    with pytest.raises(errors.InvalidUpstreamResponse):
        await collect(claude.stream(chat(user("hi")), MODEL))


async def test_connection_dropped_mid_stream(claude: AnthropicAdapter,
                                             fake: FakeAnthropic) -> None:
    fake.fail(close_mid_body=True)
    with pytest.raises(errors.InvalidUpstreamResponse):
        await collect(claude.stream(chat(user("hi")), MODEL))


@pytest.mark.parametrize(
    ("kind", "error_class"),
    [("overloaded_error", errors.UpstreamUnavailable), ("rate_limit_error", errors.RateLimited)],
)
async def test_mid_stream_error_event(claude: AnthropicAdapter, fake: FakeAnthropic, kind: str,
                                      error_class: type[errors.ProviderError]) -> None:
    fake.fail_mid_stream(error_type=kind, message="try later", after=4)
    seen: list[Chunk] = []
    with pytest.raises(error_class) as info:
        async for chunk in claude.stream(chat(user("hello there friend")), MODEL):
            seen.append(chunk)
    assert "try later" in str(info.value)
    assert seen and seen[0].delta["role"] == "assistant"


async def test_fake_errors_classify(claude: AnthropicAdapter, fake: FakeAnthropic) -> None:
    fake.fail(status=429, retry_after="3")
    with pytest.raises(errors.RateLimited) as limited:
        await claude.complete(chat(user("hi")), MODEL)
    assert limited.value.retry_after == 3.0
    fake.fail(status=529)
    with pytest.raises(errors.UpstreamUnavailable):
        await collect(claude.stream(chat(user("hi")), MODEL))


async def test_wrong_key_against_fake(fake: FakeAnthropic) -> None:
    adapter = adapter_for(base_url=fake.base_url, key=KEY)
    with pytest.raises(errors.UpstreamAuthError) as info:
        await adapter.complete(chat(user("hi")), MODEL)
    await adapter.aclose()
    assert info.value.upstream_status == 401
    assert KEY not in str(info.value)


async def test_version_2026_without_sampling_params(fake: FakeAnthropic) -> None:
    adapter = adapter_for(base_url=fake.base_url, key=API_KEY, anthropic_version="2026-10-21")
    completion = await adapter.complete(chat(user("hi"), temperature=0.3), MODEL)
    await adapter.aclose()
    assert completion.content == "echo: hi"


async def test_list_models_against_paginating_fake() -> None:
    with FakeAnthropic(max_page_size=2) as small:
        adapter = adapter_for(base_url=small.base_url, key=API_KEY)
        assert await adapter.list_models() == list(MODELS)
        await adapter.aclose()
        assert len(small.requests) == 2
