"""Leases: two workers (two backends on one SQLite file) share budgets without a
transaction per request, and give back what they do not use."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aegis.budget import BudgetAlert, BudgetDef, BudgetManager, Reservation, SqliteBudgetBackend
from aegis.budget.leases import LeasedBudgetBackend
from aegis.ledger import Scope
from aegis.ledger.sqlite import SqliteLedgerStore
from tests.budget.helpers import Clock, ts

NOV6 = ts(2026, 11, 6, 12)


@pytest.fixture
def path(tmp_path: Path) -> Iterator[Path]:
    p = tmp_path / "shared.db"
    SqliteLedgerStore(p).close()
    yield p


def worker(path: Path, clock: Clock, limit: float = 10.0, *, owner: str,
           alerts: list[BudgetAlert] | None = None) -> BudgetManager:
    """One ``aegis serve --workers 2`` process's budget manager (no background renewals)."""
    backend = LeasedBudgetBackend(SqliteBudgetBackend(SqliteLedgerStore(path)), workers=2,
                                  owner=owner, clock=clock, sync_interval_s=3600)
    manager = BudgetManager([BudgetDef("g", Scope.parse("global"), limit, alert_at=(0.5,))],
                            backend, clock=clock)
    if alerts is not None:
        manager.alerter.add_hook(alerts.append)
    return manager


def shared_state(path: Path, clock: Clock) -> tuple[float, float]:
    manager = BudgetManager([BudgetDef("g", Scope.parse("global"), 10.0)],
                            SqliteBudgetBackend(SqliteLedgerStore(path)), clock=clock)
    (status,) = manager.status()
    manager.close()
    return status.spent_usd, status.reserved_usd


def test_requests_after_the_first_need_no_transaction(path: Path) -> None:
    clock = Clock(NOV6)
    a = worker(path, clock, owner="a")
    backend = a.backend
    assert isinstance(backend, LeasedBudgetBackend)
    (g,) = a.budgets
    first = a.reserve([g], 0.01)  # no lease yet: one renewal
    assert isinstance(first, Reservation)
    answered = [backend.try_reserve(f"t{i}", first.keys, [g.limit_nusd], 10_000_000, NOV6 + 900,
                                    NOV6) for i in range(10)]
    assert answered == [()] * 10  # granted in memory, against the lease
    # the shared store counts the lease, not each request: other workers see it held
    spent, reserved = shared_state(path, clock)
    assert spent == 0 and reserved >= 0.01 + 10 * 0.01
    a.close()


def test_an_idle_worker_gives_its_headroom_back(path: Path) -> None:
    clock = Clock(NOV6)
    a, b = worker(path, clock, owner="a"), worker(path, clock, owner="b")
    (ga,), (gb,) = a.budgets, b.budgets
    r = a.reserve([ga], 1.0)
    assert isinstance(r, Reservation)
    a.settle(r, 0.5)
    # a's lease was sized for more requests like it; b cannot have all the rest yet
    assert not isinstance(b.reserve([gb], 9.4), Reservation)
    backend = a.backend
    assert isinstance(backend, LeasedBudgetBackend)
    backend.sync()  # a's next renewal: spend flushed; nothing used since, so no headroom kept
    backend.sync()
    assert isinstance(b.reserve([gb], 9.4), Reservation)
    assert not isinstance(b.reserve([gb], 0.2), Reservation)  # 0.5 + 9.4 + 0.2 > 10
    a.close()
    b.close()


def test_settled_spend_is_never_lost_and_never_over_the_limit(path: Path) -> None:
    clock = Clock(NOV6)
    a, b = worker(path, clock, owner="a"), worker(path, clock, owner="b")
    charged = 0.0
    for i in range(400):
        m = (a, b)[i % 2]
        (g,) = m.budgets
        r = m.reserve([g], 0.05)
        if isinstance(r, Reservation):
            m.settle(r, 0.03)
            charged += 0.03
    assert 9.9 <= charged <= 10.0  # the workers used (almost) the whole budget between them
    a.close()
    b.close()
    spent, reserved = shared_state(path, clock)
    assert spent == pytest.approx(charged) and spent <= 10.0 and reserved == 0


def test_a_threshold_alerts_once_across_workers(path: Path) -> None:
    clock = Clock(NOV6)
    seen: list[BudgetAlert] = []
    a = worker(path, clock, owner="a", alerts=seen)
    b = worker(path, clock, owner="b", alerts=seen)
    for i in range(20):
        m = (a, b)[i % 2]
        (g,) = m.budgets
        r = m.reserve([g], 0.5)
        assert isinstance(r, Reservation)
        m.settle(r, 0.4)  # 8.0 in all: crosses 50% once
        if i % 3 == 0:
            for x in (a, b):
                assert isinstance(x.backend, LeasedBudgetBackend)
                x.backend.sync()
    a.close()
    b.close()
    assert [(x.budget, x.threshold) for x in seen] == [("g", 0.5)]
    assert seen[0].spend_usd >= 5.0


def test_a_dead_workers_lease_returns_to_the_pool(path: Path) -> None:
    clock = Clock(NOV6)
    a, b = worker(path, clock, owner="a"), worker(path, clock, owner="b")
    (ga,), (gb,) = a.budgets, b.budgets
    assert isinstance(a.reserve([ga], 4.0), Reservation)  # then a dies without settling
    backend = a.backend
    assert isinstance(backend, LeasedBudgetBackend)
    backend._stop.set()  # no more renewals, no final flush: a killed process
    assert not isinstance(b.reserve([gb], 7.0), Reservation)
    clock.advance(backend.lease_ttl_s + 1)
    assert isinstance(b.reserve([gb], 7.0), Reservation)
    b.close()
