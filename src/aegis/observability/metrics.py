"""Prometheus metrics: one ``Metrics`` object per process, fed by the request path.

Why a class and not module-level metrics: tests, embedded use and several
gateways in one process each need their own ``CollectorRegistry``.

Cardinality is bounded by construction. Provider, model and route labels only
take values from the configuration (anything else becomes ``other``); key,
team, budget and rule labels take the first ``max_dynamic`` distinct values
and then ``other``. No request ids, no secrets -- the key label is the key's
*name*.

Multi-process servers (``uvicorn --workers N``): when ``PROMETHEUS_MULTIPROC_DIR``
is set (before ``prometheus_client`` is first imported, i.e. in the server's
environment), every worker writes its samples to files in that directory and
``exposition()`` -- in whichever worker answers the scrape -- merges all of them
with ``MultiProcessCollector``. Gauges declare how to merge: in-flight requests
sum over live workers, circuit state takes the worst live worker, budget gauges
take the most recent write. The directory's upkeep (clearing it before the workers
start, dropping dead workers' live gauges) is ``aegis.observability.workers``; call
``close()`` when a worker exits.

Hot path: label children are looked up in plain dicts keyed by the raw values,
so ``record()`` costs a few dict lookups and counter increments (see
``docs/observability.md`` for the measured cost). In one process the values are
Aegis's own (``_Family``): plain floats updated under one lock per call, where
prometheus_client would lock each of the ~13 values a request touches; the
exposition is the one prometheus_client's metrics would give. Multi-process mode
needs prometheus_client's file-backed values, which other workers' scrapes read:
the per-request families (``BUFFERED``) are counted in Aegis's own values there too
and written to the files every ``sync_interval_s`` (``Metrics.sync``), the rest at
once -- so a scrape sees another worker's last half second one scrape later.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, values
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.utils import floatToGoString

from aegis.errors import ConfigError
from aegis.observability.workers import forget_dead_workers, multiprocess_dir
from aegis.records import Attempt, Recorder

if TYPE_CHECKING:
    from aegis.config import Settings

log = logging.getLogger("aegis.observability")

OTHER = "other"  # the value every out-of-set label collapses to
ANONYMOUS_KEY = "anonymous"
NONE = "none"
PROVIDER_WIDE = "*"  # the breaker's provider-wide circuit (``aegis.resilience.breaker``)
CIRCUIT_STATES: Mapping[str, int] = {"closed": 0, "half_open": 1, "half-open": 1, "open": 2}
STRATEGIES = ("balanced", "cost", "latency", "quality", "local_first", "ordered")
DATA_CLASSES = ("public", "internal", "confidential", "pii", "phi")
ERROR_KINDS = ("rate_limited", "auth", "bad_request", "context_too_long", "content_filtered",
               "model_unavailable", "timeout", "unavailable", "invalid_response",
               "upstream_error", "cancelled", "client_disconnected", "probe_failed")
ENDPOINTS: Mapping[str, str] = {
    "/v1/chat/completions": "chat", "/v1/embeddings": "embeddings", "/v1/models": "models",
    "/v1/route": "route",
}
_CODES = frozenset({200, 400, 401, 403, 404, 405, 408, 413, 422, 429, 499, 500, 502, 503, 504})

# LLM calls span 50 ms (cache hit, tiny model) to minutes (long generations).
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
TTFT_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0)
# What the gateway adds should be well under a millisecond: resolve that range.
OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                    0.25, 0.5, 1.0)

_K = TypeVar("_K")
_V = TypeVar("_V")
_C = TypeVar("_C", covariant=True)
Kind = Literal["counter", "gauge", "histogram"]
GaugeMode = Literal["all", "liveall", "min", "livemin", "max", "livemax", "sum", "livesum",
                    "mostrecent", "livemostrecent"]


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One exported metric; the table below is the contract dashboards are tested against."""

    name: str  # as exposed (counters end in ``_total``)
    kind: Kind
    labels: tuple[str, ...]
    doc: str
    buckets: tuple[float, ...] = ()
    mode: GaugeMode = "all"  # how multi-process mode merges a gauge


