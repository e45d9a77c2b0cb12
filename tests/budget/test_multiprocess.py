"""Four worker processes sharing one SQLite file never overshoot a hard limit."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest

from aegis.budget import BudgetManager, SqliteBudgetBackend
from aegis.ledger.sqlite import SqliteLedgerStore
from aegis.ledger.store import usd_to_nusd
from tests.budget.helpers import hammer, shared_budgets, ts


@pytest.mark.parametrize("leased", [False, True], ids=["transactions", "leases"])
def test_four_processes_settled_never_exceeds_limit(tmp_path: Path, leased: bool) -> None:
    path = str(tmp_path / "shared.db")
    SqliteLedgerStore(path).close()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        start_at = time.time() + 3.0  # past the children's start-up
        results = pool.starmap(hammer, [(path, seed, 150, start_at, leased)
                                       for seed in range(4)])
    granted = [g for result in results for g in result]
    assert sum(1 for r in results if r) >= 2  # several processes got some through...
    assert len(granted) < 4 * 4 * 150 / 2  # ...and most were refused

    store = SqliteLedgerStore(path)
    manager = BudgetManager(shared_budgets(), SqliteBudgetBackend(store),
                            clock=lambda: ts(2026, 11, 6))
    status = {s.budget.name: s for s in manager.status()}
    expected = {
        "global": sum(a for _, _, a in granted),
        "openai": sum(a for p, _, a in granted if p == "openai"),
        "research": sum(a for _, t, a in granted if t == "research"),
    }
    for b in shared_budgets():
        s = status[b.name]
        assert usd_to_nusd(s.spent_usd) == expected[b.name], b.name
        assert s.spent_usd <= b.limit_usd and s.reserved_usd == 0
    # the budgets were actually contended: each is close to full
    assert status["research"].spent_usd > 0.5 * 0.7
    manager.close()
    store.close()
