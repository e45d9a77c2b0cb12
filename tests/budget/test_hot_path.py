"""The per-request shortcuts give the answers of the plain derivations they replace.

``applicable`` answers from a cache of ``BudgetSet``s, a set's state keys are kept
for its current period, settlements below a budget's lowest alert threshold skip
the threshold comparisons, and prices carry their per-token rates precomputed:
each is checked here against the straightforward computation.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Sequence
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal

import pytest

from aegis.budget import Alerter, BudgetAlert, BudgetDef, BudgetManager, Reservation
from aegis.budget.backends import InMemoryBudgetBackend, Settled, StateKey
from aegis.budget.manager import APPLICABLE_CACHE_SIZE, BudgetSet
from aegis.budget.model import period_window
from aegis.catalog import load_catalog
from aegis.ledger import Scope
from aegis.pricing import Prices, cost_picousd, worst_case_picousd
from aegis.types import Usage
from tests.budget.helpers import Clock, ts

NOV6 = ts(2026, 11, 6, 12)
KIND_ORDER = ("global", "provider", "model", "key", "team", "workspace")


def budget(name: str, scope: str, limit: float = 10.0, **kw: object) -> BudgetDef:
    return BudgetDef(name, Scope.parse(scope), limit, **kw)  # type: ignore[arg-type]


def covering(budgets: tuple[BudgetDef, ...], provider: str | None, model: str | None,
             key_id: str | None, key_name: str | None, team: str | None,
             workspace: str | None) -> list[str]:
    """Every budget whose own ``applies`` says yes: by scope kind (a key budget matching
    the key id before one matching its name), then in definition order."""
    hits = [b for b in budgets if b.applies(provider, model, key_id, key_name, team, workspace)]
    return [b.name for b in sorted(hits, key=lambda b: (
        KIND_ORDER.index(b.scope.kind), b.scope.kind == "key" and b.scope.value != key_id))]


def test_applicable_answers_like_each_budgets_own_scope_test() -> None:
    m = BudgetManager([
        budget("g", "global"), budget("g2", "global"), budget("p", "provider:openai"),
        budget("p2", "provider:anthropic"), budget("mo", "model:gpt"),
        budget("k-id", "key:key_1"), budget("k-name", "key:alice"), budget("k-both", "key:bob"),
        budget("t", "team:r"), budget("w", "workspace:w"),
    ])
    rng = random.Random(3)
    for _ in range(2000):
        values = (rng.choice(["openai", "anthropic", "x", None]), rng.choice(["gpt", "y", None]),
                  rng.choice(["key_1", "bob", None]), rng.choice(["alice", "bob", None]),
                  rng.choice(["r", "s", None]), rng.choice(["w", None]))
        found = m.applicable(values[0], values[1], key_id=values[2], key_name=values[3],
                             team=values[4], workspace=values[5])
        assert [b.name for b in found] == covering(m.budgets, *values), values
        assert len(set(found)) == len(found)  # "bob" as key id and name: counted once
        assert found.limits == tuple(b.limit_nusd for b in found)
        again = m.applicable(values[0], values[1], key_id=values[2], key_name=values[3],
                             team=values[4], workspace=values[5])
        assert again is found  # the cached set


def test_register_and_the_size_cap_drop_cached_answers() -> None:
    m = BudgetManager([budget("g", "global")])
    before = m.applicable("openai", "gpt", key_id="key_9")
    assert [b.name for b in before] == ["g"]
    m.register(budget("mine", "key:key_9", 2.0))
    assert [b.name for b in m.applicable("openai", "gpt", key_id="key_9")] == ["g", "mine"]
    m.register(budget("mine", "key:key_9", 3.0))  # replaced: the new limit applies at once
    assert m.applicable("openai", "gpt", key_id="key_9").limits == (10**10, 3 * 10**9)
    first = m.applicable("p0", "m")
    for i in range(1, APPLICABLE_CACHE_SIZE + 1):
        assert [b.name for b in m.applicable(f"p{i}", "m")] == ["g"]
    assert m.applicable("p0", "m") is not first  # the cache was emptied when full
    assert m.applicable("p0", "m") == first


def state_keys(budgets: BudgetSet, now: float) -> tuple[StateKey, ...]:
    return tuple((b.name, str(b.scope), period_window(b.period, now).key) for b in budgets)


def test_budget_set_keys_follow_every_period_boundary() -> None:
    bs = BudgetSet([budget("d", "global", period="daily"), budget("w", "team:r", period="weekly"),
                    budget("m", "provider:p", period="monthly"),
                    budget("t", "model:x", period="total")])
    rng = random.Random(5)
    start = ts(2026, 12, 28)
    for _ in range(3000):  # forwards and backwards, often right at a boundary
        now = start + rng.choice([rng.uniform(-40, 40) * 86400, rng.randrange(-40, 40) * 86400,
                                  rng.randrange(-40, 40) * 86400 - 0.001])
        assert bs.keys_at(now) == state_keys(bs, now), now
    assert BudgetSet().keys_at(NOV6) == ()


def test_reserve_takes_any_sequence_as_the_set_it_describes() -> None:
    g, t = budget("g", "global"), budget("t", "team:r", 5.0)
    m = BudgetManager([g, t], clock=Clock(NOV6))
    from_list = m.reserve([t, g, t], 1.0)  # duplicates count once, order kept
    from_set = m.reserve(BudgetSet([t, g]), 1.0)
    assert isinstance(from_list, Reservation) and isinstance(from_set, Reservation)
    assert from_list.budgets == from_set.budgets == (t, g)
    assert from_list.keys == from_set.keys == state_keys(BudgetSet([t, g]), NOV6)
    assert {s.budget.name: s.reserved_usd for s in m.status()} == {"g": 2.0, "t": 2.0}


def test_memory_backend_wants_one_limit_per_key() -> None:
    backend = InMemoryBudgetBackend()
    keys = (("a", "global", "total"), ("b", "team:r", "total"))
    with pytest.raises(ValueError, match="one limit per state key"):
        backend.reserve("t1", keys, [10], 1, 100.0, 0.0)
    assert backend.state(keys) == [(0, 0), (0, 0)]


def test_alerts_match_every_threshold_comparison() -> None:
    """Random spend against unsorted, empty and fractional thresholds: the alerts are
    exactly the (budget, threshold) pairs whose spend a settlement moved across."""
    budgets = [budget("a", "global", 1.0, alert_at=(1.0, 0.25, 0.5)),
               budget("b", "team:r", 0.3, alert_at=(0.8,)),
               budget("c", "provider:p", 0.7, alert_at=()),
               budget("d", "model:x", 0.123456789, alert_at=(0.1, 0.3333, 0.9999, 1.0))]
    seen: list[BudgetAlert] = []
    m = BudgetManager(budgets, clock=Clock(NOV6), alerter=Alerter([seen.append]))
    marks = {b.name: [(t, int((Decimal(repr(t)) * b.limit_nusd).to_integral_value(ROUND_CEILING)))
                      for t in b.alert_at] for b in budgets}
    spent = dict.fromkeys(marks, 0)
    expected: list[tuple[str, float, int]] = []
    rng = random.Random(11)
    for _ in range(3000):
        chosen = m.applicable(rng.choice(["p", None]), rng.choice(["x", None]),
                              team=rng.choice(["r", None]))
        worst = rng.randrange(1, 40_000_000) / 1e9
        r = m.reserve(chosen, worst)
        if not isinstance(r, Reservation):
            continue
        actual = rng.randrange(0, r.amount_nusd + 1)
        m.settle(r, actual / 1e9)
        for b in chosen:
            before, after = spent[b.name], spent[b.name] + actual
            expected += [(b.name, t, after) for t, at in marks[b.name] if before < at <= after]
            spent[b.name] = after
    for b in budgets:  # then each budget alone up to exactly its limit
        rest = b.limit_nusd - spent[b.name]
        r = m.reserve([b], rest / 1e9)
        assert isinstance(r, Reservation)
        m.settle(r, rest / 1e9)
        expected += [(b.name, t, b.limit_nusd) for t, at in marks[b.name]
                     if spent[b.name] < at <= b.limit_nusd]
    assert sorted((n, t) for n, t, _ in expected) == sorted(  # each threshold once
        (b.name, t) for b in budgets for t in b.alert_at)
    assert [(a.budget, a.threshold, round(a.spend_usd * 1e9)) for a in seen] == expected
    m.close()


def test_a_lease_flush_checks_the_same_thresholds() -> None:
    seen: list[BudgetAlert] = []
    m = BudgetManager([budget("g", "global", 10.0, alert_at=(0.5,))], clock=Clock(NOV6),
                      alerter=Alerter([seen.append]))
    key = m.budgets.keys_at(NOV6)[0]
    m._settled_later(key, Settled(0, 4_999_999_999))
    m._settled_later(("unknown", "global", "total"), Settled(0, 10**12))
    assert seen == []
    m._settled_later(key, Settled(4_999_999_999, 5_000_000_000))
    assert [(a.budget, a.threshold, a.period) for a in seen] == [("g", 0.5, "M2026-11")]


class FlakyBackend(InMemoryBudgetBackend):
    """In memory, failing the first ``failures`` settlements."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def settle(self, token: str, keys: Sequence[StateKey], actual: int,
               now: float) -> tuple[Settled, ...]:
        if self.failures:
            self.failures -= 1
            raise OSError("disk I/O error")
        return super().settle(token, keys, actual, now)


