"""Optional OpenTelemetry tracing: a span per request, a child span per upstream attempt.

Off by default, and ``opentelemetry`` is only imported once it is switched on (it
is the ``otel`` extra). Attempt spans are built from the ``Attempt`` record after
the fact (its start time and latency), so the engine needs no tracing code: the
recorder runs inside the request's context, where the request span is current,
and that makes it the parent.

Attributes follow the OpenTelemetry GenAI semantic conventions (Development
status): ``gen_ai.provider.name`` -- and ``gen_ai.system``, the name it replaced
(semconv <= 1.36), which many backends still read -- ``gen_ai.operation.name``,
``gen_ai.request.model``, ``gen_ai.response.model``, ``gen_ai.request.max_tokens``,
``gen_ai.request.stream``, ``gen_ai.usage.input_tokens``/``output_tokens``/
``cache_read.input_tokens``, ``gen_ai.response.time_to_first_chunk`` and
``error.type``; the routing decision goes in ``aegis.*``. Span names are
``{operation} {model}`` (attempts) and ``{method} {route}`` (requests). Never any
prompt or completion content.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal

from aegis.errors import ConfigError
from aegis.records import Attempt, Recorder

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span, Tracer

    from aegis.config import Settings
    from aegis.observability.logs import RequestSummary

log = logging.getLogger("aegis.observability")

Exporter = Literal["otlp", "console", "global"]

# Configured provider name or adapter kind -> the semconv ``gen_ai.provider.name`` value.
_WELL_KNOWN = {
    "openai": "openai", "anthropic": "anthropic", "cohere": "cohere", "deepseek": "deepseek",
    "groq": "groq", "mistral": "mistral_ai", "mistral_ai": "mistral_ai", "perplexity": "perplexity",
    "xai": "x_ai", "x_ai": "x_ai", "gemini": "gcp.gemini", "vertex_ai": "gcp.vertex_ai",
    "bedrock": "aws.bedrock", "azure": "azure.ai.openai", "azure_openai": "azure.ai.openai",
    "watsonx": "ibm.watsonx.ai", "ollama": "ollama", "llamacpp": "llama.cpp",
    "llama_cpp": "llama.cpp",
}
_KNOWN_ENDPOINTS = frozenset({"/v1/chat/completions", "/v1/embeddings", "/v1/models",
                              "/v1/route"})
_TRACE_HEADERS = frozenset({b"traceparent", b"tracestate", b"baggage"})


def provider_names(settings: Settings) -> dict[str, str]:
    """``gen_ai.provider.name`` per configured provider: a well-known name, else its kind.

    A provider reached through an OpenAI-compatible API reports ``openai`` unless its
    own name is a well-known one -- the convention's "instrumentation's best knowledge".
    """
    return {name: _WELL_KNOWN.get(name, _WELL_KNOWN.get(p.kind, p.kind))
            for name, p in settings.providers.items()}


def operations(settings: Settings) -> dict[str, str]:
    """``gen_ai.operation.name`` per catalog model: ``embeddings`` or ``chat``."""
    return {m.name: "embeddings" if m.kind == "embedding" else "chat" for m in settings.catalog}


class Tracing(Recorder):
    """Spans for requests and attempts; every method is a cheap no-op when disabled."""

    def __init__(
        self,
        tracer: Tracer | None = None,
        *,
        provider: TracerProvider | None = None,
        systems: Mapping[str, str] | None = None,
        operations: Mapping[str, str] | None = None,
    ) -> None:
        self.tracer = tracer
        self.provider = provider
        self.systems = dict(systems or {})
        self.operations = dict(operations or {})
        if tracer is not None:
            from opentelemetry import propagate, trace

            self._kinds = (trace.SpanKind.SERVER, trace.SpanKind.CLIENT)
            self._error = trace.StatusCode.ERROR
            self._status = trace.Status
            self._extract = propagate.extract

    @property
    def enabled(self) -> bool:
        return self.tracer is not None

    # -- the request span -------------------------------------------------------------------

    @contextlib.contextmanager
    def request_span(
        self, method: str, path: str, headers: Iterable[tuple[bytes, bytes]] = ()
    ) -> Iterator[Span | None]:
        """Wraps one request; current while it runs, so attempt spans become its children.

        ``headers``: the ASGI request headers; a W3C ``traceparent`` in them makes the
        request part of the caller's trace.
        """
        if self.tracer is None:
            yield None
            return
        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in headers
                   if k in _TRACE_HEADERS}
        route = path if path in _KNOWN_ENDPOINTS else None
        attributes: dict[str, Any] = {"http.request.method": method, "url.path": path}
        if route is not None:
            attributes["http.route"] = route
        with self.tracer.start_as_current_span(
            f"{method} {route}" if route else method,
            context=self._extract(carrier) if carrier else None,
            kind=self._kinds[0], attributes=attributes,
        ) as span:
            yield span

    def finish_request(self, span: Span | None, s: RequestSummary) -> None:
        """Put the request's outcome and routing decision on its span."""
        if span is None or not span.is_recording():
            return
        attrs: dict[str, Any] = {"aegis.status": s.status, "aegis.attempts": s.attempts,
                                 "aegis.fallbacks": s.fallbacks}
        if s.http_status is not None:
            attrs["http.response.status_code"] = s.http_status
        optional = {
            "aegis.request_id": s.request_id or None, "aegis.route": s.route,
            "aegis.route.reason": s.reason, "aegis.data_class": s.data_class,
            "aegis.provider": s.provider, "aegis.model": s.model,
            "aegis.key": s.caller.key_name, "aegis.team": s.caller.team,
            "aegis.workspace": s.workspace, "aegis.refusal.rule": s.refusal_rule,
            "gen_ai.request.model": s.model_requested,
            "gen_ai.request.max_tokens": s.max_tokens,
        }
        attrs.update({k: v for k, v in optional.items() if v is not None})
        if s.findings:
            attrs["aegis.privacy.findings"] = list(s.findings)
        if s.attempts:
            attrs.update({"gen_ai.usage.input_tokens": s.prompt_tokens,
                          "gen_ai.usage.output_tokens": s.completion_tokens,
                          "aegis.cost_usd": s.cost_usd})
        failed = s.status == "error" and ((s.http_status or 0) >= 500 or s.http_status == 200)
        if failed:
            attrs["error.type"] = s.error_kind or str(s.http_status)
        span.set_attributes(attrs)
        if failed:
            span.set_status(self._status(self._error))

    # -- attempt spans (Recorder) -----------------------------------------------------------

    def record(self, attempt: Attempt) -> None:
        self.attempt_span(attempt)

    def attempt_span(self, a: Attempt, *, max_tokens: int | None = None,
                     operation: str | None = None) -> None:
        """One finished upstream attempt as a CLIENT span, backdated to when it ran."""
        if self.tracer is None:
            return
        try:
            self._attempt_span(a, max_tokens, operation)
        except Exception:  # tracing must never fail a request
            log.exception("tracing: recording an attempt span failed")

    def _attempt_span(self, a: Attempt, max_tokens: int | None, operation: str | None) -> None:
        assert self.tracer is not None
        op = operation or self.operations.get(a.model, "chat")
        model = a.upstream_model or a.model
        system = self.systems.get(a.provider) or _WELL_KNOWN.get(a.provider, a.provider)
        usage = a.usage
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": op, "gen_ai.provider.name": system, "gen_ai.system": system,
            "gen_ai.request.model": model, "gen_ai.request.stream": a.streamed,
            "gen_ai.usage.input_tokens": usage.prompt_tokens,
            "gen_ai.usage.output_tokens": usage.completion_tokens,
            "aegis.request_id": a.request_id, "aegis.provider": a.provider,
            "aegis.model": a.model, "aegis.route": a.route, "aegis.route.reason": a.reason,
            "aegis.data_class": a.data_class, "aegis.attempt": a.attempt,
            "aegis.status": a.status, "aegis.cost_usd": a.cost_usd,
            "aegis.usage_estimated": a.usage_estimated,
        }
        if usage.cached_tokens:
            attrs["gen_ai.usage.cache_read.input_tokens"] = usage.cached_tokens
        if usage.cache_write_tokens:
            attrs["gen_ai.usage.cache_creation.input_tokens"] = usage.cache_write_tokens
        if max_tokens is not None:
            attrs["gen_ai.request.max_tokens"] = max_tokens
        if a.ttft_ms is not None:
            attrs["gen_ai.response.time_to_first_chunk"] = a.ttft_ms / 1000.0
        if a.status == "ok":
            attrs["gen_ai.response.model"] = model
        if a.error_kind is not None:
            attrs["error.type"] = a.error_kind
        start = int(a.started_at * 1e9)
        span = self.tracer.start_span(f"{op} {model}", kind=self._kinds[1], start_time=start,
                                      attributes=attrs)
        if a.status == "error":
            span.set_status(self._status(self._error))
        span.end(end_time=start + int(a.latency_ms * 1e6))

    # -- lifecycle --------------------------------------------------------------------------

    def force_flush(self, timeout_ms: int = 5000) -> bool:
        return self.provider.force_flush(timeout_ms) if self.provider is not None else True

    def shutdown(self) -> None:
        if self.provider is not None:
            self.provider.shutdown()


