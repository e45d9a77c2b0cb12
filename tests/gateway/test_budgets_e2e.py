"""Budgets and the ledger through the real gateway, under concurrency, across restarts."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import Gateway
from tests.fakes.ollama import FakeOllama
from tests.fakes.openai import FakeOpenAI

CLOUD_PRICES = {"input_per_mtok": 50.0, "output_per_mtok": 200.0, "context_window": 32_000,
                "max_output": 4096, "capabilities": ["tools", "json"], "quality": 0.9}


@pytest.fixture(scope="module")
def upstreams():
    cloud, local = FakeOpenAI().start(), FakeOllama().start()
    yield cloud, local
    cloud.stop()
    local.stop()


def budget_config(cloud: FakeOpenAI, local: FakeOllama, *, on_exceed: str,
                  limit: float, store: str = "sqlite:///:memory:") -> dict[str, Any]:
    return {
        "storage": {"url": store},
        "providers": {
            "cloud": {"kind": "openai", "base_url": cloud.base_url, "api_key": "sk-test-openai"},
            "lan": {"kind": "ollama", "base_url": local.base_url, "locality": "local"},
        },
        "models": [
            {"name": "cloud-chat", "provider": "cloud", "model": "gpt-4o-mini", **CLOUD_PRICES},
            {"name": "local-chat", "provider": "lan", "model": "llama3.2:latest",
             "input_per_mtok": 0, "output_per_mtok": 0, "context_window": 32_000,
             "max_output": 4096, "capabilities": ["tools", "json"], "quality": 0.3},
        ],
        "routes": {"tiered": {"models": ["cloud-chat", "local-chat"]}},
        "budgets": [{"name": "cloud-cap", "scope": "provider:cloud", "limit_usd": limit,
                     "period": "monthly", "on_exceed": on_exceed}],
    }


async def _flood(url: str, n: int, concurrency: int, max_tokens: int) -> list[httpx.Response]:
    sem = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        async def one(i: int) -> httpx.Response:
            async with sem:
                return await client.post("/v1/chat/completions", json={
                    "model": "tiered", "max_tokens": max_tokens,
                    "messages": [{"role": "user", "content": f"request number {i} please"}]})
        return list(await asyncio.gather(*(one(i) for i in range(n))))


def _spent(gateway: Gateway) -> float:
    (status,) = [s for s in gateway.engine.budgets.status() if s.budget.name == "cloud-cap"]
    return float(status.spent_usd)


@pytest.mark.parametrize("on_exceed", ["downgrade", "reject"])
def test_concurrent_requests_never_overshoot_a_budget(upstreams, make_gateway, on_exceed):
    cloud, local = upstreams
    cloud.reset()
    local.reset()
    # worst case per request ~ $0.0087 (prompt bound + 40 output tokens at these prices);
    # actual ~ $0.0011, so the cap is hit only if reservations are honoured
    limit = 0.05
    gateway = make_gateway(budget_config(cloud, local, on_exceed=on_exceed, limit=limit))
    responses = asyncio.run(_flood(gateway.url, 300, 64, max_tokens=40))

    served = Counter(r.headers.get("x-aegis-provider", f"status {r.status_code}")
                     for r in responses)
    gateway.engine.ledger.flush()
    rows = gateway.engine.store.recent(10_000)
    assert len(rows) == len(cloud.requests) + len(local.requests), "an upstream call has no row"
    spent = sum(row.cost_usd for row in rows if row.provider == "cloud")
    assert 0 < spent <= limit
    assert abs(_spent(gateway) - spent) < 1e-9
    assert served["cloud"] == len(cloud.requests) and served["cloud"] > 0
    if on_exceed == "downgrade":
        assert served["lan"] == 300 - served["cloud"] > 0
        assert all(r.status_code == 200 for r in responses)
        downgraded = next(r for r in responses if r.headers.get("x-aegis-provider") == "lan")
        assert "budget cloud-cap exhausted" in downgraded.headers["x-aegis-route-reason"]
        # nothing failed: a downgrade skips a candidate, it is not a fallback from one
        assert {row.attempt for row in rows} == {0}
        assert gateway.engine.resilience.stats.snapshot()["totals"]["fallbacks"] == 0
    else:
        rejected = [r for r in responses if r.status_code == 429]
        assert len(rejected) == 300 - served["cloud"] > 0 and local.requests == []
        error = rejected[0].json()["error"]
        assert error["code"] == "budget_exceeded" and "cloud-cap" in error["message"]


def test_a_sub_cent_budget_names_its_limit_in_the_refusal(upstreams, make_gateway):
    cloud, local = upstreams
    gateway = make_gateway(budget_config(cloud, local, on_exceed="reject", limit=0.0005))
    refused = httpx.post(gateway.url + "/v1/chat/completions", json={
        "model": "cloud-chat", "max_tokens": 40, "messages": [{"role": "user", "content": "x"}]})
    assert refused.status_code == 429
    assert refused.json()["error"]["message"].endswith("$0.0005 of $0.0005 left")


def test_streams_are_costed_like_plain_requests_in_the_ledger(upstreams, make_gateway):
    cloud, local = upstreams
    gateway = make_gateway(budget_config(cloud, local, on_exceed="reject", limit=100))
    client = gateway.openai()
    messages = [{"role": "user", "content": "identical tokens either way"}]
    client.chat.completions.create(model="cloud-chat", messages=messages)
    list(client.chat.completions.create(model="cloud-chat", messages=messages, stream=True))
    gateway.engine.ledger.flush()
    plain, streamed = sorted(gateway.engine.store.recent(10), key=lambda r: r.streamed)
    assert streamed.streamed and not plain.streamed
    assert streamed.prompt_tokens == plain.prompt_tokens > 0
    assert streamed.completion_tokens == plain.completion_tokens > 0
    assert streamed.cost_usd == plain.cost_usd > 0


def test_failed_and_abandoned_attempts_are_recorded(upstreams, make_gateway):
    cloud, local = upstreams
    cloud.reset()
    gateway = make_gateway(budget_config(cloud, local, on_exceed="reject", limit=100))
    cloud.fail(status=400)
    with pytest.raises(openai.BadRequestError):
        gateway.openai().chat.completions.create(
            model="cloud-chat", messages=[{"role": "user", "content": "x"}])
    gateway.engine.ledger.flush()
    (row,) = gateway.engine.store.recent(10)
    assert (row.status, row.error_kind, row.cost_usd) == ("error", "bad_request", 0)


def test_spend_survives_a_restart(upstreams, make_gateway, tmp_path: Path):
    cloud, local = upstreams
    config = budget_config(cloud, local, on_exceed="reject", limit=100,
                           store=f"sqlite:///{tmp_path / 'aegis.db'}")
    first = make_gateway(config)
    for _ in range(3):
        first.openai().chat.completions.create(
            model="cloud-chat", messages=[{"role": "user", "content": "spend a little"}])
    spent = _spent(first)
    first.stop()  # graceful: flushes the ledger
    second = make_gateway(config)
    assert spent > 0 and abs(_spent(second) - spent) < 1e-9
    body = httpx.get(second.url + "/admin/budgets").json()["data"]
    assert abs(float(body[0]["spent_usd"]) - spent) < 1e-9
    rows = httpx.get(second.url + "/admin/requests", params={"limit": 10}).json()["data"]
    assert len(rows) == 3 and all("spend a little" not in str(r) for r in rows)
    by_model = httpx.get(second.url + "/admin/spend", params={"by": "model"}).json()["data"]
    assert by_model[0]["group"] == "cloud-chat"


def test_a_timed_out_attempt_is_charged_what_it_reserved(fake_openai, make_gateway):
    """The upstream has the request and may finish (and bill) it after we gave up: the
    attempt is charged its worst case, so retrying a slow upstream cannot outspend a budget."""
    from aegis.budget.manager import reservation_nusd
    from tests.conftest import openai_config
    from tests.fakes.base import Fault

    config = openai_config(fake_openai, budgets=[
        {"name": "cap", "scope": "provider:openai", "limit_usd": 10, "period": "monthly"}])
    config["providers"]["openai"]["timeout_s"] = 0.3
    gateway = make_gateway(config)
    fake_openai.fail(Fault(hang_before_headers=1.0))
    messages = [{"role": "user", "content": "hi there"}]
    gateway.openai().chat.completions.create(model="gpt-4o-mini", max_tokens=50,
                                             messages=messages)
    gateway.engine.ledger.flush()
    timed_out, served = sorted(gateway.engine.store.recent(100), key=lambda r: r.started_at)
    assert (timed_out.status, timed_out.error_kind, served.status) == ("error", "timeout", "ok")
    prices = gateway.settings.catalog.get("gpt-4o-mini").prices
    assert timed_out.cost_nusd == reservation_nusd(messages, None, 50, prices)  # the worst case
    assert timed_out.usage_estimated and timed_out.cost_nusd > served.cost_nusd > 0
    (status,) = gateway.engine.budgets.status()
    assert abs(float(status.spent_usd) - (timed_out.cost_usd + served.cost_usd)) < 1e-9
