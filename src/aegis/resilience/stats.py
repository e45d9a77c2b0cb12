"""Live per-(provider, model) counters for ``GET /admin/stats`` and ``aegis stats``.

A ``Recorder``: the engine hands it every attempt. Recording is O(1) under a lock
and memory is bounded per key: latencies go into a fixed log-bucket histogram
(~4.4% relative precision from 10 µs to hours), never into a growing list. Counts
are since process start; the ledger is the durable history.

Latency percentiles cover successful attempts only (a fast 500 is not a fast
answer). ``retries`` counts attempts with ``attempt.retry > 0`` (a repeat on the
same candidate); ``fallbacks`` counts first tries on a fallback candidate
(``attempt.attempt > 0``).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from aegis.records import Attempt, Recorder

_MIN_MS = 0.01
_PER_OCTAVE = 8
_RATIO = 2.0 ** (1 / _PER_OCTAVE)
_BUCKETS = 30 * _PER_OCTAVE + 2  # [0, min), 240 log buckets up to ~3 h, overflow
_CANCELLED = ("cancelled", "client_disconnected")


class Histogram:
    """Fixed log-spaced buckets: O(1) add, bounded memory, mergeable across keys."""

    __slots__ = ("buckets", "count", "max", "min", "total")

    def __init__(self) -> None:
        self.buckets = [0] * _BUCKETS
        self.count = 0
        self.total = 0.0
        self.min = math.inf
        self.max = -math.inf

    def add(self, value: float) -> None:
        if not math.isfinite(value) or value < 0:
            return
        if value < _MIN_MS:
            index = 0
        else:
            index = 1 + int(math.log(value / _MIN_MS, _RATIO))
            if index > _BUCKETS - 1:
                index = _BUCKETS - 1
        self.buckets[index] += 1
        self.count += 1
        self.total += value
        # ``if``s rather than min()/max() (two builtin calls per attempt); same result,
        # ties keep the value already there, as min()/max() do.
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value

    def merge(self, other: Histogram) -> None:
        for i, n in enumerate(other.buckets):
            if n:
                self.buckets[i] += n
        self.count += other.count
        self.total += other.total
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)

    def percentile(self, q: float) -> float | None:
        """Nearest-rank percentile (0 < q <= 1), interpolated inside its bucket."""
        if not self.count:
            return None
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for i, n in enumerate(self.buckets):
            if seen + n >= rank:
                if i == 0:
                    low, high = 0.0, _MIN_MS
                else:
                    low = _MIN_MS * _RATIO ** (i - 1)
                    high = low * _RATIO if i < _BUCKETS - 1 else max(low, self.max)
                value = low + (high - low) * (rank - seen) / n
                return min(self.max, max(self.min, value))
            seen += n
        return self.max  # pragma: no cover - counts always add up


class _Counters:
    __slots__ = ("cancelled", "completion_tokens", "cost_usd", "failures", "fallbacks",
                 "latency", "prompt_tokens", "requests", "retries", "successes", "ttft")

    def __init__(self) -> None:
        self.requests = self.successes = self.cancelled = self.retries = self.fallbacks = 0
        self.prompt_tokens = self.completion_tokens = 0
        self.cost_usd = 0.0
        self.failures: dict[str, int] = {}
        self.latency = Histogram()
        self.ttft = Histogram()

    def merge(self, other: _Counters) -> None:
        for name in ("requests", "successes", "cancelled", "retries", "fallbacks",
                     "prompt_tokens", "completion_tokens", "cost_usd"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for kind, n in other.failures.items():
            self.failures[kind] = self.failures.get(kind, 0) + n
        self.latency.merge(other.latency)
        self.ttft.merge(other.ttft)

    def view(self) -> dict[str, Any]:
        failed = sum(self.failures.values())
        decided = self.successes + failed
        return {
            "requests": self.requests,
            "successes": self.successes,
            "failures": failed,
            "failures_by_kind": dict(sorted(self.failures.items())),
            "cancelled": self.cancelled,
            "retries": self.retries,
            "fallbacks": self.fallbacks,
            "success_rate": round(self.successes / decided, 4) if decided else None,
            "latency_ms": _quantiles(self.latency),
            "ttft_ms": _quantiles(self.ttft),
            "tokens": {"in": self.prompt_tokens, "out": self.completion_tokens},
            "cost_usd": round(self.cost_usd, 6),
        }


def _quantiles(h: Histogram) -> dict[str, float | None]:
    def r(v: float | None) -> float | None:
        return None if v is None else round(v, 1)

    return {"p50": r(h.percentile(0.5)), "p95": r(h.percentile(0.95)),
            "max": r(h.max if h.count else None), "samples": h.count}


class Stats(Recorder):
    def __init__(self, *, wallclock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._keys: dict[tuple[str, str], _Counters] = {}
        self._wallclock = wallclock
        self._since = wallclock()

    def record(self, attempt: Attempt) -> None:
        # Each field read once (measured with the ``if``s in ``Histogram.add``: 1.79 µs ->
        # 1.34 µs per attempt, isolated). ``retry`` is a field of every ``Attempt`` now.
        key = (attempt.provider, attempt.model)
        status, usage = attempt.status, attempt.usage
        with self._lock:
            c = self._keys.get(key)
            if c is None:
                c = self._keys[key] = _Counters()
            c.requests += 1
            if attempt.retry:
                c.retries += 1
            elif attempt.attempt > 0:
                c.fallbacks += 1
            if status == "ok":
                c.successes += 1
                c.latency.add(attempt.latency_ms)
                if attempt.ttft_ms is not None:
                    c.ttft.add(attempt.ttft_ms)
            elif status == "cancelled" or attempt.error_kind in _CANCELLED:
                c.cancelled += 1
            else:
                kind = attempt.error_kind or "unknown"
                c.failures[kind] = c.failures.get(kind, 0) + 1
            c.prompt_tokens += usage.prompt_tokens
            c.completion_tokens += usage.completion_tokens
            c.cost_usd += attempt.cost_usd

    def snapshot(self) -> dict[str, Any]:
        """JSON-able: totals, and per provider its totals plus ``models``."""
        totals = _Counters()
        providers: dict[str, _Counters] = {}
        models: dict[str, dict[str, dict[str, Any]]] = {}
        with self._lock:
            for (provider, model), c in sorted(self._keys.items()):
                totals.merge(c)
                providers.setdefault(provider, _Counters()).merge(c)
                models.setdefault(provider, {})[model] = c.view()
        now = self._wallclock()
        return {
            "since": round(self._since, 3),
            "uptime_s": round(now - self._since, 3),
            "totals": totals.view(),
            "providers": {name: {**c.view(), "models": models[name]}
                          for name, c in providers.items()},
        }

    def reset(self) -> None:
        with self._lock:
            self._keys.clear()
            self._since = self._wallclock()


# -- the ``aegis stats`` table ---------------------------------------------------------

_COLUMNS = ("PROVIDER", "MODEL", "STATE", "REQS", "OK", "FAIL", "RETRY", "FALLBK", "P50",
            "P95", "TOK IN", "TOK OUT", "ERRORS")


def format_table(snapshot: Mapping[str, Any],
                 breakers: Mapping[str, Any] | None = None) -> str:
    """A fixed-width table from ``Stats.snapshot()`` (e.g. fetched from ``/admin/stats``);
    ``breakers`` (``CircuitBreaker.snapshot()``) adds each row's circuit state."""
    circuits = (breakers or {}).get("providers", {})
    rows: list[tuple[str, ...]] = []
    for provider, pv in snapshot.get("providers", {}).items():
        pstate = circuits.get(provider, {})
        for model, mv in pv.get("models", {}).items():
            state = pstate.get("models", {}).get(model, {}).get("state")
            if pstate.get("state") == "open" and pstate.get("provider_circuit"):
                state = "open"
            rows.append(_row(provider, model, state or ("closed" if breakers else "-"), mv))
    if not rows:
        return "no requests yet"
    rows.append(_row("TOTAL", "", "", snapshot.get("totals", {})))
    columns = _COLUMNS if breakers else tuple(c for c in _COLUMNS if c != "STATE")
    if not breakers:
        rows = [r[:2] + r[3:] for r in rows]
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(columns)]
    lines = [_line(columns, widths)]
    lines += [_line(r, widths) for r in rows]
    return "\n".join(lines)


def _row(provider: str, model: str, state: str, v: Mapping[str, Any]) -> tuple[str, ...]:
    lat, tokens = v.get("latency_ms", {}), v.get("tokens", {})
    errs = sorted(v.get("failures_by_kind", {}).items(), key=lambda kv: (-kv[1], kv[0]))
    return (provider, model, state, str(v.get("requests", 0)), str(v.get("successes", 0)),
            str(v.get("failures", 0)), str(v.get("retries", 0)), str(v.get("fallbacks", 0)),
            _ms(lat.get("p50")), _ms(lat.get("p95")), _count(tokens.get("in", 0)),
            _count(tokens.get("out", 0)), " ".join(f"{k}:{n}" for k, n in errs[:3]) or "-")


def _line(cells: Iterable[str], widths: list[int]) -> str:
    return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}ms" if value < 1000 else f"{value / 1000:.2f}s"


def _count(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    return f"{n / 1000:.1f}k" if n >= 10_000 else str(n)
