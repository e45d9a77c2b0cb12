"""The official OpenAI SDK, unchanged, against the gateway over real sockets."""

from __future__ import annotations

import base64
import json
import socket
import time

import httpx
import openai
import pytest

from tests.conftest import Gateway, openai_config
from tests.fakes.openai import FakeOpenAI

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]},
    },
}
PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()


def test_non_streaming_answer_names_who_served_it(gateway: Gateway, fake_openai: FakeOpenAI):
    client = gateway.openai()
    raw = client.chat.completions.with_raw_response.create(
        model="qwen-plus", messages=[{"role": "user", "content": "hello there"}]
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "echo: hello there"
    assert completion.model == "qwen-plus"  # the model that actually answered
    assert completion.usage is not None and completion.usage.prompt_tokens > 0
    assert raw.headers["x-aegis-provider"] == "dashscope"
    assert raw.headers["x-aegis-model"] == "qwen-plus"
    assert raw.headers["x-aegis-request-id"].startswith("req_")
    # a whole JSON body: its length is declared, not chunked
    assert raw.headers["content-length"] == str(len(raw.content))
    assert "transfer-encoding" not in raw.headers
    # dashscope differs from openai only by data: its own header reached the upstream
    assert fake_openai.requests[-1].headers["x-dashscope-sse"] == "enable"


def test_request_parameters_reach_the_upstream(gateway: Gateway, fake_openai: FakeOpenAI):
    gateway.openai().chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}],
        max_tokens=7, temperature=0.2, stop=["END"], seed=42, user="u-1",
        response_format={"type": "json_object"},
    )
    sent = fake_openai.bodies("/v1/chat/completions")[-1]
    assert sent["max_completion_tokens"] == 7  # the openai preset's field (other presets: max_tokens)
    assert sent["temperature"] == 0.2
    assert sent["stop"] == ["END"]
    assert sent["seed"] == 42 and sent["user"] == "u-1"  # unmodelled params pass through
    assert sent["response_format"] == {"type": "json_object"}
    assert "aegis" not in sent


def test_streaming_forwards_chunks_and_usage(gateway: Gateway):
    client = gateway.openai()
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "one two three four"}],
        stream=True, stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: one two three four"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == ["stop"]


def test_streaming_without_include_usage_hides_usage_but_records_it(gateway: Gateway):
    chunks = list(gateway.openai().chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "a b c"}], stream=True))
    assert all(c.choices for c in chunks), "no usage-only chunk unless the client asked"
    attempt = gateway.recorder.attempts[-1]
    assert attempt.streamed and attempt.status == "ok"
    assert attempt.usage.completion_tokens > 0 and attempt.cost_usd > 0
    assert not attempt.usage_estimated  # Aegis asked upstream for usage itself


def test_stream_and_non_stream_cost_the_same(gateway: Gateway):
    client = gateway.openai()
    messages = [{"role": "user", "content": "same tokens both ways please"}]
    client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    list(client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True))
    plain, streamed = gateway.recorder.attempts[-2:]
    assert plain.usage == streamed.usage
    assert plain.cost_usd == streamed.cost_usd > 0


def test_tools_round_trip(gateway: Gateway, fake_openai: FakeOpenAI):
    client = gateway.openai()
    messages: list = [{"role": "user", "content": "weather in Paris?"}]
    first = client.chat.completions.create(model="gpt-4o-mini", messages=messages,
                                           tools=[WEATHER_TOOL])
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    messages += [first.choices[0].message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "18C and sunny"}]
    second = client.chat.completions.create(model="gpt-4o-mini", messages=messages,
                                            tools=[WEATHER_TOOL])
    assert second.choices[0].message.content == "tool said: 18C and sunny"
    sent = fake_openai.bodies("/v1/chat/completions")[-1]
    assert sent["tools"] == [WEATHER_TOOL]
    assert sent["messages"][1]["tool_calls"][0]["id"] == call.id
    assert sent["messages"][2] == {"role": "tool", "tool_call_id": call.id,
                                   "content": "18C and sunny"}


def test_streamed_tool_call_reassembles(gateway: Gateway):
    chunks = list(gateway.openai().chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "weather?"}],
        tools=[WEATHER_TOOL], stream=True))
    args = "".join(c.choices[0].delta.tool_calls[0].function.arguments or ""
                   for c in chunks if c.choices and c.choices[0].delta.tool_calls)
    assert json.loads(args) == {"city": "Paris"}


