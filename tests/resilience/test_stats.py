"""Per provider/model stats: counters, percentiles from a bounded histogram, the table."""

from __future__ import annotations

import json
import random
import sys
import threading

import pytest

from aegis.records import Attempt
from aegis.resilience import Histogram, Stats, format_table
from aegis.types import Usage


def att(provider: str = "openai", model: str = "gpt-4o-mini", *, status: str = "ok",
        kind: str | None = None, latency: float = 100.0, ttft: float | None = None,
        index: int = 0, retry: int = 0, usage: Usage = Usage(10, 5), cost: float = 0.001
        ) -> Attempt:
    return Attempt(
        request_id="req_1", started_at=0.0, provider=provider, model=model, route="r",
        reason="why", attempt=index, streamed=ttft is not None, status=status, usage=usage,
        cost_usd=cost, latency_ms=latency, ttft_ms=ttft, error_kind=kind, retry=retry)


def test_counters_per_model_and_provider() -> None:
    s = Stats(wallclock=lambda: 100.0)
    s.record(att(latency=120, ttft=30))
    s.record(att(status="error", kind="timeout", usage=Usage(), cost=0.0))
    s.record(att(status="error", kind="timeout", usage=Usage(), cost=0.0, retry=1))
    s.record(att(status="error", kind="unavailable", usage=Usage(), cost=0.0, retry=2))
    s.record(att(model="gpt-4o", index=1))  # a fallback
    s.record(att(model="gpt-4o", index=1, retry=1, status="error", kind="rate_limited"))
    s.record(att(model="gpt-4o", status="cancelled", kind="client_disconnected",
                 usage=Usage(10, 2)))
    s.record(att(provider="local", model="smollm2", usage=Usage(3, 4), cost=0.0))
    snap = s.snapshot()
    json.dumps(snap)
    mini = snap["providers"]["openai"]["models"]["gpt-4o-mini"]
    assert mini["requests"] == 4 and mini["successes"] == 1 and mini["failures"] == 3
    assert mini["failures_by_kind"] == {"timeout": 2, "unavailable": 1}
    assert mini["retries"] == 2 and mini["fallbacks"] == 0
    assert mini["success_rate"] == 0.25
    assert mini["latency_ms"]["p50"] == 120 and mini["latency_ms"]["samples"] == 1
    assert mini["ttft_ms"]["p50"] == 30
    big = snap["providers"]["openai"]["models"]["gpt-4o"]
    assert big["fallbacks"] == 1 and big["retries"] == 1 and big["cancelled"] == 1
    assert big["tokens"] == {"in": 30, "out": 12}
    openai = snap["providers"]["openai"]
    assert openai["requests"] == 7 and openai["failures"] == 4 and openai["successes"] == 2
    assert openai["failures_by_kind"] == {"rate_limited": 1, "timeout": 2, "unavailable": 1}
    assert snap["totals"]["requests"] == 8
    assert snap["totals"]["tokens"] == {"in": 43, "out": 21}
    assert snap["totals"]["cost_usd"] == pytest.approx(0.004)
    assert snap["since"] == 100.0


def test_plain_attempts_without_a_retry_field() -> None:
    s = Stats()
    s.record(Attempt(request_id="r", started_at=0, provider="p", model="m", route="r",
                     reason="x", attempt=2, streamed=False, status="ok", usage=Usage(),
                     cost_usd=0, latency_ms=5, ttft_ms=None))
    v = s.snapshot()["providers"]["p"]["models"]["m"]
    assert v["fallbacks"] == 1 and v["retries"] == 0


def test_empty_snapshot() -> None:
    snap = Stats().snapshot()
    assert snap["providers"] == {} and snap["totals"]["requests"] == 0
    assert snap["totals"]["latency_ms"] == {"p50": None, "p95": None, "max": None, "samples": 0}
    assert snap["totals"]["success_rate"] is None
    assert format_table(snap) == "no requests yet"


