"""``Tracing`` with the SDK's in-memory exporter: span tree, timing, GenAI attributes."""

from __future__ import annotations

import importlib.util

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from aegis.errors import ConfigError
from aegis.observability import Tracing, configure_tracing
from aegis.observability.logs import RequestSummary
from aegis.types import Usage
from tests.observability.helpers import attempt


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracing(exporter: InMemorySpanExporter) -> Tracing:
    return configure_tracing(True, exporter, batch=False)


def test_off_by_default_and_a_no_op() -> None:
    off = configure_tracing()
    assert not off.enabled
    with off.request_span("POST", "/v1/chat/completions") as span:
        assert span is None
        off.record(attempt())
    off.finish_request(None, RequestSummary())
    off.shutdown()


def test_attempt_span_is_a_backdated_child_of_the_request_span(
        tracing: Tracing, exporter: InMemorySpanExporter) -> None:
    a = attempt(streamed=True, ttft_ms=120.0, latency_ms=400.0,
                usage=Usage(prompt_tokens=30, completion_tokens=7, cached_tokens=12))
    with tracing.request_span("POST", "/v1/chat/completions") as span:
        tracing.attempt_span(a, max_tokens=256, operation="chat")
        s = RequestSummary(method="POST", path="/v1/chat/completions", route="pinned",
                           reason="model=gpt-4o-mini", data_class="pii", findings=("ssn",))
        s.add(a)
        s.finish(0.5, 200)
        tracing.finish_request(span, s)
    child, parent = exporter.get_finished_spans()
    assert parent.kind is SpanKind.SERVER and child.kind is SpanKind.CLIENT
    assert child.parent is not None and child.parent.span_id == parent.context.span_id
    assert child.context.trace_id == parent.context.trace_id
    assert child.start_time == int(a.started_at * 1e9)
    assert child.end_time is not None
    assert child.end_time - child.start_time == pytest.approx(400e6, abs=1e3)
    assert child.name == "chat gpt-4o-mini"
    assert dict(child.attributes or {}) == {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
        "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini", "gen_ai.request.stream": True,
        "gen_ai.request.max_tokens": 256, "gen_ai.usage.input_tokens": 30,
        "gen_ai.usage.output_tokens": 7, "gen_ai.usage.cache_read.input_tokens": 12,
        "gen_ai.response.time_to_first_chunk": pytest.approx(0.12),
        "aegis.request_id": "req_test", "aegis.provider": "openai",
        "aegis.model": "gpt-4o-mini", "aegis.route": "pinned",
        "aegis.route.reason": "model=gpt-4o-mini", "aegis.data_class": "public",
        "aegis.attempt": 0, "aegis.status": "ok", "aegis.cost_usd": 0.001,
        "aegis.usage_estimated": False,
    }
    p = dict(parent.attributes or {})
    assert parent.name == "POST /v1/chat/completions"
    assert p["http.route"] == "/v1/chat/completions" and p["http.response.status_code"] == 200
    assert p["aegis.route"] == "pinned" and p["aegis.data_class"] == "pii"
    assert p["aegis.privacy.findings"] == ("ssn",) and p["aegis.key"] == "ci-bot"
    assert p["gen_ai.usage.input_tokens"] == 30 and p["aegis.attempts"] == 1
    assert parent.status.status_code is StatusCode.UNSET


def test_failed_attempt_is_an_error_span(tracing: Tracing,
                                         exporter: InMemorySpanExporter) -> None:
    tracing.record(attempt(status="error", error_kind="timeout", usage=Usage(), cost_usd=0.0))
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None and span.attributes["error.type"] == "timeout"
    assert "gen_ai.response.model" not in span.attributes
    assert span.parent is None  # no request span around it: a root span of its own


def test_server_errors_mark_the_request_span(tracing: Tracing,
                                             exporter: InMemorySpanExporter) -> None:
    with tracing.request_span("POST", "/v1/chat/completions") as span:
        s = RequestSummary()
        s.add(attempt(status="error", error_kind="unavailable"))
        s.finish(0.2, 502)
        tracing.finish_request(span, s)
    with tracing.request_span("GET", "/v1/unknown/thing") as span:
        s = RequestSummary()
        s.finish(0.001, 404)
        tracing.finish_request(span, s)
    failed, missing = exporter.get_finished_spans()
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes is not None and failed.attributes["error.type"] == "unavailable"
    assert missing.name == "GET"  # unknown paths never become span names
    assert missing.status.status_code is StatusCode.UNSET


def test_incoming_traceparent_joins_the_callers_trace(
        tracing: Tracing, exporter: InMemorySpanExporter) -> None:
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    headers = [(b"content-type", b"application/json"),
               (b"traceparent", f"00-{trace_id}-{parent_id}-01".encode())]
    with tracing.request_span("POST", "/v1/chat/completions", headers):
        pass
    (span,) = exporter.get_finished_spans()
    assert span.context.trace_id == int(trace_id, 16)
    assert span.parent is not None and span.parent.span_id == int(parent_id, 16)


def test_embedding_models_and_provider_names_from_settings(
        exporter: InMemorySpanExporter) -> None:
    from types import SimpleNamespace

    from aegis.config import from_dict
    from tests.conftest import openai_config

    settings = from_dict(openai_config(SimpleNamespace(base_url="http://127.0.0.1:9/v1")),
                         env={})
    tracing = configure_tracing(True, exporter, settings=settings, batch=False)
    tracing.record(attempt(model="text-embedding-3-small",
                           upstream_model="text-embedding-3-small"))
    tracing.record(attempt(provider="dashscope", model="qwen-plus", upstream_model="qwen-plus"))
    embedding, chat = exporter.get_finished_spans()
    assert embedding.name == "embeddings text-embedding-3-small"
    assert chat.attributes is not None and chat.attributes["gen_ai.provider.name"] == "openai"
    assert chat.attributes["aegis.provider"] == "dashscope"


def test_bad_exporters_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"tracing\.exporter"):
        configure_tracing(True, "zipkin")  # type: ignore[arg-type]
    try:
        otlp = importlib.util.find_spec("opentelemetry.exporter.otlp")
    except ModuleNotFoundError:
        otlp = None
    if otlp is None:
        with pytest.raises(ConfigError, match="opentelemetry-exporter-otlp"):
            configure_tracing(True, "otlp")
