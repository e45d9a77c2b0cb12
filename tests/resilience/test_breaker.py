"""Circuit breaker state machine, driven by an injected clock."""

from __future__ import annotations

import asyncio
import json
import threading
from types import SimpleNamespace
from typing import Any

import pytest

from aegis.resilience import BreakerConfig, CircuitBreaker, Permit, State, Transition
from aegis.resilience.breaker import COUNTED_KINDS

KEY = ("openai", "gpt-4o-mini")


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make(clock: Clock, events: list[Transition] | None = None, **cfg: Any) -> CircuitBreaker:
    defaults: dict[str, Any] = {"failure_threshold": 3, "cooldown_s": 30, "min_requests": 1000}
    defaults.update(cfg)
    return CircuitBreaker(BreakerConfig(**defaults), clock=clock, wallclock=lambda: 0.0,
                          listeners=[events.append] if events is not None else [])


def fail(b: CircuitBreaker, n: int, kind: str = "timeout", key: tuple[str, str] = KEY) -> None:
    for _ in range(n):
        permit = b.allow(key)
        assert permit
        permit.failure(kind)


def test_opens_after_consecutive_failures() -> None:
    clock, events = Clock(), list[Transition]()
    b = make(clock, events)
    fail(b, 2)
    assert b.state(KEY) is State.CLOSED and b.down_reason(KEY) is None
    fail(b, 1, "unavailable")
    assert b.state(KEY) is State.OPEN
    assert not b.allow(KEY)
    reason = b.down_reason(KEY)
    assert reason == "circuit open until 00:00:30 UTC after 3 consecutive failures (last: unavailable)"
    assert [(e.old, e.new) for e in events] == [(State.CLOSED, State.OPEN)]
    assert events[0].key == KEY and events[0].at == 1000.0


def test_success_resets_the_consecutive_count() -> None:
    b = make(Clock())
    fail(b, 2)
    b.allow(KEY).success()
    fail(b, 2)
    assert b.state(KEY) is State.CLOSED
    fail(b, 1)
    assert b.state(KEY) is State.OPEN


def test_refused_permit_explains_and_settles_to_nothing() -> None:
    b = make(Clock())
    fail(b, 3)
    permit = b.allow(KEY)
    assert not permit and permit.state is State.OPEN
    assert permit.reason is not None and permit.reason.startswith("circuit open until")
    permit.failure("timeout")  # no-op: it was never admitted
    permit.success()
    assert b.state(KEY) is State.OPEN


def test_cooldown_moves_to_half_open_lazily() -> None:
    clock, events = Clock(), list[Transition]()
    b = make(clock, events)
    fail(b, 3)
    clock.advance(29.9)
    assert b.state(KEY) is State.OPEN
    clock.advance(0.1)
    assert b.state(KEY) is State.HALF_OPEN
    assert events[-1].new is State.HALF_OPEN and events[-1].reason == "cooldown elapsed"
    assert b.down_reason(KEY) is None  # a probe slot is free: the router may pick it


def test_half_open_admits_limited_probes_and_success_closes() -> None:
    clock, events = Clock(), list[Transition]()
    b = make(clock, events, half_open_probes=2)
    fail(b, 3)
    clock.advance(30)
    first, second, third = b.allow(KEY), b.allow(KEY), b.allow(KEY)
    assert first.probe and second.probe and first and second
    assert not third and third.state is State.HALF_OPEN
    assert b.down_reason(KEY) == "circuit half-open: probe in flight"
    first.success()
    assert b.state(KEY) is State.CLOSED
    assert events[-1].reason == "probe succeeded"
    second.failure("timeout")  # same generation, now closed: a normal failure
    assert b.state(KEY) is State.CLOSED
    assert b.snapshot()["providers"]["openai"]["models"]["gpt-4o-mini"]["consecutive_failures"] == 1


