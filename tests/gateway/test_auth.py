"""Gateway keys: who may call, which models they may use, and who may administer."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from tests.conftest import Gateway, openai_config
from tests.fakes.openai import FakeOpenAI

MASTER = "master-secret-for-tests"
HI = [{"role": "user", "content": "hi"}]


@pytest.fixture
def gateway(fake_openai: FakeOpenAI, make_gateway) -> Gateway:
    return make_gateway(openai_config(fake_openai), master=MASTER)


def client(gateway: Gateway, key: str | None) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=key or "", max_retries=0)


def test_no_keys_and_no_master_means_open(fake_openai, make_gateway):
    gateway = make_gateway(openai_config(fake_openai))
    assert gateway.openai().chat.completions.create(model="gpt-4o-mini", messages=HI)
    assert httpx.get(gateway.url + "/admin/stats").status_code == 200


@pytest.mark.parametrize("key", ["sk-aegis-wrong", "Bearer nonsense"])
def test_wrong_key_is_401(gateway: Gateway, key: str):
    with pytest.raises(openai.AuthenticationError) as info:
        client(gateway, key).chat.completions.create(model="gpt-4o-mini", messages=HI)
    assert info.value.status_code == 401
    assert set(info.value.body) >= {"message", "type", "code"}


def test_missing_key_is_401(gateway: Gateway, fake_openai: FakeOpenAI):
    resp = httpx.post(gateway.url + "/v1/chat/completions",
                      json={"model": "gpt-4o-mini", "messages": HI})
    assert resp.status_code == 401 and "missing API key" in resp.json()["error"]["message"]
    assert fake_openai.requests == []


def test_valid_key_is_recorded_by_name_never_by_secret(gateway: Gateway):
    key_id, secret = gateway.engine.keys.create("alice", team="research")
    client(gateway, secret).chat.completions.create(model="gpt-4o-mini", messages=HI)
    gateway.engine.ledger.flush()
    (row,) = gateway.engine.store.recent(1)
    assert (row.key_id, row.key_name, row.team) == (key_id, "alice", "research")
    assert secret not in str(row)


def test_anthropic_style_x_api_key_header(gateway: Gateway):
    _, secret = gateway.engine.keys.create("bob")
    resp = httpx.post(gateway.url + "/v1/chat/completions", headers={"x-api-key": secret},
                      json={"model": "gpt-4o-mini", "messages": HI})
    assert resp.status_code == 200


def test_revoked_and_expired_keys(gateway: Gateway):
    _, revoked = gateway.engine.keys.create("carol")
    gateway.engine.keys.revoke("carol")
    _, expired = gateway.engine.keys.create("dave", expires_at=time.time() + 60)
    gateway.engine.keys.clock = lambda: time.time() + 3600  # an hour later
    gateway.engine.keys.cache_ttl_s = 0  # the revocation is visible at once here
    for secret, word in ((revoked, "revoked"), (expired, "expired")):
        with pytest.raises(openai.AuthenticationError) as info:
            client(gateway, secret).chat.completions.create(model="gpt-4o-mini", messages=HI)
        assert word in info.value.body["message"]


def test_allow_list_is_a_hard_constraint(gateway: Gateway, fake_openai: FakeOpenAI):
    _, secret = gateway.engine.keys.create("erin", models=["qwen-plus"])
    c = client(gateway, secret)
    assert c.chat.completions.create(model="qwen-plus", messages=HI)
    with pytest.raises(openai.PermissionDeniedError) as info:
        c.chat.completions.create(model="gpt-4o-mini", messages=HI)
    assert info.value.body["rule"] == "allow_list:key"
    raw = c.chat.completions.with_raw_response.create(model="auto", messages=HI)
    assert raw.headers["x-aegis-model"] == "qwen-plus"  # auto stays within the allow-list
    assert [b["model"] for b in fake_openai.bodies()] == ["qwen-plus", "qwen-plus"]


def test_key_budget_rejects_once_spent(gateway: Gateway):
    _, secret = gateway.engine.keys.create("frank", budget_usd=0.0000001, period="monthly")
    with pytest.raises(openai.RateLimitError) as info:
        client(gateway, secret).chat.completions.create(model="gpt-4o-mini", messages=HI)
    assert info.value.body["code"] == "budget_exceeded"
    assert "key:frank" in info.value.body["message"]


def test_admin_needs_the_master_key(gateway: Gateway):
    _, secret = gateway.engine.keys.create("gina")
    for path in ("/admin/stats", "/admin/spend", "/admin/budgets", "/admin/requests"):
        assert httpx.get(gateway.url + path).status_code == 401
        assert httpx.get(gateway.url + path,
                         headers={"authorization": f"Bearer {secret}"}).status_code == 401
        ok = httpx.get(gateway.url + path, headers={"authorization": f"Bearer {MASTER}"})
        assert ok.status_code == 200, path
    assert httpx.get(gateway.url + "/health/live").status_code == 200  # never gated
