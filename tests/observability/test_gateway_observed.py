"""Real requests through an observed gateway: logs, metrics and spans, and what they never hold."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes.openai import FakeOpenAI
from tests.observability.conftest import LogCapture, Observed
from tests.observability.helpers import wait_for

GATEWAY_KEY = "sk-aegis-0123456789abRdm7Q2xY9vK4pL8sN1wE6tZ3uB5cH0jF7gD2aS9qW4eR"
CODENAME = "BLUEFALCON"
SSN = "123-45-6789"
PII_PROMPT = f"My SSN is {SSN}; summarise the {CODENAME} file for me."
PHI_PROMPT = (f"Patient John, SSN {SSN}, diagnosed with type 2 diabetes, ICD-10 E11.9, "
              f"project {CODENAME}.")
NEVER_LOGGED = (GATEWAY_KEY, GATEWAY_KEY[9:], "sk-test-openai", CODENAME, SSN, "diabetes",
                "E11.9")


def _client(gateway: Observed) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=GATEWAY_KEY, max_retries=0,
                         default_headers={"x-api-key": GATEWAY_KEY})


def _metrics(gateway: Observed) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    body = httpx.get(gateway.url + "/metrics").text
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


def _value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str,
           **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


def test_key_and_prompt_never_reach_logs_metrics_or_spans(
        log_capture: LogCapture, observed: Observed) -> None:
    client = _client(observed)
    served = client.chat.completions.with_raw_response.create(
        model="chat", messages=[{"role": "user", "content": PII_PROMPT}])
    answer = served.parse().choices[0].message.content
    assert answer is not None and CODENAME in answer  # the fake echoes: it *was* in play
    chunks = list(client.chat.completions.create(
        model="chat", messages=[{"role": "user", "content": PII_PROMPT}], stream=True))
    assert chunks
    refused = httpx.post(observed.url + "/v1/chat/completions",
                         headers={"authorization": f"Bearer {GATEWAY_KEY}"},
                         json={"model": "chat",
                               "messages": [{"role": "user", "content": PHI_PROMPT}]})
    assert refused.status_code == 403

    wait_for(lambda: len(log_capture.events("request")) == 3)
    text = log_capture.text
    for secret in NEVER_LOGGED:
        assert secret not in text, secret
    exposition = httpx.get(observed.url + "/metrics").text
    for secret in NEVER_LOGGED:
        assert secret not in exposition, secret
    spans = repr([(s.name, dict(s.attributes or {})) for s in observed.spans.get_finished_spans()])
    for secret in NEVER_LOGGED:
        assert secret not in spans, secret

    first, streamed, phi = log_capture.events("request")
    assert first["request_id"] == served.headers["x-aegis-request-id"]
    assert first["status"] == "ok" and first["http_status"] == 200
    assert first["provider"] == "dashscope" and first["model"] == "qwen-plus"
    assert first["data_class"] == "pii" and set(first["findings"]) == {"ssn"}
    assert first["route"] == "route:chat" and first["reason"]
    assert first["prompt_tokens"] > 0 and first["completion_tokens"] > 0
    assert first["cost_usd"] > 0 and first["latency_ms"] >= first["upstream_ms"] > 0
    assert first["overhead_ms"] >= 0 and first["key_name"] is None  # no gateway auth yet
    assert streamed["streamed"] is True and streamed["status"] == "ok"
    assert streamed["ttft_ms"] is not None
    assert phi["status"] == "refused" and phi["http_status"] == 403
    assert phi["refusal_rule"] == "privacy" and phi["data_class"] == "phi"
    assert phi["attempts"] == 0 and phi["upstream_ms"] is None
    (refusal,) = log_capture.events("privacy_refusal")
    assert refusal["rule"] == "privacy" and refusal["request_id"] == phi["request_id"]
    assert {"health", "ssn"} <= set(refusal["findings"])


def test_a_request_refused_before_routing_is_logged_under_its_key(
        log_capture: LogCapture, observed: Observed) -> None:
    _, secret = observed.engine.keys.create("vera", team="ops")
    bad = httpx.post(observed.url + "/v1/chat/completions",
                     headers={"authorization": f"Bearer {secret}"},
                     json={"model": "chat", "messages": "not a list"})
    unknown = httpx.post(observed.url + "/v1/chat/completions",
                         headers={"authorization": f"Bearer {secret}"},
                         json={"model": "nope", "messages": [{"role": "user", "content": "x"}]})
    assert (bad.status_code, unknown.status_code) == (400, 404)
    wait_for(lambda: len(log_capture.events("request")) == 2)
    for event in log_capture.events("request"):
        assert (event["key_name"], event["team"]) == ("vera", "ops"), event
    assert secret not in log_capture.text


def test_metrics_count_requests_refusals_detections_and_fallbacks(
        observed: Observed, fake_openai: FakeOpenAI) -> None:
    client = _client(observed)
    client.chat.completions.create(model="gpt-4o-mini",
                                   messages=[{"role": "user", "content": "hello"}])
    client.chat.completions.create(model="chat", messages=[{"role": "user", "content": PII_PROMPT}])
    httpx.post(observed.url + "/v1/chat/completions",
               json={"model": "chat", "messages": [{"role": "user", "content": PHI_PROMPT}]})
    # gpt-4o-mini fails its try and both retries (opening its circuit); qwen-plus answers
    fake_openai.fail(status=503, times=3)
    client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}])

    wait_for(lambda: _value(_metrics(observed), "aegis_http_responses_total") == 4)
    m = _metrics(observed)
    assert _value(m, "aegis_requests_total", status="ok") == 3
    assert _value(m, "aegis_requests_total", status="error", error_kind="unavailable") == 3
    assert _value(m, "aegis_requests_total", provider="openai", model="gpt-4o-mini",
                  route="pinned", status="ok") == 1
    assert _value(m, "aegis_privacy_refusals_total", rule="privacy") == 1
    assert _value(m, "aegis_sensitive_detections_total", data_class="pii") == 1
    assert _value(m, "aegis_sensitive_detections_total", data_class="phi") == 1
    assert _value(m, "aegis_fallbacks_total", provider="openai", model="gpt-4o-mini") == 1
    assert _value(m, "aegis_retries_total", provider="openai", model="gpt-4o-mini") == 2
    assert _value(m, "aegis_http_responses_total", endpoint="chat", code="403") == 1
    assert _value(m, "aegis_request_duration_seconds_count", status="refused") == 1
    assert _value(m, "aegis_gateway_overhead_seconds_count") == 3  # refusal called no upstream
    assert _value(m, "aegis_inflight_requests") == 0
    assert _value(m, "aegis_tokens_total", direction="prompt") > 0
    assert _value(m, "aegis_cost_usd_total", key="anonymous", team="none") > 0
    assert _value(m, "aegis_circuit_state", provider="openai", model="gpt-4o-mini") == 2
    assert _value(m, "aegis_circuit_state", provider="dashscope", model="qwen-plus") == 0


def test_retries_fallback_and_breaker_are_logged(
        log_capture: LogCapture, observed: Observed, fake_openai: FakeOpenAI) -> None:
    fake_openai.fail(status=503, times=3)
    _client(observed).chat.completions.create(
        model="chat", messages=[{"role": "user", "content": "hi"}])
    wait_for(lambda: len(log_capture.events("request")) == 1)
    (request,) = log_capture.events("request")
    failed = log_capture.events("upstream_error")
    (fallback,) = log_capture.events("fallback")
    (opened,) = log_capture.events("breaker_transition")
    assert [(f["provider"], f["model"], f["error_kind"]) for f in failed] == [
        ("openai", "gpt-4o-mini", "unavailable")] * 3
    assert (fallback["from_provider"], fallback["from_model"]) == ("openai", "gpt-4o-mini")
    assert (fallback["to_provider"], fallback["to_model"]) == ("dashscope", "qwen-plus")
    assert fallback["error_kind"] == "unavailable" and fallback["attempt"] == 1
    assert (request["provider"], request["model"], request["status"]) == (
        "dashscope", "qwen-plus", "ok")
    assert (request["attempts"], request["retries"], request["fallbacks"]) == (4, 2, 1)
    assert (opened["provider"], opened["model"], opened["old"], opened["new"]) == (
        "openai", "gpt-4o-mini", "closed", "open")
    assert opened["level"] == "warning"


def test_config_loaded_at_startup_without_secrets(log_capture: LogCapture,
                                                  observed: Observed) -> None:
    (event,) = log_capture.events("config_loaded")
    assert event["providers"]["dashscope"] == {"kind": "openai", "locality": "cloud"}
    assert "gpt-4o-mini" in event["models"]
    assert "sk-test-openai" not in log_capture.text


def test_request_and_attempt_spans_follow_genai_conventions(observed: Observed) -> None:
    _client(observed).chat.completions.create(
        model="gpt-4o-mini", max_tokens=64, messages=[{"role": "user", "content": "hello"}])
    wait_for(lambda: len(observed.spans.get_finished_spans()) == 2)
    attempt_span, request_span = observed.spans.get_finished_spans()
    assert request_span.name == "POST /v1/chat/completions"
    assert attempt_span.parent is not None
    assert attempt_span.parent.span_id == request_span.context.span_id
    assert attempt_span.name == "chat gpt-4o-mini"
    a = dict(attempt_span.attributes or {})
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.provider.name"] == a["gen_ai.system"] == "openai"
    assert a["gen_ai.request.model"] == a["gen_ai.response.model"] == "gpt-4o-mini"
    assert a["gen_ai.request.max_tokens"] == 64
    assert a["gen_ai.usage.input_tokens"] > 0 and a["gen_ai.usage.output_tokens"] > 0
    assert a["aegis.route"] == "pinned" and a["aegis.attempt"] == 0
    assert a["aegis.data_class"] == "public" and a["aegis.cost_usd"] > 0
    r = dict(request_span.attributes or {})
    assert r["http.response.status_code"] == 200 and r["aegis.route"] == "pinned"
    assert r["gen_ai.request.model"] == "gpt-4o-mini"
    assert request_span.start_time <= attempt_span.start_time
    assert attempt_span.end_time <= request_span.end_time


def test_metrics_endpoint_is_not_counted_as_a_request(observed: Observed) -> None:
    response = httpx.get(observed.url + "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["content-length"] == str(len(response.content))
    assert "aegis_requests_total" in response.text
    om = httpx.get(observed.url + "/metrics",
                   headers={"accept": "application/openmetrics-text; version=1.0.0"})
    assert om.headers["content-type"].startswith("application/openmetrics-text")
    assert _value(_metrics(observed), "aegis_http_responses_total") == 0


def test_upstream_error_text_leaves_no_key_in_logs_spans_or_ledger(
        log_capture: LogCapture, observed: Observed, fake_openai: FakeOpenAI) -> None:
    """An upstream that echoes the key in a failing stream: the client's error, the log
    events, the spans and the ledger rows all go without it (the ledger and logs hold
    error kinds, never upstream text; this keeps it so)."""
    fake_openai.fail_mid_stream("overloaded: Incorrect API key provided: Bearer sk-test-openai")
    with httpx.stream("POST", observed.url + "/v1/chat/completions",
                      json={"model": "gpt-4o-mini", "stream": True,
                            "messages": [{"role": "user", "content": "hi"}]}) as resp:
        body = resp.read().decode()
    assert "overloaded" in body and "sk-test-openai" not in body
    wait_for(lambda: len(log_capture.events("request")) == 1)
    (request,) = log_capture.events("request")
    assert request["status"] == "error"
    assert "sk-test-openai" not in log_capture.text
    spans = repr([(s.name, s.status.description, dict(s.attributes or {}))
                  for s in observed.spans.get_finished_spans()])
    assert "sk-test-openai" not in spans
    observed.engine.ledger.flush()
    assert "sk-test-openai" not in repr(observed.engine.store.recent(10))


def test_a_ledger_that_cannot_write_shows_in_readiness_and_metrics(
        observed: Observed, monkeypatch: pytest.MonkeyPatch) -> None:
    """A read-only or full store keeps rows in memory, retried: the operator must see it."""
    import sqlite3

    store = observed.engine.store
    real_insert = store.insert
    broken = True

    def insert(rows: Any) -> int:
        if broken:
            raise sqlite3.OperationalError("attempt to write a readonly database")
        return real_insert(rows)

    monkeypatch.setattr(store, "insert", insert)
    _client(observed).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}])
    wait_for(lambda: not httpx.get(observed.url + "/health/ready").json()["ledger"]["ok"])
    ledger = httpx.get(observed.url + "/health/ready").json()["ledger"]
    assert ledger["unwritten_rows"] == 1 and ledger["failing_for_s"] >= 0
    m = _metrics(observed)
    assert _value(m, "aegis_ledger_write_failing") == 1
    broken = False  # the disk has room again: the retried batch goes in
    wait_for(lambda: httpx.get(observed.url + "/health/ready").json()["ledger"]["ok"])
    assert _value(_metrics(observed), "aegis_ledger_write_failing") == 0
    observed.engine.ledger.flush()
    assert [r.model for r in store.recent(10)] == ["gpt-4o-mini"]
