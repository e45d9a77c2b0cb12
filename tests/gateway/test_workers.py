"""`aegis serve --workers 2`: budgets, the ledger and metrics stay correct across processes."""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path

import httpx
import pytest
import yaml

from aegis.ledger import open_store
from tests.fakes.openai import FakeOpenAI
from tests.servers import aegis_serve

LIMIT = 0.03


async def _flood(url: str, n: int) -> list[httpx.Response]:
    sem = asyncio.Semaphore(48)
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        async def one(i: int) -> httpx.Response:
            async with sem:
                return await client.post("/v1/chat/completions", json={
                    "model": "cloud-chat", "max_tokens": 40,
                    "messages": [{"role": "user", "content": f"request {i} please"}]})
        return list(await asyncio.gather(*(one(i) for i in range(n))))


@pytest.fixture
def served(tmp_path: Path):
    fake = FakeOpenAI().start()
    db = tmp_path / "aegis.db"
    config = tmp_path / "aegis.yaml"
    config.write_text(yaml.safe_dump({
        "storage": {"url": f"sqlite:///{db}"},
        "logging": {"level": "warning"},
        "providers": {"cloud": {"kind": "openai", "base_url": fake.base_url,
                                "api_key": "sk-test-openai"}},
        "models": [{"name": "cloud-chat", "provider": "cloud", "model": "gpt-4o-mini",
                    "input_per_mtok": 50.0, "output_per_mtok": 200.0,
                    "context_window": 32000, "max_output": 4096}],
        "budgets": [{"name": "cap", "scope": "provider:cloud", "limit_usd": LIMIT,
                     "period": "monthly", "on_exceed": "reject"}],
    }))
    url, proc = aegis_serve(config, "--workers", "2")
    yield url, proc, fake, db
    if proc.poll() is None:
        proc.kill()
    fake.stop()


def test_two_workers_share_budgets_ledger_and_metrics(served) -> None:
    url, proc, fake, db = served
    responses = asyncio.run(_flood(url, 200))
    ok = sum(r.status_code == 200 for r in responses)
    rejected = sum(r.status_code == 429 for r in responses)
    assert ok + rejected == 200 and ok > 0 and rejected > 0

    metrics = httpx.get(url + "/metrics").text
    served_total = sum(float(m) for m in re.findall(
        r'^aegis_requests_total\{[^}]*status="ok"[^}]*\} ([0-9.e+]+)$', metrics, re.M))
    assert served_total == ok, "metrics from both workers must be summed"

    proc.send_signal(signal.SIGTERM)  # graceful: both workers flush their ledgers
    proc.wait(timeout=60)
    store = open_store(f"sqlite:///{db}")
    rows = store.recent(10_000)
    store.close()
    assert len(rows) == len(fake.requests) == ok
    assert sum(r.cost_usd for r in rows) <= LIMIT