class ThreadedFlakyBackend(FlakyBackend):
    blocking = True  # like SQLite: the manager settles on its budget thread, with retries


@pytest.mark.parametrize(("failures", "charged", "tries"), [(1, 3.0, 3), (2, 3.0, 3), (3, 0.0, 3)])
def test_settlements_are_retried_on_the_budget_thread(
    failures: int, charged: float, tries: int, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slept: list[tuple[float, str]] = []
    monkeypatch.setattr("aegis.budget.manager.time.sleep",
                        lambda s: slept.append((s, threading.current_thread().name)))
    m = BudgetManager([budget("g", "global")], ThreadedFlakyBackend(failures), clock=Clock(NOV6))
    r = m.reserve(m.budgets, 4.0)
    assert isinstance(r, Reservation)
    m.settle(r, 3.0)
    m.flush()
    failed = [rec for rec in caplog.records if "settlement failed" in rec.message]
    assert [rec.message.rsplit("try ", 1)[1].rstrip(")") for rec in failed] == [
        f"{i} of {tries}" for i in range(1, min(failures, tries) + 1)]
    assert all(rec.exc_info is not None and rec.levelno == logging.ERROR for rec in failed)
    assert [s for s, _ in slept] == [0.1, 0.2][:min(failures, tries - 1)]
    assert all(name.startswith("aegis-budget") for _, name in slept)  # never the caller's
    assert [(s.spent_usd, s.reserved_usd) for s in m.status()] == [
        (charged, 0.0 if charged else 4.0)]
    m.close()


def test_an_inline_settlement_is_tried_once(caplog: pytest.LogCaptureFixture) -> None:
    m = BudgetManager([budget("g", "global")], FlakyBackend(1), clock=Clock(NOV6))
    r = m.reserve(m.budgets, 4.0)
    assert isinstance(r, Reservation)
    m.settle(r, 3.0)  # does not raise
    failed = [rec for rec in caplog.records if "settlement failed" in rec.message]
    assert [rec.message.rsplit("try ", 1)[1].rstrip(")") for rec in failed] == ["1 of 1"]
    assert [(s.spent_usd, s.reserved_usd) for s in m.status()] == [(0.0, 4.0)]


# -- prices ----------------------------------------------------------------------------


def pico(usd_per_mtok: float) -> int:
    return int((Decimal(repr(float(usd_per_mtok))) * 10**6).to_integral_value(ROUND_HALF_EVEN))


def reference_cost(usage: Usage, prices: Prices) -> int:
    prompt = max(int(usage.prompt_tokens), 0)
    cached = max(int(usage.cached_tokens), 0)
    written = max(int(usage.cache_write_tokens), 0)
    completion = max(int(usage.completion_tokens), 0)
    rates = prices.for_prompt(prompt)
    return (max(prompt - cached - written, 0) * pico(rates.input) + cached * pico(rates.cached_input)
            + written * pico(rates.cache_write) + completion * pico(rates.output))


def reference_worst(upper: float, max_out: float, prices: Prices) -> int:
    prompt, output = max(int(upper), 0), max(int(max_out), 0)
    rates = [prices] + [t.prices for t in prices.tiers if prompt > t.above_tokens]
    return max(prompt * max(pico(r.input), pico(r.cached_input), pico(r.cache_write))
               + output * pico(r.output) for r in rates)


def test_precomputed_rates_give_the_exact_decimal_costs() -> None:
    rng = random.Random(13)
    models = [info.prices for info in load_catalog()]
    models += [Prices(0.0028, 0.0025), Prices(0.003625, 1e-7, 12.5, 0.3), Prices(0, 0)]

    def count() -> float:
        return rng.choice([rng.randint(-3, 3), rng.randint(0, 500_000), rng.uniform(-2, 9e5)])

    for prices in models:
        for _ in range(40):
            usage = Usage(count(), count(), count(), count())  # type: ignore[arg-type]
            assert cost_picousd(usage, prices) == reference_cost(usage, prices), (usage, prices)
            upper, max_out = count(), count()
            assert worst_case_picousd(upper, max_out, prices) == reference_worst(  # type: ignore[arg-type]
                upper, max_out, prices)
