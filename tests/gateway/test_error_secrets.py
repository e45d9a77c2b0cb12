"""Upstream error text reaches clients with every secret masked, and the rest of it kept.

Upstreams echo credentials back in error messages ("Incorrect API key provided:
Bearer sk-..."). Whatever the status, and in an error event inside a stream, the
client's error body must hold neither the provider's configured key (whatever its
shape, with or without the ``Bearer`` prefix) nor anything key-shaped -- yet still
say what went wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import Gateway
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.base import FakeUpstream, JSONReply
from tests.fakes.ollama import FakeOllama
from tests.fakes.openai import FakeOpenAI

SHAPED = "sk-SUPERSECRET-abcdef0123456789abcdef"  # the log redactor's patterns know this shape
SHAPELESS = "vllm-Zq8wX2vB7nM4kL9pR3tY6uI1oE5a"  # no known shape: masked because it is configured
KEY_SHAPE = re.compile(r"sk-[A-Za-z0-9]")
HI = [{"role": "user", "content": "hi"}]
NO_RETRIES = {"retries": 0}
PRICES = {"input_per_mtok": 1.0, "output_per_mtok": 2.0, "context_window": 100_000,
          "max_output": 4096}


def echo(key: str) -> str:
    """What a careless upstream appends to its error messages."""
    return f"Incorrect API key provided: Bearer {key} (you sent {key})"


class Echoing:
    """Mixed into a fake: every error body it sends echoes ``key``."""

    key = ""

    def error_reply(self, status: int, message: str) -> JSONReply:
        return super().error_reply(status, f"{message}. {echo(self.key)}")  # type: ignore[misc]


class EchoingOpenAI(Echoing, FakeOpenAI):
    pass


class EchoingAnthropic(Echoing, FakeAnthropic):
    pass


class EchoingOllama(Echoing, FakeOllama):
    pass


def leaks(text: str, key: str) -> list[str]:
    """The parts of ``key`` (or anything key-shaped) that ``text`` gives away."""
    found = [part for part in (key, key.removeprefix("sk-"), key[-16:]) if part in text]
    return found + KEY_SHAPE.findall(text)


@pytest.fixture(scope="module", params=[SHAPED, SHAPELESS])
def fake(request: pytest.FixtureRequest) -> Iterator[EchoingOpenAI]:
    upstream = EchoingOpenAI(api_key=request.param)
    upstream.key = request.param
    with upstream:
        yield upstream


@pytest.fixture
def gateway(fake: EchoingOpenAI, make_gateway: Callable[..., Gateway]) -> Gateway:
    fake.reset()
    return make_gateway({
        "resilience": NO_RETRIES,
        "providers": {"up": {"kind": "openai", "base_url": fake.base_url, "api_key": fake.key}},
        "models": [{"name": "chat-model", "provider": "up", "model": "gpt-4o-mini", **PRICES},
                   {"name": "ghost", "provider": "up", "model": "gpt-ghost", **PRICES}],
    })


# upstream status -> the status the gateway answers with (a 404 for the model: the model
# is not available there, 404 model_not_available)
STATUSES = {400: 400, 404: 404, 422: 400, 429: 429, 500: 502, 503: 502}


@pytest.mark.parametrize("upstream_status", sorted(STATUSES))
def test_http_error_body_over_httpx(gateway: Gateway, fake: EchoingOpenAI,
                                    upstream_status: int) -> None:
    fake.fail(status=upstream_status)
    resp = httpx.post(gateway.url + "/v1/chat/completions",
                      json={"model": "chat-model", "messages": HI})
    assert resp.status_code == STATUSES[upstream_status]
    assert leaks(resp.text, fake.key) == []
    message = resp.json()["error"]["message"]
    assert f"injected HTTP {upstream_status}" in message  # the useful part is kept
    assert "Incorrect API key provided: Bearer ***" in message
    assert message.startswith("up: ")  # and says which provider failed


@pytest.mark.parametrize("upstream_status", sorted(STATUSES))
def test_http_error_body_over_the_openai_sdk(gateway: Gateway, fake: EchoingOpenAI,
                                             upstream_status: int) -> None:
    fake.fail(status=upstream_status)
    with pytest.raises(openai.APIStatusError) as info:
        gateway.openai().chat.completions.create(model="chat-model", messages=HI)
    assert info.value.status_code == STATUSES[upstream_status]
    assert leaks(info.value.response.text, fake.key) == []
    assert leaks(str(info.value), fake.key) == []
    assert f"injected HTTP {upstream_status}" in info.value.message


def test_model_not_found_stays_useful(gateway: Gateway, fake: EchoingOpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        gateway.openai().chat.completions.create(model="ghost", messages=HI)
    assert leaks(info.value.response.text, fake.key) == []
    assert "The model `gpt-ghost` does not exist" in info.value.message


def test_error_event_inside_a_stream(gateway: Gateway, fake: EchoingOpenAI) -> None:
    fake.fail_mid_stream(f"The server had an error. {echo(fake.key)}")
    with httpx.stream("POST", gateway.url + "/v1/chat/completions",
                      json={"model": "chat-model", "messages": HI, "stream": True}) as resp:
        assert resp.status_code == 200  # the stream had started
        body = resp.read().decode()
    assert '"content":"echo:' in body  # what came before the failure was forwarded
    assert leaks(body, fake.key) == []
    assert "The server had an error" in body and "Bearer ***" in body

    fake.fail_mid_stream(f"The server had an error. {echo(fake.key)}")
    stream = gateway.openai().chat.completions.create(model="chat-model", messages=HI,
                                                      stream=True)
    with pytest.raises(openai.APIError) as info:
        for _ in stream:
            pass
    assert leaks(str(info.value.body), fake.key) == []
    assert leaks(info.value.message, fake.key) == []
    assert "The server had an error" in info.value.message


def test_failed_requests_leave_no_key_in_the_ledger(gateway: Gateway,
                                                    fake: EchoingOpenAI) -> None:
    fake.fail(status=400)
    httpx.post(gateway.url + "/v1/chat/completions", json={"model": "chat-model", "messages": HI})
    fake.fail_mid_stream(echo(fake.key))
    with httpx.stream("POST", gateway.url + "/v1/chat/completions",
                      json={"model": "chat-model", "messages": HI, "stream": True}) as resp:
        resp.read()
    gateway.engine.ledger.flush()
    rows = httpx.get(gateway.url + "/admin/requests").json()["data"]
    assert [row["status"] for row in rows] == ["error", "error"]
    assert leaks(str(rows), fake.key) == []
    assert leaks(str(gateway.recorder.attempts), fake.key) == []


# -- every adapter benefits, without code of its own -------------------------------------------


def _provider(kind: str, fake: FakeUpstream, key: str) -> dict[str, Any]:
    base = {"kind": kind, "base_url": fake.base_url, "api_key": key}
    return {**base, "locality": "local"} if kind == "ollama" else base


@pytest.mark.parametrize(("kind", "fake_class", "model"), [
    ("anthropic", EchoingAnthropic, "claude-haiku-4-5-20251001"),
    ("ollama", EchoingOllama, "llama3.2:latest"),
])
def test_other_adapters_mask_the_key_too(kind: str, fake_class: type[Any], model: str,
                                         make_gateway: Callable[..., Gateway]) -> None:
    key = SHAPELESS
    upstream = fake_class(api_key=key) if kind == "anthropic" else fake_class()
    upstream.key = key
    with upstream:
        gateway = make_gateway({
            "resilience": NO_RETRIES,
            "providers": {"up": _provider(kind, upstream, key)},
            "models": [{"name": "chat-model", "provider": "up", "model": model, **PRICES}],
        })
        upstream.fail(status=400)
        resp = httpx.post(gateway.url + "/v1/chat/completions",
                          json={"model": "chat-model", "messages": HI})
        assert resp.status_code == 400
        assert leaks(resp.text, key) == []
        assert "injected HTTP 400" in resp.json()["error"]["message"]

        upstream.fail_mid_stream(message=f"overloaded. {echo(key)}")
        with httpx.stream("POST", gateway.url + "/v1/chat/completions",
                          json={"model": "chat-model", "messages": HI, "stream": True}) as sse:
            body = sse.read().decode()
        assert '"error"' in body and "overloaded" in body
        assert leaks(body, key) == []


def test_a_key_sent_in_a_configured_header_is_masked(make_gateway: Callable[..., Gateway]) -> None:
    """Azure-style ``api-key`` header instead of ``api_key``: the value is a credential too."""
    with EchoingOpenAI(api_key=None) as upstream:
        upstream.key = SHAPELESS
        gateway = make_gateway({
            "resilience": NO_RETRIES,
            "providers": {"up": {"kind": "openai", "base_url": upstream.base_url,
                                 "headers": {"api-key": SHAPELESS}}},
            "models": [{"name": "chat-model", "provider": "up", "model": "gpt-4o-mini",
                        **PRICES}],
        })
        upstream.fail(status=400)
        resp = httpx.post(gateway.url + "/v1/chat/completions",
                          json={"model": "chat-model", "messages": HI})
        assert upstream.requests[-1].headers["api-key"] == SHAPELESS
    assert resp.status_code == 400 and "injected HTTP 400" in resp.text
    assert leaks(resp.text, SHAPELESS) == []
