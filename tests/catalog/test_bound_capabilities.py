"""A served model has only the capabilities its provider's adapter can carry upstream:
the catalog may say Claude does JSON, but the Anthropic adapter sends no JSON constraint,
so JSON-mode requests must not be routed there (a pinned one is refused, not dropped)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pytest

from aegis.catalog import CAPABILITIES, load_catalog
from aegis.config import ADAPTER_FLAGS, from_dict, honoured
from aegis.providers import presets
from aegis.providers.base import Capabilities
from aegis.providers.registry import default_registry
from tests.conftest import Gateway
from tests.fakes.anthropic import API_KEY as ANTHROPIC_KEY
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.openai import FakeOpenAI

JSON_MODE = {"type": "json_object"}
HI = [{"role": "user", "content": "answer in JSON: hello"}]


def test_every_adapter_flag_but_model_listing_maps_to_a_catalog_capability() -> None:
    flags = {f.name for f in dataclasses.fields(Capabilities)} - {"model_listing"}
    assert set(ADAPTER_FLAGS.values()) == flags
    assert set(ADAPTER_FLAGS) <= CAPABILITIES


@pytest.mark.parametrize("kind", default_registry().kinds)
def test_a_model_keeps_only_what_its_adapter_honours(kind: str) -> None:
    settings = from_dict({
        "providers": {"p": {"kind": kind, "base_url": "http://127.0.0.1:9"}},
        "models": [{"name": "everything", "provider": "p", "context_window": 8192,
                    "max_output": 1024, "input_per_mtok": 1, "output_per_mtok": 1,
                    "capabilities": sorted(CAPABILITIES)}],
    }, env={})
    flags = default_registry().adapter_class(kind).capabilities
    model = settings.catalog.get("everything")
    assert model is not None
    assert model.capabilities == honoured(flags)
    assert ("json" in model.capabilities) == flags.json_mode
    assert ("tools" in model.capabilities) == flags.tools


def test_every_shipped_model_has_only_capabilities_its_provider_honours() -> None:
    providers: dict[str, Any] = {p.name: {"preset": p.name, "api_key": "k"}
                                 for p in presets.PRESETS}
    providers["local"] = {"kind": "llamacpp"}
    settings = from_dict({"providers": providers}, env={})
    assert len(list(settings.catalog)) == len(list(load_catalog()))  # every model bound
    registry = default_registry()
    for model in settings.catalog:
        flags = registry.adapter_class(settings.providers[model.provider].kind).capabilities
        assert model.capabilities <= honoured(flags), model.name
    anthropic = [m for m in settings.catalog if m.provider == "anthropic"]
    assert anthropic and not any("json" in m.capabilities for m in anthropic)
    assert all({"tools", "vision"} <= m.capabilities for m in anthropic)


# -- through the gateway -------------------------------------------------------------


@pytest.fixture(scope="module")
def anthropic_fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake


@pytest.fixture
def gateway(anthropic_fake: FakeAnthropic, fake_openai: FakeOpenAI,
            make_gateway: Callable[[dict[str, Any]], Gateway]) -> Gateway:
    anthropic_fake.reset()
    return make_gateway({"providers": {
        "anthropic": {"kind": "anthropic", "base_url": anthropic_fake.base_url,
                      "api_key": ANTHROPIC_KEY},
        "openai": {"kind": "openai", "base_url": fake_openai.base_url, "api_key": "sk-test"},
    }})


def test_pinned_json_request_to_anthropic_is_refused_not_silently_dropped(
    gateway: Gateway, anthropic_fake: FakeAnthropic
) -> None:
    client = gateway.openai()
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="claude-haiku-4-5", messages=HI,
                                       response_format=JSON_MODE)
    error = info.value.body
    assert isinstance(error, dict)
    assert error["code"] == "capability_unavailable"
    assert "claude-haiku-4-5 does not support JSON mode" in error["message"]
    assert anthropic_fake.requests == []
    # without JSON mode the same model serves
    answer = client.chat.completions.create(model="claude-haiku-4-5", messages=HI)
    assert answer.choices[0].message.content == f"echo: {HI[0]['content']}"


def test_json_needs_rank_no_anthropic_model(gateway: Gateway) -> None:
    def candidates(**body: Any) -> list[str]:
        resp = httpx.post(gateway.url + "/v1/route",
                          json={"model": "auto", "messages": HI, **body})
        assert resp.status_code == 200, resp.text
        labels: list[str] = resp.json()["candidates"]
        return labels

    assert any(c.startswith("anthropic/") for c in candidates())
    with_json = candidates(response_format=JSON_MODE)
    assert with_json and not any(c.startswith("anthropic/") for c in with_json)
    listed = {m["id"]: m for m in httpx.get(gateway.url + "/v1/models").json()["data"]}
    assert "json" not in listed["claude-haiku-4-5"]["capabilities"]
    assert "json" in listed["gpt-4o-mini"]["capabilities"]
