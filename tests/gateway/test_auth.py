"""Gateway keys: who may call, which models they may use, and who may administer."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import openai
import pytest

from aegis.config import from_dict
from aegis.engine import Engine
from aegis.gateway import GatewayApp
from aegis.gateway.auth import is_loopback
from aegis.keys import MasterKey
from tests.conftest import Gateway, openai_config
from tests.fakes.openai import FakeOpenAI

MASTER = "master-secret-for-tests"
HI = [{"role": "user", "content": "hi"}]
ADMIN_PATHS = ("/admin/stats", "/admin/spend", "/admin/budgets", "/admin/requests")
ELSEWHERE = ["203.0.113.5", "10.0.0.7", "192.168.1.20", "2001:db8::1", "::ffff:203.0.113.5"]
LOOPBACK = ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"]


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
    assert [m.id for m in c.models.list()] == ["qwen-plus"]  # lists only what it may use
    _, open_key = gateway.engine.keys.create("erin-2")
    assert len(client(gateway, open_key).models.list().data) > 1


def test_key_budget_rejects_once_spent(gateway: Gateway):
    _, secret = gateway.engine.keys.create("frank", budget_usd=0.0000001, period="monthly")
    with pytest.raises(openai.RateLimitError) as info:
        client(gateway, secret).chat.completions.create(model="gpt-4o-mini", messages=HI)
    assert info.value.body["code"] == "budget_exceeded"
    assert "key:frank" in info.value.body["message"]
    # an SDK left to its default retries gives up at once: the limit will not move
    seen: list[int] = []
    with httpx.Client(event_hooks={"response": [lambda r: seen.append(r.status_code)]}) as http:
        sdk = openai.OpenAI(base_url=gateway.url + "/v1", api_key=secret, http_client=http)
        with pytest.raises(openai.RateLimitError):
            sdk.chat.completions.create(model="gpt-4o-mini", messages=HI)
    assert seen == [429]


def test_admin_needs_the_master_key(gateway: Gateway):
    _, secret = gateway.engine.keys.create("gina")
    for path in ("/admin/stats", "/admin/spend", "/admin/budgets", "/admin/requests"):
        assert httpx.get(gateway.url + path).status_code == 401
        assert httpx.get(gateway.url + path,
                         headers={"authorization": f"Bearer {secret}"}).status_code == 401
        ok = httpx.get(gateway.url + path, headers={"authorization": f"Bearer {MASTER}"})
        assert ok.status_code == 200, path
    assert httpx.get(gateway.url + "/health/live").status_code == 200  # never gated


# -- admin without a master key: this machine only ------------------------------------------
# A client's address is the connection's; loopback servers can only be reached from
# loopback, so other machines are the ASGI scope's ``client``, as a server would set it.


@pytest.fixture
async def engine(fake_openai: FakeOpenAI) -> AsyncIterator[Engine]:
    engine = Engine(from_dict(openai_config(fake_openai), env={}))
    await engine.start()
    yield engine
    await engine.aclose()


async def call_from(app: GatewayApp, host: str, method: str, path: str,
                    **kwargs: object) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=(host, 50123))
    async with httpx.AsyncClient(transport=transport, base_url="http://aegis") as client:
        return await client.request(method, path, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("host", ELSEWHERE)
async def test_open_gateway_refuses_admin_to_other_machines(engine: Engine, host: str):
    app = GatewayApp(engine)
    for path in ADMIN_PATHS:
        for headers in ({}, {"authorization": "Bearer anything"}):
            resp = await call_from(app, host, "GET", path, headers=headers)
            assert resp.status_code == 403, (path, host)
            error = resp.json()["error"]
            assert (error["type"], error["code"]) == ("permission_error", "permission_denied")
            assert "AEGIS_MASTER_KEY" in error["message"]
            assert "data" not in resp.json()


@pytest.mark.parametrize("host", LOOPBACK)
async def test_open_gateway_answers_admin_on_loopback(engine: Engine, host: str):
    app = GatewayApp(engine)
    for path in ADMIN_PATHS:
        assert (await call_from(app, host, "GET", path)).status_code == 200, (path, host)


async def test_open_gateway_still_serves_chat_to_other_machines(engine: Engine):
    resp = await call_from(GatewayApp(engine), "203.0.113.5", "POST", "/v1/chat/completions",
                           json={"model": "gpt-4o-mini", "messages": HI})
    assert resp.status_code == 200 and resp.json()["choices"]


async def test_master_key_opens_admin_from_anywhere(engine: Engine):
    app = GatewayApp(engine, master=MasterKey.of(MASTER))
    for host in ("203.0.113.5", "127.0.0.1"):
        assert (await call_from(app, host, "GET", "/admin/stats")).status_code == 401
        ok = await call_from(app, host, "GET", "/admin/stats",
                             headers={"authorization": f"Bearer {MASTER}"})
        assert ok.status_code == 200


async def test_keys_without_a_master_key_keep_admin_closed(engine: Engine):
    """Gateway keys but no master key: admin stays closed (401) on loopback, as before,
    and other machines are told to set the master key."""
    _, secret = engine.keys.create("hana")
    app = GatewayApp(engine)
    bearer = {"authorization": f"Bearer {secret}"}
    assert (await call_from(app, "127.0.0.1", "GET", "/admin/stats", headers=bearer)
            ).status_code == 401
    assert (await call_from(app, "203.0.113.5", "GET", "/admin/stats", headers=bearer)
            ).status_code == 403


def test_open_gateway_admin_over_a_real_loopback_socket(fake_openai, make_gateway):
    gateway = make_gateway(openai_config(fake_openai))
    for path in ADMIN_PATHS:
        assert httpx.get(gateway.url + path).status_code == 200, path


@pytest.mark.parametrize(("client", "local"), [
    (("127.0.0.1", 1), True), (("::1", 1), True), (["127.0.0.2", 1], True),
    (("fe80::1%eth0", 1), False), (("203.0.113.5", 1), False), (("localhost", 1), False),
    (None, False), ((), False)])
def test_what_counts_as_loopback(client, local: bool):
    """Unknown peers (no address, a name, a unix socket's None) are not trusted as local."""
    assert is_loopback(client) is local
