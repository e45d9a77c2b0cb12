"""Sensitive requests never reach a cloud provider, whatever path they take.

A local Ollama fake and a cloud OpenAI fake run on loopback; the cloud fake
records every body it receives. Each sensitive prompt (auto-detected or declared)
is pushed through every path -- local healthy, down, erroring, slow, a pinned
cloud model, a named cloud route, fallback, airgap -- and the cloud fake must
receive none of them. Control cases show the same paths do reach the cloud for
public data, so the assertions can fail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest

from tests.conftest import Gateway
from tests.fakes.ollama import FakeOllama
from tests.fakes.openai import FakeOpenAI

CAPS = ["tools", "json", "vision"]


@pytest.fixture(scope="module")
def fakes() -> Iterator[tuple[FakeOllama, FakeOpenAI]]:
    local, cloud = FakeOllama().start(), FakeOpenAI().start()
    yield local, cloud
    local.stop()
    cloud.stop()


@pytest.fixture
def local(fakes: tuple[FakeOllama, FakeOpenAI]) -> FakeOllama:
    fakes[0].reset()
    return fakes[0]


@pytest.fixture
def cloud(fakes: tuple[FakeOllama, FakeOpenAI]) -> FakeOpenAI:
    fakes[1].reset()
    return fakes[1]


def gateway_config(local_url: str, cloud_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "resilience": {"backoff": {"base_s": 0.01, "max_s": 0.02}},
        "providers": {
            "lan": {"kind": "ollama", "base_url": local_url, "locality": "local",
                    "timeout_s": 0.5},
            "cloud": {"kind": "openai", "base_url": cloud_url, "api_key": "sk-test-openai"},
        },
        "models": [
            {"name": "local-chat", "provider": "lan", "model": "llama3.2:latest",
             "input_per_mtok": 0, "output_per_mtok": 0, "context_window": 32000,
             "max_output": 4096, "capabilities": CAPS, "quality": 0.4},
            {"name": "cloud-chat", "provider": "cloud", "model": "gpt-4o-mini",
             "input_per_mtok": 0.15, "output_per_mtok": 0.6, "context_window": 128000,
             "max_output": 16000, "capabilities": CAPS, "quality": 0.9},
        ],
        "routes": {"cloudy": {"models": ["cloud-chat"]}},
        **extra,
    }


@pytest.fixture
def gateway(local: FakeOllama, cloud: FakeOpenAI,
            make_gateway: Callable[[dict[str, Any]], Gateway]) -> Gateway:
    return make_gateway(gateway_config(local.base_url, cloud.base_url))


# (messages, extra request kwargs) -- each one sensitive, by detection or declaration
SENSITIVE: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]] = {
    "email": ([{"role": "user", "content": "Write to maria.gonzalez@example.es about it"}], {}),
    "ssn+health": ([{"role": "user",
                     "content": "Patient SSN 123-45-6789 was diagnosed with diabetes"}], {}),
    "card-in-system": ([{"role": "system", "content": "Customer card: 4111 1111 1111 1111"},
                        {"role": "user", "content": "summarise the account"}], {}),
    "iban-in-tool-result": ([
        {"role": "user", "content": "look up the payee"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function",
             "function": {"name": "lookup", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1",
         "content": "payee IBAN DE89 3704 0044 0532 0130 00"}], {}),
    "declared-body": ([{"role": "user", "content": "quarterly numbers"}],
                      {"extra_body": {"aegis": {"data_class": "confidential"}}}),
    "declared-header": ([{"role": "user", "content": "quarterly numbers"}],
                        {"extra_headers": {"X-Aegis-Data-Class": "pii"}}),
}
PUBLIC = [{"role": "user", "content": "What is the capital of France?"}]


def ask(gateway: Gateway, messages: list[dict[str, Any]], *, model: str = "auto",
        stream: bool = False, **kwargs: Any) -> Any:
    client = gateway.openai()
    if stream:
        return list(client.chat.completions.create(model=model, messages=messages,
                                                   stream=True, **kwargs))
    return client.chat.completions.with_raw_response.create(model=model, messages=messages,
                                                            **kwargs)


@pytest.mark.parametrize("case", sorted(SENSITIVE))
def test_local_healthy_serves_sensitive_requests_locally(gateway, local, cloud, case):
    messages, kwargs = SENSITIVE[case]
    raw = ask(gateway, messages, **kwargs)
    assert raw.headers["x-aegis-provider"] == "lan"
    assert local.requests and not cloud.requests


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("case", sorted(SENSITIVE))
def test_local_erroring_never_falls_back_to_cloud(gateway, local, cloud, case, stream):
    messages, kwargs = SENSITIVE[case]
    local.fail(status=500, times=10)
    with pytest.raises(openai.APIStatusError) as info:
        ask(gateway, messages, stream=stream, **kwargs)
    assert info.value.status_code == 503
    assert "may only be served by local providers" in info.value.body["message"]
    assert cloud.requests == []


def test_control_public_request_does_fall_back_to_cloud(gateway, local, cloud):
    local.fail(status=500, times=10)
    raw = ask(gateway, PUBLIC)
    assert raw.headers["x-aegis-provider"] == "cloud"
    assert len(cloud.requests) == 1  # the path to the cloud exists, for public data


@pytest.mark.parametrize("case", ["email", "declared-header"])
def test_local_slow_times_out_without_leaking(gateway, local, cloud, case):
    messages, kwargs = SENSITIVE[case]
    local.fail(hang_before_headers=2.0, times=10)
    with pytest.raises(openai.APIStatusError) as info:
        ask(gateway, messages, **kwargs)
    assert info.value.status_code == 503
    assert cloud.requests == []


@pytest.mark.parametrize("case", ["email", "ssn+health", "declared-body"])
def test_local_down_is_503_without_leaking(cloud, make_gateway, case):
    gateway = make_gateway(gateway_config("http://127.0.0.1:9", cloud.base_url))
    messages, kwargs = SENSITIVE[case]
    with pytest.raises(openai.APIStatusError) as info:
        ask(gateway, messages, **kwargs)
    assert info.value.status_code == 503
    assert cloud.requests == []


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("case", sorted(SENSITIVE))
def test_pinned_cloud_model_is_refused(gateway, cloud, case, stream):
    messages, kwargs = SENSITIVE[case]
    with pytest.raises(openai.PermissionDeniedError) as info:
        ask(gateway, messages, model="cloud-chat", stream=stream, **kwargs)
    assert info.value.body["code"] == "policy_refusal"
    assert info.value.body["rule"] == "privacy"
    assert cloud.requests == []


def test_control_pinned_cloud_model_serves_public_data(gateway, cloud):
    assert ask(gateway, PUBLIC, model="cloud-chat").headers["x-aegis-provider"] == "cloud"
    assert len(cloud.requests) == 1


@pytest.mark.parametrize("case", sorted(SENSITIVE))
def test_named_cloud_route_is_refused(gateway, cloud, case):
    messages, kwargs = SENSITIVE[case]
    with pytest.raises(openai.PermissionDeniedError):
        ask(gateway, messages, model="cloudy", **kwargs)
    assert cloud.requests == []


@pytest.mark.parametrize("case", sorted(SENSITIVE))
def test_quality_strategy_still_never_picks_cloud(gateway, local, cloud, case):
    messages, kwargs = SENSITIVE[case]
    extra = dict(kwargs)
    headers = {**extra.pop("extra_headers", {}), "X-Aegis-Strategy": "quality",
               "X-Aegis-Quality": "critical"}
    raw = ask(gateway, messages, extra_headers=headers, **extra)
    assert raw.headers["x-aegis-provider"] == "lan"
    assert cloud.requests == []


def test_airgap_keeps_even_public_data_local(local, cloud, make_gateway):
    gateway = make_gateway(gateway_config(local.base_url, cloud.base_url,
                                          routing={"airgap": True}))
    assert ask(gateway, PUBLIC).headers["x-aegis-provider"] == "lan"
    with pytest.raises(openai.PermissionDeniedError) as info:
        ask(gateway, PUBLIC, model="cloud-chat")
    assert info.value.body["rule"] == "airgap"
    local.fail(status=500, times=10)
    with pytest.raises(openai.APIStatusError) as info:
        ask(gateway, PUBLIC)
    assert info.value.status_code == 503
    assert cloud.requests == []


def test_route_endpoint_explains_a_refusal_without_calling_anything(gateway, local, cloud):
    import httpx

    resp = httpx.post(gateway.url + "/v1/route", json={
        "model": "cloud-chat", "messages": SENSITIVE["email"][0]})
    assert resp.status_code == 403
    decision = resp.json()["decision"]
    assert decision["excluded"][0]["rule"] == "privacy"
    assert decision["profile"]["findings"] == ["email"]
    assert "maria" not in resp.text
    assert local.requests == [] and cloud.requests == []