SPECS: tuple[MetricSpec, ...] = (
    MetricSpec("aegis_requests_total", "counter",
               ("provider", "model", "route", "status", "error_kind"),
               "Upstream attempts by outcome (a fallback adds an attempt); status is "
               "ok|error|cancelled."),
    MetricSpec("aegis_http_responses_total", "counter", ("endpoint", "code"),
               "Gateway responses by endpoint and HTTP status code."),
    MetricSpec("aegis_request_duration_seconds", "histogram", ("endpoint", "provider", "status"),
               "Whole request at the gateway, first byte in to last byte out.",
               LATENCY_BUCKETS),
    MetricSpec("aegis_upstream_duration_seconds", "histogram", ("provider", "model"),
               "One upstream attempt (ok or error; cancelled attempts are left out).",
               LATENCY_BUCKETS),
    MetricSpec("aegis_time_to_first_token_seconds", "histogram", ("provider", "model"),
               "Time to the first streamed chunk of an upstream attempt.", TTFT_BUCKETS),
    MetricSpec("aegis_gateway_overhead_seconds", "histogram", ("endpoint",),
               "Request duration minus time spent upstream, for requests that called one.",
               OVERHEAD_BUCKETS),
    MetricSpec("aegis_tokens_total", "counter", ("provider", "model", "direction"),
               "Tokens by direction: prompt (includes cached), completion, cached."),
    MetricSpec("aegis_cost_usd_total", "counter", ("provider", "model", "key", "team"),
               "Cost in USD by provider, model, gateway key name and team."),
    MetricSpec("aegis_budget_spend_usd", "gauge", ("budget",),
               "Settled spend of a budget in its current period.", mode="mostrecent"),
    MetricSpec("aegis_budget_limit_usd", "gauge", ("budget",), "A budget's limit.",
               mode="mostrecent"),
    MetricSpec("aegis_budget_utilisation", "gauge", ("budget",),
               "Spend / limit of a budget (1.0 = exhausted).", mode="mostrecent"),
    MetricSpec("aegis_budget_alerts_total", "counter", ("budget", "threshold"),
               "Budget threshold alerts fired."),
    MetricSpec("aegis_fallbacks_total", "counter", ("provider", "model"),
               "Requests that moved on to the next candidate after this one failed."),
    MetricSpec("aegis_retries_total", "counter", ("provider", "model"),
               "Retries of the same candidate after it failed."),
    MetricSpec("aegis_circuit_state", "gauge", ("provider", "model"),
               "Circuit breaker state: 0 closed, 1 half-open, 2 open (model * = provider-wide).",
               mode="livemax"),
    MetricSpec("aegis_privacy_refusals_total", "counter", ("rule",),
               "Requests refused by a policy rule (privacy, airgap, allow_list:...)."),
    MetricSpec("aegis_sensitive_detections_total", "counter", ("data_class",),
               "Requests in which the detector found sensitive data, by effective class."),
    MetricSpec("aegis_inflight_requests", "gauge", (), "Requests being served right now.",
               mode="livesum"),
    MetricSpec("aegis_ledger_write_failing", "gauge", (),
               "1 while the ledger store refuses writes (rows wait in memory), else 0.",
               mode="livemax"),
    MetricSpec("aegis_ledger_unwritten_rows", "gauge", (),
               "Ledger rows recorded but not yet stored.", mode="livesum"),
)


def series_names() -> dict[str, tuple[str, ...]]:
    """Every series name a PromQL query may use, with the labels it carries."""
    out: dict[str, tuple[str, ...]] = {}
    for spec in SPECS:
        if spec.kind == "histogram":
            out[spec.name + "_bucket"] = (*spec.labels, "le")
            out[spec.name + "_sum"] = spec.labels
            out[spec.name + "_count"] = spec.labels
        else:
            out[spec.name] = spec.labels
    return out


class _BudgetRow(Protocol):
    """What ``BudgetManager.status()`` returns, as far as metrics care."""

    @property
    def budget(self) -> Any: ...  # has ``name`` and ``limit_usd``
    @property
    def spent_usd(self) -> float: ...


