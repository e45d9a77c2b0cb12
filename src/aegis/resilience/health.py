"""Provider health: passive (from traffic) and, optionally, active probes.

Passive health is a ``Recorder``: the engine's attempts say when each provider
last succeeded and failed. Active probes (``health.active: true``) run one
asyncio task per provider, calling a cheap probe every ``interval_s`` with a
``timeout_s``; each result feeds the breaker's provider-wide circuit
(``CircuitBreaker.on_probe``), so a provider that stops answering probes is
skipped by the router before real requests pay for finding out.

A probe that fails with a request-type error (HTTP 400/404: the server answered)
counts as reachable. Probes are plain callables, so this stays adapter-agnostic;
``adapter_probe`` picks the usual one (model listing over HTTP, ``check()`` for the
in-process local model -- no tokens spent either way).

Status per provider, most severe first:
``unreachable`` (the last ``failure_threshold`` probes failed), ``open`` (its
circuits are open: see ``CircuitBreaker.provider_state``), ``degraded`` (some
circuits open, the last probe failed, or a recent counted failure is newer than
the last success), ``healthy`` (a success or passing probe seen), ``unknown``
(nothing seen yet). ``ready()`` is true while any provider is healthy, degraded or
unknown: with no traffic and no probes nothing is known, and refusing readiness
then would keep traffic away for good.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from aegis import errors
from aegis.records import Attempt, Recorder
from aegis.resilience.breaker import CircuitBreaker
from aegis.resilience.config import HealthConfig

if TYPE_CHECKING:
    from aegis.providers.base import Adapter

log = logging.getLogger(__name__)

Probe = Callable[[], Awaitable[object]]
Status = Literal["healthy", "degraded", "open", "unreachable", "unknown"]
SERVING: frozenset[str] = frozenset({"healthy", "degraded", "unknown"})


def adapter_probe(adapter: Adapter) -> Probe:
    """The cheap probe for an adapter: model listing over HTTP, ``check()`` in-process."""
    if adapter.needs_http:
        return adapter.list_models
    return adapter.check


class _Seen:
    """What traffic and probes said about one provider (monotonic times)."""

    __slots__ = ("last_error", "last_fail", "last_ok", "probe_failures", "probe_ok",
                 "probed_at", "probes")

    def __init__(self) -> None:
        self.last_ok: float | None = None  # traffic
        self.last_fail: float | None = None
        self.last_error: str | None = None
        self.probe_ok: bool | None = None  # active: last result
        self.probe_failures = 0  # consecutive
        self.probed_at: float | None = None
        self.probes = 0


class HealthMonitor(Recorder):
    def __init__(
        self,
        breaker: CircuitBreaker,
        providers: Iterable[str],
        probes: Mapping[str, Probe] | None = None,
        config: HealthConfig | None = None,
        *,
        recent_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``recent_s``: how long a traffic failure keeps a provider ``degraded``."""
        self.breaker = breaker
        self.config = config or HealthConfig()
        self._probes = dict(probes or {})
        self._seen = {name: _Seen() for name in providers}
        for name in self._probes:
            self._seen.setdefault(name, _Seen())
        self._recent_s = recent_s
        self._clock = clock
        self._tasks: dict[str, asyncio.Task[None]] = {}

    # -- passive ------------------------------------------------------------------

    def record(self, attempt: Attempt) -> None:
        seen = self._seen.get(attempt.provider)
        if seen is None:
            return
        if attempt.status == "ok":
            seen.last_ok = self._clock()
        elif attempt.status == "error" and self.breaker.counts(attempt.error_kind,
                                                               attempt.provider):
            seen.last_fail = self._clock()
            seen.last_error = attempt.error_kind

    # -- active -------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return any(not t.done() for t in self._tasks.values())

    async def start(self) -> None:
        """Start one probe task per provider with a probe (no-op unless ``active``)."""
        if not self.config.active:
            return
        for name in self._probes:
            task = self._tasks.get(name)
            if task is None or task.done():
                self._tasks[name] = asyncio.create_task(self._loop(name),
                                                        name=f"aegis-health:{name}")

    async def stop(self) -> None:
        """Cancel the probe tasks and wait for them: nothing is left running."""
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def probe_once(self, provider: str) -> bool:
        """Run ``provider``'s probe now; True when it answered. Feeds the breaker."""
        probe = self._probes[provider]
        kind: str | None = None
        try:
            async with asyncio.timeout(self.config.timeout_s):
                await probe()
        except errors.ProviderError as exc:
            kind = exc.kind
        except TimeoutError:
            kind = "timeout"
        except Exception as exc:  # a probe bug must not kill the loop
            log.warning("health probe for %s raised %r", provider, exc)
            kind = "probe_failed"
        ok = kind is None or not self.breaker.counts(kind, provider)
        seen = self._seen[provider]
        seen.probes += 1
        seen.probed_at = self._clock()
        seen.probe_ok = ok
        seen.probe_failures = 0 if ok else seen.probe_failures + 1
        if not ok:
            seen.last_error = kind
        self.breaker.on_probe(provider, ok, kind)
        return ok

    async def _loop(self, provider: str) -> None:
        while True:
            await self.probe_once(provider)
            await asyncio.sleep(self.config.interval_s)

    # -- reading ------------------------------------------------------------------

    def status(self) -> dict[str, Status]:
        return {name: self._status(name, seen) for name, seen in self._seen.items()}

    def ready(self) -> bool:
        """True while at least one provider can serve."""
        return any(s in SERVING for s in self.status().values())

    def snapshot(self) -> dict[str, Any]:
        """For ``/health/ready``: each provider's status plus what it rests on."""
        now = self._clock()

        def ago(t: float | None) -> float | None:
            return None if t is None else round(now - t, 1)

        providers = {}
        for name, seen in self._seen.items():
            providers[name] = {
                "state": self._status(name, seen),
                "breaker": self.breaker.provider_state(name),
                "last_success_s_ago": ago(seen.last_ok),
                "last_failure_s_ago": ago(seen.last_fail),
                "last_error": seen.last_error,
                "probe": None if name not in self._probes or not self.config.active else {
                    "ok": seen.probe_ok, "consecutive_failures": seen.probe_failures,
                    "checked_s_ago": ago(seen.probed_at), "count": seen.probes},
            }
        ready = any(p["state"] in SERVING for p in providers.values())
        return {"status": "ready" if ready else "unavailable", "providers": providers}

    def _status(self, name: str, seen: _Seen) -> Status:
        if seen.probe_failures >= self.config.failure_threshold:
            return "unreachable"
        circuit = self.breaker.provider_state(name)
        if circuit == "open":
            return "open"
        now = self._clock()
        failing = (seen.last_fail is not None and now - seen.last_fail <= self._recent_s
                   and (seen.last_ok is None or seen.last_fail > seen.last_ok))
        if circuit == "degraded" or seen.probe_ok is False or failing:
            return "degraded"
        if seen.last_ok is not None or seen.probe_ok:
            return "healthy"
        return "unknown"