def configure_tracing(
    enabled: bool = False,
    exporter: Exporter | SpanExporter = "otlp",
    *,
    settings: Settings | None = None,
    service_name: str = "aegis-gateway",
    batch: bool = True,
) -> Tracing:
    """A ``Tracing`` with its own ``TracerProvider`` (the global one is left alone).

    ``exporter``: ``otlp`` (needs ``opentelemetry-exporter-otlp``; reads the standard
    ``OTEL_EXPORTER_OTLP_*`` variables), ``console``, ``global`` (use the process-wide
    provider someone else configured, e.g. ``opentelemetry-instrument``), or any
    ``SpanExporter`` instance (tests pass an ``InMemorySpanExporter``).
    """
    systems = provider_names(settings) if settings is not None else None
    ops = operations(settings) if settings is not None else None
    if not enabled:
        return Tracing(systems=systems, operations=ops)
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            ConsoleSpanExporter,
            SimpleSpanProcessor,
        )
    except ImportError:
        raise ConfigError("tracing.enabled: OpenTelemetry is not installed; "
                          "pip install 'aegis-gateway[otel]'") from None
    if exporter == "global":
        return Tracing(trace.get_tracer("aegis"), systems=systems, operations=ops)
    span_exporter: SpanExporter
    if exporter == "console":
        span_exporter = ConsoleSpanExporter()
    elif exporter == "otlp":
        span_exporter = _otlp_exporter()
    elif isinstance(exporter, str):
        raise ConfigError(f"tracing.exporter: expected otlp, console or global, not {exporter!r}")
    else:
        span_exporter = exporter
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(span_exporter) if batch
                                else SimpleSpanProcessor(span_exporter))
    return Tracing(provider.get_tracer("aegis"), provider=provider, systems=systems,
                   operations=ops)


def _otlp_exporter() -> SpanExporter:
    try:  # gRPC or HTTP, whichever exporter package is installed
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # type: ignore[import-not-found]
            OTLPSpanExporter,
        )
    except ImportError:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[import-not-found]
                OTLPSpanExporter,
            )
        except ImportError:
            raise ConfigError(
                "tracing.exporter: otlp needs opentelemetry-exporter-otlp "
                "(or use exporter: console)") from None
    exporter: SpanExporter = OTLPSpanExporter()
    return exporter


__all__ = ["Exporter", "Tracing", "configure_tracing", "operations", "provider_names"]
