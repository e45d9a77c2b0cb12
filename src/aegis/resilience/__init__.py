"""Keeping answers flowing while upstreams misbehave: retries, breakers, health, stats.

``Resilience.build`` wires the parts from validated settings; the engine asks
``policy(provider)`` whether and when to retry or fall back, takes a breaker
``Permit`` before every upstream attempt, and reports every attempt to
``recorders`` (stats and passive health).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Mapping

from aegis.records import Recorder
from aegis.resilience.breaker import (
    COUNTED_KINDS,
    PROVIDER_WIDE,
    CircuitBreaker,
    Key,
    Permit,
    State,
    Transition,
)
from aegis.resilience.config import (
    PROVIDER_KEYS,
    Backoff,
    BreakerConfig,
    HealthConfig,
    ProviderResilience,
    ResilienceConfig,
    ResilienceSettings,
    build_settings,
    parse_resilience,
    provider_resilience,
)
from aegis.resilience.health import HealthMonitor, Probe, adapter_probe
from aegis.resilience.retry import Deadline, RetryPolicy, quota_exhausted, retryable
from aegis.resilience.stats import Histogram, Stats, format_table
from aegis.resilience.watch import DeadlineWatch


class Resilience:
    """The per-process set: one breaker, one stats, one health monitor, a policy per provider."""

    def __init__(
        self,
        settings: ResilienceSettings,
        providers: Iterable[str],
        probes: Mapping[str, Probe] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        names = list(providers)
        self.settings = settings
        self.breaker = CircuitBreaker.from_settings(settings, clock=clock)
        self.stats = Stats()
        self.health = HealthMonitor(self.breaker, names, probes, settings.config.health,
                                    clock=clock)
        rng = rng or random.Random()
        self._policies = {name: RetryPolicy.for_provider(settings, name, rng=rng, clock=clock)
                          for name in names}
        self._default = RetryPolicy.from_config(settings.config, rng=rng, clock=clock)
        self.watch = DeadlineWatch()  # the attempts' timeouts, on one loop timer

    def policy(self, provider: str) -> RetryPolicy:
        return self._policies.get(provider, self._default)

    def deadline(self) -> Deadline:
        """A request's overall deadline for retries and fallback (``deadline_s``)."""
        return self._default.deadline()

    @property
    def recorders(self) -> tuple[Recorder, ...]:
        return (self.stats, self.health)

    async def start(self) -> None:
        await self.health.start()

    async def stop(self) -> None:
        await self.health.stop()


__all__ = [
    "COUNTED_KINDS", "PROVIDER_KEYS", "PROVIDER_WIDE", "Backoff", "BreakerConfig",
    "CircuitBreaker", "Deadline", "DeadlineWatch", "HealthConfig", "HealthMonitor", "Histogram",
    "Key", "Permit", "Probe", "ProviderResilience", "Resilience", "ResilienceConfig",
    "ResilienceSettings", "RetryPolicy", "State", "Stats", "Transition", "adapter_probe",
    "build_settings", "format_table", "parse_resilience", "provider_resilience",
    "quota_exhausted", "retryable",
]
