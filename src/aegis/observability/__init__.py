"""Observability: Prometheus metrics, structured logs and optional OpenTelemetry traces.

``Observability`` ties the three together around one request:

* ``wrap(app)`` -- ASGI middleware around the gateway app: in-flight gauge,
  request duration and overhead, the ``request`` log event, the request span,
  and ``GET /metrics``. It keeps a per-request ``RequestSummary`` in a context
  variable, so everything the engine reports while serving that request
  (attempt records, routing hooks) lands in the right summary without the
  engine passing anything around.
* ``record(attempt)`` -- the engine ``Recorder``: per-attempt metrics and spans,
  failed attempts, fallbacks and retries (inferred from consecutive attempts).
* ``routed`` / ``refused`` -- routing hooks: detections, policy refusals, and the
  decision (route, reason, data class) for the request event and span.
* ``budget_alert`` / ``breaker_transition`` -- hooks for ``aegis.budget.Alerter``
  and ``aegis.resilience.CircuitBreaker``; safe on any thread.

No hook raises: observability failures are logged and never reach a request.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextvars import ContextVar
from importlib import resources
from typing import TYPE_CHECKING, Any, Protocol

from aegis.errors import AegisError, PolicyRefusal
from aegis.observability.logs import (
    RedactingFilter,
    RequestLog,
    RequestSummary,
    configure_logging,
    redact,
)
from aegis.observability.metrics import (
    SPECS,
    Metrics,
    endpoint_label,
    series_names,
)
from aegis.observability.tracing import Tracing, configure_tracing
from aegis.observability.workers import clear_multiprocess_dir
from aegis.records import Attempt, Recorder
from aegis.routing.explain import Explanation

if TYPE_CHECKING:
    from aegis.config import Settings
    from aegis.records import Caller
    from aegis.routing.decision import Decision
    from aegis.task import Task

log = logging.getLogger("aegis.observability")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
BudgetSource = Callable[[], Iterable[Any] | Awaitable[Iterable[Any]]]

DASHBOARD = "dashboards/aegis-grafana.json"


class CallLike(Protocol):
    """``aegis.engine.Call``, structurally (no import: the engine may import us)."""

    @property
    def request_id(self) -> str: ...
    @property
    def caller(self) -> Caller: ...
    @property
    def task(self) -> Task: ...


class Observability(Recorder):
    def __init__(
        self,
        *,
        metrics: Metrics | None = None,
        request_log: RequestLog | None = None,
        tracing: Tracing | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.metrics = metrics
        self.log = request_log or RequestLog()
        self.tracing = tracing or Tracing()
        self.settings = settings
        # Refreshes the budget gauges before each scrape, e.g. ``BudgetManager.astatus``.
        self.budget_source: BudgetSource | None = None
        # The ledger writer's state before each scrape, e.g. ``LedgerWriter.health``.
        self.ledger_source: Callable[[], Mapping[str, Any]] | None = None
        self._current: ContextVar[RequestSummary | None] = ContextVar(
            "aegis_observed_request", default=None)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, metrics: bool = True, tracing: Tracing | None = None,
        log_handler: logging.Handler | None = None,
    ) -> Observability:
        """Metrics labelled from the configuration; every configured circuit starts closed.

        ``log_handler``: what ``configure_logging`` returned (request lines go to it
        directly when nothing else would see them)."""
        m = Metrics.from_settings(settings) if metrics else None
        if m is not None:
            for model in settings.catalog:
                m.breaker_state(model.provider, model.name, "closed")
        return cls(metrics=m, tracing=tracing or configure_tracing(False, settings=settings),
                   settings=settings, request_log=RequestLog(handler=log_handler))

    @property
    def recorders(self) -> tuple[Recorder, ...]:
        """Pass to ``Engine(settings, recorders=[..., *obs.recorders])``."""
        return (self,)

    @property
    def current(self) -> RequestSummary | None:
        """The summary of the request being served in this context, if any."""
        return self._current.get()

    # -- the engine -------------------------------------------------------------------------

    def record(self, attempt: Attempt) -> None:
        try:
            if self.metrics is not None:
                self.metrics.record(attempt)
            summary = self._current.get()
            if summary is not None:
                previous = summary.last
                step = summary.add(attempt)
                if step is not None and previous is not None:
                    self._step(step, previous, attempt)
            self.log.record(attempt)
            if self.tracing.tracer is not None:
                self.tracing.attempt_span(
                    attempt, max_tokens=summary.max_tokens if summary else None,
                    operation=_OPERATIONS.get(summary.endpoint) if summary else None)
        except Exception:
            log.exception("observability: recording an attempt failed")

    def _step(self, step: str, failed: Attempt, then: Attempt) -> None:
        # Retries need no inference: ``Metrics.record`` counts attempts with ``retry > 0``.
        if step == "fallback":
            if self.metrics is not None:
                self.metrics.fallback(failed.provider, failed.model)
            self.log.fallback(failed, then)

    def routed(self, call: CallLike, decision: Decision) -> None:
        """The router chose: call right after ``Router.decide`` returns (not for dry runs)."""
        try:
            self._decided(call, decision.record, decision.route, decision.reason)
        except Exception:
            log.exception("observability: routed hook failed")

    def refused(self, call: CallLike, error: AegisError) -> None:
        """The router refused: call with the error ``Router.decide`` raised, then re-raise."""
        try:
            record = error.decision or {}
            summary = self._decided(call, record, record.get("route"), None)
            if isinstance(error, PolicyRefusal):
                summary.refusal_rule = error.rule
                if self.metrics is not None:
                    self.metrics.refusal(error.rule)
                self.log.privacy_refusal(summary, error.rule, error.message)
        except Exception:
            log.exception("observability: refused hook failed")

    def _decided(self, call: CallLike, record: Mapping[str, Any], route: str | None,
                 reason: str | None) -> RequestSummary:
        summary = self._current.get() or RequestSummary()  # in-process use: a throwaway
        summary.request_id = call.request_id
        summary.caller = call.caller
        summary.workspace = call.task.workspace
        summary.route, summary.reason = route, reason
        if isinstance(record, Explanation):  # what the router recorded, not rendered
            profile = record.profile
            summary.model_requested = record.model_requested
            summary.data_class = str(profile.data_class)
            summary.findings = profile.findings
            summary.max_tokens = profile.output_tokens
        if summary.findings and self.metrics is not None:
            self.metrics.detection(summary.data_class or "other")
        return summary

    # -- budgets and breakers ---------------------------------------------------------------

    def budget_alert(self, alert: Any) -> None:
        """``Alerter.add_hook(obs.budget_alert)``. The alerter logs the event itself."""
        try:
            if self.metrics is not None:
                self.metrics.budget_alert(alert.budget, alert.threshold, alert.spend_usd,
                                          alert.limit_usd)
        except Exception:
            log.exception("observability: budget alert hook failed")

    def budget_status(self, rows: Iterable[Any]) -> None:
        """Refresh budget gauges from ``BudgetManager.status()`` rows."""
        try:
            if self.metrics is not None:
                self.metrics.budget_states(rows)
        except Exception:
            log.exception("observability: budget status update failed")

    def breaker_transition(self, transition: Any) -> None:
        """``CircuitBreaker.subscribe(obs.breaker_transition)``."""
        try:
            provider, model = transition.key
            if self.metrics is not None:
                self.metrics.breaker_state(provider, model, str(transition.new))
            self.log.breaker_transition(transition)
        except Exception:
            log.exception("observability: breaker transition hook failed")

    # -- HTTP -------------------------------------------------------------------------------

    def wrap(self, app: ASGIApp, *, metrics_path: str | None = "/metrics") -> ASGIApp:
        """The gateway app, observed: wrap it once, outermost."""
        return _Middleware(app, self, metrics_path)

    def exposition(self, accept: str | None = None) -> tuple[bytes, str]:
        if self.metrics is None:
            raise RuntimeError("metrics are disabled")
        return self.metrics.exposition(accept)

    async def scrape(self, accept: str | None = None) -> tuple[bytes, str]:
        """Refresh budget gauges, then render; off the event loop (multi-process reads files)."""
        if self.budget_source is not None:
            try:
                rows = self.budget_source()
                if inspect.isawaitable(rows):
                    rows = await rows
                self.budget_status(rows)
            except Exception:
                log.exception("observability: budget source failed")
        if self.ledger_source is not None and self.metrics is not None:
            try:
                state = self.ledger_source()
                self.metrics.ledger_state(not state["ok"], int(state["unwritten_rows"]))
            except Exception:
                log.exception("observability: ledger source failed")
        return await asyncio.to_thread(self.exposition, accept)

    async def observe(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one HTTP request through ``app`` and report it."""
        path = scope.get("path", "")
        summary = RequestSummary(method=scope.get("method", ""), path=path,
                                 endpoint=endpoint_label(path))
        if self.tracing.tracer is None:
            await self._serve(app, scope, receive, send, summary, None)
            return
        with self.tracing.request_span(summary.method, path, scope.get("headers", ())) as span:
            await self._serve(app, scope, receive, send, summary, span)

    async def _serve(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send,
                     summary: RequestSummary, span: Any) -> None:
        token = self._current.set(summary)
        if self.metrics is not None:
            self.metrics.request_started()
        t0 = time.perf_counter()
        crashed = False

        def observed_send(message: dict[str, Any]) -> Awaitable[None]:
            # Not a coroutine of its own: it returns ``send``'s (one coroutine less a send).
            if message["type"] == "http.response.start":
                summary.http_status = message["status"]
                if not summary.request_id:
                    for name, value in message.get("headers", ()):
                        if name == b"x-aegis-request-id":
                            summary.request_id = value.decode("latin-1")
                            break
            return send(message)

        try:
            await app(scope, receive, observed_send)
        except asyncio.CancelledError:
            raise
        except BaseException:
            crashed = True
            raise
        finally:
            self._current.reset(token)
            summary.finish(time.perf_counter() - t0, summary.http_status, crashed=crashed)
            self._finished(summary, span)

    def _finished(self, s: RequestSummary, span: Any) -> None:
        try:
            if self.metrics is not None:
                self.metrics.request_finished(
                    s.duration_s, s.upstream_s if s.attempts else None, s.status,
                    endpoint=s.endpoint, provider=s.provider, code=s.code)
            self.log.request(s)
            if span is not None:
                self.tracing.finish_request(span, s)
        except Exception:
            log.exception("observability: finishing a request failed")

    # -- lifecycle --------------------------------------------------------------------------

    def started(self) -> None:
        """The app finished starting: log the configuration in effect."""
        if self.settings is not None:
            try:
                self.log.config_loaded(self.settings)
            except Exception:
                log.exception("observability: config_loaded event failed")

    def close(self) -> None:
        """Flush spans; in multi-process mode drop this worker's live-gauge files."""
        try:
            if self.metrics is not None:
                self.metrics.close()
            self.tracing.shutdown()
        except Exception:
            log.exception("observability: close failed")


