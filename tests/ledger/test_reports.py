"""Report windows and the CLI's table / CSV / JSON output."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aegis.ledger import Filters
from aegis.ledger.reports import (
    format_recent,
    format_records,
    format_spend,
    parse_period,
    parse_time,
    recent_rows,
    spend_report,
    window,
)
from aegis.ledger.sqlite import SqliteLedgerStore
from tests.ledger.helpers import T0, attempt


def ts(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()  # type: ignore[misc]


def test_periods_are_utc_calendar_windows() -> None:
    assert parse_period("2026-11") == (ts(2026, 11, 1), ts(2026, 12, 1))
    assert parse_period("2026-12") == (ts(2026, 12, 1), ts(2027, 1, 1))
    assert parse_period("2026") == (ts(2026, 1, 1), ts(2027, 1, 1))
    assert parse_period("2026-11-06") == (ts(2026, 11, 6), ts(2026, 11, 7))
    for bad in ("2026-13", "nov", "2026-11-06-01", ""):
        with pytest.raises(ValueError, match="not a period"):
            parse_period(bad)


def test_times() -> None:
    assert parse_time("2026-11-06") == ts(2026, 11, 6)
    assert parse_time("2026-11-06T10:30") == ts(2026, 11, 6, 10, 30)
    assert parse_time("2026-11-06T10:30:00Z") == ts(2026, 11, 6, 10, 30)
    assert parse_time("2026-11-06T12:30:00+02:00") == ts(2026, 11, 6, 10, 30)
    assert window(None, "2026-11-01", None) == (ts(2026, 11, 1), None)
    with pytest.raises(ValueError, match="either"):
        window("2026-11", "2026-11-01")
    with pytest.raises(ValueError):
        parse_time("yesterday")


@pytest.fixture
def store(tmp_path: Path) -> SqliteLedgerStore:
    s = SqliteLedgerStore(tmp_path / "r.db")
    s.insert([
        attempt(request_id="1", provider="openai", cost_usd=1.5, key_id="key_a", key_name="alice"),
        attempt(request_id="2", provider="openai", cost_usd=0.25, team="research"),
        attempt(request_id="3", provider="anthropic", cost_usd=2.0, team="research"),
        attempt(request_id="4", provider="ollama", cost_usd=0.0, started_at=ts(2026, 10, 31)),
    ])
    yield s
    s.close()


def test_spend_report_window_and_grouping(store: SqliteLedgerStore) -> None:
    rows = spend_report(store, "provider", period="2026-11")
    assert [(r.group, r.cost_usd) for r in rows] == [("anthropic", 2.0), ("openai", 1.75)]
    (team,) = spend_report(store, "team", since="2026-11-01",
                           filters=Filters(team="research"))
    assert (team.group, team.cost_usd, team.attempts) == ("research", 2.25, 2)
    with pytest.raises(ValueError, match="cannot group by"):
        spend_report(store, "colour")


def test_table_csv_json(store: SqliteLedgerStore) -> None:
    rows = spend_report(store, "provider")
    table = format_spend(rows, "provider", "table")
    lines = table.splitlines()
    assert lines[0].split()[0] == "provider"
    assert "TOTAL" in lines[-1] and "$3.750000" in lines[-1]
    parsed = list(csv.DictReader(io.StringIO(format_spend(rows, "provider", "csv"))))
    assert [r["provider"] for r in parsed] == ["anthropic", "openai", "ollama"]
    data = json.loads(format_spend(rows, "provider", "json"))
    assert data[0]["group"] == "anthropic" and data[0]["cost_usd"] == 2.0
    keys = format_spend(spend_report(store, "key"), "key", "table")
    assert "alice" in keys and "(none)" in keys
    total = format_spend(spend_report(store), None, "table")
    assert "$3.750000" in total


def test_recent(store: SqliteLedgerStore) -> None:
    rows = recent_rows(store, 2)
    assert [r["request_id"] for r in rows] == ["4", "3"]
    assert rows[0]["time"].startswith("2026-10-31")
    assert "request_id" in format_recent(store.recent(), "table")
    assert format_records([], ["a", "b"], "table").splitlines()[0] == "a  b"


def test_window_is_half_open(store: SqliteLedgerStore) -> None:
    assert spend_report(store, None, since=str(datetime.fromtimestamp(T0, UTC))) \
        [0].attempts == 3
    assert spend_report(store, None, until="2026-10-31") == []
