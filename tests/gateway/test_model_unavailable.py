"""A catalog Ollama tag the server never pulled: routing falls back to the next local
model; a client that pinned the tag gets an OpenAI-shaped 404 naming it and the fix."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Gateway
from tests.fakes.ollama import FakeOllama

PULLED = "mistral:7b"  # a catalog tag the fake server has (ranked last of the local chat models)
MISSING = "qwen3:8b"  # a catalog tag it has not
HI = [{"role": "user", "content": "hello there"}]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOllama]:
    with FakeOllama(models=(PULLED,)) as fake:
        yield fake


@pytest.fixture
def gateway(server: FakeOllama, make_gateway: Callable[[dict[str, Any]], Gateway]) -> Gateway:
    server.reset()
    return make_gateway({
        "providers": {"ollama": {"kind": "ollama", "base_url": server.base_url}},
        "routes": {"local-chat": {"models": [MISSING, PULLED], "strategy": "ordered"}},
    })


def chat(gateway: Gateway, **body: Any) -> httpx.Response:
    headers = body.pop("headers", {})
    return httpx.post(gateway.url + "/v1/chat/completions", json={"messages": HI, **body},
                      headers=headers, timeout=30)


def answer(resp: httpx.Response, stream: bool) -> str:
    if not stream:
        return str(resp.json()["choices"][0]["message"]["content"])
    events = [json.loads(line[6:]) for line in resp.text.splitlines()
              if line.startswith("data: {")]
    return "".join(c["delta"].get("content") or "" for e in events for c in e["choices"])


@pytest.mark.parametrize("stream", [False, True])
def test_the_next_candidate_serves_when_the_first_is_not_pulled(
    gateway: Gateway, server: FakeOllama, stream: bool
) -> None:
    resp = chat(gateway, model="local-chat", stream=stream)
    assert resp.status_code == 200, resp.text
    assert (resp.headers["x-aegis-provider"], resp.headers["x-aegis-model"]) == ("ollama", PULLED)
    assert answer(resp, stream) == "echo: hello there"
    assert [b["model"] for b in server.bodies("/api/chat")] == [MISSING, PULLED]
    first, second = gateway.recorder.attempts[-2:]
    assert (first.model, first.status, first.error_kind) == (MISSING, "error",
                                                             "model_unavailable")
    assert (second.model, second.status) == (PULLED, "ok")


def test_auto_routing_of_sensitive_data_reaches_the_pulled_local_model(
    gateway: Gateway, server: FakeOllama
) -> None:
    resp = chat(gateway, model="auto", headers={"x-aegis-data-class": "pii"})
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-aegis-model"] == PULLED
    assert answer(resp, stream=False) == "echo: hello there"
    tried = [b["model"] for b in server.bodies("/api/chat")]
    assert len(tried) > 1 and tried[-1] == PULLED and PULLED not in tried[:-1]


def test_a_pinned_missing_model_is_a_clear_404(gateway: Gateway, server: FakeOllama) -> None:
    resp = chat(gateway, model=MISSING)
    assert resp.status_code == 404
    error = resp.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "model_not_available" and error["param"] == "model"
    assert f"'{MISSING}' is not available on this Ollama server" in error["message"]
    assert f"ollama pull {MISSING}" in error["message"]
    assert [b["model"] for b in server.bodies("/api/chat")] == [MISSING]  # nothing else tried


# -- cloud APIs say the same with a 404 of their own --------------------------------------


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_a_cloud_404_for_the_model_falls_back_and_a_pinned_one_is_a_404(
        kind: str, make_gateway: Callable[[dict[str, Any]], Gateway]) -> None:
    """OpenAI's `model_not_found` and Anthropic's `not_found_error` ("model: x") mean this
    upstream lacks the model (retired, not enabled for the account): try the next one."""
    from tests.fakes.anthropic import FakeAnthropic
    from tests.fakes.openai import FakeOpenAI

    fake_class = FakeOpenAI if kind == "openai" else FakeAnthropic
    real = "gpt-4o-mini" if kind == "openai" else "claude-haiku-4-5"
    with fake_class() as fake:
        key = fake.api_key
        gateway = make_gateway({
            "providers": {"up": {"kind": kind, "base_url": fake.base_url, "api_key": key}},
            "models": [
                {"name": "retired", "provider": "up", "model": "retired-2023", "context_window":
                 8000, "max_output": 1000, "input_per_mtok": 1, "output_per_mtok": 1},
                {"name": "current", "provider": "up", "model": real, "context_window": 8000,
                 "max_output": 1000, "input_per_mtok": 1, "output_per_mtok": 1}],
            "routes": {"chat": {"models": ["retired", "current"], "strategy": "ordered"}},
        })
        served = chat(gateway, model="chat")
        assert served.status_code == 200, served.text
        assert served.headers["x-aegis-model"] == "current"
        pinned = chat(gateway, model="retired")
        assert pinned.status_code == 404
        error = pinned.json()["error"]
        assert (error["code"], error["param"]) == ("model_not_available", "model")
        assert "retired-2023" in error["message"]