class Bounded:
    """Maps raw label values onto a bounded set.

    With ``allowed``: those values pass, anything else is ``other``. Without: the
    first ``cap`` distinct values pass (per process), later ones are ``other``.
    """

    __slots__ = ("allowed", "cap", "seen")

    def __init__(self, allowed: Iterable[str] | None = None, cap: int = 500) -> None:
        self.allowed = frozenset(allowed) if allowed is not None else None
        self.cap = cap
        self.seen: set[str] = set()

    def __call__(self, value: str | None, default: str = NONE) -> str:
        if not value:
            return default
        if self.allowed is not None:
            return value if value in self.allowed else OTHER
        if value in self.seen:
            return value
        if len(self.seen) < self.cap:
            self.seen.add(value)
            return value
        return OTHER


class _Counts(Protocol):
    """A counter series: a prometheus_client ``Counter`` child or a ``_CounterValue``."""

    def inc(self, amount: float = ...) -> None: ...


class _Observes(Protocol):
    """A histogram series: a prometheus_client ``Histogram`` child or a ``_HistogramValue``."""

    def observe(self, amount: float) -> None: ...


class _Sets(Protocol):
    """A gauge series: a prometheus_client ``Gauge`` (child) or a ``_GaugeValue``."""

    def inc(self, amount: float = ...) -> None: ...
    def dec(self, amount: float = ...) -> None: ...
    def set(self, value: float) -> None: ...


class _Labelled(Protocol[_C]):
    """A labelled metric: prometheus_client's or a ``_Family``."""

    def labels(self, *values: str) -> _C: ...


class _CounterValue:
    """One counter series of a ``_Family``; updates the way prometheus_client's do."""

    __slots__ = ("created", "value")

    def __init__(self) -> None:
        self.value = 0.0
        self.created = time.time()

    def inc(self, amount: float = 1) -> None:
        if amount < 0:
            raise ValueError("Counters can only be incremented by non-negative amounts.")
        self.value += amount

    def flush(self, child: Any, synced: list[float]) -> None:
        if self.value != synced[0]:
            child.inc(self.value - synced[0])
            synced[0] = self.value


