"""Reserve / settle / release: hard limits, all-or-nothing, expiry, rollover, restore."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from aegis.budget import (
    BudgetBackend,
    BudgetDef,
    BudgetManager,
    Denied,
    InMemoryBudgetBackend,
    Reservation,
    SqliteBudgetBackend,
    reservation_amount,
)
from aegis.budget.leases import LeasedBudgetBackend
from aegis.budget.manager import BUDGET_COLUMNS
from aegis.errors import BudgetExceeded
from aegis.ledger import Scope
from aegis.ledger.reports import format_records
from aegis.ledger.sqlite import SqliteLedgerStore
from aegis.ledger.store import usd_to_nusd
from aegis.ledger.writer import LedgerWriter
from aegis.pricing import Prices, cost_usd
from aegis.types import Usage
from tests.budget.helpers import Clock, ts
from tests.ledger.helpers import attempt

NOV6 = ts(2026, 11, 6, 12)


def budget(name: str, limit: float, scope: str = "global", **kw: object) -> BudgetDef:
    return BudgetDef(name, Scope.parse(scope), limit, **kw)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteLedgerStore]:
    s = SqliteLedgerStore(tmp_path / "b.db")
    yield s
    s.close()


@pytest.fixture(params=["memory", "sqlite", "leased"])
def backend_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def make(kind: str, store: SqliteLedgerStore, budgets: list[BudgetDef], clock: Clock,
         **kw: object) -> BudgetManager:
    backend: BudgetBackend
    if kind == "memory":
        backend = InMemoryBudgetBackend(store)
    elif kind == "sqlite":
        backend = SqliteBudgetBackend(store)
    else:  # one worker of several: every semantic below must hold for leases too
        backend = LeasedBudgetBackend(SqliteBudgetBackend(store), workers=2, clock=clock)
    return BudgetManager(budgets, backend, clock=clock, **kw)  # type: ignore[arg-type]


def state(m: BudgetManager) -> dict[str, tuple[float, float]]:
    m.flush()
    return {s.budget.name: (s.spent_usd, s.reserved_usd) for s in m.status()}


# -- the basics ------------------------------------------------------------------------


def test_reserve_settle_release(backend_kind: str, store: SqliteLedgerStore) -> None:
    m = make(backend_kind, store, [budget("g", 10)], Clock(NOV6))
    (g,) = m.budgets
    r1 = m.reserve([g], 4)
    assert isinstance(r1, Reservation) and r1.amount_usd == 4
    denied = m.reserve([g], 7)
    assert isinstance(denied, Denied)
    assert denied.blocked[0].reserved_usd == 4 and denied.budget is g
    m.settle(r1, 3)
    assert state(m) == {"g": (3.0, 0.0)}
    r2 = m.reserve([g], 7)  # 3 + 7 == 10: exactly the limit is allowed
    assert isinstance(r2, Reservation)
    assert isinstance(m.reserve([g], 0.000000001), Denied)
    m.release(r2)
    assert state(m) == {"g": (3.0, 0.0)}
    m.settle(r1, 3)  # a second settlement of the same reservation is ignored
    assert state(m) == {"g": (3.0, 0.0)}
    m.close()


def test_all_or_nothing_across_budgets(backend_kind: str, store: SqliteLedgerStore) -> None:
    m = make(backend_kind, store, [budget("a", 10), budget("b", 5, "team:r", on_exceed="downgrade"),
                                   budget("c", 1, "provider:p", on_exceed="reject")], Clock(NOV6))
    a, b, c = m.budgets
    d = m.reserve([a, b], 6)
    assert isinstance(d, Denied) and [x.budget.name for x in d.blocked] == ["b"]
    assert d.on_exceed == "downgrade"
    assert state(m) == {"a": (0.0, 0.0), "b": (0.0, 0.0), "c": (0.0, 0.0)}  # a untouched
    d2 = m.reserve([a, b, c], 6)
    assert isinstance(d2, Denied) and d2.on_exceed == "reject" and d2.budget is c
    err = d2.error()
    assert isinstance(err, BudgetExceeded) and err.budget == "c" and err.status == 429
    assert "'c'" in err.message and "provider:p" in err.message
    ok = m.reserve([a, b], 5)
    assert isinstance(ok, Reservation)
    assert state(m) == {"a": (0.0, 5.0), "b": (0.0, 5.0), "c": (0.0, 0.0)}
    m.close()


def test_free_requests_are_never_blocked(backend_kind: str, store: SqliteLedgerStore) -> None:
    m = make(backend_kind, store, [budget("g", 1)], Clock(NOV6))
    r = m.reserve(m.budgets, 1)
    assert isinstance(r, Reservation)
    free = m.reserve(m.budgets, 0.0)
    assert isinstance(free, Reservation) and free.token == ""
    m.settle(free, 0.0)
    assert isinstance(m.reserve([], 100.0), Reservation)  # no budget applies
    m.close()


def test_applicable_and_register() -> None:
    m = BudgetManager([budget("g", 1), budget("p", 1, "provider:openai"),
                       budget("mo", 1, "model:gpt"), budget("k", 1, "key:alice"),
                       budget("t", 1, "team:r"), budget("w", 1, "workspace:w")])
    names = [b.name for b in m.applicable("openai", "gpt", key_id="key_1", key_name="alice",
                                          team="r", workspace="w")]
    assert names == ["g", "p", "mo", "k", "t", "w"]
    assert [b.name for b in m.applicable("ollama", "llama")] == ["g"]
    m.register(budget("k2", 2, "key:key_1"))
    m.register(budget("k2", 2, "key:key_1"))  # idempotent
    assert [b.name for b in m.applicable("x", "y", key_id="key_1")] == ["g", "k2"]
    m.register(budget("k2", 3, "key:key_1"))  # replaced by name
    assert [b.limit_usd for b in m.budgets if b.name == "k2"] == [3]


def test_reservation_amount_is_a_true_upper_bound() -> None:
    prices = Prices(input=2.5, output=10.0, cached_input=1.25)
    messages = [{"role": "user", "content": "hello there " * 50}]
    worst = reservation_amount(messages, None, 256, prices)
    real = cost_usd(Usage(prompt_tokens=160, completion_tokens=256), prices)
    assert worst >= real > 0


# -- concurrency ---------------------------------------------------------------------------


async def test_hundreds_of_concurrent_tasks_never_overshoot(
    backend_kind: str, store: SqliteLedgerStore
) -> None:
    budgets = [budget("global", 3.0), budget("openai", 1.2, "provider:openai"),
               budget("research", 0.7, "team:research")]
    m = make(backend_kind, store, budgets, Clock(NOV6))
    rng = random.Random(42)
    granted: list[tuple[str, str | None, int]] = []
    denied = 0

    async def request(i: int) -> None:
        nonlocal denied
        provider = rng.choice(["openai", "anthropic"])
        team = rng.choice(["research", None])
        worst = rng.randrange(1, 60_000_000) / 1e9
        r = await m.areserve(m.applicable(provider, "m", team=team), worst)
        if isinstance(r, Denied):
            denied += 1
            return
        await asyncio.sleep(rng.random() * 0.01)
        if rng.random() < 0.1:
            m.release(r)  # the call never happened
            return
        actual = round(worst * rng.random(), 9)
        m.settle(r, actual)
        granted.append((provider, team, usd_to_nusd(actual)))

    await asyncio.gather(*(request(i) for i in range(600)))
    m.flush()
    spent = {s.budget.name: s for s in m.status()}
    assert denied > 100 and len(granted) > 50  # the limits allow only a fraction
    expected = {
        "global": sum(a for _, _, a in granted),
        "openai": sum(a for p, _, a in granted if p == "openai"),
        "research": sum(a for _, t, a in granted if t == "research"),
    }
    for b in budgets:
        s = spent[b.name]
        assert usd_to_nusd(s.spent_usd) == expected[b.name]  # every grant hit every budget
        assert s.spent_usd <= b.limit_usd and s.reserved_usd == 0
    m.close()


def test_threads_contending_on_the_memory_backend() -> None:
    m = BudgetManager([budget("g", 5.0), budget("t", 2.0, "team:x")])
    g, t = m.budgets
    totals = [0, 0]
    lock = threading.Lock()

    def run(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(2000):
            team = rng.random() < 0.5
            worst = rng.randrange(1, 10_000_000) / 1e9
            r = m.reserve([g, t] if team else [g], worst)
            if isinstance(r, Reservation):
                actual = round(worst * rng.random(), 9)
                m.settle(r, actual)
                with lock:
                    totals[0] += usd_to_nusd(actual)
                    totals[1] += usd_to_nusd(actual) if team else 0

    threads = [threading.Thread(target=run, args=(s,)) for s in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    got = {s.budget.name: s for s in m.status()}
    assert usd_to_nusd(got["g"].spent_usd) == totals[0] <= g.limit_nusd
    assert usd_to_nusd(got["t"].spent_usd) == totals[1] <= t.limit_nusd
    assert got["g"].reserved_usd == got["t"].reserved_usd == 0


# -- expiry, overruns --------------------------------------------------------------------


def test_unsettled_reservations_expire(backend_kind: str, store: SqliteLedgerStore) -> None:
    clock = Clock(NOV6)
    m = make(backend_kind, store, [budget("g", 10)], clock, reservation_ttl_s=60)
    lost = m.reserve(m.budgets, 8)
    assert isinstance(lost, Reservation)
    assert isinstance(m.reserve(m.budgets, 8), Denied)
    clock.advance(59)
    assert m.expire() == 0
    clock.advance(2)
    again = m.reserve(m.budgets, 8)  # the lazy sweep returned the lost hold first
    assert isinstance(again, Reservation)
    assert state(m) == {"g": (0.0, 8.0)}
    # the dead request's late settlement is still charged (spend is never under-reported)
    m.settle(lost, 1.5)
    assert state(m) == {"g": (1.5, 8.0)}
    m.settle(again, 8)
    assert state(m) == {"g": (9.5, 0.0)}
    m.close()


def test_overrun_is_recorded_and_closes_the_budget(
    backend_kind: str, store: SqliteLedgerStore, caplog: pytest.LogCaptureFixture
) -> None:
    m = make(backend_kind, store, [budget("g", 10)], Clock(NOV6))
    r = m.reserve(m.budgets, 9)
    assert isinstance(r, Reservation)
    m.settle(r, 12)  # the provider billed more than the worst case
    assert state(m) == {"g": (12.0, 0.0)}
    assert isinstance(m.reserve(m.budgets, 0.01), Denied)
    assert any("exceeded the reservation" in rec.message for rec in caplog.records)
    m.close()


# -- periods and restarts ----------------------------------------------------------------


@pytest.mark.parametrize(("period", "before", "after"), [
    ("monthly", ts(2026, 11, 30, 23, 59, 59), ts(2026, 12, 1)),
    ("weekly", ts(2026, 11, 8, 23, 59, 59), ts(2026, 11, 9)),  # Sunday -> Monday
    ("daily", ts(2026, 11, 6, 23, 59, 59), ts(2026, 11, 7)),
])
def test_period_rollover(backend_kind: str, store: SqliteLedgerStore, period: str,
                         before: float, after: float) -> None:
    clock = Clock(before)
    m = make(backend_kind, store, [budget("b", 10, period=period)], clock)
    r = m.reserve(m.budgets, 9)
    assert isinstance(r, Reservation)
    straddling = m.reserve(m.budgets, 1)
    assert isinstance(straddling, Reservation)
    m.settle(r, 9)
    assert isinstance(m.reserve(m.budgets, 1), Denied)
    clock.now = after
    fresh = m.reserve(m.budgets, 9)
    assert isinstance(fresh, Reservation)
    m.settle(straddling, 1)  # belongs to the period it was reserved in
    assert state(m) == {"b": (0.0, 9.0)}
    old = m.status(before)
    assert (old[0].window.key != m.status()[0].window.key)
    assert (old[0].spent_usd, old[0].reserved_usd) == (10.0, 0.0)
    m.close()


def test_restart_restores_spend_from_the_ledger(tmp_path: Path) -> None:
    path = tmp_path / "restart.db"
    budgets = [budget("all", 100), budget("openai", 10, "provider:openai"),
               budget("bob", 5, "key:bob", period="daily")]
    clock = Clock(ts(2026, 11, 6, 12))
    store = SqliteLedgerStore(path)
    writer = LedgerWriter(store)
    m = BudgetManager(budgets, InMemoryBudgetBackend(store), clock=clock)
    m.restore()
    for i, (provider, key, cost) in enumerate([("openai", "bob", 1.25), ("anthropic", "bob", 2.0),
                                               ("openai", None, 0.000000007), ("x", "al", 0.5)]):
        r = m.reserve(m.applicable(provider, "m", key_name=key), cost)
        assert isinstance(r, Reservation)
        m.settle(r, cost)
        writer.record(attempt(request_id=f"r{i}", provider=provider, key_name=key,
                              cost_usd=cost, started_at=clock()))
    writer.close()
    before = {s.budget.name: s.spent_usd for s in m.status()}
    assert before == {"all": 3.750000007, "openai": 1.250000007, "bob": 3.25}
    m.close()
    store.close()

    store2 = SqliteLedgerStore(path)  # a new process
    m2 = BudgetManager(budgets, InMemoryBudgetBackend(store2), clock=clock)
    m2.restore()
    assert {s.budget.name: s.spent_usd for s in m2.status()} == before
    assert isinstance(m2.reserve(m2.applicable("x", "m", key_name="bob"), 1.75), Reservation)
    assert isinstance(m2.reserve(m2.applicable("x", "m", key_name="bob"), 0.01), Denied)
    clock.now = ts(2026, 11, 7)  # bob's daily budget rolls over; the monthly ones do not
    after = {s.budget.name: s.spent_usd for s in m2.status()}
    assert after == {"all": 3.750000007, "openai": 1.250000007, "bob": 0.0}
    m2.close()
    store2.close()


def test_sqlite_state_survives_and_new_budgets_restore(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    clock = Clock(NOV6)
    store = SqliteLedgerStore(path)
    store.insert([attempt(cost_usd=2.0, provider="openai")])  # spent before budgets existed
    m = BudgetManager([budget("g", 10)], SqliteBudgetBackend(store), clock=clock)
    r = m.reserve(m.budgets, 3)
    assert isinstance(r, Reservation)
    m.settle(r, 3)
    assert state(m) == {"g": (5.0, 0.0)}  # 2 restored from the ledger + 3 settled
    held = m.reserve(m.budgets, 4)  # outstanding when the process "dies"
    assert isinstance(held, Reservation)
    m.close()

    m2 = BudgetManager([budget("g", 10), budget("p", 4, "provider:openai")],
                       SqliteBudgetBackend(store), clock=clock, reservation_ttl_s=900)
    assert state(m2) == {"g": (5.0, 4.0), "p": (2.0, 0.0)}
    clock.advance(901)  # the dead worker's hold expires for everyone
    m2.expire()
    assert state(m2) == {"g": (5.0, 0.0), "p": (2.0, 0.0)}
    m2.close()
    # a stretch with the in-memory backend (one worker) wrote the ledger only
    store.insert([attempt(cost_usd=4.0, provider="openai")])
    m3 = BudgetManager([budget("g", 10)], SqliteBudgetBackend(store), clock=clock)
    m3.restore()  # startup lifts the stored 5.0 to the ledger's 6.0 (max, never a sum)
    assert state(m3) == {"g": (6.0, 0.0)}
    m3.close()
    store.close()


def test_status_projection() -> None:
    clock = Clock(ts(2026, 11, 16))  # half of November
    m = BudgetManager([budget("m", 10), budget("t", 10, period="total")], clock=clock)
    r = m.reserve(m.budgets, 5)
    assert isinstance(r, Reservation)
    m.settle(r, 4)
    monthly, total = m.status()
    assert (monthly.spent_usd, monthly.utilisation, monthly.projected_usd) == (4.0, 0.4, 8.0)
    assert total.projected_usd is None
    table = format_records([s.to_dict() for s in m.status()], BUDGET_COLUMNS)
    assert "40.0%" in table and "$8.000000" in table and "2026-11-01" in table
    d = monthly.to_dict()
    assert d["period_start"] == "2026-11-01" and d["limit_usd"] == 10 and d["period_key"] == \
        "M2026-11"


def test_backend_for(store: SqliteLedgerStore) -> None:
    from aegis.budget import backend_for
    from aegis.errors import ConfigError

    assert isinstance(backend_for(store, 1), InMemoryBudgetBackend)
    shared = backend_for(store, 4)
    assert isinstance(shared, LeasedBudgetBackend) and shared.workers == 4
    shared.close()
    with pytest.raises(ConfigError, match="workers"):
        backend_for(SqliteLedgerStore(":memory:"), 2)
