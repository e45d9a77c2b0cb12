"""Budget threshold alerts: a structured log event, metric hooks, an optional webhook.

What triggers one: a settlement that moves a budget's **settled** spend from
below ``threshold x limit`` to at or above it. Settled spend (not spend +
reserved) is what was actually charged; reservations are worst-case bounds
that are mostly returned, so alerting on them would cry wolf. Spend never
decreases within a period and each settlement is one atomic update (under the
backend's lock or SQLite transaction), so exactly one settlement sees the
crossing: each threshold fires **once per period**, also across processes, and
a restart does not re-fire thresholds that were already crossed.

The webhook POST runs on a background thread with a short timeout; failures
are logged and never reach a request. Hooks run inline (on the thread that
settled, which can be a budget worker thread): keep them quick and thread-safe,
as metric counters are.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from aegis.ledger.store import usd_text

log = logging.getLogger("aegis.budget")


@dataclass(frozen=True, slots=True)
class BudgetAlert:
    budget: str
    scope: str
    period: str  # the period key, e.g. M2026-11
    spend_usd: float
    limit_usd: float
    threshold: float
    at: float  # unix seconds

    def payload(self) -> dict[str, Any]:
        """The webhook body: ``{budget, scope, period, spend_usd, limit_usd, threshold, at}``."""
        out = asdict(self)
        out["at"] = datetime.fromtimestamp(self.at, UTC).isoformat().replace("+00:00", "Z")
        return out


AlertHook = Callable[[BudgetAlert], None]


class Alerter:
    def __init__(self, hooks: Sequence[AlertHook] = (), *, webhook_timeout_s: float = 3.0):
        self._hooks: list[AlertHook] = list(hooks)
        self._timeout = webhook_timeout_s
        self._queue: queue.SimpleQueue[tuple[str, dict[str, Any]] | threading.Event | None] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.sent = 0
        self.failed = 0

    def add_hook(self, hook: AlertHook) -> None:
        self._hooks.append(hook)

    def emit(self, alert: BudgetAlert, webhook: str | None = None) -> None:
        """Log, call hooks, queue the webhook. Never raises."""
        log.warning(
            "budget %r reached %.0f%% of its limit: %s of %s (%s, %s)",
            alert.budget, alert.threshold * 100, usd_text(alert.spend_usd),
            usd_text(alert.limit_usd),
            alert.scope, alert.period,
            extra={"event": "budget_alert", "budget": alert.budget, "scope": alert.scope,
                   "period": alert.period, "spend": alert.spend_usd,
                   "limit": alert.limit_usd, "threshold": alert.threshold},
        )
        for hook in list(self._hooks):
            try:
                hook(alert)
            except Exception:
                log.exception("budget alert hook %r failed", hook)
        if webhook:
            self._ensure_thread()
            self._queue.put((webhook, alert.payload()))

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Wait until queued webhooks were attempted (tests, shutdown)."""
        if self._thread is None:
            return True
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def close(self, timeout: float | None = 5.0) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None

    def _ensure_thread(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="aegis-budget-webhooks",
                                                daemon=True)
                self._thread.start()

    def _run(self) -> None:
        with httpx.Client(timeout=self._timeout, follow_redirects=False) as client:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                if isinstance(item, threading.Event):
                    item.set()
                    continue
                url, payload = item
                try:
                    response = client.post(url, content=json.dumps(payload),
                                           headers={"content-type": "application/json",
                                                    "user-agent": "aegis-budget-alerts"})
                    response.raise_for_status()
                    self.sent += 1
                except Exception as exc:
                    self.failed += 1
                    log.warning("budget webhook for %r failed: %s", payload.get("budget"), exc,
                                extra={"event": "budget_webhook_failed",
                                       "budget": payload.get("budget")})


__all__ = ["AlertHook", "Alerter", "BudgetAlert"]