def test_probe_failure_reopens_with_a_fresh_cooldown() -> None:
    clock, events = Clock(), list[Transition]()
    b = make(clock, events)
    fail(b, 3)
    clock.advance(45)
    probe = b.allow(KEY)
    assert probe.probe
    probe.failure("unavailable")
    assert b.state(KEY) is State.OPEN
    assert events[-1].reason == "probe failed (unavailable)"
    clock.advance(29)
    assert b.state(KEY) is State.OPEN  # cooldown restarted at the probe failure
    clock.advance(1)
    assert b.state(KEY) is State.HALF_OPEN


def test_failure_rate_over_window_after_min_requests() -> None:
    clock, events = Clock(), list[Transition]()
    b = make(clock, events, failure_threshold=100, failure_rate=0.5, min_requests=10, window_s=60)
    for i in range(9):  # alternate: never 2 consecutive failures
        permit = b.allow(KEY)
        permit.failure("timeout") if i % 2 == 0 else permit.success()
    assert b.state(KEY) is State.CLOSED  # 5/9 failed, but fewer than min_requests
    fail(b, 1)
    assert b.state(KEY) is State.OPEN  # 6/10
    assert events[-1].reason == "failure rate 60% (6/10) over 60s (last: timeout)"


def test_failure_rate_below_threshold_stays_closed() -> None:
    b = make(Clock(), failure_threshold=100, failure_rate=0.5, min_requests=10)
    for i in range(40):
        permit = b.allow(KEY)
        permit.failure("timeout") if i % 3 == 0 else permit.success()
    assert b.state(KEY) is State.CLOSED


def test_old_failures_roll_out_of_the_window() -> None:
    clock = Clock()
    b = make(clock, failure_threshold=100, failure_rate=0.5, min_requests=10, window_s=60)
    for i in range(8):
        permit = b.allow(KEY)
        permit.failure("timeout") if i % 2 == 0 else permit.success()
    clock.advance(61)
    for _ in range(8):
        b.allow(KEY).success()
    fail(b, 2)  # window holds 8 ok + 2 failed: 20%
    assert b.state(KEY) is State.CLOSED
    window = b.snapshot()["providers"]["openai"]["models"]["gpt-4o-mini"]["window"]
    assert window == {"requests": 10, "failures": 2}


@pytest.mark.parametrize("kind", ["bad_request", "context_too_long", "content_filtered",
                                  "cancelled", "client_disconnected", "something_new"])
def test_client_side_kinds_do_not_count(kind: str) -> None:
    b = make(Clock())
    fail(b, 10, kind)
    assert b.state(KEY) is State.CLOSED
    assert b.snapshot()["providers"]["openai"]["models"]["gpt-4o-mini"]["consecutive_failures"] == 0


@pytest.mark.parametrize("kind", sorted(COUNTED_KINDS | {"rate_limited"}))
def test_upstream_kinds_count(kind: str) -> None:
    b = make(Clock())
    fail(b, 3, kind)
    assert b.state(KEY) is State.OPEN


def test_rate_limits_can_be_configured_not_to_count() -> None:
    b = make(Clock(), count_rate_limited=False)
    fail(b, 10, "rate_limited")
    assert b.state(KEY) is State.CLOSED
    assert not b.counts("rate_limited", "openai") and b.counts("timeout", "openai")


def test_neutral_outcome_frees_the_probe_slot_without_deciding() -> None:
    clock = Clock()
    b = make(clock)
    fail(b, 3)
    clock.advance(30)
    probe = b.allow(KEY)
    assert not b.allow(KEY)
    probe.failure("bad_request")  # the request's fault: says nothing about the upstream
    assert b.state(KEY) is State.HALF_OPEN
    again = b.allow(KEY)
    assert again.probe
    again.release()  # cancelled
    assert b.state(KEY) is State.HALF_OPEN
    b.allow(KEY).success()
    assert b.state(KEY) is State.CLOSED


def test_stale_outcomes_from_before_the_opening_are_ignored() -> None:
    clock = Clock()
    b = make(clock)
    slow = b.allow(KEY)  # admitted while closed
    fail(b, 3)
    clock.advance(30)
    slow.success()  # finished long after: must not close the half-open circuit
    assert b.state(KEY) is State.HALF_OPEN
    probe = b.allow(KEY)
    assert probe.probe


