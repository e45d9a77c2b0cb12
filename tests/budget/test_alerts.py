"""Threshold alerts: once per threshold per period; log, hook and a real webhook POST."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from aegis.budget import Alerter, BudgetAlert, BudgetDef, BudgetManager, Denied, Reservation
from aegis.budget.backends import SqliteBudgetBackend
from aegis.ledger import Scope
from aegis.ledger.sqlite import SqliteLedgerStore
from tests.budget.helpers import Clock, ts


class Hook:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.event = threading.Event()


@pytest.fixture
def webhook() -> Iterator[tuple[str, Hook]]:
    hook = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            hook.received.append({"path": self.path, "type": self.headers["content-type"],
                                  "json": json.loads(body)})
            self.send_response(204)
            self.end_headers()
            hook.event.set()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/budget", hook
    server.shutdown()
    server.server_close()


def spend(m: BudgetManager, usd: float) -> None:
    r = m.reserve(m.budgets, usd)
    assert isinstance(r, Reservation)
    m.settle(r, usd)


def test_thresholds_fire_once_per_period(
    webhook: tuple[str, Hook], caplog: pytest.LogCaptureFixture
) -> None:
    url, hook = webhook
    seen: list[BudgetAlert] = []
    clock = Clock(ts(2026, 11, 6, 12))
    b = BudgetDef("team-r", Scope("team", "r"), 10.0, "monthly", alert_at=(0.5, 0.8, 1.0),
                  webhook=url)
    m = BudgetManager([b], clock=clock, alerter=Alerter([seen.append]))
    caplog.set_level(logging.WARNING, logger="aegis.budget")

    spend(m, 4.0)
    assert seen == []
    spend(m, 1.0)  # 5.0: exactly 50%
    spend(m, 0.5)
    spend(m, 3.0)  # 8.5: crosses 80%
    spend(m, 1.5)  # 10.0: crosses 100%
    assert [a.threshold for a in seen] == [0.5, 0.8, 1.0]
    assert [a.spend_usd for a in seen] == [5.0, 8.5, 10.0]
    m.flush()
    assert len(hook.received) == 3
    first = hook.received[0]
    assert first["path"] == "/hooks/budget" and first["type"] == "application/json"
    assert first["json"] == {"budget": "team-r", "scope": "team:r", "period": "M2026-11",
                             "spend_usd": 5.0, "limit_usd": 10.0, "threshold": 0.5,
                             "at": "2026-11-06T12:00:00Z"}
    records = [r for r in caplog.records if getattr(r, "event", None) == "budget_alert"]
    assert [(r.budget, r.spend, r.limit, r.threshold) for r in records] == [  # type: ignore[attr-defined]
        ("team-r", 5.0, 10.0, 0.5), ("team-r", 8.5, 10.0, 0.8), ("team-r", 10.0, 10.0, 1.0)]
    assert all(r.name == "aegis.budget" for r in records)

    clock.now = ts(2026, 12, 1)  # a new period: thresholds are armed again
    spend(m, 6.0)
    assert [a.threshold for a in seen] == [0.5, 0.8, 1.0, 0.5]
    assert seen[-1].period == "M2026-12"
    m.close()


def test_a_failing_webhook_or_hook_never_reaches_the_request(
    caplog: pytest.LogCaptureFixture
) -> None:
    def broken(alert: BudgetAlert) -> None:
        raise RuntimeError("metrics down")

    b = BudgetDef("g", Scope("global"), 1.0, alert_at=(0.5,), webhook="http://127.0.0.1:9/x")
    m = BudgetManager([b], clock=Clock(ts(2026, 11, 6)),
                      alerter=Alerter([broken], webhook_timeout_s=0.5))
    spend(m, 0.6)  # does not raise
    m.flush()
    assert m.alerter.failed == 1 and m.alerter.sent == 0
    assert any("webhook" in r.message and "failed" in r.message for r in caplog.records)
    assert any("hook" in r.message and r.exc_info for r in caplog.records)
    m.close()


def test_no_refire_after_restart_or_across_processes(tmp_path: Path) -> None:
    """Two managers on one SQLite file: each crossing is seen by exactly one settlement."""
    store = SqliteLedgerStore(tmp_path / "a.db")
    seen: list[BudgetAlert] = []
    clock = Clock(ts(2026, 11, 6))
    b = BudgetDef("g", Scope("global"), 10.0)
    m1 = BudgetManager([b], SqliteBudgetBackend(store), clock=clock, alerter=Alerter([seen.append]))
    m2 = BudgetManager([b], SqliteBudgetBackend(store), clock=clock, alerter=Alerter([seen.append]))
    for m in (m1, m2, m1, m2):
        spend(m, 2.5)
    m1.flush()
    m2.flush()
    assert [a.threshold for a in seen] == [0.8, 1.0]
    m1.close()
    m3 = BudgetManager([b], SqliteBudgetBackend(store), clock=clock, alerter=Alerter([seen.append]))
    assert m3.status()[0].spent_usd == 10.0
    assert isinstance(m3.reserve(m3.budgets, 0.01), object)
    m3.close()
    m2.close()
    assert [a.threshold for a in seen] == [0.8, 1.0]
    store.close()


def test_sub_cent_amounts_are_not_rounded_to_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """A $0.0005 budget's refusal and alert show its limit, not "$0.00"."""
    b = BudgetDef("tiny", Scope("global"), 0.0005, alert_at=(0.02,), on_exceed="reject")
    m = BudgetManager([b], clock=Clock(ts(2026, 11, 6)))
    caplog.set_level(logging.WARNING, logger="aegis.budget")
    spend(m, 0.000011)
    (alert,) = [r.getMessage() for r in caplog.records
                if getattr(r, "event", None) == "budget_alert"]
    assert "reached 2% of its limit: $0.000011 of $0.0005 " in alert
    denied = m.reserve(m.budgets, 0.000624)
    assert isinstance(denied, Denied)
    assert denied.error().message.endswith(
        "up to $0.000624 needed, $0.000489 of $0.0005 left")
    m.close()