@pytest.mark.parametrize("values", [
    [float(v) for v in range(1, 1001)],
    [float(v) for v in range(100, 100_001, 100)],
    sorted(random.Random(3).lognormvariate(5, 1) for _ in range(5000)),
])
def test_percentiles_match_known_samples(values: list[float]) -> None:
    h = Histogram()
    shuffled = values[:]
    random.Random(1).shuffle(shuffled)
    for v in shuffled:
        h.add(v)
    for q in (0.5, 0.95, 0.99):
        exact = values[max(0, int(q * len(values) + 0.999999) - 1)]
        got = h.percentile(q)
        assert got is not None
        assert abs(got - exact) / exact < 0.05, (q, got, exact)
    assert h.percentile(1.0) == max(values)
    assert h.count == len(values)


def test_constant_samples_are_exact() -> None:
    h = Histogram()
    for _ in range(10):
        h.add(42.0)
    assert h.percentile(0.5) == 42.0 and h.percentile(0.95) == 42.0


def test_extreme_values_are_kept_in_range() -> None:
    h = Histogram()
    for v in (0.0, 0.001, 1e12, float("nan"), -5.0):
        h.add(v)
    assert h.count == 3  # nan and negatives ignored
    assert h.percentile(0.5) is not None and h.percentile(1.0) == 1e12
    assert 0.0 <= (h.percentile(0.01) or -1) < 0.01


def test_memory_is_bounded() -> None:
    s = Stats()
    s.record(att(latency=1.0))
    c = s._keys[("openai", "gpt-4o-mini")]
    before = (len(c.latency.buckets), sys.getsizeof(c.latency.buckets), len(c.failures))
    rng = random.Random(5)
    for i in range(50_000):
        s.record(att(latency=rng.uniform(0.1, 60_000), ttft=rng.uniform(1, 500),
                     status="ok" if i % 10 else "error", kind="timeout"))
    after = (len(c.latency.buckets), sys.getsizeof(c.latency.buckets), len(c.failures))
    assert before[:2] == after[:2] and after[2] == 1
    assert c.latency.count == 45_001


def test_concurrent_records_are_not_lost() -> None:
    s = Stats()

    def worker(n: int) -> None:
        for _ in range(2000):
            s.record(att(model=f"m{n % 2}"))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    totals = s.snapshot()["totals"]
    assert totals["requests"] == 16_000 and totals["latency_ms"]["samples"] == 16_000


def test_reset() -> None:
    clock = iter([1.0, 5.0, 7.0])
    s = Stats(wallclock=lambda: next(clock))
    s.record(att())
    s.reset()
    snap = s.snapshot()
    assert snap["totals"]["requests"] == 0 and snap["since"] == 5.0 and snap["uptime_s"] == 2.0


def test_table() -> None:
    s = Stats()
    for ms in (100, 200, 300, 2500):
        s.record(att(latency=ms, usage=Usage(12_000, 300)))
    s.record(att(status="error", kind="timeout", retry=1))
    s.record(att(provider="local", model="smollm2", index=1))
    table = format_table(s.snapshot())
    lines = table.splitlines()
    assert lines[0].split() == ["PROVIDER", "MODEL", "REQS", "OK", "FAIL", "RETRY", "FALLBK",
                                "P50", "P95", "TOK", "IN", "TOK", "OUT", "ERRORS"]
    assert lines[1].split()[0] == "local" and lines[1].split()[6] == "1"  # fallbacks
    row = lines[2].split()
    assert row[:7] == ["openai", "gpt-4o-mini", "5", "4", "1", "1", "0"]
    assert row[8] == "2.50s" and row[9] == "48.0k" and row[-1] == "timeout:1"
    assert lines[-1].split()[:2] == ["TOTAL", "6"]
    widths = {len(line) for line in lines}
    assert max(widths) < 140


def test_table_with_breaker_states() -> None:
    s = Stats()
    s.record(att())
    s.record(att(model="gpt-4o"))
    breakers = {"providers": {"openai": {"state": "degraded", "provider_circuit": None, "models": {
        "gpt-4o-mini": {"state": "open"}}}}}
    lines = format_table(s.snapshot(), breakers).splitlines()
    assert lines[0].split()[2] == "STATE"
    assert lines[1].split()[:3] == ["openai", "gpt-4o", "closed"]
    assert lines[2].split()[:3] == ["openai", "gpt-4o-mini", "open"]