class _GaugeValue:
    """One gauge series of a ``_Family``."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def flush(self, child: Any, synced: list[float]) -> None:
        if self.value != synced[0] or not synced[1]:
            child.set(self.value)
            synced[0], synced[1] = self.value, 1.0

    def inc(self, amount: float = 1) -> None:
        self.value += amount

    def dec(self, amount: float = 1) -> None:
        self.value += -amount

    def set(self, value: float) -> None:
        self.value = float(value)


class _HistogramValue:
    """One histogram series of a ``_Family``: per-bucket counts, cumulated at scrape time."""

    __slots__ = ("bounds", "buckets", "created", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.buckets = [0.0] * len(bounds)
        self.sum = 0.0
        self.created = time.time()

    def observe(self, amount: float) -> None:
        self.sum += amount
        i = bisect_left(self.bounds, amount)
        if i < len(self.bounds) and amount <= self.bounds[i]:  # NaN: no bucket, as upstream
            self.buckets[i] += 1.0

    def flush(self, child: Any, synced: list[float]) -> None:
        """``synced``: the sum, then each bucket's count, as last written. A histogram
        child's files are its ``_sum`` and per-bucket ``_buckets`` values (what its
        ``observe`` increments; prometheus_client has no public bulk update)."""
        if self.sum != synced[0]:
            child._sum.inc(self.sum - synced[0])
            synced[0] = self.sum
        for i, count in enumerate(self.buckets):
            if count != synced[i + 1]:
                child._buckets[i].inc(count - synced[i + 1])
                synced[i + 1] = count


_Value = _CounterValue | _GaugeValue | _HistogramValue


class _Family(Generic[_C]):
    """A metric family whose values Aegis keeps itself (one process, see the module doc).

    ``collect`` renders it as prometheus_client's metric of the same spec would: the
    same names, series in creation order, labels in declared order, values and
    ``_created`` samples (when prometheus_client exports those). Series are touched
    only under ``Metrics``'s lock, which ``collect`` takes to copy them.
    """

    def __init__(self, spec: MetricSpec, lock: threading.Lock,
                 probe: Counter | None) -> None:
        self.spec = spec
        self._lock = lock
        self._probe = probe
        bounds = [float(b) for b in spec.buckets]
        if spec.kind == "histogram" and bounds[-1] != math.inf:
            bounds.append(math.inf)
        self._bounds = tuple(bounds)
        self._le = tuple(floatToGoString(b) for b in bounds)  # type: ignore[no-untyped-call]
        self._series: dict[tuple[str, ...], _Value] = {}
        self._synced: dict[tuple[str, ...], list[float]] = {}  # multi-process: as last written

    def labels(self, *values: str) -> _C:
        """The series for these label values, created on first use (as ``labels()`` does)."""
        if len(values) != len(self.spec.labels):
            raise ValueError("Incorrect label count")
        key = tuple(str(v) for v in values)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = self._new()
        return series  # type: ignore[return-value]

    def flush_into(self, target: Any) -> None:
        """Write what changed since the last call into ``target`` (the prometheus_client
        metric of the same spec, file-backed in multi-process mode). Under the lock."""
        for key, series in self._series.items():
            synced = self._synced.get(key)
            if synced is None:
                size = len(self._bounds) + 1 if isinstance(series, _HistogramValue) else 2
                synced = self._synced[key] = [0.0] * size
            series.flush(target.labels(*key) if key else target, synced)

    def _new(self) -> _Value:
        if self.spec.kind == "counter":
            return _CounterValue()
        if self.spec.kind == "histogram":
            return _HistogramValue(self._bounds)
        return _GaugeValue()

    def _family(self) -> CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily:
        spec = self.spec
        if spec.kind == "counter":  # drops the name's ``_total``, as ``Counter`` does
            return CounterMetricFamily(spec.name, spec.doc, labels=spec.labels)
        if spec.kind == "histogram":
            return HistogramMetricFamily(spec.name, spec.doc, labels=spec.labels)
        return GaugeMetricFamily(spec.name, spec.doc, labels=spec.labels)

    def describe(self) -> list[Metric]:
        return [self._family()]

    def collect(self) -> list[Metric]:
        with self._lock:
            rows = [(key, _snapshot(series)) for key, series in self._series.items()]
        family = self._family()
        created = (not isinstance(family, GaugeMetricFamily) and self._probe is not None
                   and _exports_created(self._probe))
        for key, (value, stamp, counts) in rows:
            if isinstance(family, CounterMetricFamily):
                family.add_metric(key, value, created=stamp if created else None)
            elif isinstance(family, GaugeMetricFamily):
                family.add_metric(key, value)
            else:
                acc, buckets = 0.0, []
                for le, count in zip(self._le, counts, strict=True):
                    acc += count
                    buckets.append((le, acc))
                family.add_metric(key, buckets, value)
                if created:  # what prometheus_client's Histogram adds after its buckets
                    family.add_sample(family.name + "_created",
                                      dict(zip(self.spec.labels, key, strict=True)), stamp)
        return [family]


def _exports_created(probe: Counter) -> bool:
    """Whether prometheus_client exports ``_created`` samples now (they can be turned off
    by ``PROMETHEUS_DISABLE_CREATED_SERIES`` or ``disable_created_metrics()``)."""
    return any(s.name.endswith("_created") for m in probe.collect() for s in m.samples)


def _snapshot(series: _Value) -> tuple[float, float, tuple[float, ...]]:
    """(value or sum, created, bucket counts) of one series, copied under the lock."""
    if isinstance(series, _HistogramValue):
        return series.sum, series.created, tuple(series.buckets)
    if isinstance(series, _CounterValue):
        return series.value, series.created, ()
    return series.value, 0.0, ()


class _ModelSeries:
    """The per-(provider, model) children an attempt touches, bound once."""

    __slots__ = ("cached", "completion", "prompt", "retries", "ttft", "upstream")

    def __init__(self, m: Metrics, provider: str, model: str) -> None:
        self.upstream = m.upstream_duration.labels(provider, model)
        self.ttft = m.ttft.labels(provider, model)
        self.prompt = m.tokens.labels(provider, model, "prompt")
        self.completion = m.tokens.labels(provider, model, "completion")
        self.cached = m.tokens.labels(provider, model, "cached")
        self.retries = m.retries.labels(provider, model)


# Updated on every request: counted in Aegis's own values and written to the multi-process
# files by ``Metrics.sync``. The rest (budgets, circuits, alerts, refusals, fallbacks) change
# on events and are written through at once.
BUFFERED = frozenset({
    "aegis_requests_total", "aegis_http_responses_total", "aegis_request_duration_seconds",
    "aegis_upstream_duration_seconds", "aegis_time_to_first_token_seconds",
    "aegis_gateway_overhead_seconds", "aegis_tokens_total", "aegis_cost_usd_total",
    "aegis_retries_total", "aegis_inflight_requests",
})

_CACHE_MAX = 4096  # raw-value caches are cleared past this (bounded memory, not correctness)


class Metrics(Recorder):
    """Owns a registry and every Aegis metric; a ``Recorder`` for upstream attempts.

    ``providers``/``models``/``routes``: the label values allowed (from config);
    ``None`` admits the first ``max_dynamic`` values seen (tests, embedded use).
    """

    def __init__(
        self,
        *,
        providers: Iterable[str] | None = None,
        models: Iterable[str] | None = None,
        routes: Iterable[str] | None = None,
        max_dynamic: int = 500,
        own_values: bool | None = None,
        buffered: bool = True,
        sync_interval_s: float = 0.5,
    ) -> None:
        """``own_values``: keep values in ``_Family`` objects (the default in one process)
        or, when False, in prometheus_client's metrics (what multi-process mode needs).
        ``buffered`` (multi-process mode only): the per-request families go to the files
        every ``sync_interval_s`` instead of on every update."""
        self.multiprocess_dir = multiprocess_dir()
        if own_values is None:
            own_values = self.multiprocess_dir is None
        elif own_values and self.multiprocess_dir is not None:
            raise ValueError("multi-process mode needs prometheus_client's values")
        self.registry = CollectorRegistry(auto_describe=True)
        metrics_registry: CollectorRegistry | None = self.registry
        if self.multiprocess_dir is not None:
            if values.ValueClass is values.MutexValue:
                raise ConfigError(
                    "PROMETHEUS_MULTIPROC_DIR is set but prometheus_client was imported before "
                    "it was: set it in the server's environment, not at run time")
            # Live values go to files; the registry only holds the collector that merges them.
            Path(self.multiprocess_dir).mkdir(parents=True, exist_ok=True)
            forget_dead_workers(self.multiprocess_dir)
            MultiProcessCollector(  # type: ignore[no-untyped-call]
                self.registry, path=self.multiprocess_dir)
            metrics_registry = None
        self.provider_label = Bounded(providers, max_dynamic)
        self.model_label = Bounded(
            None if models is None else {*models, PROVIDER_WIDE}, max_dynamic)
        self.route_label = Bounded(routes, max_dynamic)
        self.key_label = Bounded(None, max_dynamic)
        self.team_label = Bounded(None, max_dynamic)
        self.budget_label = Bounded(None, max_dynamic)
        self.rule_label = Bounded(None, 64)
        self.error_label = Bounded(ERROR_KINDS)
        self.class_label = Bounded(DATA_CLASSES)

        # Every update below holds it: one lock a call instead of one a value (own values).
        self._lock = threading.Lock()
        built: dict[str, Any] = {}
        # (in multi-process mode every value is a file, probe included: none there)
        probe = Counter("aegis_probe", "", registry=None) if own_values else None
        # Multi-process mode: the per-request families are counted in Aegis's own values
        # too, and written to this worker's files by ``sync`` (see its docstring).
        self._buffered: list[tuple[_Family[Any], Any]] = []
        buffered = buffered and self.multiprocess_dir is not None
        for spec in SPECS:
            if not own_values and (spec.name not in BUFFERED or not buffered):
                built[spec.name] = _build(spec, metrics_registry)
                continue
            family: _Family[Any] = _Family(spec, self._lock, probe)
            if own_values:
                self.registry.register(family)
            else:
                self._buffered.append((family, _build(spec, metrics_registry)))
            built[spec.name] = family if spec.labels else family.labels()
        self.requests: _Labelled[_Counts] = built["aegis_requests_total"]
        self.http_responses: _Labelled[_Counts] = built["aegis_http_responses_total"]
        self.request_duration: _Labelled[_Observes] = built["aegis_request_duration_seconds"]
        self.upstream_duration: _Labelled[_Observes] = built["aegis_upstream_duration_seconds"]
        self.ttft: _Labelled[_Observes] = built["aegis_time_to_first_token_seconds"]
        self.overhead: _Labelled[_Observes] = built["aegis_gateway_overhead_seconds"]
        self.tokens: _Labelled[_Counts] = built["aegis_tokens_total"]
        self.cost: _Labelled[_Counts] = built["aegis_cost_usd_total"]
        self.budget_spend: _Labelled[_Sets] = built["aegis_budget_spend_usd"]
        self.budget_limit: _Labelled[_Sets] = built["aegis_budget_limit_usd"]
        self.budget_utilisation: _Labelled[_Sets] = built["aegis_budget_utilisation"]
        self.budget_alerts: _Labelled[_Counts] = built["aegis_budget_alerts_total"]
        self.ledger_failing: _Sets = built["aegis_ledger_write_failing"]
        self.ledger_unwritten: _Sets = built["aegis_ledger_unwritten_rows"]
        self.fallbacks: _Labelled[_Counts] = built["aegis_fallbacks_total"]
        self.retries: _Labelled[_Counts] = built["aegis_retries_total"]
        self.circuit_state: _Labelled[_Sets] = built["aegis_circuit_state"]
        self.refusals: _Labelled[_Counts] = built["aegis_privacy_refusals_total"]
        self.detections: _Labelled[_Counts] = built["aegis_sensitive_detections_total"]
        self.inflight: _Sets = built["aegis_inflight_requests"]

        # Raw values -> bound children: the hot path skips both normalisation and labels().
        self._series: dict[tuple[str, str], _ModelSeries] = {}
        self._outcomes: dict[tuple[str, str, str, str, str | None], _Counts] = {}
        self._costs: dict[tuple[str, str, str | None, str | None], _Counts] = {}
        self._finished: dict[tuple[str, str | None, str, int],
                             tuple[_Observes, _Counts, _Observes]] = {}
        self._syncer: threading.Thread | None = None
        self._stopped = threading.Event()
        self.sync_interval_s = sync_interval_s
        if self._buffered:
            atexit.register(self.sync)  # a worker that exits without close() keeps its counts
            self._syncer = threading.Thread(target=self._sync_loop, daemon=True,
                                            name="aegis-metrics-sync")
            self._syncer.start()

    @classmethod
    def from_settings(cls, settings: Settings, *, max_dynamic: int = 500) -> Metrics:
        """Label sets from the configuration: the only provider, model and route values."""
        return cls(providers=settings.providers, models=[m.name for m in settings.catalog],
                   routes=route_labels(settings), max_dynamic=max_dynamic)

    # -- per attempt (Recorder) ----------------------------------------------------------

    def record(self, attempt: Attempt) -> None:
        try:
            with self._lock:
                self._record(attempt)
        except Exception:  # a metrics bug must never fail a request
            log.exception("metrics: recording an attempt failed")

    def _record(self, a: Attempt) -> None:
        series = self._series.get((a.provider, a.model))
        if series is None:
            series = self._bind_series(a.provider, a.model)
        okey = (a.provider, a.model, a.route, a.status, a.error_kind)
        outcome = self._outcomes.get(okey)
        if outcome is None:
            outcome = self._bind(self._outcomes, okey, self.requests.labels(
                self.provider_label(a.provider), self.model_label(a.model),
                self.route_label(a.route), a.status if a.status in _STATUSES else OTHER,
                self.error_label(a.error_kind)))
        outcome.inc()
        if a.retry:  # the same candidate again
            series.retries.inc()
        if a.status != "cancelled":
            series.upstream.observe(a.latency_ms / 1000.0)
        if a.ttft_ms is not None:
            series.ttft.observe(a.ttft_ms / 1000.0)
        usage = a.usage
        if usage.prompt_tokens:
            series.prompt.inc(usage.prompt_tokens)
        if usage.completion_tokens:
            series.completion.inc(usage.completion_tokens)
        if usage.cached_tokens:
            series.cached.inc(usage.cached_tokens)
        if a.cost_usd:
            caller = a.caller
            ckey = (a.provider, a.model, caller.key_name, caller.team)
            cost = self._costs.get(ckey)
            if cost is None:
                cost = self._bind(self._costs, ckey, self.cost.labels(
                    self.provider_label(a.provider), self.model_label(a.model),
                    self.key_label(caller.key_name, ANONYMOUS_KEY), self.team_label(caller.team)))
            cost.inc(a.cost_usd)

    def _bind_series(self, provider: str, model: str) -> _ModelSeries:
        series = _ModelSeries(self, self.provider_label(provider), self.model_label(model))
        return self._bind(self._series, (provider, model), series)

    @staticmethod
    def _bind(cache: dict[_K, _V], key: _K, child: _V) -> _V:
        if len(cache) >= _CACHE_MAX:
            cache.clear()
        cache[key] = child
        return child

    # -- per request (the gateway) ----------------------------------------------------------

    def request_started(self) -> None:
        with self._lock:
            self.inflight.inc()

    def request_finished(
        self,
        duration_s: float,
        upstream_s: float | None,
        status: str,
        *,
        endpoint: str = "chat",
        provider: str | None = None,
        code: int = 200,
    ) -> None:
        """Pairs with ``request_started``. ``upstream_s`` is None when no upstream was called
        (refused, invalid, ``/v1/models``): then there is no overhead to report."""
        with self._lock:
            self._request_finished(duration_s, upstream_s, status, endpoint, provider, code)

    def _request_finished(self, duration_s: float, upstream_s: float | None, status: str,
                          endpoint: str, provider: str | None, code: int) -> None:
        self.inflight.dec()
        key = (endpoint, provider, status, code)
        bound = self._finished.get(key)
        if bound is None:
            ep = endpoint if endpoint in _ENDPOINT_LABELS else OTHER
            bound = self._bind(self._finished, key, (
                self.request_duration.labels(
                    ep, self.provider_label(provider),
                    status if status in _REQUEST_STATUSES else OTHER),
                self.http_responses.labels(ep, _code_label(code)),
                self.overhead.labels(ep)))
        duration, responses, overhead = bound
        duration.observe(duration_s)
        responses.inc()
        if upstream_s is not None:
            overhead.observe(max(0.0, duration_s - upstream_s))

    def fallback(self, provider: str, model: str) -> None:
        """``provider``/``model``: the candidate that failed and was moved on from."""
        with self._lock:
            self.fallbacks.labels(self.provider_label(provider), self.model_label(model)).inc()

    def retry(self, provider: str, model: str) -> None:
        """``record`` already counts attempts with ``retry > 0``; for retries made elsewhere."""
        with self._lock:
            self.retries.labels(self.provider_label(provider), self.model_label(model)).inc()

    def refusal(self, rule: str) -> None:
        with self._lock:
            self.refusals.labels(self.rule_label(rule, OTHER)).inc()

    def detection(self, data_class: str) -> None:
        with self._lock:
            self.detections.labels(self.class_label(str(data_class), OTHER)).inc()

    # -- budgets and breakers (hooks, any thread) -----------------------------------------

    def ledger_state(self, failing: bool, unwritten_rows: int) -> None:
        with self._lock:
            self.ledger_failing.set(1.0 if failing else 0.0)
            self.ledger_unwritten.set(float(unwritten_rows))

    def budget_state(self, budget: str, spend_usd: float, limit_usd: float) -> None:
        with self._lock:
            name = self.budget_label(budget, OTHER)
            self.budget_spend.labels(name).set(spend_usd)
            self.budget_limit.labels(name).set(limit_usd)
            self.budget_utilisation.labels(name).set(
                spend_usd / limit_usd if limit_usd > 0 else 0.0)

    def budget_states(self, rows: Iterable[_BudgetRow]) -> None:
        """Refresh every budget gauge from ``BudgetManager.status()`` rows."""
        for row in rows:
            self.budget_state(row.budget.name, row.spent_usd, row.budget.limit_usd)

    def budget_alert(self, budget: str, threshold: float, spend_usd: float | None = None,
                     limit_usd: float | None = None) -> None:
        with self._lock:
            self.budget_alerts.labels(self.budget_label(budget, OTHER), f"{threshold:g}").inc()
        if spend_usd is not None and limit_usd is not None:
            self.budget_state(budget, spend_usd, limit_usd)

    def breaker_state(self, provider: str, model: str, state: str) -> None:
        """``state``: closed | half_open | open (``State`` values work as they are)."""
        with self._lock:
            self.circuit_state.labels(self.provider_label(provider),
                                      self.model_label(model)).set(
                CIRCUIT_STATES.get(str(state), 0))

    # -- exposition -------------------------------------------------------------------------

    def exposition(self, accept: str | None = None) -> tuple[bytes, str]:
        """The body and content type for ``GET /metrics`` (OpenMetrics if ``accept`` asks)."""
        self.sync()  # this worker's own latest counts; the others' are at most a sync old
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type

    def sync(self) -> None:
        """Multi-process mode: write what the per-request families counted since the last
        call to this worker's files.

        Why not on every update: a file-backed prometheus_client value costs ~1.3 µs an
        increment and a histogram ~2.6 µs an observation, ~36 µs a request in situ (~13
        writes) against ~4 µs for Aegis's own values. The price: another worker's last
        ``sync_interval_s`` of requests reaches a scrape one sync later (counters are
        never lost by a clean exit: ``close()`` and interpreter exit sync; a killed worker
        loses at most that interval).
        """
        if not self._buffered:
            return
        with self._lock:
            for family, target in self._buffered:
                family.flush_into(target)

    def _sync_loop(self) -> None:
        while not self._stopped.wait(self.sync_interval_s):
            try:
                self.sync()
            except Exception:  # never let the thread die; the next round retries
                log.exception("metrics: writing multi-process values failed")

    def close(self) -> None:
        """This worker is exiting: write its last counts, drop its live-gauge files
        (multi-process mode)."""
        self._stopped.set()
        if self._buffered:
            atexit.unregister(self.sync)
            self.sync()
        if self.multiprocess_dir is not None:
            mark_process_dead(os.getpid(), self.multiprocess_dir)  # type: ignore[no-untyped-call]


_STATUSES = frozenset({"ok", "error", "cancelled"})
_REQUEST_STATUSES = frozenset({"ok", "error", "cancelled", "refused"})
_ENDPOINT_LABELS = frozenset(ENDPOINTS.values())


def route_labels(settings: Settings) -> set[str]:
    """Every ``Decision.route`` value the configuration can produce."""
    policy = settings.routing
    return {"pinned", *(f"route:{n}" for n in policy.routes),
            *(f"rule:{r.name}" for r in policy.rules), *(f"strategy:{s}" for s in STRATEGIES)}


def endpoint_label(path: str) -> str:
    return ENDPOINTS.get(path, OTHER)


def _code_label(code: int) -> str:
    return str(code) if code in _CODES else f"{code // 100}xx"


def _build(spec: MetricSpec, registry: CollectorRegistry | None) -> Any:
    factory: Callable[..., Any]
    kwargs: dict[str, Any] = {"registry": registry}
    if spec.kind == "counter":
        factory = Counter
    elif spec.kind == "histogram":
        factory, kwargs["buckets"] = Histogram, spec.buckets
    else:
        factory, kwargs["multiprocess_mode"] = Gauge, spec.mode
    return factory(spec.name, spec.doc, spec.labels, **kwargs)


__all__ = [
    "ANONYMOUS_KEY", "CIRCUIT_STATES", "ENDPOINTS", "OTHER", "SPECS", "Bounded", "MetricSpec",
    "Metrics", "endpoint_label", "route_labels", "series_names",
]
