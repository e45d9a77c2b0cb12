"""The ``resilience`` config section and per-provider overrides, validated into frozen dataclasses.

The YAML schema keeps ``resilience`` free-form (``dict[str, Any]``), so this module
is the one place its keys are checked. Every problem names its key path
(``resilience.breaker.cooldown_s: must be > 0``) and all problems are reported at
once in a single ``ConfigError`` (one per line), like ``aegis.config`` does.

Per provider, ``providers.<name>.retries`` and ``providers.<name>.breaker: {...}``
override the global values key by key (an override's missing keys inherit).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal, cast

from aegis.errors import ConfigError

Jitter = Literal["full", "equal", "none"]
JITTERS: tuple[Jitter, ...] = ("full", "equal", "none")

# Keys in a provider's raw option dict that belong to resilience, not to the adapter:
# ``aegis.config`` must not report them as unknown adapter options.
PROVIDER_KEYS = frozenset({"retries", "breaker"})


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff: attempt n waits up to ``min(max_s, base_s * 2**(n-1))``."""

    base_s: float = 0.25
    max_s: float = 8.0
    jitter: Jitter = "full"


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """When a (provider, model) circuit opens, and how it recovers."""

    enabled: bool = True
    failure_threshold: int = 5  # consecutive counted failures that open it
    failure_rate: float = 0.5  # ... or this failure share over the window
    window_s: float = 60.0
    min_requests: int = 20  # requests seen in the window before the rate applies
    cooldown_s: float = 30.0  # open -> half-open
    half_open_probes: int = 1  # requests let through while half-open
    count_rate_limited: bool = True  # does a 429 count as a failure?


@dataclass(frozen=True, slots=True)
class HealthConfig:
    """Active probes (off by default: passive health from traffic always runs)."""

    active: bool = False
    interval_s: float = 30.0
    timeout_s: float = 5.0
    failure_threshold: int = 2  # consecutive failed probes that mark a provider unreachable


@dataclass(frozen=True, slots=True)
class ResilienceConfig:
    retries: int = 2  # extra attempts on the same candidate after the first
    backoff: Backoff = field(default_factory=Backoff)
    retry_after_max_s: float = 20.0  # a longer Retry-After means: fall back instead
    deadline_s: float = 120.0  # retries + fallback must finish within this
    breaker: BreakerConfig = field(default_factory=BreakerConfig)
    health: HealthConfig = field(default_factory=HealthConfig)
    shutdown_grace_s: float = 30.0


@dataclass(frozen=True, slots=True)
class ProviderResilience:
    """The effective values for one provider (global merged with its overrides)."""

    retries: int
    breaker: BreakerConfig


@dataclass(frozen=True, slots=True)
class ResilienceSettings:
    """The global section plus every provider's effective overrides."""

    config: ResilienceConfig = field(default_factory=ResilienceConfig)
    providers: Mapping[str, ProviderResilience] = field(default_factory=dict)

    def for_provider(self, name: str) -> ProviderResilience:
        found = self.providers.get(name)
        if found is None:
            return ProviderResilience(self.config.retries, self.config.breaker)
        return found

    def breakers(self) -> dict[str, BreakerConfig]:
        return {name: p.breaker for name, p in self.providers.items()}


# -- parsing -------------------------------------------------------------------


class _Problems:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.lines.append(f"{path}: {message}")

    def raise_if_any(self) -> None:
        if self.lines:
            raise ConfigError("\n".join(self.lines))


def _mapping(value: Any, path: str, problems: _Problems) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.add(path, f"must be a mapping, got {type(value).__name__}")
        return {}
    return value


def _unknown(raw: Mapping[str, Any], allowed: set[str], path: str, problems: _Problems) -> None:
    for key in raw:
        if key not in allowed:
            expected = ", ".join(sorted(allowed))
            problems.add(f"{path}.{key}", f"unknown key (expected one of {expected})")


def _number(raw: Mapping[str, Any], key: str, default: float, path: str, problems: _Problems,
            *, low: float, inclusive: bool = False, high: float | None = None) -> float:
    if key not in raw:
        return default
    value = raw[key]
    where = f"{path}.{key}"
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        problems.add(where, f"must be a number, got {value!r}")
        return default
    if value < low or (value == low and not inclusive):
        problems.add(where, f"must be {'>=' if inclusive else '>'} {low:g}")
        return default
    if high is not None and value > high:
        problems.add(where, f"must be <= {high:g}")
        return default
    return float(value)


def _int(raw: Mapping[str, Any], key: str, default: int, path: str, problems: _Problems,
         *, low: int) -> int:
    if key not in raw:
        return default
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, int):
        problems.add(f"{path}.{key}", f"must be an integer, got {value!r}")
        return default
    if value < low:
        problems.add(f"{path}.{key}", f"must be >= {low}")
        return default
    return value


def _bool(raw: Mapping[str, Any], key: str, default: bool, path: str, problems: _Problems) -> bool:
    if key not in raw:
        return default
    value = raw[key]
    if not isinstance(value, bool):
        problems.add(f"{path}.{key}", f"must be true or false, got {value!r}")
        return default
    return value


