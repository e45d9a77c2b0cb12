"""The SQLite ledger store: opening, migrations, WAL, rows, spend queries, exports."""

from __future__ import annotations

import io
import random
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from aegis.errors import ConfigError
from aegis.ledger import Filters, LedgerRow, Scope, open_store, read_rows
from aegis.ledger.migrations import MIGRATIONS, Migration, applied, migrate
from aegis.ledger.sqlite import SqliteLedgerStore
from aegis.ledger.store import usd_text, usd_to_nusd
from tests.ledger.helpers import T0, attempt, random_attempt


@pytest.fixture
def store(tmp_path: Path) -> SqliteLedgerStore:
    s = SqliteLedgerStore(tmp_path / "aegis.db")
    yield s
    s.close()


# -- opening ----------------------------------------------------------------------


def test_open_store_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    rel = open_store("sqlite:///data/rel.db")
    assert (tmp_path / "data" / "rel.db").exists()  # relative to the cwd, dirs created
    rel.close()
    absolute = open_store(f"sqlite:///{tmp_path}/abs.db")  # sqlite:////abs/path
    assert (tmp_path / "abs.db").exists()
    absolute.close()
    memory = open_store("sqlite:///:memory:")
    memory.insert([attempt()])
    assert len(memory.recent()) == 1
    memory.close()


@pytest.mark.parametrize("url", ["postgresql://u@h/db", "postgres://h/db"])
def test_postgres_is_a_clear_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="not supported yet"):
        open_store(url)


@pytest.mark.parametrize("url", ["mysql://x", "sqlite://", "aegis.db", "sqlite:///"])
def test_bad_urls(url: str) -> None:
    with pytest.raises(ConfigError, match=r"storage\.url"):
        open_store(url)


def test_wal_and_pragmas(store: SqliteLedgerStore) -> None:
    assert store.journal_mode() == "wal"
    conn = store.connect()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    conn.close()


# -- migrations -----------------------------------------------------------------------


def test_migrations_apply_once_in_order(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    SqliteLedgerStore(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    assert applied(conn) == [m.name for m in MIGRATIONS]
    assert migrate(conn) == []  # re-open is a no-op
    SqliteLedgerStore(path).close()
    assert applied(conn) == [m.name for m in MIGRATIONS]
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"attempts", "api_keys", "budget_state", "budget_reservations"} <= tables
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"attempts_time", "attempts_key", "attempts_request"} <= indexes
    assert not {"attempts_provider", "attempts_model", "attempts_team"} & indexes  # m004
    conn.close()


