"""A bounded soak: a couple of thousand requests with 20% random upstream faults.

Asserts nothing is lost (every upstream call has exactly one attempt record),
nothing leaks (file descriptors and event-loop tasks return to their baseline),
and the success rate is what the healthy fallback provider allows: every
non-streamed request succeeds; a streamed one can only fail when its fault hit
after the first chunk was already forwarded (it is then never retried).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from typing import Any

import httpx
import pytest

from tests.conftest import Gateway
from tests.fakes.base import Fault
from tests.fakes.openai import FakeOpenAI

REQUESTS = 2000
CONCURRENCY = 16
CHAOS = [Fault(status=500), Fault(status=503), Fault(status=429), Fault(close_mid_body=True),
         Fault(malformed_json=True), Fault(hang_before_headers=0.5),
         Fault(truncate_stream=True)]


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def _tasks() -> int:
    return len(asyncio.all_tasks())


@pytest.fixture
def soak_gateway(make_gateway) -> Any:
    a, b = FakeOpenAI().start(), FakeOpenAI().start()
    cloud = {"kind": "openai", "api_key": "sk-test-openai", "timeout_s": 0.25}
    model = {"input_per_mtok": 1.0, "output_per_mtok": 2.0, "context_window": 100_000,
             "max_output": 4096, "capabilities": ["tools", "json"]}
    gateway = make_gateway({
        "providers": {"a": {**cloud, "base_url": a.base_url},
                      "b": {**cloud, "base_url": b.base_url}},
        "models": [{"name": "a-chat", "provider": "a", "model": "gpt-4o-mini", **model},
                   {"name": "b-chat", "provider": "b", "model": "gpt-4o", **model}],
        "routes": {"ab": {"models": ["a-chat", "b-chat"]}},
        "resilience": {"retries": 1, "backoff": {"base_s": 0.005, "max_s": 0.01},
                       "breaker": {"enabled": False}},
    })
    yield gateway, a, b
    a.stop()
    b.stop()


async def _drive(gateway: Gateway) -> tuple[Counter[str], list[str]]:
    outcomes: Counter[str] = Counter()
    request_ids: list[str] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(REQUESTS):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30, limits=limits) as client:

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                stream = i % 5 == 0
                body = {"model": "ab", "stream": stream,
                        "messages": [{"role": "user", "content": f"request {i} a b c d e"}]}
                resp = await client.post("/v1/chat/completions", json=body)
                request_ids.append(resp.headers.get("x-aegis-request-id", ""))
                kind = "stream" if stream else "plain"
                ok = resp.status_code == 200 and (
                    not stream or ('"error"' not in resp.text and "[DONE]" in resp.text))
                outcomes[f"{kind}:{'ok' if ok else 'failed'}"] += 1

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return outcomes, request_ids


def test_soak_with_random_faults(soak_gateway: Any) -> None:
    gateway, a, b = soak_gateway
    warm = httpx.post(gateway.url + "/v1/chat/completions",
                      json={"model": "ab", "messages": [{"role": "user", "content": "warm"}]})
    assert warm.status_code == 200
    base_fds, base_tasks = _fds(), gateway.server.call(_tasks())
    gateway.recorder.attempts.clear()
    a.reset()
    b.reset()
    a.chaos(0.2, CHAOS, seed=7)

    started = time.monotonic()
    outcomes, request_ids = asyncio.run(_drive(gateway))
    elapsed = time.monotonic() - started

    time.sleep(0.5)  # let cancelled upstream connections finish closing
    assert sum(outcomes.values()) == REQUESTS
    assert outcomes["plain:failed"] == 0, outcomes
    streams = outcomes["stream:ok"] + outcomes["stream:failed"]
    assert outcomes["stream:failed"] <= 0.2 * streams, outcomes  # only mid-stream faults

    attempts = gateway.recorder.attempts
    assert len(attempts) == len(a.requests) + len(b.requests), "an upstream call went unrecorded"
    assert {x.request_id for x in attempts} == set(request_ids)
    assert sum(1 for x in attempts if x.status == "ok") >= REQUESTS - outcomes["stream:failed"]

    assert _fds() <= base_fds + CONCURRENCY + 8, "file descriptors leaked"
    assert gateway.server.call(_tasks()) <= base_tasks + 2, "event-loop tasks leaked"
    assert elapsed < 120