def _names(cls: type) -> set[str]:
    return {f.name for f in fields(cls)}


def _backoff(raw: Mapping[str, Any], path: str, problems: _Problems) -> Backoff:
    _unknown(raw, _names(Backoff), path, problems)
    d = Backoff()
    base = _number(raw, "base_s", d.base_s, path, problems, low=0)
    cap = _number(raw, "max_s", d.max_s, path, problems, low=0)
    if cap < base:
        problems.add(f"{path}.max_s", f"must be >= base_s ({base:g})")
    jitter = raw.get("jitter", d.jitter)
    if jitter not in JITTERS:
        problems.add(f"{path}.jitter", f"must be one of {', '.join(JITTERS)}, got {jitter!r}")
        jitter = d.jitter
    return Backoff(base, cap, cast(Jitter, jitter))


def _breaker(raw: Mapping[str, Any], base: BreakerConfig, path: str,
             problems: _Problems) -> BreakerConfig:
    _unknown(raw, _names(BreakerConfig), path, problems)
    b = base
    return BreakerConfig(
        enabled=_bool(raw, "enabled", b.enabled, path, problems),
        failure_threshold=_int(raw, "failure_threshold", b.failure_threshold, path, problems,
                               low=1),
        failure_rate=_number(raw, "failure_rate", b.failure_rate, path, problems, low=0, high=1),
        window_s=_number(raw, "window_s", b.window_s, path, problems, low=0),
        min_requests=_int(raw, "min_requests", b.min_requests, path, problems, low=1),
        cooldown_s=_number(raw, "cooldown_s", b.cooldown_s, path, problems, low=0),
        half_open_probes=_int(raw, "half_open_probes", b.half_open_probes, path, problems, low=1),
        count_rate_limited=_bool(raw, "count_rate_limited", b.count_rate_limited, path, problems),
    )


def _health(raw: Mapping[str, Any], path: str, problems: _Problems) -> HealthConfig:
    _unknown(raw, _names(HealthConfig), path, problems)
    d = HealthConfig()
    return HealthConfig(
        active=_bool(raw, "active", d.active, path, problems),
        interval_s=_number(raw, "interval_s", d.interval_s, path, problems, low=0),
        timeout_s=_number(raw, "timeout_s", d.timeout_s, path, problems, low=0),
        failure_threshold=_int(raw, "failure_threshold", d.failure_threshold, path, problems,
                               low=1),
    )


def _resilience(raw: Any, problems: _Problems) -> ResilienceConfig:
    path = "resilience"
    section = _mapping(raw, path, problems)
    _unknown(section, _names(ResilienceConfig), path, problems)
    d = ResilienceConfig()
    return ResilienceConfig(
        retries=_int(section, "retries", d.retries, path, problems, low=0),
        backoff=_backoff(_mapping(section.get("backoff"), f"{path}.backoff", problems),
                         f"{path}.backoff", problems),
        retry_after_max_s=_number(section, "retry_after_max_s", d.retry_after_max_s, path,
                                  problems, low=0, inclusive=True),
        deadline_s=_number(section, "deadline_s", d.deadline_s, path, problems, low=0),
        breaker=_breaker(_mapping(section.get("breaker"), f"{path}.breaker", problems),
                         BreakerConfig(), f"{path}.breaker", problems),
        health=_health(_mapping(section.get("health"), f"{path}.health", problems),
                       f"{path}.health", problems),
        shutdown_grace_s=_number(section, "shutdown_grace_s", d.shutdown_grace_s, path,
                                 problems, low=0, inclusive=True),
    )


def _provider(name: str, options: Mapping[str, Any], base: ResilienceConfig,
              problems: _Problems) -> ProviderResilience:
    path = f"providers.{name}"
    retries = _int(options, "retries", base.retries, path, problems, low=0)
    raw = _mapping(options.get("breaker"), f"{path}.breaker", problems)
    return ProviderResilience(retries, _breaker(raw, base.breaker, f"{path}.breaker", problems))


def parse_resilience(raw: Any) -> ResilienceConfig:
    """The top-level ``resilience`` section (None or ``{}`` = all defaults)."""
    problems = _Problems()
    cfg = _resilience(raw, problems)
    problems.raise_if_any()
    return cfg


def provider_resilience(name: str, options: Mapping[str, Any],
                        base: ResilienceConfig | None = None) -> ProviderResilience:
    """One provider's effective values from its raw option dict (other keys are ignored)."""
    problems = _Problems()
    result = _provider(name, options, base or ResilienceConfig(), problems)
    problems.raise_if_any()
    return result


def build_settings(raw: Any, providers: Mapping[str, Mapping[str, Any]]) -> ResilienceSettings:
    """Everything at once: the section and each provider's options; one error for all problems."""
    problems = _Problems()
    cfg = _resilience(raw, problems)
    per = {name: _provider(name, opts, cfg, problems) for name, opts in providers.items()
           if PROVIDER_KEYS & set(opts)}
    problems.raise_if_any()
    return ResilienceSettings(cfg, per)

