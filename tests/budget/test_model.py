"""Budget definitions: validation messages and UTC calendar periods."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aegis.budget.model import BudgetDef, parse_budgets, period_window, window_for_key
from aegis.errors import ConfigError
from aegis.ledger import Scope


def ts(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()  # type: ignore[misc]


def test_issue_config_shape_parses() -> None:
    budgets = parse_budgets([
        {"name": "openai-monthly", "scope": "provider:openai", "limit_usd": 80,
         "period": "monthly", "alert_at": [0.8, 1.0], "on_exceed": "downgrade"},
        {"name": "team-research", "scope": "team:research", "limit_usd": 25,
         "period": "weekly", "on_exceed": "reject"},
        {"name": "all", "limit_usd": 1000, "webhook": "http://127.0.0.1:9/hook"},
    ])
    a, b, c = budgets
    assert a.scope == Scope("provider", "openai") and a.limit_nusd == 80 * 10**9
    assert a.on_exceed == "downgrade" and a.alert_at == (0.8, 1.0)
    assert b.period == "weekly" and b.alert_at == (0.8, 1.0)  # the default thresholds
    assert c.scope == Scope("global") and c.period == "monthly" and c.on_exceed == "reject"
    assert parse_budgets(None) == ()


def test_errors_name_the_field() -> None:
    with pytest.raises(ConfigError) as err:
        parse_budgets([
            {"name": "ok", "scope": "global", "limit_usd": 1},
            {"name": "", "scope": "planet:mars", "limit_usd": -1, "period": "hourly",
             "alert_at": [1.5], "on_exceed": "explode", "webhook": "ftp://x", "colour": 1},
            {"name": "ok", "limit_usd": 2},
            "nope",
        ])
    message = err.value.message
    for expected in ("budgets[1].name", "budgets[1].scope", "budgets[1].limit_usd",
                     "budgets[1].period", "budgets[1].alert_at", "budgets[1].on_exceed",
                     "budgets[1].webhook", "budgets[1].colour: unknown field",
                     "budgets[2].name: 'ok' is already used by budgets[0]", "budgets[3]:"):
        assert expected in message, expected
    with pytest.raises(ConfigError, match=r"budgets\[0\].limit_usd"):
        parse_budgets([{"name": "x", "limit_usd": True}])


def test_applies() -> None:
    key = BudgetDef("k", Scope("key", "alice"), 1)
    assert key.applies("p", "m", "key_1", "alice", None, None)
    assert key.applies("p", "m", "alice", None, None, None)
    assert not key.applies("p", "m", "key_1", "bob", None, None)
    assert BudgetDef("g", Scope("global"), 1).applies(None, None, None, None, None, None)
    assert BudgetDef("t", Scope("team", "r"), 1).applies("p", "m", None, None, "r", None)
    assert not BudgetDef("t", Scope("team", "r"), 1).applies("p", "m", None, None, None, "r")


@pytest.mark.parametrize(("period", "at", "key", "start", "end"), [
    ("daily", ts(2026, 11, 6, 23, 59, 59), "D2026-11-06", ts(2026, 11, 6), ts(2026, 11, 7)),
    ("daily", ts(2026, 11, 7), "D2026-11-07", ts(2026, 11, 7), ts(2026, 11, 8)),
    # 2026-11-08 is a Sunday, 2026-11-09 a Monday
    ("weekly", ts(2026, 11, 8, 23, 59), "W2026-11-02", ts(2026, 11, 2), ts(2026, 11, 9)),
    ("weekly", ts(2026, 11, 9), "W2026-11-09", ts(2026, 11, 9), ts(2026, 11, 16)),
    ("weekly", ts(2026, 12, 31, 12), "W2026-12-28", ts(2026, 12, 28), ts(2027, 1, 4)),
    ("monthly", ts(2026, 11, 30, 23, 59, 59), "M2026-11", ts(2026, 11, 1), ts(2026, 12, 1)),
    ("monthly", ts(2026, 12, 31, 23), "M2026-12", ts(2026, 12, 1), ts(2027, 1, 1)),
    ("monthly", ts(2027, 2, 1), "M2027-02", ts(2027, 2, 1), ts(2027, 3, 1)),
])
def test_periods(period: str, at: float, key: str, start: float, end: float) -> None:
    w = period_window(period, at)
    assert (w.key, w.start, w.end) == (key, start, end)
    assert window_for_key(key) == w
    assert w.contains(at) and not w.contains(end) and w.contains(start)


def test_total_period() -> None:
    w = period_window("total", ts(2026, 1, 1))
    assert (w.key, w.start, w.end) == ("total", 0.0, None)
    assert w.elapsed_fraction(ts(2030, 1, 1)) is None
    assert window_for_key("total") == w
    half = period_window("daily", ts(2026, 11, 6, 12))
    assert half.elapsed_fraction(ts(2026, 11, 6, 12)) == 0.5
