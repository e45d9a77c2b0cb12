"""A settable clock, and the entry point of the multi-process budget test."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from aegis.budget.model import BudgetDef
from aegis.ledger import Scope


def ts(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()  # type: ignore[misc]


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def shared_budgets() -> list[BudgetDef]:
    return [
        BudgetDef("global", Scope("global"), 3.0, "monthly"),
        BudgetDef("openai", Scope("provider", "openai"), 1.2, "monthly"),
        BudgetDef("research", Scope("team", "research"), 0.7, "monthly"),
    ]


def hammer(path: str, seed: int, count: int, start_at: float = 0.0, leased: bool = False
           ) -> list[tuple[str, str | None, int]]:
    """Child process: many threads reserving and settling on the shared SQLite file
    (``leased``: through this process's leases, as ``aegis serve --workers N`` does).

    Returns the (provider, team, actual nano-dollars) of every granted request.
    """
    import threading
    import time

    from aegis.budget.backends import BudgetBackend, SqliteBudgetBackend
    from aegis.budget.leases import LeasedBudgetBackend
    from aegis.budget.manager import BudgetManager, Reservation
    from aegis.ledger.sqlite import SqliteLedgerStore
    from aegis.ledger.store import usd_to_nusd

    store = SqliteLedgerStore(path, busy_timeout_s=30)
    shared = SqliteBudgetBackend(store)
    backend: BudgetBackend = (
        LeasedBudgetBackend(shared, workers=4, clock=lambda: ts(2026, 11, 6))
        if leased else shared)
    manager = BudgetManager(shared_budgets(), backend, clock=lambda: ts(2026, 11, 6))
    granted: list[tuple[str, str | None, int]] = []
    lock = threading.Lock()

    def run(tid: int) -> None:
        rng = random.Random(seed * 100 + tid)
        for _ in range(count):
            provider = rng.choice(["openai", "anthropic"])
            team = rng.choice(["research", None])
            worst = rng.randrange(1, 50_000_000) / 1e9
            budgets = manager.applicable(provider, "m", team=team)
            r = manager.reserve(budgets, worst)
            if not isinstance(r, Reservation):
                continue
            time.sleep(rng.random() * 0.001)
            actual = round(worst * rng.random(), 9)
            manager.settle(r, actual)
            with lock:
                granted.append((provider, team, usd_to_nusd(actual)))

    threads = [threading.Thread(target=run, args=(t,)) for t in range(4)]
    time.sleep(max(start_at - time.time(), 0))  # every process starts together
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    manager.close()
    store.close()
    return granted