def test_appended_migration_applies_to_an_old_database(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = SqliteLedgerStore(path)
    old.insert([attempt()])
    old.close()
    order: list[str] = []

    def add_column(conn: sqlite3.Connection) -> None:
        order.append("m900")
        conn.execute("ALTER TABLE attempts ADD COLUMN region TEXT")

    def backfill(conn: sqlite3.Connection) -> None:
        order.append("m901")
        conn.execute("UPDATE attempts SET region = 'eu'")

    newer = [*MIGRATIONS, Migration("m900_region", add_column), Migration("m901_fill", backfill)]
    store = SqliteLedgerStore(path, migrations=newer)
    assert order == ["m900", "m901"]
    SqliteLedgerStore(path, migrations=newer).close()  # and only once
    assert order == ["m900", "m901"]
    conn = store.connect()
    assert conn.execute("SELECT region FROM attempts").fetchall() == [("eu",)]
    assert applied(conn)[-2:] == ["m900_region", "m901_fill"]
    conn.close()
    store.close()


def test_a_failing_migration_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    SqliteLedgerStore(path).close()

    def half(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        SqliteLedgerStore(path, migrations=[*MIGRATIONS, Migration("m999_bad", half)])
    conn = sqlite3.connect(path)
    assert not conn.execute("SELECT 1 FROM sqlite_master WHERE name='half_done'").fetchone()
    assert "m999_bad" not in applied(conn)
    conn.close()


# -- rows ------------------------------------------------------------------------------


def test_row_keeps_every_attempt_field_and_no_text(store: SqliteLedgerStore) -> None:
    a = attempt(request_id="req_1", streamed=True, status="cancelled", cached_tokens=40,
                cache_write_tokens=5, ttft_ms=80.25, error_kind="client_disconnected",
                usage_estimated=True, key_id="key_x", key_name="alice", team="research",
                workspace="ws", tags=("a", "b,c"), attempt=2)
    store.insert([a])
    (row,) = store.recent()
    assert row == LedgerRow.from_attempt(a)
    assert (row.streamed, row.cached_tokens, row.cache_write_tokens, row.ttft_ms) == \
        (True, 40, 5, 80.25)
    assert (row.key_id, row.key_name, row.team, row.workspace, row.tags) == \
        ("key_x", "alice", "research", "ws", ("a", "b,c"))
    # text has two columns, empty unless storage.store_prompts filled the attempt's texts
    assert (row.prompt, row.completion) == (None, None)
    columns = {r[1] for r in store.connect().execute("PRAGMA table_info(attempts)")}
    assert columns & {"prompt", "completion", "messages", "content", "text"} == {
        "prompt", "completion"}
    assert store.connect().execute(
        "SELECT COUNT(*) FROM attempts WHERE prompt IS NOT NULL OR completion IS NOT NULL"
    ).fetchone() == (0,)


def test_costs_are_exact_integers(store: SqliteLedgerStore) -> None:
    # 0.1 + 0.2 style drift: ten thousand rows of $0.000000123 and $0.1
    costs = [0.000000123, 0.1, 0.2, 0.3, 0.000001] * 2000
    store.insert([attempt(request_id=f"r{i}", cost_usd=c) for i, c in enumerate(costs)])
    exact = sum(Decimal(repr(c)) for c in costs)
    (total,) = store.spend()
    assert Decimal(total.cost_nusd) / 10**9 == exact
    assert total.cost_nusd == sum(usd_to_nusd(c) for c in costs) == 1_200_002_246_000
    assert store.total_spend_nusd(Scope("global"), None, None) == total.cost_nusd
    assert sum(costs) != float(exact)  # the float sum would have drifted


def test_spend_groups_and_filters(store: SqliteLedgerStore) -> None:
    rng = random.Random(7)
    attempts = [random_attempt(rng, i) for i in range(600)]
    attempts += [random_attempt(rng, 4 * 3600 + i, "late") for i in range(50)]  # next UTC day
    store.insert(attempts)
    for by, field in (("provider", "provider"), ("model", "model"), ("team", "team"),
                      ("key", "key_id"), ("workspace", "workspace")):
        expected: dict[str | None, int] = {}
        for a in attempts:
            value = getattr(a.caller, field, None) if by in ("team", "key") else \
                (a.task.workspace if by == "workspace" else getattr(a, field))
            expected[value] = expected.get(value, 0) + usd_to_nusd(a.cost_usd)
        got = {r.group: r.cost_nusd for r in store.spend(by)}
        assert got == expected, by
    # day grouping (UTC), time window and filters combined
    days = store.spend("day")
    assert [r.group for r in days] == ["2026-11-06", "2026-11-07"]  # T0 is 21:20 UTC
    assert [r.attempts for r in days] == [600, 50]
    window = [a for a in attempts if T0 + 100 <= a.started_at < T0 + 200
              and a.provider == "openai" and a.caller.team == "research"]
    (row,) = store.spend(None, T0 + 100, T0 + 200, Filters(provider="openai", team="research"))
    assert row.cost_nusd == sum(usd_to_nusd(a.cost_usd) for a in window)
    assert row.attempts == row.requests == len(window)
    key_rows = store.spend(None, filters=Filters(key="key_a"))
    assert key_rows[0].attempts == sum(1 for a in attempts if a.caller.key_id == "key_a")
    assert store.spend(None, T0 + 100_000, None) == []


def test_key_scope_matches_id_or_name(store: SqliteLedgerStore) -> None:
    store.insert([attempt(key_id="key_1", key_name="alice", cost_usd=0.5),
                  attempt(key_id="key_2", key_name="bob", cost_usd=0.25)])
    assert store.total_spend(Scope("key", "alice"), None, None) == 0.5
    assert store.total_spend(Scope("key", "key_2"), None, None) == 0.25
    assert store.total_spend(Scope.parse("provider:openai"), T0, T0 + 1) == 0.75
    assert store.total_spend(Scope("global"), T0 + 1, None) == 0.0
    (bob,) = [r for r in store.spend("key") if r.group == "key_2"]
    assert bob.label == "bob"


def test_errors_and_requests_counted(store: SqliteLedgerStore) -> None:
    store.insert([attempt(request_id="r1", status="error", error_kind="timeout", cost_usd=0),
                  attempt(request_id="r1", attempt=1),
                  attempt(request_id="r2")])
    (row,) = store.spend()
    assert (row.attempts, row.requests, row.errors) == (3, 2, 1)


def test_recent_newest_first(store: SqliteLedgerStore) -> None:
    store.insert([attempt(request_id=f"r{i}") for i in range(10)])
    assert [r.request_id for r in store.recent(3)] == ["r9", "r8", "r7"]


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_round_trips(store: SqliteLedgerStore, tmp_path: Path, fmt: str) -> None:
    rng = random.Random(3)
    attempts = [random_attempt(rng, i) for i in range(2500)]
    attempts.append(attempt(request_id="odd", ttft_ms=1.5, tags=("x", 'q"uote'),
                            error_kind="timeout", usage_estimated=True, streamed=True))
    store.insert(attempts)
    out = tmp_path / f"export.{fmt}"
    assert store.export(fmt, out) == len(attempts)  # type: ignore[arg-type]
    back = read_rows(fmt, out)  # type: ignore[arg-type]
    assert back == list(store.rows())
    assert sum(r.cost_nusd for r in back) == sum(usd_to_nusd(a.cost_usd) for a in attempts)
    # a window, into a file object
    buf = io.StringIO()
    n = store.export(fmt, buf, since=T0 + 10, until=T0 + 20)  # type: ignore[arg-type]
    assert n == 10
    buf.seek(0)
    assert [r.request_id for r in read_rows(fmt, buf)] == [f"r{i}" for i in range(10, 20)]  # type: ignore[arg-type]


def test_empty_export(store: SqliteLedgerStore) -> None:
    for fmt in ("csv", "json"):
        buf = io.StringIO()
        assert store.export(fmt, buf) == 0  # type: ignore[arg-type]
        buf.seek(0)
        assert read_rows(fmt, buf) == []  # type: ignore[arg-type]


def test_money_conversions_are_exact_and_monotonic() -> None:
    from aegis.ledger.store import usd_to_nusd_ceil
    from aegis.pricing import Prices, cost_usd, worst_case_cost
    from aegis.types import Usage

    rng = random.Random(11)
    for _ in range(20_000):
        n = rng.randrange(0, 10**15)  # every whole nano-dollar amount below $1M
        assert usd_to_nusd(n / 1e9) == n == usd_to_nusd_ceil(n / 1e9)
    assert usd_to_nusd(12_345_678.123456) == 12_345_678_123_456_000  # the Decimal path
    for _ in range(20_000):  # a reservation always covers the settlement, in nano-dollars
        prices = Prices(input=rng.choice([0.15, 2.5, 3, 0.003625]), output=rng.choice([0.6, 10, 75]))
        prompt, out = rng.randrange(300_000), rng.randrange(64_000)
        worst = worst_case_cost(prompt, out, prices)
        actual = cost_usd(Usage(rng.randrange(prompt + 1), rng.randrange(out + 1)), prices)
        assert usd_to_nusd(actual) <= usd_to_nusd_ceil(worst)


def test_attempts_are_stored_exactly_as_their_ledger_rows() -> None:
    """The writer's direct Attempt -> columns path matches the LedgerRow codec."""
    from aegis.ledger.sqlite import _attempt_values, _row_values
    from aegis.records import Attempt, Caller
    from aegis.task import Task
    from aegis.types import Usage

    attempt = Attempt(
        request_id="req_1", started_at=1_790_000_000.5, provider="openai", model="gpt-4o-mini",
        route="rule:x", reason="why", attempt=1, streamed=True, status="ok",
        usage=Usage(10, 20, 3, 1), cost_usd=0.000123456, latency_ms=12.5, ttft_ms=3.25,
        error_kind=None, usage_estimated=True,
        task=Task(task_type="code", quality="high", workspace="ws", tags=("a", "b"),
                  batch_size=4),
        caller=Caller(key_id="k1", key_name="alice", team="research"),
        upstream_model="gpt-4o-mini-2024", data_class="pii", retry=0)
    assert _attempt_values(attempt) == _row_values(LedgerRow.from_attempt(attempt))


@pytest.mark.parametrize("count", [1, 3, 64, 85, 150, 501])
def test_a_batch_of_any_size_is_stored_whole_and_in_order(store: SqliteLedgerStore,
                                                          count: int) -> None:
    """Batches go in as multi-row statements of a few fixed sizes; none is lost or reordered."""
    rng = random.Random(count)
    batch = [random_attempt(rng, i, prefix=f"b{count}-") for i in range(count)]
    assert store.insert(batch) == count
    rows = list(store.rows())
    assert [r.request_id for r in rows] == [a.request_id for a in batch]
    assert rows == [LedgerRow.from_attempt(a) for a in batch]


@pytest.mark.parametrize(("usd", "text"), [
    (80, "$80.00"), (1234.5, "$1,234.50"), (1.0153, "$1.02"), (0.5, "$0.50"), (0, "$0.00"),
    (0.0153, "$0.0153"), (0.000624, "$0.000624"), (0.0005, "$0.0005"), (1e-9, "$0.000000001"),
    (-0.0005, "-$0.0005"),
])
def test_money_in_messages_keeps_cents_and_sub_cent_digits(usd: float, text: str) -> None:
    assert usd_text(usd) == text
