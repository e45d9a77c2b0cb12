"""The per-request shortcuts of the breaker and the stats give the general path's answers.

``CircuitBreaker.allow`` answers a closed circuit without the clock while nothing is
tripped, and ``Permit.success`` settles a closed circuit's permit without ``_refresh``;
``Histogram.add`` compares instead of calling ``min``/``max``. Each is checked here
against the code it short-cuts, over long random sequences.
"""

from __future__ import annotations

import math
import random
from typing import Any

from aegis.resilience import (
    BreakerConfig,
    CircuitBreaker,
    Histogram,
    Permit,
    State,
    Transition,
)
from aegis.resilience.stats import _BUCKETS, _MIN_MS, _RATIO

KEYS = [("openai", "a"), ("openai", "b"), ("anthropic", "c")]
KINDS = ["timeout", "unavailable", "rate_limited", "bad_request", "auth"]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _breaker(clock: Clock, events: list[Transition]) -> CircuitBreaker:
    cfg = BreakerConfig(failure_threshold=3, cooldown_s=5, min_requests=6, failure_rate=0.5,
                        window_s=20, half_open_probes=2)
    return CircuitBreaker(cfg, {"anthropic": BreakerConfig(enabled=False)}, clock=clock,
                          wallclock=lambda: 0.0, probe_ttl_s=30, listeners=[events.append])


def _general_allow(b: CircuitBreaker, key: tuple[str, str]) -> Permit:
    """``allow`` without its short cut (a disabled breaker's answer is unchanged)."""
    if not b.config_for(key[0]).enabled:
        return Permit(None, key, allowed=True, state=State.CLOSED)
    return b._allow(key)


def _view(p: Permit) -> tuple[Any, ...]:
    return (p.key, p.allowed, p.state, p.probe, p.reason, p._generation, p._token, p._settled)


def test_allow_and_success_shortcuts_match_the_general_path() -> None:
    """Two breakers fed the same random traffic: one through the public (short-cut)
    calls, one through ``_allow`` and ``_settle`` only. Every permit, every transition
    and every snapshot must be the same."""
    opened = 0
    for seed in range(40):
        rng = random.Random(seed)
        clock = Clock()
        fast_events: list[Transition] = []
        slow_events: list[Transition] = []
        fast, slow = _breaker(clock, fast_events), _breaker(clock, slow_events)
        held: list[tuple[Permit, Permit]] = []
        for _ in range(400):
            op = rng.random()
            if op < 0.45:
                key = rng.choice(KEYS)
                a, b = fast.allow(key), _general_allow(slow, key)
                assert _view(a) == _view(b)
                if a:
                    held.append((a, b))
            elif op < 0.85 and held:
                a, b = held.pop(rng.randrange(len(held)))
                how = rng.random()
                if how < 0.45:
                    a.success()
                    slow._settle(b, None)
                elif how < 0.9:
                    kind = rng.choice(KINDS)
                    a.failure(kind)
                    slow._settle(b, kind)
                else:
                    a.release()
                    slow._settle(b, "", neutral=True)
                if rng.random() < 0.1:  # settling twice is a no-op either way
                    a.success()
                    slow._settle(b, None)
                assert _view(a) == _view(b)
            elif op < 0.9:
                provider = rng.choice(["openai", "anthropic"])
                ok = rng.random() < 0.5
                fast.on_probe(provider, ok)
                slow.on_probe(provider, ok)
            else:
                clock.now += rng.choice([0.5, 2.0, 6.0, 31.0])
            assert fast_events == slow_events
            assert fast.snapshot() == slow.snapshot()
        opened += any(e.new is State.OPEN for e in fast_events)
    assert opened >= 30, "most sequences must open (and so trip) some circuits"


def test_a_permit_from_before_an_opening_stays_stale() -> None:
    """A closed-circuit permit granted by the short cut, settled after the circuit
    opened and went half-open, must not close it (it was not a probe)."""
    clock, events = Clock(), list[Transition]()
    b = _breaker(clock, events)
    key = KEYS[0]
    b.allow(key).success()  # the circuit exists: the next allow takes the short cut
    early = b.allow(key)
    for _ in range(3):
        b.allow(key).failure("timeout")
    clock.now += 6  # cooldown over: half-open on the next look
    probe = b.allow(key)
    assert probe.probe
    early.success()
    assert b.snapshot()["providers"]["openai"]["models"]["a"]["state"] == "half_open"
    probe.success()
    assert b.snapshot()["providers"]["openai"]["models"]["a"]["state"] == "closed"


def _reference_add(h: dict[str, Any], value: float) -> None:
    """``Histogram.add`` as it was: min()/max() and a clamped index."""
    if not math.isfinite(value) or value < 0:
        return
    index = 0 if value < _MIN_MS else min(_BUCKETS - 1, 1 + int(math.log(value / _MIN_MS, _RATIO)))
    h["buckets"][index] += 1
    h["count"] += 1
    h["total"] += value
    h["min"] = min(h["min"], value)
    h["max"] = max(h["max"], value)


def test_histogram_add_matches_min_max_reference() -> None:
    rng = random.Random(7)
    specials = [0.0, -0.0, -1.0, _MIN_MS, _MIN_MS * 0.999, 1e-300, 1e12, 1e300,
                math.inf, -math.inf, math.nan, 5.0, 5.0]
    for _ in range(50):
        h = Histogram()
        ref: dict[str, Any] = {"buckets": [0] * _BUCKETS, "count": 0, "total": 0.0,
                               "min": math.inf, "max": -math.inf}
        values = [rng.choice(specials) if rng.random() < 0.2
                  else 10 ** rng.uniform(-4, 8) for _ in range(300)]
        for v in values:
            h.add(v)
            _reference_add(ref, v)
        assert h.buckets == ref["buckets"]
        assert (h.count, h.total) == (ref["count"], ref["total"])
        assert (h.min, h.max) == (ref["min"], ref["max"])
        assert math.copysign(1, h.min) == math.copysign(1, ref["min"])
