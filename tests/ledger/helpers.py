"""Attempt factories and multiprocessing entry points for the ledger tests."""

from __future__ import annotations

import random
from typing import Any

from aegis.engine import Attempt, Caller
from aegis.routing import Task
from aegis.types import Usage

T0 = 1_794_000_000.0  # 2026-11-06T...Z, a fixed instant for reproducible windows


def attempt(**overrides: Any) -> Attempt:
    """A plausible successful attempt; any field (and usage/task/caller parts) overridable."""
    usage = Usage(
        prompt_tokens=overrides.pop("prompt_tokens", 100),
        completion_tokens=overrides.pop("completion_tokens", 20),
        cached_tokens=overrides.pop("cached_tokens", 0),
        cache_write_tokens=overrides.pop("cache_write_tokens", 0),
    )
    task = Task(workspace=overrides.pop("workspace", None),
                tags=overrides.pop("tags", ()))
    caller = Caller(key_id=overrides.pop("key_id", None),
                    key_name=overrides.pop("key_name", None), team=overrides.pop("team", None))
    fields: dict[str, Any] = {
        "request_id": "req_test", "started_at": T0, "provider": "openai", "model": "gpt-x",
        "route": "default", "reason": "test", "attempt": 0, "streamed": False, "status": "ok",
        "usage": usage, "cost_usd": 0.000123, "latency_ms": 12.5, "ttft_ms": None,
        "task": task, "caller": caller, "upstream_model": "gpt-x-2026",
    }
    fields.update(overrides)
    return Attempt(**fields)


def random_attempt(rng: random.Random, i: int, prefix: str = "r") -> Attempt:
    return attempt(
        request_id=f"{prefix}{i}", started_at=T0 + i,
        provider=rng.choice(["openai", "anthropic", "ollama"]),
        model=rng.choice(["m1", "m2", "m3"]),
        cost_usd=rng.randrange(0, 5_000_000) / 1e9,
        team=rng.choice(["research", "ops", None]),
        key_id=rng.choice(["key_a", "key_b", None]),
        workspace=rng.choice(["w1", None]),
        prompt_tokens=rng.randrange(1000), completion_tokens=rng.randrange(500),
    )


def write_from_process(path: str, prefix: str, count: int) -> int:
    """Child process: its own store and writer on the shared file."""
    from aegis.ledger.sqlite import SqliteLedgerStore
    from aegis.ledger.writer import LedgerWriter

    store = SqliteLedgerStore(path)
    writer = LedgerWriter(store, batch_size=50, max_delay_s=0.001)
    for i in range(count):
        writer.record(attempt(request_id=f"{prefix}-{i}", cost_usd=0.000000001 * (i % 7)))
    assert writer.close()
    store.close()
    return count
