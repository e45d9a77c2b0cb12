"""Circuit breakers per (provider, model): stop sending traffic to what keeps failing.

    closed ──(N consecutive failures, or failure rate ≥ R over the window
              once min_requests were seen)──▶ open
    open ──(cooldown elapsed; checked lazily)──▶ half-open
    half-open: at most ``half_open_probes`` requests are admitted;
               a probe success ─▶ closed, a probe failure ─▶ open (fresh cooldown)

``allow`` returns a ``Permit`` that reserves a probe slot atomically; settle it
exactly once (``success`` / ``failure(kind)`` / ``release``). Each opening starts a
new *generation*: outcomes of requests admitted before it are stale and ignored,
so a slow request that started while closed cannot close a freshly opened circuit.

Only upstream faults count (timeouts, 5xx and refused connections, broken
responses, rejected credentials, 429 unless configured off). Request errors (bad
request, context too long, content filtered) and cancellations are neutral: they
release a probe slot and change nothing.

Besides the per-model circuits each provider has a provider-wide circuit, fed only
by active health probes (``on_probe``): it opens after
``probe_failure_threshold`` failed probes, blocks every model of the provider, and
only a probe closes it again. A provider's summary state (``provider_state``) is
``open`` when that circuit is open or every circuit of the provider that saw
traffic is open, ``degraded`` when some are open or half-open (a half-open
circuit admits a request as its probe), else ``closed`` -- one overloaded model
must not make a whole provider look down.

One lock, no I/O under it; listeners are called after it is released.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from aegis.resilience.config import BreakerConfig, ResilienceSettings

if TYPE_CHECKING:
    from aegis.routing.decision import Candidate

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (provider name, catalog model name)
PROVIDER_WIDE = "*"  # the model slot of a provider's health-probe circuit

# ``ProviderError.kind`` values that say the upstream itself is unwell.
COUNTED_KINDS = frozenset({"timeout", "unavailable", "invalid_response", "upstream_error",
                           "auth", "probe_failed"})
RATE_LIMITED = "rate_limited"
_BUCKETS = 20


class State(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class Transition:
    """A state change, for logs and metrics."""

    key: Key
    old: State
    new: State
    reason: str
    at: float  # the breaker's monotonic clock


Listener = Callable[[Transition], None]


class Permit:
    """The answer to ``allow``: truthy when the request may go. Settle it exactly once;
    later calls are no-ops, so ``finally: permit.release()`` after a settle is safe."""

    __slots__ = ("_breaker", "_generation", "_settled", "_token", "allowed", "key", "probe",
                 "reason", "state")

    def __init__(self, breaker: CircuitBreaker | None, key: Key, *, allowed: bool, state: State,
                 probe: bool = False, reason: str | None = None, generation: int = -1,
                 token: int = 0) -> None:
        self._breaker = breaker  # None: untracked (breaker disabled or request refused)
        self.key, self.allowed, self.state, self.probe, self.reason = (
            key, allowed, state, probe, reason)
        self._generation, self._token, self._settled = generation, token, False

    def __bool__(self) -> bool:
        return self.allowed

    def __repr__(self) -> str:
        return (f"Permit({self.key[0]}/{self.key[1]}, allowed={self.allowed}, "
                f"state={self.state.value}, probe={self.probe})")

    def success(self) -> None:
        if self._breaker is not None:
            self._breaker._succeeded(self)

    def failure(self, kind: str) -> None:
        if self._breaker is not None:
            self._breaker.on_failure(self, kind)

    def release(self) -> None:
        """Neither success nor failure (cancelled, client error): frees a probe slot."""
        if self._breaker is not None:
            self._breaker.release(self)


class _Window:
    """Request and failure counts over the last ``window_s``, in fixed buckets: O(1) memory."""

    __slots__ = ("fails", "slots", "totals", "width")

    def __init__(self, window_s: float) -> None:
        self.width = window_s / _BUCKETS
        self.slots = [-1] * _BUCKETS
        self.totals = [0] * _BUCKETS
        self.fails = [0] * _BUCKETS

    def add(self, now: float, failed: bool) -> None:
        i = int(now // self.width)
        s = i % _BUCKETS
        if self.slots[s] != i:
            self.slots[s], self.totals[s], self.fails[s] = i, 0, 0
        self.totals[s] += 1
        self.fails[s] += failed

    def counts(self, now: float) -> tuple[int, int]:
        oldest = int(now // self.width) - _BUCKETS
        total = fails = 0
        for s in range(_BUCKETS):
            if self.slots[s] > oldest:
                total += self.totals[s]
                fails += self.fails[s]
        return total, fails

    def clear(self) -> None:
        self.slots = [-1] * _BUCKETS


class _Circuit:
    __slots__ = ("cfg", "consecutive", "generation", "last_kind", "open_until", "opens",
                 "probes", "reason", "state", "window")

    def __init__(self, cfg: BreakerConfig) -> None:
        self.cfg = cfg
        self.state = State.CLOSED
        self.consecutive = 0
        self.window = _Window(cfg.window_s)
        self.generation = 0
        self.open_until = 0.0
        self.opens = 0
        self.reason = ""  # why it last opened
        self.last_kind: str | None = None
        self.probes: dict[int, float] = {}  # probe token -> admitted at


class CircuitBreaker:
    def __init__(
        self,
        config: BreakerConfig | None = None,
        overrides: Mapping[str, BreakerConfig] | None = None,
        *,
        probe_failure_threshold: int = 2,
        probe_ttl_s: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
        wallclock: Callable[[], float] = time.time,
        listeners: Iterable[Listener] = (),
    ) -> None:
        """``probe_ttl_s``: a probe slot never settled (a bug, a lost task) is reclaimed
        after this long, so a circuit cannot stay half-open forever."""
        self._default = config or BreakerConfig()
        self._overrides = dict(overrides or {})
        self._probe_threshold = probe_failure_threshold
        self._probe_ttl = probe_ttl_s
        self._clock, self._wallclock = clock, wallclock
        self._listeners = list(listeners)
        self._lock = threading.Lock()
        self._circuits: dict[Key, _Circuit] = {}
        self._tripped: set[Key] = set()  # circuits not closed (open or half-open)
        self._tokens = itertools.count(1)

    @classmethod
    def from_settings(cls, settings: ResilienceSettings, **kwargs: Any) -> CircuitBreaker:
        kwargs.setdefault("probe_failure_threshold", settings.config.health.failure_threshold)
        kwargs.setdefault("probe_ttl_s", settings.config.deadline_s)
        return cls(settings.config.breaker, settings.breakers(), **kwargs)

    def subscribe(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def config_for(self, provider: str) -> BreakerConfig:
        return self._overrides.get(provider, self._default)

    def counts(self, kind: str | None, provider: str = "") -> bool:
        """Does a failure of this kind count against the circuit?"""
        if kind == RATE_LIMITED:
            return self.config_for(provider).count_rate_limited
        return kind in COUNTED_KINDS

    # -- the request path ----------------------------------------------------------

    def allow(self, key: Key) -> Permit:
        """May a request go to ``key`` now? Reserves a half-open probe slot if it is one."""
        if not self.config_for(key[0]).enabled:
            return Permit(None, key, allowed=True, state=State.CLOSED)
        with self._lock:
            if not self._tripped and (c := self._circuits.get(key)) is not None:
                # Every circuit is closed (the usual case): no lazy transition is due
                # and no probe slot is held, so neither the clock nor the provider-wide
                # circuit needs reading. Measured (isolated): 1.9 µs -> 0.9 µs.
                return Permit(self, key, allowed=True, state=State.CLOSED, generation=c.generation)
        return self._allow(key)

    def _allow(self, key: Key) -> Permit:
        """``allow`` in full (any circuit not closed, or the first request to ``key``)."""
        events: list[Transition] = []
        try:
            with self._lock:
                now = self._clock()
                pc = self._refresh((key[0], PROVIDER_WIDE), now, events)
                if pc is not None and pc.state is not State.CLOSED:
                    return Permit(None, key, allowed=False, state=pc.state,
                                  reason=self._reason(key[0], PROVIDER_WIDE, pc, now))
                c = self._refresh(key, now, events) or self._create(key)
                if c.state is State.CLOSED:
                    return Permit(self, key, allowed=True, state=c.state,
                                  generation=c.generation)
                if c.state is State.HALF_OPEN and len(c.probes) < c.cfg.half_open_probes:
                    token = next(self._tokens)
                    c.probes[token] = now
                    return Permit(self, key, allowed=True, state=c.state, probe=True,
                                  generation=c.generation, token=token)
                return Permit(None, key, allowed=False, state=c.state,
                              reason=self._reason(*key, c, now))
        finally:
            self._emit(events)

    def on_success(self, target: Key | Permit) -> None:
        if isinstance(target, Permit):
            self._succeeded(target)
        else:
            self._settle(target, None)

    def _succeeded(self, permit: Permit) -> None:
        """``_settle(permit, None)``, with a short path for a permit of a closed circuit.

        A closed circuit has no lazy transition due and no probe slots, so ``_refresh``
        would change nothing; what is left of ``_settle`` + ``_succeed`` is below.
        Measured (isolated): 1.8 µs -> 1.0 µs.
        """
        if permit._breaker is self and not permit.probe:
            with self._lock:
                c = self._circuits.get(permit.key)
                if (c is not None and c.state is State.CLOSED and not permit._settled
                        and permit._generation == c.generation):
                    permit._settled = True
                    c.consecutive = 0
                    c.window.add(self._clock(), False)
                    return
        self._settle(permit, None)

    def on_failure(self, target: Key | Permit, kind: str) -> None:
        self._settle(target, kind)

    def release(self, permit: Permit) -> None:
        self._settle(permit, "", neutral=True)

    def on_probe(self, provider: str, ok: bool, kind: str | None = None) -> None:
        """An active health probe's result, for the provider-wide circuit."""
        if not self.config_for(provider).enabled:
            return
        key = (provider, PROVIDER_WIDE)
        events: list[Transition] = []
        try:
            with self._lock:
                now = self._clock()
                c = self._refresh(key, now, events)
                if ok:
                    if c is not None and c.state is State.CLOSED:
                        c.consecutive = 0
                    elif c is not None and c.state is State.HALF_OPEN:
                        self._close(key, c, now, "health probe succeeded", events)
                    return
                c = c or self._create(key)
                c.last_kind = kind or "probe_failed"
                if c.state is State.CLOSED:
                    c.consecutive += 1
                    if c.consecutive >= self._probe_threshold:
                        self._open(key, c, now, f"{c.consecutive} failed health probes "
                                   f"(last: {c.last_kind})", events)
                elif c.state is State.HALF_OPEN:
                    self._open(key, c, now, f"health probe failed ({c.last_kind})", events)
        finally:
            self._emit(events)

    # -- what the router, /health/ready and /admin/stats read ------------------------

    def state(self, key: Key) -> State:
        """The effective state: the provider-wide circuit's when that is not closed."""
        events: list[Transition] = []
        try:
            with self._lock:
                now = self._clock()
                pc = self._refresh((key[0], PROVIDER_WIDE), now, events)
                if pc is not None and pc.state is not State.CLOSED:
                    return pc.state
                c = self._refresh(key, now, events)
                return State.CLOSED if c is None else c.state
        finally:
            self._emit(events)

    def down_reason(self, key: Key) -> str | None:
        """Why ``key`` cannot take a request now, or None. Does not reserve anything.

        The router asks this for every candidate of every request; with every
        circuit closed (the usual case) the answer needs no lock and no clock.
        """
        if not self._tripped or not self.config_for(key[0]).enabled:
            return None
        events: list[Transition] = []
        try:
            with self._lock:
                now = self._clock()
                for k in ((key[0], PROVIDER_WIDE), key):
                    c = self._refresh(k, now, events)
                    if c is None or c.state is State.CLOSED:
                        continue
                    if (c.state is State.HALF_OPEN and k[1] != PROVIDER_WIDE
                            and len(c.probes) < c.cfg.half_open_probes):
                        continue  # a probe slot is free: let the router pick it
                    return self._reason(*k, c, now)
                return None
        finally:
            self._emit(events)

    def health_check(self, cand: Candidate) -> str | None:
        """``aegis.routing.constraints.Health``: pass the breaker as ``Router(health=...)``."""
        return self.down_reason((cand.provider.name, cand.model.name))

    def all_closed(self) -> bool:
        """No circuit is open or half-open: the router need not ask per candidate."""
        return not self._tripped

    def provider_state(self, provider: str) -> str:
        """``closed`` | ``degraded`` | ``open`` (see the module docstring)."""
        events: list[Transition] = []
        try:
            with self._lock:
                return self._provider_state(provider, self._clock(), events)
        finally:
            self._emit(events)

    def snapshot(self) -> dict[str, Any]:
        """JSON-able: ``{"providers": {name: {"state", "provider_circuit", "models": {...}}}}``."""
        events: list[Transition] = []
        out: dict[str, Any] = {}
        try:
            with self._lock:
                now = self._clock()
                for key in sorted(self._circuits):
                    c = self._refresh(key, now, events)
                    assert c is not None
                    entry = out.setdefault(key[0], {"state": "closed", "provider_circuit": None,
                                                    "models": {}})
                    info = self._describe(key, c, now)
                    if key[1] == PROVIDER_WIDE:
                        entry["provider_circuit"] = info
                    else:
                        entry["models"][key[1]] = info
                for provider, entry in out.items():
                    entry["state"] = self._provider_state(provider, now, events)
        finally:
            self._emit(events)
        return {"providers": out}

    def reset(self, key: Key | None = None) -> None:
        """Forget one circuit (or all): an operator override, and test isolation."""
        with self._lock:
            if key is None:
                self._circuits.clear()
                self._tripped.clear()
            else:
                self._circuits.pop(key, None)
                self._tripped.discard(key)

    # -- internals (call with the lock held) -------------------------------------------

    def _create(self, key: Key) -> _Circuit:
        cfg = self.config_for(key[0])
        c = self._circuits[key] = _Circuit(cfg)
        return c

    def _refresh(self, key: Key, now: float, events: list[Transition]) -> _Circuit | None:
        """The circuit with lazy transitions applied: cooldown over, stale probes reclaimed."""
        c = self._circuits.get(key)
        if c is None:
            return None
        if c.state is State.OPEN and now >= c.open_until:
            c.state = State.HALF_OPEN
            c.probes.clear()
            events.append(Transition(key, State.OPEN, State.HALF_OPEN, "cooldown elapsed", now))
        if c.probes:
            stale = [t for t, at in c.probes.items() if now - at >= self._probe_ttl]
            for token in stale:
                del c.probes[token]
        return c

    def _settle(self, target: Key | Permit, kind: str | None, *, neutral: bool = False) -> None:
        if isinstance(target, Permit) and target._breaker is not self:
            return
        key = target.key if isinstance(target, Permit) else target
        if not self.config_for(key[0]).enabled:
            return
        events: list[Transition] = []
        try:
            with self._lock:
                now = self._clock()
                c = self._refresh(key, now, events)
                if isinstance(target, Permit):
                    if target._settled or c is None:
                        return
                    target._settled = True
                    if target.probe:
                        c.probes.pop(target._token, None)
                    if target._generation != c.generation:
                        return  # admitted before the circuit last opened: stale
                elif c is None:
                    c = self._create(key)
                if neutral or (kind is not None and not self.counts(kind, key[0])):
                    return
                if kind is None:
                    self._succeed(key, c, now, events)
                else:
                    self._fail(key, c, now, kind, events)
        finally:
            self._emit(events)

    def _succeed(self, key: Key, c: _Circuit, now: float, events: list[Transition]) -> None:
        if c.state is State.CLOSED:
            c.consecutive = 0
            c.window.add(now, failed=False)
        elif c.state is State.HALF_OPEN:
            self._close(key, c, now, "probe succeeded", events)

    def _fail(self, key: Key, c: _Circuit, now: float, kind: str,
              events: list[Transition]) -> None:
        c.last_kind = kind
        if c.state is State.HALF_OPEN:
            self._open(key, c, now, f"probe failed ({kind})", events)
            return
        if c.state is not State.CLOSED:
            return
        c.consecutive += 1
        c.window.add(now, failed=True)
        cfg = c.cfg
        if c.consecutive >= cfg.failure_threshold:
            self._open(key, c, now, f"{c.consecutive} consecutive failures (last: {kind})",
                       events)
            return
        total, fails = c.window.counts(now)
        if total >= cfg.min_requests and fails >= cfg.failure_rate * total:
            self._open(key, c, now, f"failure rate {fails / total:.0%} ({fails}/{total}) over "
                       f"{cfg.window_s:g}s (last: {kind})", events)

    def _open(self, key: Key, c: _Circuit, now: float, reason: str,
              events: list[Transition]) -> None:
        old = c.state
        c.state = State.OPEN
        self._tripped.add(key)
        c.generation += 1
        c.open_until = now + c.cfg.cooldown_s
        c.opens += 1
        c.reason = reason
        c.probes.clear()
        c.window.clear()
        events.append(Transition(key, old, State.OPEN, reason, now))

    def _close(self, key: Key, c: _Circuit, now: float, reason: str,
               events: list[Transition]) -> None:
        old = c.state
        c.state = State.CLOSED
        self._tripped.discard(key)
        c.consecutive = 0
        c.probes.clear()
        c.window.clear()
        events.append(Transition(key, old, State.CLOSED, reason, now))

    def _reason(self, provider: str, model: str, c: _Circuit, now: float) -> str:
        prefix = "provider unreachable: " if model == PROVIDER_WIDE else ""
        if c.state is State.OPEN:
            until = self._wallclock() + max(0.0, c.open_until - now)
            stamp = time.strftime("%H:%M:%S", time.gmtime(until))
            return f"{prefix}circuit open until {stamp} UTC after {c.reason}"
        if model == PROVIDER_WIDE:
            return f"{prefix}circuit half-open, waiting for the next health probe"
        return "circuit half-open: probe in flight"

    def _provider_state(self, provider: str, now: float, events: list[Transition]) -> str:
        pc = self._refresh((provider, PROVIDER_WIDE), now, events)
        if pc is not None and pc.state is not State.CLOSED:
            return "open"
        states = [c.state for k in self._circuits if k[0] == provider and k[1] != PROVIDER_WIDE
                  if (c := self._refresh(k, now, events)) is not None]
        if all(state is State.CLOSED for state in states):
            return "closed"
        # half-open lets a request through as its probe: the provider can serve, so it is
        # degraded, not open (else a readiness check would keep traffic away for good)
        return "open" if all(state is State.OPEN for state in states) else "degraded"

    def _describe(self, key: Key, c: _Circuit, now: float) -> dict[str, Any]:
        total, fails = c.window.counts(now)
        return {
            "state": c.state.value,
            "consecutive_failures": c.consecutive,
            "window": {"requests": total, "failures": fails},
            "last_failure": c.last_kind,
            "times_opened": c.opens,
            "retry_in_s": round(c.open_until - now, 3) if c.state is State.OPEN else None,
            "probes_in_flight": len(c.probes),
            "reason": self._reason(*key, c, now) if c.state is not State.CLOSED else None,
        }

    def _emit(self, events: list[Transition]) -> None:
        if not events:
            return
        with self._lock:
            listeners = list(self._listeners)
        for event in events:
            log.debug("circuit %s/%s: %s -> %s (%s)", event.key[0], event.key[1],
                     event.old.value, event.new.value, event.reason)
            for listener in listeners:
                try:
                    listener(event)
                except Exception:  # a listener must never break the request path
                    log.exception("circuit breaker listener failed")
