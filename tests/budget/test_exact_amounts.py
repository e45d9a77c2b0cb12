"""Reservations made in exact nano-dollars hold what the USD path held.

The engine reserves ``reservation_nusd`` / ``worst_case_nusd`` through ``reserve_now``
(and ``reserve_off_loop`` when the backend needs I/O) instead of a USD float through
``areserve``; the in-memory backend's settle takes its open reservation without a
detour. Each is checked against the general path over varied inputs.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

from aegis.budget import (
    Alerter,
    BudgetAlert,
    BudgetDef,
    BudgetManager,
    Denied,
    Reservation,
    SqliteBudgetBackend,
)
from aegis.budget.backends import InMemoryBudgetBackend
from aegis.budget.manager import BudgetSet, reservation_amount, reservation_nusd
from aegis.catalog import load_catalog
from aegis.ledger import Scope
from aegis.ledger.sqlite import SqliteLedgerStore
from aegis.ledger.store import usd_to_nusd_ceil
from aegis.pricing import (
    PICO_PER_USD,
    Prices,
    PriceTier,
    worst_case_cost,
    worst_case_nusd,
    worst_case_picousd,
)
from tests.budget.helpers import Clock, ts

NOV6 = ts(2026, 11, 6, 12)
TEXTS = ["", "Say hello.", "héllo wörld", "日本語のテキスト", "emoji 🎉🎉", "\ud800 lone surrogate",
         "x" * 5000, "tab\tand\nnewline"]


def _prices() -> list[Prices]:
    models = [info.prices for info in load_catalog()]
    return [*models, Prices(0.0028, 0.0025), Prices(0.003625, 1e-7, 12.5, 0.3), Prices(0, 0),
            Prices(3.0, 15.0, tiers=(PriceTier(200_000, Prices(6.0, 22.5)),)),
            Prices(1e6, 1e6)]


def _message(rng: random.Random) -> dict[str, Any]:
    content: Any = rng.choice(TEXTS)
    if rng.random() < 0.3:
        content = [{"type": "text", "text": rng.choice(TEXTS)},
                   {"type": "image_url", "image_url": {"url": "data:,"}}]
    message: dict[str, Any] = {"role": rng.choice(["user", "system", "assistant"]),
                               "content": content}
    if rng.random() < 0.2:
        message["name"] = rng.choice(TEXTS)
    if rng.random() < 0.1:
        message["tool_calls"] = [{"id": "c1", "type": "function",
                                  "function": {"name": "f", "arguments": "{\"a\": 1}"}}]
    if rng.random() < 0.1:
        message["content"] = None
    return message


def test_worst_case_nusd_is_the_usd_worst_case_rounded_up() -> None:
    rng = random.Random(11)
    for prices in _prices():
        for _ in range(300):
            prompt = rng.choice([rng.randint(-5, 50), rng.randint(0, 2_000_000),
                                 rng.randint(0, 10**9)])
            output = rng.choice([rng.randint(-5, 50), rng.randint(0, 200_000)])
            exact = worst_case_nusd(prompt, output, prices)
            pico = worst_case_picousd(prompt, output, prices)
            assert (exact - 1) * 1000 < pico <= exact * 1000  # the ceiling, in integers
            old = usd_to_nusd_ceil(worst_case_cost(prompt, output, prices))
            if pico < 10**6 * PICO_PER_USD:  # below $1M the float round trip is exact
                assert exact == old, (prompt, output, prices)
            else:  # above, the float may round up: the exact amount is never more
                assert exact <= old


def test_reservation_nusd_matches_the_usd_amount() -> None:
    rng = random.Random(12)
    prices = _prices()
    for _ in range(3000):
        messages = [_message(rng) for _ in range(rng.randint(0, 4))]
        tools = None
        if rng.random() < 0.2:
            tools = [{"type": "function", "function": {"name": "t", "parameters": {}}}]
        max_tokens = rng.choice([0, 16, 4096, rng.randint(0, 100_000)])
        p = rng.choice(prices[:-1])  # below $1M per request
        assert reservation_nusd(messages, tools, max_tokens, p) == usd_to_nusd_ceil(
            reservation_amount(messages, tools, max_tokens, p)), (messages, tools, max_tokens)


def _manager(limits: tuple[float, float]) -> BudgetManager:
    return BudgetManager([BudgetDef("g", Scope("global"), limits[0], "monthly"),
                          BudgetDef("o", Scope("provider", "openai"), limits[1], "daily",
                                    on_exceed="downgrade")],
                         clock=Clock(NOV6))


def _state(m: BudgetManager) -> list[tuple[int, int]]:
    return m.backend.state(m.budgets.keys_at(NOV6))


def test_reserve_now_holds_what_reserve_held() -> None:
    """Same grants, same refusals, same state, whichever entry point reserved."""
    rng = random.Random(14)
    usd_path, exact_path = _manager((0.05, 0.02)), _manager((0.05, 0.02))
    held: list[tuple[Reservation, Reservation]] = []
    for _ in range(2000):
        if held and rng.random() < 0.45:
            a, b = held.pop(rng.randrange(len(held)))
            actual = rng.choice([0.0, a.amount_usd, a.amount_usd / 3, 1e-9])
            usd_path.settle(a, actual)
            exact_path.settle(b, actual)
        else:
            amount = rng.choice([0.0, 1e-9, 0.000123456, rng.uniform(0, 0.004)])
            nusd = usd_to_nusd_ceil(amount)
            bs = exact_path.applicable("openai", "gpt")
            old = usd_path.reserve(usd_path.applicable("openai", "gpt"), amount)
            new = exact_path.reserve_now(bs, nusd)
            assert new is not None  # in memory: never needs I/O
            assert type(old) is type(new)
            if isinstance(old, Denied):
                assert old == new
            else:
                assert isinstance(new, Reservation)
                assert (old.amount_nusd, old.keys, old.budgets) == (
                    new.amount_nusd, new.keys, new.budgets)
                assert bool(old.token) == bool(new.token)
                held.append((old, new))
        assert _state(usd_path) == _state(exact_path)


async def test_blocking_backend_reserves_off_the_loop(tmp_path: Path) -> None:
    store = SqliteLedgerStore(tmp_path / "b.db")
    m = BudgetManager([BudgetDef("g", Scope("global"), 1.0, "monthly")],
                      SqliteBudgetBackend(store), clock=Clock(NOV6))
    try:
        assert m.reserve_now(m.budgets, 10) is None  # SQLite: not on the loop
        r = await m.reserve_off_loop(m.budgets, 10)
        assert isinstance(r, Reservation) and r.amount_nusd == 10
        assert isinstance(await m.areserve_nusd(m.budgets, 10**9), Denied)
        r2 = await m.areserve(m.budgets, 0.5)
        assert isinstance(r2, Reservation) and r2.amount_nusd == 5 * 10**8
        m.settle(r, 0.000000004)
        m.flush()
        assert m.backend.state(m.budgets.keys_at(NOV6)) == [(4, 5 * 10**8)]
    finally:
        await asyncio.to_thread(m.close)
        store.close()


def test_memory_settle_of_open_expired_unknown_and_empty_tokens() -> None:
    keys = [("g", "global", "2026-11")]
    b = InMemoryBudgetBackend(sweep_interval_s=1.0)
    assert b.reserve("t1", keys, [100], 40, 10.0, 0.0) == ()
    assert b.reserve("t2", keys, [100], 30, 20.0, 0.0) == ()
    assert b.state(keys) == [(0, 70)]
    assert [tuple(s) for s in b.settle("t1", keys, 25, 1.0)] == [(0, 25)]  # open: returned
    assert b.state(keys) == [(25, 30)]
    assert b.settle("t1", keys, 25, 1.0) == ()  # already settled: nothing
    assert b.expire(30.0) == 1  # t2 expired: its hold went back
    assert b.state(keys) == [(25, 0)]
    assert [tuple(s) for s in b.settle("t2", keys, 5, 31.0)] == [(25, 30)]  # counted, once
    assert b.settle("t2", keys, 5, 31.0) == ()
    assert [tuple(s) for s in b.settle("", keys, 2, 31.0)] == [(30, 32)]  # no reservation
    assert b.state(keys) == [(32, 0)]


def test_reservations_take_the_keys_of_the_period_they_are_made_in() -> None:
    """``_reserve`` reads a set's cached keys while ``now`` is inside their period: at,
    just before and just after every boundary, they are the keys ``keys_at`` derives."""
    clock = Clock(ts(2026, 12, 30))
    m = BudgetManager([BudgetDef("d", Scope("global"), 1000.0, "daily"),
                       BudgetDef("w", Scope("provider", "p"), 1000.0, "weekly"),
                       BudgetDef("mo", Scope("model", "x"), 1000.0, "monthly")], clock=clock)
    bs = m.applicable("p", "x")
    rng = random.Random(15)
    for _ in range(2000):
        day = ts(2026, 12, 30) + rng.randrange(-10, 40) * 86400
        clock.now = day + rng.choice([0.0, -0.001, 0.001, -1e-6, rng.uniform(0, 86400)])
        r = m.reserve_now(bs, 1)
        assert isinstance(r, Reservation)
        assert r.keys == BudgetSet(bs).keys_at(clock.now), clock.now
        m.settle(r, 0.0)


def test_the_lowest_threshold_shortcut_still_alerts_at_each_crossing() -> None:
    """Settlements below every budget's lowest threshold skip the comparisons; the first
    one to reach a threshold (of any budget in the reservation) still alerts."""
    seen: list[BudgetAlert] = []
    m = BudgetManager([BudgetDef("g", Scope("global"), 1.0, "monthly", alert_at=(0.5, 0.9)),
                       BudgetDef("o", Scope("provider", "openai"), 10.0, "monthly",
                                 alert_at=(0.04,)),
                       BudgetDef("quiet", Scope("team", "t"), 1.0, "monthly", alert_at=())],
                      clock=Clock(NOV6), alerter=Alerter([seen.append]))
    bs = m.applicable("openai", "gpt", team="t")
    for _ in range(100):
        r = m.reserve_now(bs, 10**7)
        assert isinstance(r, Reservation)
        m.settle(r, 0.01)
    m.alerter.flush()
    assert [(a.budget, a.threshold) for a in seen] == [("o", 0.04), ("g", 0.5), ("g", 0.9)]
    assert [round(a.spend_usd, 2) for a in seen] == [0.4, 0.5, 0.9]