def test_image_input_is_forwarded(gateway: Gateway, fake_openai: FakeOpenAI):
    content = [{"type": "text", "text": "what is this"},
               {"type": "image_url", "image_url": {"url": PNG, "detail": "low"}}]
    out = gateway.openai().chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": content}])
    assert out.choices[0].message.content == "echo: what is this [1 image(s)]"
    assert fake_openai.bodies("/v1/chat/completions")[-1]["messages"][0]["content"] == content


def test_embeddings(gateway: Gateway):
    out = gateway.openai().embeddings.create(model="text-embedding-3-small",
                                             input=["alpha", "beta"])
    assert len(out.data) == 2 and len(out.data[0].embedding) == 8
    assert out.data[0].embedding != out.data[1].embedding
    assert out.usage.prompt_tokens == 2


@pytest.mark.parametrize("model", ["text-embedding-3-small", "auto"])
@pytest.mark.parametrize("inputs", [["hello", "my SSN is 078-05-1120"],
                                    "write to joe@corp-mail.io about it"])
def test_embeddings_of_personal_data_never_reach_a_cloud_model(
        gateway: Gateway, fake_openai: FakeOpenAI, model: str, inputs: list[str] | str):
    """The inputs are scanned like chat messages: PII to a cloud-only gateway is a 403."""
    with pytest.raises(openai.PermissionDeniedError) as caught:
        gateway.openai().embeddings.create(model=model, input=inputs)
    assert caught.value.status_code == 403
    error = caught.value.body
    assert isinstance(error, dict) and error["code"] == "policy_refusal"
    assert "data_class=pii" in error["message"]
    assert fake_openai.bodies("/v1/embeddings") == []


def test_model_list(gateway: Gateway):
    ids = {m.id for m in gateway.openai().models.list()}
    assert {"gpt-4o-mini", "qwen-plus", "text-embedding-3-small"} <= ids


def test_health(gateway: Gateway):
    assert httpx.get(gateway.url + "/health/live").json() == {"status": "ok"}
    ready = httpx.get(gateway.url + "/health/ready")
    assert ready.status_code == 200
    assert set(ready.json()["providers"]) == {"openai", "dashscope"}


# -- errors ------------------------------------------------------------------------


def test_unknown_model_is_404(gateway: Gateway):
    with pytest.raises(openai.NotFoundError) as info:
        gateway.openai().chat.completions.create(
            model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    assert info.value.body["code"] == "model_not_found"
    assert "no-such-model" in info.value.body["message"]


def test_schema_violation_names_the_field(gateway: Gateway):
    with pytest.raises(openai.BadRequestError) as info:
        gateway.openai().chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "wizard", "content": "hi"}])
    assert info.value.status_code == 400
    assert info.value.body["param"] == "messages[0].role"
    with pytest.raises(openai.BadRequestError) as info:
        gateway.openai().chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], temperature=7)
    assert info.value.body["param"] == "temperature"


def test_malformed_json_is_400_in_openai_shape(gateway: Gateway):
    resp = httpx.post(gateway.url + "/v1/chat/completions", content=b'{"model": "x", ',
                      headers={"content-type": "application/json"})
    assert resp.status_code == 400
    assert resp.headers["content-length"] == str(len(resp.content))
    error = resp.json()["error"]
    assert set(error) >= {"message", "type", "code", "param"}
    assert "not valid JSON" in error["message"]
    resp = httpx.post(gateway.url + "/v1/chat/completions", json={"model": "gpt-4o-mini"})
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "messages"


def test_oversized_body_is_413(fake_openai: FakeOpenAI, make_gateway):
    from tests.conftest import openai_config

    gateway = make_gateway(openai_config(fake_openai, server={"max_body_mb": 0.01}))
    big = "x" * 20_000
    with pytest.raises(openai.APIStatusError) as info:
        gateway.openai().chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": big}])
    assert info.value.status_code == 413
    assert fake_openai.requests == []


def test_upstream_auth_failure_is_502_naming_provider_not_key(fake_openai: FakeOpenAI,
                                                              make_gateway):
    from tests.conftest import openai_config

    config = openai_config(fake_openai)
    config["providers"]["openai"]["api_key"] = "sk-wrong-secret-123"
    gateway = make_gateway(config)
    with pytest.raises(openai.APIStatusError) as info:
        gateway.openai().chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 502
    message = info.value.body["message"]
    assert "openai" in message and "sk-wrong-secret-123" not in message
    assert "sk-wrong" not in info.value.response.text


def test_upstream_rate_limit_passes_retry_after(gateway: Gateway, fake_openai: FakeOpenAI):
    # beyond the retry_after_max_s ceiling (20 s): not waited for, passed to the client
    fake_openai.fail(status=429, retry_after="60")
    with pytest.raises(openai.RateLimitError) as info:
        gateway.openai().chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert info.value.response.headers["retry-after"] == "60"
    assert len(fake_openai.requests) == 1
    assert gateway.recorder.attempts[-1].error_kind == "rate_limited"