def test_settling_twice_counts_once() -> None:
    b = make(Clock())
    permit = b.allow(KEY)
    permit.failure("timeout")
    permit.failure("timeout")
    permit.release()
    b.on_failure(permit, "timeout")
    assert b.snapshot()["providers"]["openai"]["models"]["gpt-4o-mini"]["consecutive_failures"] == 1


def test_plain_key_outcomes_apply_directly() -> None:
    clock = Clock()
    b = make(clock)
    for _ in range(3):
        b.on_failure(KEY, "timeout")
    assert b.state(KEY) is State.OPEN
    clock.advance(30)
    b.on_success(KEY)
    assert b.state(KEY) is State.CLOSED


def test_unsettled_probe_slot_is_reclaimed_after_its_ttl() -> None:
    clock = Clock()
    b = CircuitBreaker(BreakerConfig(failure_threshold=1, cooldown_s=10), clock=clock,
                       probe_ttl_s=60)
    fail(b, 1)
    clock.advance(10)
    lost = b.allow(KEY)
    assert lost.probe
    clock.advance(59)
    assert not b.allow(KEY)
    clock.advance(1)
    assert b.allow(KEY).probe


async def test_probe_limit_holds_with_many_tasks_at_once() -> None:
    clock = Clock()
    b = make(clock, half_open_probes=3)
    fail(b, 3)
    clock.advance(30)
    start = asyncio.Event()

    async def ask() -> Permit:
        await start.wait()
        return b.allow(KEY)

    tasks = [asyncio.create_task(ask()) for _ in range(200)]
    await asyncio.sleep(0)
    start.set()
    permits = await asyncio.gather(*tasks)
    admitted = [p for p in permits if p]
    assert len(admitted) == 3 and all(p.probe for p in admitted)
    for p in admitted[:2]:
        p.failure("bad_request")  # neutral: frees two slots
    assert sum(1 for _ in range(50) if b.allow(KEY)) == 2


def test_probe_limit_holds_across_threads() -> None:
    clock = Clock()
    b = make(clock, half_open_probes=2)
    fail(b, 3)
    clock.advance(30)
    barrier = threading.Barrier(16)
    results: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        got = [bool(b.allow(KEY)) for _ in range(50)]
        with lock:
            results.extend(got)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(results) == 2


def test_disabled_breaker_never_blocks() -> None:
    b = make(Clock(), enabled=False)
    fail(b, 50)
    assert b.state(KEY) is State.CLOSED and b.down_reason(KEY) is None
    assert b.snapshot() == {"providers": {}}


def test_per_provider_overrides() -> None:
    clock = Clock()
    b = CircuitBreaker(BreakerConfig(failure_threshold=5), {"local": BreakerConfig(failure_threshold=1)},
                       clock=clock)
    fail(b, 1, key=("local", "smollm2"))
    fail(b, 4)
    assert b.state(("local", "smollm2")) is State.OPEN
    assert b.state(KEY) is State.CLOSED


def test_circuits_are_per_model() -> None:
    b = make(Clock())
    other = ("openai", "gpt-4o")
    fail(b, 3)
    assert b.state(KEY) is State.OPEN
    assert b.state(other) is State.CLOSED and b.allow(other)
    assert b.provider_state("openai") == "degraded"
    fail(b, 3, key=other)
    assert b.provider_state("openai") == "open"
    assert b.provider_state("anthropic") == "closed"


def test_a_half_open_circuit_leaves_its_provider_able_to_serve() -> None:
    """Half-open admits a request as the probe: readiness must not keep it away."""
    clock = Clock()
    b = make(clock)
    fail(b, 3)
    assert b.provider_state("openai") == "open"
    clock.advance(3600)  # past any cooldown
    assert b.state(KEY) is State.HALF_OPEN
    assert b.provider_state("openai") == "degraded"
    permit = b.allow(KEY)
    assert permit
    permit.success()
    assert b.provider_state("openai") == "closed"


