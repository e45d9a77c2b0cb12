"""Small builders shared by the observability tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aegis.records import Attempt, Caller
from aegis.types import Usage


def attempt(**overrides: Any) -> Attempt:
    fields: dict[str, Any] = {
        "request_id": "req_test", "started_at": time.time() - 0.25, "provider": "openai",
        "model": "gpt-4o-mini", "route": "pinned", "reason": "model=gpt-4o-mini", "attempt": 0,
        "streamed": False, "status": "ok",
        "usage": Usage(prompt_tokens=10, completion_tokens=5, cached_tokens=2),
        "cost_usd": 0.001, "latency_ms": 250.0, "ttft_ms": None, "upstream_model": "gpt-4o-mini",
        "caller": Caller(key_id="key_0123", key_name="ci-bot", team="ml"),
    }
    fields.update(overrides)
    return Attempt(**fields)


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """The gateway reports a request after its last byte went out: poll briefly for it."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)