def test_upstream_context_error_maps_to_400(fake_openai: FakeOpenAI, make_gateway):
    from tests.conftest import openai_config

    gateway = make_gateway(openai_config(fake_openai))
    fake_openai.context_window = 5
    try:
        with pytest.raises(openai.BadRequestError) as info:
            gateway.openai().chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "many words in this prompt here"}])
    finally:
        fake_openai.context_window = 128_000
    assert info.value.body["code"] == "context_length_exceeded"


def test_unknown_route_and_method(gateway: Gateway):
    assert httpx.get(gateway.url + "/v2/nothing").status_code == 404
    resp = httpx.get(gateway.url + "/v1/chat/completions")
    assert resp.status_code == 405 and resp.json()["error"]["code"] == "method_not_allowed"


def test_client_disconnect_cancels_the_upstream_stream(gateway: Gateway, fake_openai: FakeOpenAI):
    fake_openai.chunk_delay = 0.05
    try:
        words = " ".join(f"w{i}" for i in range(200))  # ~10 s of streaming if not cancelled
        body = json.dumps({"model": "gpt-4o-mini", "stream": True,
                           "messages": [{"role": "user", "content": words}]}).encode()
        sock = socket.create_connection(("127.0.0.1", gateway.server.port))
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n"
                     b"content-type: application/json\r\ncontent-length: "
                     + str(len(body)).encode() + b"\r\n\r\n" + body)
        received = b""
        while b"data: " not in received:
            received += sock.recv(65536)
        sock.close()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not (
            gateway.recorder.attempts and fake_openai.disconnects
        ):
            time.sleep(0.02)
    finally:
        fake_openai.chunk_delay = 0.0
    assert fake_openai.disconnects == 1, "the upstream stream was not cancelled"
    assert fake_openai.frames_sent < 100
    attempt = gateway.recorder.attempts[-1]
    assert attempt.status == "cancelled" and attempt.streamed
    assert attempt.usage.prompt_tokens > 0  # still accounted for, though cut short


def test_a_request_without_a_model_gets_defaults_model(fake_openai: FakeOpenAI, make_gateway):
    gateway = make_gateway(openai_config(fake_openai, defaults={"model": "qwen-plus"}))
    response = httpx.post(gateway.url + "/v1/chat/completions",
                          json={"messages": [{"role": "user", "content": "no model named"}]})
    assert response.status_code == 200
    assert response.headers["x-aegis-model"] == "qwen-plus"
    assert response.headers["x-aegis-route"] == "pinned"
    # an explicit model still wins
    response = httpx.post(gateway.url + "/v1/chat/completions", json={
        "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "named"}]})
    assert response.headers["x-aegis-model"] == "gpt-4o-mini"


def test_the_openai_preset_serves_reasoning_models_that_refuse_max_tokens(make_gateway):
    """o-series / GPT-5+ answer 400 `unsupported_parameter` to `max_tokens` (the fake does
    too); the preset sends `max_completion_tokens`, which every chat model takes."""
    with FakeOpenAI(models=("gpt-6-luna", "gpt-4o-mini")) as fake:
        gateway = make_gateway({"providers": {"openai": {
            "base_url": fake.base_url, "api_key": "sk-test-openai"}}})
        client = gateway.openai()
        for model in ("gpt-6-luna", "gpt-4o-mini"):
            out = client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "one two three"}],
                max_tokens=2)
            assert out.choices[0].finish_reason == "length", model
        list(client.chat.completions.create(
            model="gpt-6-luna", messages=[{"role": "user", "content": "hi"}], stream=True))
        sent = fake.bodies("/v1/chat/completions")
        assert [b.get("max_completion_tokens") for b in sent] == [2, 2, 1024]
        assert not any("max_tokens" in b for b in sent)


def test_usage_on_the_finish_chunk_is_reported_once(gateway: Gateway, fake_openai: FakeOpenAI):
    """Together and Mistral put usage on the finish chunk and send no usage-only chunk:
    the client that asked for usage gets it once, not that plus one Aegis made up."""
    fake_openai.usage_on_finish = True
    chunks = list(gateway.openai().chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "one two"}],
        stream=True, stream_options={"include_usage": True}))
    with_usage = [c for c in chunks if c.usage is not None]
    assert len(with_usage) == 1 and with_usage[0].usage.completion_tokens > 0
    assert with_usage[0].choices and with_usage[0].choices[0].finish_reason == "stop"