def test_health_probes_drive_the_provider_wide_circuit() -> None:
    clock, events = Clock(), list[Transition]()
    b = CircuitBreaker(BreakerConfig(cooldown_s=30), clock=clock, wallclock=lambda: 0.0,
                       probe_failure_threshold=2, listeners=[events.append])
    b.on_probe("openai", ok=True)  # nothing to close: no circuit is created
    assert b.snapshot() == {"providers": {}}
    b.on_probe("openai", ok=False, kind="timeout")
    assert b.allow(KEY)
    b.on_probe("openai", ok=False, kind="unavailable")
    permit = b.allow(("openai", "any-model"))
    assert not permit
    assert b.down_reason(KEY) == ("provider unreachable: circuit open until 00:00:30 UTC after "
                                  "2 failed health probes (last: unavailable)")
    assert b.state(KEY) is State.OPEN and b.provider_state("openai") == "open"
    clock.advance(30)
    assert b.state(KEY) is State.HALF_OPEN
    assert not b.allow(KEY)  # only a health probe decides a provider-wide circuit
    assert "waiting for the next health probe" in (b.down_reason(KEY) or "")
    b.on_probe("openai", ok=False, kind="timeout")
    assert b.state(KEY) is State.OPEN
    clock.advance(30)
    b.on_probe("openai", ok=True)
    assert b.state(KEY) is State.CLOSED and b.allow(KEY)
    assert [e.reason for e in events if e.new is State.CLOSED] == ["health probe succeeded"]


def test_a_passing_probe_resets_the_probe_failure_count() -> None:
    b = CircuitBreaker(clock=Clock(), probe_failure_threshold=2)
    b.on_probe("openai", ok=False)
    b.on_probe("openai", ok=True)
    b.on_probe("openai", ok=False)
    assert b.state(KEY) is State.CLOSED


def test_health_check_reads_candidates() -> None:
    b = make(Clock())
    fail(b, 3)
    cand: Any = SimpleNamespace(provider=SimpleNamespace(name="openai"),
                                model=SimpleNamespace(name="gpt-4o-mini"))
    assert (b.health_check(cand) or "").startswith("circuit open until")
    cand.model.name = "gpt-4o"
    assert b.health_check(cand) is None


def test_snapshot_is_json_and_describes_each_circuit() -> None:
    clock = Clock()
    b = make(clock)
    fail(b, 3)
    b.allow(("openai", "gpt-4o")).success()
    b.on_probe("local", ok=False)
    snap = json.loads(json.dumps(b.snapshot()))
    model = snap["providers"]["openai"]["models"]["gpt-4o-mini"]
    assert model["state"] == "open" and model["times_opened"] == 1
    assert model["retry_in_s"] == 30 and model["last_failure"] == "timeout"
    assert model["reason"].startswith("circuit open until")
    assert snap["providers"]["openai"]["state"] == "degraded"
    assert snap["providers"]["openai"]["models"]["gpt-4o"]["state"] == "closed"
    assert snap["providers"]["openai"]["provider_circuit"] is None
    assert snap["providers"]["local"]["provider_circuit"]["consecutive_failures"] == 1


def test_listener_errors_do_not_break_the_request_path() -> None:
    def boom(_: Transition) -> None:
        raise RuntimeError("listener bug")

    seen: list[Transition] = []
    b = make(Clock())
    b.subscribe(boom)
    b.subscribe(seen.append)
    fail(b, 3)
    assert b.state(KEY) is State.OPEN and len(seen) == 1


def test_reset_forgets_circuits() -> None:
    b = make(Clock())
    fail(b, 3)
    fail(b, 3, key=("openai", "gpt-4o"))
    b.reset(KEY)
    assert b.state(KEY) is State.CLOSED
    assert b.state(("openai", "gpt-4o")) is State.OPEN
    b.reset()
    assert b.snapshot() == {"providers": {}}