_OPERATIONS = {"chat": "chat", "embeddings": "embeddings"}


class _Middleware:
    __slots__ = ("app", "metrics_path", "obs")

    def __init__(self, app: ASGIApp, obs: Observability, metrics_path: str | None) -> None:
        self.app, self.obs, self.metrics_path = app, obs, metrics_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            path = scope["path"]
            if path.startswith("/v1/"):
                await self.obs.observe(self.app, scope, receive, send)
                return
            if (path == self.metrics_path and self.obs.metrics is not None
                    and scope["method"] in ("GET", "HEAD")):
                await self._metrics(scope, send)
                return
        elif kind == "lifespan":
            await self.app(scope, receive, self._lifespan_send(send))
            return
        await self.app(scope, receive, send)

    async def _metrics(self, scope: Scope, send: Send) -> None:
        accept = next((v.decode("latin-1") for k, v in scope.get("headers", ())
                       if k == b"accept"), None)
        body, content_type = await self.obs.scrape(accept)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", content_type.encode()),
                                (b"cache-control", b"no-store"),
                                (b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body",
                    "body": b"" if scope["method"] == "HEAD" else body})

    def _lifespan_send(self, send: Send) -> Send:
        async def lifespan_send(message: dict[str, Any]) -> None:
            if message["type"] == "lifespan.startup.complete":
                self.obs.started()
            elif message["type"] == "lifespan.shutdown.complete":
                self.obs.close()
            await send(message)

        return lifespan_send


def dashboard() -> dict[str, Any]:
    """The Grafana dashboard (``${DS_PROMETHEUS}`` datasource input), as shipped."""
    text = resources.files(__name__).joinpath(DASHBOARD).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


__all__ = [
    "SPECS", "CallLike", "Metrics", "Observability", "RedactingFilter", "RequestLog",
    "RequestSummary", "Tracing", "clear_multiprocess_dir", "configure_logging",
    "configure_tracing", "dashboard", "redact", "series_names",
]
