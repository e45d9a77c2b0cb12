"""``Metrics``: what one attempt / request / hook call adds, and how labels stay bounded."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import prometheus_client
import pytest

from aegis import errors
from aegis.config import from_dict
from aegis.observability import Metrics, series_names
from aegis.observability.metrics import SPECS, route_labels
from aegis.records import Caller
from aegis.resilience import State
from aegis.types import Usage
from tests.conftest import openai_config
from tests.observability.helpers import attempt


def metrics(**kwargs: Any) -> Metrics:
    kwargs.setdefault("providers", {"openai"})
    kwargs.setdefault("models", {"gpt-4o-mini"})
    kwargs.setdefault("routes", {"pinned", "route:smart"})
    return Metrics(**kwargs)


def value(m: Metrics, name: str, **labels: str) -> float:
    return m.registry.get_sample_value(name, labels) or 0.0


KEY = {"provider": "openai", "model": "gpt-4o-mini"}


def test_an_attempt_counts_outcome_latency_tokens_and_cost() -> None:
    m = metrics()
    m.record(attempt(ttft_ms=80.0, streamed=True))
    assert value(m, "aegis_requests_total", **KEY, route="pinned", status="ok",
                 error_kind="none") == 1
    assert value(m, "aegis_upstream_duration_seconds_sum", **KEY) == pytest.approx(0.25)
    assert value(m, "aegis_time_to_first_token_seconds_sum", **KEY) == pytest.approx(0.08)
    assert value(m, "aegis_tokens_total", **KEY, direction="prompt") == 10
    assert value(m, "aegis_tokens_total", **KEY, direction="completion") == 5
    assert value(m, "aegis_tokens_total", **KEY, direction="cached") == 2
    assert value(m, "aegis_cost_usd_total", **KEY, key="ci-bot", team="ml") == pytest.approx(0.001)


def test_failed_and_cancelled_attempts() -> None:
    m = metrics()
    m.record(attempt(status="error", error_kind="timeout", usage=Usage(), cost_usd=0.0))
    m.record(attempt(status="cancelled", error_kind="client_disconnected", latency_ms=5.0))
    m.record(attempt(status="ok", retry=1))
    assert value(m, "aegis_requests_total", **KEY, route="pinned", status="error",
                 error_kind="timeout") == 1
    assert value(m, "aegis_requests_total", **KEY, route="pinned", status="cancelled",
                 error_kind="client_disconnected") == 1
    # a cancelled attempt's latency says nothing about the upstream
    assert value(m, "aegis_upstream_duration_seconds_count", **KEY) == 2
    assert value(m, "aegis_retries_total", **KEY) == 1


def test_every_upstream_error_kind_keeps_its_own_label() -> None:
    def kinds(cls: type[errors.ProviderError]) -> set[str]:
        return {cls.kind}.union(*(kinds(sub) for sub in cls.__subclasses__()))

    m = metrics()
    for kind in kinds(errors.ProviderError):
        m.record(attempt(status="error", error_kind=kind, usage=Usage(), cost_usd=0.0))
        assert value(m, "aegis_requests_total", **KEY, route="pinned", status="error",
                     error_kind=kind) == 1, f"{kind} is reported as 'other'"


def test_label_values_come_from_config_only() -> None:
    m = metrics()
    m.record(attempt(provider="rogue", model="whatever-7b", route="route:made-up",
                     error_kind="novel_kind", status="error",
                     caller=Caller(key_id="key_1", key_name=None, team=None)))
    other = {"provider": "other", "model": "other", "route": "other"}
    assert value(m, "aegis_requests_total", **other, status="error", error_kind="other") == 1
    assert value(m, "aegis_cost_usd_total", provider="other", model="other", key="anonymous",
                 team="none") == pytest.approx(0.001)


def test_dynamic_labels_are_capped() -> None:
    m = metrics(max_dynamic=2)
    for name in ("a", "b", "c", "d"):
        m.record(attempt(caller=Caller(key_name=name, team=name)))
    keys = {s.labels["key"] for f in m.registry.collect() if f.name == "aegis_cost_usd"
            for s in f.samples if s.name == "aegis_cost_usd_total"}
    assert keys == {"a", "b", "other"}
    assert value(m, "aegis_cost_usd_total", **KEY, key="other", team="other") == pytest.approx(
        0.002)


def test_request_lifecycle_inflight_duration_and_overhead() -> None:
    m = metrics()
    m.request_started()
    m.request_started()
    assert value(m, "aegis_inflight_requests") == 2
    m.request_finished(0.5, 0.3, "ok", provider="openai")
    m.request_finished(0.01, None, "refused", code=403)
    assert value(m, "aegis_inflight_requests") == 0
    assert value(m, "aegis_request_duration_seconds_count", endpoint="chat", provider="openai",
                 status="ok") == 1
    assert value(m, "aegis_http_responses_total", endpoint="chat", code="403") == 1
    # only the request that called an upstream has an overhead
    assert value(m, "aegis_gateway_overhead_seconds_count", endpoint="chat") == 1
    assert value(m, "aegis_gateway_overhead_seconds_sum", endpoint="chat") == pytest.approx(0.2)
    m.request_started()
    m.request_finished(0.1, 0.1, "ok", endpoint="/v1/odd", code=418)
    assert value(m, "aegis_http_responses_total", endpoint="other", code="4xx") == 1


def test_gateway_events_budgets_and_breakers() -> None:
    m = metrics()
    m.refusal("privacy")
    m.refusal("allow_list:key")
    m.detection("pii")
    m.detection("not-a-class")
    m.fallback("openai", "gpt-4o-mini")
    m.budget_alert("monthly", 0.8, 80.0, 100.0)
    m.budget_states([SimpleNamespace(budget=SimpleNamespace(name="team-ml", limit_usd=50.0),
                                     spent_usd=10.0)])
    m.breaker_state("openai", "gpt-4o-mini", State.OPEN)
    m.breaker_state("openai", "*", "half_open")
    assert value(m, "aegis_privacy_refusals_total", rule="privacy") == 1
    assert value(m, "aegis_privacy_refusals_total", rule="allow_list:key") == 1
    assert value(m, "aegis_sensitive_detections_total", data_class="pii") == 1
    assert value(m, "aegis_sensitive_detections_total", data_class="other") == 1
    assert value(m, "aegis_fallbacks_total", **KEY) == 1
    assert value(m, "aegis_budget_alerts_total", budget="monthly", threshold="0.8") == 1
    assert value(m, "aegis_budget_utilisation", budget="monthly") == pytest.approx(0.8)
    assert value(m, "aegis_budget_spend_usd", budget="team-ml") == 10
    assert value(m, "aegis_budget_limit_usd", budget="team-ml") == 50
    assert value(m, "aegis_budget_utilisation", budget="team-ml") == pytest.approx(0.2)
    assert value(m, "aegis_circuit_state", **KEY) == 2
    assert value(m, "aegis_circuit_state", provider="openai", model="*") == 1
    m.breaker_state("openai", "gpt-4o-mini", State.CLOSED)
    assert value(m, "aegis_circuit_state", **KEY) == 0


def test_each_instance_owns_its_registry() -> None:
    first, second = metrics(), metrics()
    first.record(attempt())
    assert value(second, "aegis_requests_total", **KEY, route="pinned", status="ok",
                 error_kind="none") == 0
    default = {s.name for f in prometheus_client.REGISTRY.collect() for s in f.samples}
    assert not any(name.startswith("aegis_") for name in default)


def test_exposition_text_and_openmetrics() -> None:
    m = metrics()
    m.record(attempt())
    body, content_type = m.exposition()
    assert content_type.startswith("text/plain") and b"aegis_requests_total{" in body
    body, content_type = m.exposition("application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text") and body.endswith(b"# EOF\n")


def test_from_settings_allows_configured_names() -> None:
    fake = SimpleNamespace(base_url="http://127.0.0.1:9/v1")
    settings = from_dict(openai_config(fake, routes={"chat": {"models": ["gpt-4o-mini"]}},
                                       rules=[{"name": "code", "route": "chat",
                                               "when": {"task_type": "code"}}]), env={})
    assert {"pinned", "route:chat", "rule:code", "strategy:cost"} <= route_labels(settings)
    m = Metrics.from_settings(settings)
    m.record(attempt(provider="dashscope", model="qwen-plus", route="rule:code"))
    assert value(m, "aegis_requests_total", provider="dashscope", model="qwen-plus",
                 route="rule:code", status="ok", error_kind="none") == 1


def test_series_names_cover_every_spec() -> None:
    names = series_names()
    for spec in SPECS:
        if spec.kind == "histogram":
            assert {spec.name + s for s in ("_bucket", "_sum", "_count")} <= set(names)
            assert "le" in names[spec.name + "_bucket"]
        else:
            assert names[spec.name] == spec.labels
    body = metrics().exposition()[0].decode()
    for spec in SPECS:
        assert f"# TYPE {spec.name} {spec.kind}" in body


def test_a_broken_attempt_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    m = metrics()
    m.record(SimpleNamespace())  # type: ignore[arg-type]
    assert "recording an attempt failed" in caplog.text
