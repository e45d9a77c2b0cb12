"""Ordered, named schema migrations for the SQLite store (the simonw/llm pattern).

A ``_migrations`` table records the name of every migration applied. On open,
the pending ones run in list order, all inside one ``BEGIN IMMEDIATE``
transaction (SQLite DDL is transactional), so several workers starting at once
apply each migration exactly once and a failure leaves the schema untouched.

Rules for adding one: append to ``MIGRATIONS`` (never reorder, rename or edit
a released migration), one ``conn.execute`` per statement (``executescript``
would commit the surrounding transaction).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

log = logging.getLogger("aegis.ledger")


@dataclass(frozen=True, slots=True)
class Migration:
    name: str
    apply: Callable[[sqlite3.Connection], None]


def _run(conn: sqlite3.Connection, *statements: str) -> None:
    for statement in statements:
        conn.execute(statement)


def _attempts(conn: sqlite3.Connection) -> None:
    _run(
        conn,
        """CREATE TABLE attempts (
            id INTEGER PRIMARY KEY,
            request_id TEXT NOT NULL,
            started_at REAL NOT NULL,
            provider TEXT NOT NULL,
            model TEXT NOT NULL,
            upstream_model TEXT NOT NULL,
            route TEXT NOT NULL,
            reason TEXT NOT NULL,
            attempt INTEGER NOT NULL,
            streamed INTEGER NOT NULL,
            status TEXT NOT NULL,
            prompt_tokens INTEGER NOT NULL,
            completion_tokens INTEGER NOT NULL,
            cached_tokens INTEGER NOT NULL,
            cache_write_tokens INTEGER NOT NULL,
            cost_nusd INTEGER NOT NULL,
            latency_ms REAL NOT NULL,
            ttft_ms REAL,
            error_kind TEXT,
            usage_estimated INTEGER NOT NULL,
            key_id TEXT,
            key_name TEXT,
            team TEXT,
            workspace TEXT,
            data_class TEXT,
            task_type TEXT,
            quality TEXT,
            complexity TEXT,
            strategy TEXT,
            batch_size INTEGER,
            tags TEXT
        )""",
        # every report filters on time; the grouped ones lead with their column
        "CREATE INDEX attempts_time ON attempts (started_at)",
        "CREATE INDEX attempts_provider ON attempts (provider, started_at)",
        "CREATE INDEX attempts_model ON attempts (model, started_at)",
        "CREATE INDEX attempts_key ON attempts (key_id, started_at)",
        "CREATE INDEX attempts_key_name ON attempts (key_name, started_at)",
        "CREATE INDEX attempts_team ON attempts (team, started_at)",
        "CREATE INDEX attempts_workspace ON attempts (workspace, started_at)",
        "CREATE INDEX attempts_request ON attempts (request_id)",
    )


def _api_keys(conn: sqlite3.Connection) -> None:
    _run(
        conn,
        """CREATE TABLE api_keys (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            salt BLOB NOT NULL,
            digest BLOB NOT NULL,
            created_at REAL NOT NULL,
            team TEXT,
            expires_at REAL,
            revoked_at REAL,
            budget_nusd INTEGER,
            period TEXT,
            models TEXT
        )""",
        # a name identifies one *active* key; revoked names may be reused
        "CREATE UNIQUE INDEX api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL",
    )


def _budgets(conn: sqlite3.Connection) -> None:
    _run(
        conn,
        """CREATE TABLE budget_state (
            budget TEXT NOT NULL,
            scope TEXT NOT NULL,
            period TEXT NOT NULL,
            spent_nusd INTEGER NOT NULL DEFAULT 0,
            reserved_nusd INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (budget, scope, period)
        ) WITHOUT ROWID""",
        """CREATE TABLE budget_reservations (
            token TEXT NOT NULL,
            budget TEXT NOT NULL,
            scope TEXT NOT NULL,
            period TEXT NOT NULL,
            amount_nusd INTEGER NOT NULL,
            expires_at REAL NOT NULL,
            expired INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (token, budget, scope, period)
        ) WITHOUT ROWID""",
        "CREATE INDEX budget_reservations_expiry ON budget_reservations (expired, expires_at)",
    )


def _slim_attempt_indexes(conn: sqlite3.Connection) -> None:
    """Every secondary index costs each insert a B-tree update. Reports scan a time
    window (``attempts_time``) and then group; budgets restore by key. The
    per-dimension composites did not pay for themselves on the write path."""
    _run(
        conn,
        "DROP INDEX IF EXISTS attempts_provider",
        "DROP INDEX IF EXISTS attempts_model",
        "DROP INDEX IF EXISTS attempts_key_name",
        "DROP INDEX IF EXISTS attempts_team",
        "DROP INDEX IF EXISTS attempts_workspace",
    )


def _attempt_texts(conn: sqlite3.Connection) -> None:
    """Prompt and completion of the serving attempt, for ``storage.store_prompts``
    (NULL otherwise: nothing is stored unless a user turns it on)."""
    _run(
        conn,
        "ALTER TABLE attempts ADD COLUMN prompt TEXT",
        "ALTER TABLE attempts ADD COLUMN completion TEXT",
    )


MIGRATIONS: tuple[Migration, ...] = (
    Migration("m001_attempts", _attempts),
    Migration("m002_api_keys", _api_keys),
    Migration("m003_budgets", _budgets),
    Migration("m004_slim_attempt_indexes", _slim_attempt_indexes),
    Migration("m005_attempt_texts", _attempt_texts),
)


def applied(conn: sqlite3.Connection) -> list[str]:
    """Names already applied, in the order they were applied."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'"
    ).fetchone()
    if not exists:
        return []
    return [r[0] for r in conn.execute("SELECT name FROM _migrations ORDER BY rowid")]


def migrate(
    conn: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS
) -> list[str]:
    """Apply the pending migrations in order; returns the names applied now.

    ``conn`` must be in autocommit mode (``isolation_level=None``).
    """
    names = [m.name for m in migrations]
    if len(set(names)) != len(names):
        raise ValueError("migration names must be unique")
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS _migrations "
            "(name TEXT PRIMARY KEY, applied_at REAL NOT NULL)"
        )
        done = set(applied(conn))
        unknown = done - set(names)
        if unknown:
            log.warning("the database has migrations this version does not know: %s",
                        ", ".join(sorted(unknown)))
        now = time.time()
        ran: list[str] = []
        for migration in migrations:
            if migration.name in done:
                continue
            migration.apply(conn)
            conn.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                         (migration.name, now))
            ran.append(migration.name)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    if ran:
        log.info("applied ledger migrations: %s", ", ".join(ran))
    return ran


__all__ = ["MIGRATIONS", "Migration", "applied", "migrate"]
