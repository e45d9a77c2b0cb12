"""The resilience section: defaults, overrides, and errors that name the key path."""

from __future__ import annotations

from typing import Any

import pytest

from aegis.errors import ConfigError
from aegis.resilience import (
    Backoff,
    BreakerConfig,
    HealthConfig,
    ResilienceConfig,
    build_settings,
    parse_resilience,
    provider_resilience,
)


def test_defaults_when_absent() -> None:
    assert parse_resilience(None) == ResilienceConfig()
    assert parse_resilience({}) == ResilienceConfig()
    cfg = ResilienceConfig()
    assert cfg.retries == 2 and cfg.deadline_s == 120 and cfg.retry_after_max_s == 20
    assert cfg.backoff == Backoff(0.25, 8.0, "full")
    assert cfg.breaker.failure_threshold == 5 and cfg.breaker.cooldown_s == 30
    assert cfg.health == HealthConfig()


def test_full_section_parses() -> None:
    cfg = parse_resilience({
        "retries": 3,
        "backoff": {"base_s": 0.5, "max_s": 4, "jitter": "equal"},
        "retry_after_max_s": 10,
        "deadline_s": 60,
        "breaker": {"failure_threshold": 3, "failure_rate": 0.25, "window_s": 30,
                    "min_requests": 10, "cooldown_s": 45, "half_open_probes": 2,
                    "count_rate_limited": False, "enabled": True},
        "health": {"active": True, "interval_s": 15, "timeout_s": 2, "failure_threshold": 3},
        "shutdown_grace_s": 5,
    })
    assert cfg.retries == 3
    assert cfg.backoff == Backoff(0.5, 4.0, "equal")
    assert cfg.breaker == BreakerConfig(True, 3, 0.25, 30.0, 10, 45.0, 2, False)
    assert cfg.health == HealthConfig(True, 15.0, 2.0, 3)
    assert (cfg.retry_after_max_s, cfg.deadline_s, cfg.shutdown_grace_s) == (10, 60, 5)


def test_results_are_frozen() -> None:
    cfg = parse_resilience({})
    with pytest.raises(AttributeError):
        cfg.retries = 5  # type: ignore[misc]


@pytest.mark.parametrize(("raw", "message"), [
    ({"breaker": {"cooldown_s": 0}}, "resilience.breaker.cooldown_s: must be > 0"),
    ({"breaker": {"cooldown_s": -1}}, "resilience.breaker.cooldown_s: must be > 0"),
    ({"breaker": {"failure_threshold": 0}}, "resilience.breaker.failure_threshold: must be >= 1"),
    ({"breaker": {"failure_threshold": 2.5}},
     "resilience.breaker.failure_threshold: must be an integer, got 2.5"),
    ({"breaker": {"failure_rate": 1.5}}, "resilience.breaker.failure_rate: must be <= 1"),
    ({"breaker": {"half_open_probes": 0}}, "resilience.breaker.half_open_probes: must be >= 1"),
    ({"breaker": {"enabled": "yes"}}, "resilience.breaker.enabled: must be true or false"),
    ({"breaker": {"cooldown": 5}}, "resilience.breaker.cooldown: unknown key"),
    ({"breaker": []}, "resilience.breaker: must be a mapping, got list"),
    ({"retries": -1}, "resilience.retries: must be >= 0"),
    ({"retries": True}, "resilience.retries: must be an integer, got True"),
    ({"deadline_s": "soon"}, "resilience.deadline_s: must be a number, got 'soon'"),
    ({"deadline_s": float("nan")}, "resilience.deadline_s: must be a number"),
    ({"backoff": {"jitter": "some"}}, "resilience.backoff.jitter: must be one of full, equal, none"),
    ({"backoff": {"base_s": 2, "max_s": 1}}, "resilience.backoff.max_s: must be >= base_s (2)"),
    ({"health": {"interval_s": 0}}, "resilience.health.interval_s: must be > 0"),
    ({"retry_after_max_s": -1}, "resilience.retry_after_max_s: must be >= 0"),
    ({"retrys": 2}, "resilience.retrys: unknown key (expected one of backoff, breaker"),
])
def test_errors_name_the_key_path(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_resilience(raw)
    assert message in info.value.message


def test_not_a_mapping() -> None:
    with pytest.raises(ConfigError, match=r"^resilience: must be a mapping, got str$"):
        parse_resilience("fast")


def test_all_problems_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        parse_resilience({"retries": -1, "breaker": {"cooldown_s": 0, "window_s": 0}})
    lines = info.value.message.splitlines()
    assert lines == [
        "resilience.retries: must be >= 0",
        "resilience.breaker.window_s: must be > 0",
        "resilience.breaker.cooldown_s: must be > 0",
    ]


def test_zero_retry_after_ceiling_is_allowed() -> None:
    assert parse_resilience({"retry_after_max_s": 0}).retry_after_max_s == 0


def test_provider_override_inherits_missing_keys() -> None:
    base = parse_resilience({"retries": 1, "breaker": {"failure_threshold": 7, "cooldown_s": 60}})
    p = provider_resilience("openai", {"breaker": {"cooldown_s": 5}, "organization": "x"}, base)
    assert p.retries == 1
    assert p.breaker.failure_threshold == 7 and p.breaker.cooldown_s == 5
    p = provider_resilience("openai", {"retries": 0}, base)
    assert p.retries == 0 and p.breaker == base.breaker


def test_provider_override_errors_name_the_provider() -> None:
    with pytest.raises(ConfigError, match=r"providers\.local\.breaker\.cooldown_s: must be > 0"):
        provider_resilience("local", {"breaker": {"cooldown_s": 0}})
    with pytest.raises(ConfigError, match=r"providers\.local\.retries: must be an integer"):
        provider_resilience("local", {"retries": "2"})


def test_build_settings_per_provider_lookup() -> None:
    settings = build_settings(
        {"retries": 2, "breaker": {"cooldown_s": 30}},
        {"openai": {"breaker": {"cooldown_s": 90}}, "local": {"model_path": "/x"}},
    )
    assert settings.for_provider("openai").breaker.cooldown_s == 90
    assert settings.for_provider("local").breaker.cooldown_s == 30
    assert settings.for_provider("unknown").retries == 2
    assert set(settings.breakers()) == {"openai"}


def test_build_settings_collects_problems_from_everywhere() -> None:
    with pytest.raises(ConfigError) as info:
        build_settings({"deadline_s": 0}, {"a": {"retries": -2}, "b": {"breaker": {"window_s": -1}}})
    assert info.value.message.splitlines() == [
        "resilience.deadline_s: must be > 0",
        "providers.a.retries: must be >= 0",
        "providers.b.breaker.window_s: must be > 0",
    ]
