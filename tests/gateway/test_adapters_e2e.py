"""The same OpenAI SDK calls through the gateway to every HTTP adapter's fake upstream.

Whatever the upstream speaks (OpenAI JSON/SSE, Anthropic Messages events, Ollama
NDJSON), the client sees one OpenAI-shaped API, and the upstream receives its
own native format.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import openai
import pytest

from tests.conftest import Gateway
from tests.fakes.anthropic import API_KEY as ANTHROPIC_KEY
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.base import FakeUpstream
from tests.fakes.ollama import FakeOllama
from tests.fakes.openai import FakeOpenAI

TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}
PNG_BYTES = b"\x89PNG\r\n\x1a\nfake-image"
PNG = "data:image/png;base64," + base64.b64encode(PNG_BYTES).decode()
FAST_RETRIES = {"retries": 2, "backoff": {"base_s": 0.01, "max_s": 0.02}}
PRICES = {"input_per_mtok": 1.0, "output_per_mtok": 2.0, "context_window": 100_000,
          "max_output": 4096, "capabilities": ["tools", "vision", "json"]}


@dataclass
class Upstream:
    name: str
    fake: FakeUpstream
    provider: dict[str, Any]
    upstream_model: str
    chat_path: str

    def images_received(self) -> list[str]:
        """Base64 payloads of images the fake got, read from its native format."""
        body = self.fake.bodies(self.chat_path)[-1]
        found: list[str] = []
        for msg in body["messages"]:
            found += msg.get("images") or []  # ollama
            content = msg.get("content")
            if isinstance(content, list):
                for block in content:
                    if block.get("type") == "image":  # anthropic
                        found.append(block["source"]["data"])
                    if block.get("type") == "image_url":  # openai
                        found.append(block["image_url"]["url"].split(",", 1)[1])
        return found


@pytest.fixture(scope="module")
def upstreams() -> Iterator[dict[str, Upstream]]:
    fakes = {"openai": FakeOpenAI().start(), "anthropic": FakeAnthropic().start(),
             "ollama": FakeOllama().start()}
    yield {
        "openai": Upstream("openai", fakes["openai"], {
            "kind": "openai", "base_url": fakes["openai"].base_url,
            "api_key": "sk-test-openai"}, "gpt-4o-mini", "/v1/chat/completions"),
        "anthropic": Upstream("anthropic", fakes["anthropic"], {
            "kind": "anthropic", "base_url": fakes["anthropic"].base_url,
            "api_key": ANTHROPIC_KEY}, "claude-haiku-4-5-20251001", "/v1/messages"),
        "ollama": Upstream("ollama", fakes["ollama"], {
            "kind": "ollama", "base_url": fakes["ollama"].base_url, "locality": "local"},
            "llama3.2:latest", "/api/chat"),
    }
    for fake in fakes.values():
        fake.stop()


@pytest.fixture(params=["openai", "anthropic", "ollama"])
def upstream(request: pytest.FixtureRequest, upstreams: dict[str, Upstream]) -> Upstream:
    up = upstreams[request.param]
    up.fake.reset()
    return up


@pytest.fixture
def gateway(upstream: Upstream, make_gateway: Callable[[dict[str, Any]], Gateway]) -> Gateway:
    return make_gateway({
        "resilience": FAST_RETRIES,
        "providers": {"up": upstream.provider},
        "models": [{"name": "chat-model", "provider": "up", "model": upstream.upstream_model,
                    **PRICES}],
    })


def test_answer_and_headers(gateway: Gateway, upstream: Upstream):
    raw = gateway.openai().chat.completions.with_raw_response.create(
        model="chat-model", messages=[{"role": "system", "content": "be brief"},
                                      {"role": "user", "content": "hello world"}])
    out = raw.parse()
    assert out.choices[0].message.content.startswith("echo: hello world")
    assert out.choices[0].finish_reason == "stop"
    assert out.usage.prompt_tokens > 0 and out.usage.completion_tokens > 0
    assert raw.headers["x-aegis-provider"] == "up"
    assert raw.headers["x-aegis-model"] == "chat-model"
    assert upstream.fake.bodies(upstream.chat_path)[-1]["model"] == upstream.upstream_model
    attempt = gateway.recorder.attempts[-1]
    assert attempt.status == "ok" and attempt.cost_usd > 0 and not attempt.usage_estimated


def test_stream_matches_non_stream(gateway: Gateway):
    client = gateway.openai()
    messages = [{"role": "user", "content": "stream these few words"}]
    plain = client.chat.completions.create(model="chat-model", messages=messages)
    chunks = list(client.chat.completions.create(
        model="chat-model", messages=messages, stream=True,
        stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == plain.usage.completion_tokens
    streamed, non_streamed = gateway.recorder.attempts[-1], gateway.recorder.attempts[-2]
    assert streamed.streamed and streamed.cost_usd == non_streamed.cost_usd > 0


def test_tools_round_trip(gateway: Gateway, upstream: Upstream):
    client = gateway.openai()
    messages: list[Any] = [{"role": "user", "content": "weather in Paris?"}]
    first = client.chat.completions.create(model="chat-model", messages=messages, tools=[TOOL])
    assert first.choices[0].finish_reason == "tool_calls"
    call = first.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert "Paris" in json.loads(call.function.arguments).values()
    messages += [first.choices[0].message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "18C and sunny"}]
    second = client.chat.completions.create(model="chat-model", messages=messages, tools=[TOOL])
    assert "18C and sunny" in second.choices[0].message.content
    # the upstream got the tool result in its own format
    sent = json.dumps(upstream.fake.bodies(upstream.chat_path)[-1])
    assert "18C and sunny" in sent and "get_weather" in sent


def test_streamed_tool_call(gateway: Gateway):
    chunks = list(gateway.openai().chat.completions.create(
        model="chat-model", messages=[{"role": "user", "content": "weather?"}],
        tools=[TOOL], stream=True))
    deltas = [c.choices[0].delta.tool_calls[0] for c in chunks
              if c.choices and c.choices[0].delta.tool_calls]
    assert deltas[0].function.name == "get_weather" and deltas[0].id
    args = "".join(d.function.arguments or "" for d in deltas)
    assert "Paris" in json.loads(args).values()


def test_image_input(gateway: Gateway, upstream: Upstream):
    content = [{"type": "text", "text": "what is this"},
               {"type": "image_url", "image_url": {"url": PNG}}]
    out = gateway.openai().chat.completions.create(
        model="chat-model", messages=[{"role": "user", "content": content}])
    assert "image" in out.choices[0].message.content
    assert [base64.b64decode(b) for b in upstream.images_received()] == [PNG_BYTES]


@pytest.mark.parametrize(("status", "error"), [
    (503, openai.APIStatusError), (429, openai.RateLimitError)])
def test_upstream_errors_are_translated(gateway: Gateway, upstream: Upstream, status: int,
                                        error: type[Exception]):
    upstream.fake.fail(status=status, times=10)
    with pytest.raises(error) as info:
        gateway.openai().chat.completions.create(
            model="chat-model", messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == (502 if status == 503 else 429)
    body = info.value.body
    assert set(body) >= {"message", "type", "code"} and "up" in body["message"]
    attempts = gateway.recorder.attempts
    assert [a.status for a in attempts] == ["error"] * 3  # the first try and two retries
    assert [a.retry for a in attempts] == [0, 1, 2]


def test_transient_upstream_failure_is_retried(gateway: Gateway, upstream: Upstream):
    upstream.fake.fail(status=503)
    out = gateway.openai().chat.completions.create(
        model="chat-model", messages=[{"role": "user", "content": "hi"}])
    assert out.choices[0].message.content.startswith("echo: hi")
    assert [a.status for a in gateway.recorder.attempts] == ["error", "ok"]
    assert len(upstream.fake.requests) == 2
