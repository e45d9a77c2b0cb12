"""The default store: one SQLite file in WAL mode, shared by every gateway worker.

WAL lets readers (reports, budget restore) run while a writer commits;
``synchronous=NORMAL`` makes a commit an append to the WAL without an fsync
(durable across a process crash, and across power loss up to the last
checkpoint, which is SQLite's documented WAL trade-off). ``busy_timeout``
makes concurrent writers from other processes wait for the lock instead of
failing. Every write is a short ``BEGIN IMMEDIATE`` transaction, which takes
the write lock up front, so a transaction can never fail half-way with
``SQLITE_BUSY`` on a stale snapshot.

One connection per store, guarded by a lock (several threads use it: the
ledger writer, the event loop for key lookups, the CLI). Components that need
their own transactions (the multi-process budget backend) open another
connection with ``connect()``.
"""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from json.encoder import encode_basestring
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from aegis.errors import ConfigError
from aegis.ledger.migrations import MIGRATIONS, Migration, migrate
from aegis.ledger.store import (
    NO_FILTERS,
    Filters,
    GroupBy,
    KeyRow,
    LedgerRow,
    LedgerStore,
    Scope,
    SpendRow,
    _label,
    usd_to_nusd,
)

if TYPE_CHECKING:
    from aegis.records import Attempt

_ROW_COLUMNS = (
    "request_id", "started_at", "provider", "model", "upstream_model", "route", "reason",
    "attempt", "streamed", "status", "prompt_tokens", "completion_tokens", "cached_tokens",
    "cache_write_tokens", "cost_nusd", "latency_ms", "ttft_ms", "error_kind",
    "usage_estimated", "key_id", "key_name", "team", "workspace", "data_class", "task_type",
    "quality", "complexity", "strategy", "batch_size", "tags", "prompt", "completion",
)
_TAGS = _ROW_COLUMNS.index("tags")
# Rows go in as multi-row INSERTs of these sizes (largest first, each statement prepared
# once). Why not ``executemany``: it steps once per row, and every step releases the GIL
# and takes it back, so a batch of n rows made the event loop hand the GIL over ~2n
# times; a batch now costs at most one step per size.
_CHUNKS = (64, 16, 4, 1)
_PLACEHOLDERS = f"({', '.join('?' for _ in _ROW_COLUMNS)})"
_INSERTS = {
    n: f"INSERT INTO attempts ({', '.join(_ROW_COLUMNS)}) VALUES "
       + ", ".join([_PLACEHOLDERS] * n)
    for n in _CHUNKS
}
_SELECT = f"SELECT id, {', '.join(_ROW_COLUMNS)} FROM attempts"
_GROUP_EXPR = {
    "provider": "provider",
    "model": "model",
    "key": "key_id",
    "team": "team",
    "workspace": "workspace",
    "day": "strftime('%Y-%m-%d', started_at, 'unixepoch')",
}
_KEY_COLUMNS = ("id", "name", "salt", "digest", "created_at", "team", "expires_at",
                "revoked_at", "budget_nusd", "period", "models")


def configure(conn: sqlite3.Connection, busy_timeout_s: float) -> None:
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
    conn.execute("PRAGMA journal_mode = WAL")  # a no-op answer of "memory" for :memory:
    conn.execute("PRAGMA synchronous = NORMAL")
    # multi-row INSERTs keep a statement journal; in memory, not a temp file per batch
    conn.execute("PRAGMA temp_store = MEMORY")


def where(
    since: float | None, until: float | None, filters: Filters = NO_FILTERS
) -> tuple[str, list[Any]]:
    """A WHERE clause (possibly empty) and its parameters."""
    clauses: list[str] = []
    params: list[Any] = []
    if since is not None:
        clauses.append("started_at >= ?")
        params.append(since)
    if until is not None:
        clauses.append("started_at < ?")
        params.append(until)
    for column in ("provider", "model", "team", "workspace", "status"):
        value = getattr(filters, column)
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if filters.key is not None:
        clauses.append("(key_id = ? OR key_name = ?)")
        params += [filters.key, filters.key]
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def spend_nusd(
    conn: sqlite3.Connection, scope: Scope, since: float | None, until: float | None
) -> int:
    """Sum of row costs in a scope and window, on the caller's connection (and transaction)."""
    clause, params = where(since, until, Filters.for_scope(scope))
    row = conn.execute(f"SELECT COALESCE(SUM(cost_nusd), 0) FROM attempts{clause}",
                       params).fetchone()
    return int(row[0])


def _row_values(row: LedgerRow) -> tuple[Any, ...]:
    values = [getattr(row, c) for c in _ROW_COLUMNS]
    values[_ROW_COLUMNS.index("streamed")] = int(row.streamed)
    values[_ROW_COLUMNS.index("usage_estimated")] = int(row.usage_estimated)
    values[_TAGS] = json.dumps(list(row.tags), ensure_ascii=False) if row.tags else None
    return tuple(values)


def _attempt_values(a: Attempt) -> tuple[Any, ...]:
    """``_row_values(LedgerRow.from_attempt(a))`` without the intermediate object.

    The writer thread runs this for every attempt while holding the GIL the event
    loop needs; building the tuple directly costs a third of the detour.
    """
    t, u, c = a.task, a.usage, a.caller
    return (
        a.request_id, float(a.started_at), a.provider, a.model, a.upstream_model, a.route,
        a.reason, a.attempt, int(a.streamed), a.status, u.prompt_tokens, u.completion_tokens,
        u.cached_tokens, u.cache_write_tokens, usd_to_nusd(a.cost_usd), float(a.latency_ms),
        a.ttft_ms, a.error_kind, int(a.usage_estimated), c.key_id, c.key_name, c.team,
        _label(t.workspace), a.data_class or _label(t.data_class), _label(t.task_type),
        _label(t.quality), _label(t.complexity), _label(t.strategy), t.batch_size,
        _tags_json(map(str, t.tags)) if t.tags else None,
        *(a.texts or _NO_TEXTS),
    )


_NO_TEXTS = (None, None)


def _tags_json(tags: Iterable[str]) -> str:
    """``json.dumps(list(tags), ensure_ascii=False)``, at a third of the cost.

    ``json.dumps`` with any non-default option builds a new encoder per call; a list
    of strings is ``[`` + each string JSON-quoted, joined by ``", "`` + ``]``.
    """
    return "[" + ", ".join(map(encode_basestring, tags)) + "]"


def _insert_chunks(conn: sqlite3.Connection, values: Sequence[tuple[Any, ...]]) -> None:
    """Bind every row's values, flattened once for the whole batch, chunk by chunk.

    ``None`` is bound as NaN: SQLite stores a NaN double as NULL
    (``sqlite3_bind_double``), so the row is identical, but Python's sqlite3 sends
    ``None`` through the adapter protocol (a raised and cleared AttributeError per
    value, ~0.4 us with the GIL held) while a float binds in ~0.03 us. Rows carry
    about ten ``None`` columns. A NaN value upstream was, and still is, stored as NULL.
    """
    nan = math.nan
    flat = [nan if v is None else v for row in values for v in row]
    width = len(_ROW_COLUMNS)
    done, total = 0, len(values)
    while done < total:
        size = next(n for n in _CHUNKS if n <= total - done)
        conn.execute(_INSERTS[size], flat[done * width:(done + size) * width])
        done += size


def _row(record: Sequence[Any]) -> LedgerRow:
    values = dict(zip(_ROW_COLUMNS, record[1:], strict=True))
    values["streamed"] = bool(values["streamed"])
    values["usage_estimated"] = bool(values["usage_estimated"])
    values["tags"] = tuple(json.loads(values["tags"])) if values["tags"] else ()
    return LedgerRow(**values)


def _key(record: Sequence[Any]) -> KeyRow:
    values = dict(zip(_KEY_COLUMNS, record, strict=True))
    values["models"] = tuple(json.loads(values["models"])) if values["models"] else None
    values["salt"], values["digest"] = bytes(values["salt"]), bytes(values["digest"])
    return KeyRow(**values)


class SqliteLedgerStore(LedgerStore):
    transient_errors: ClassVar[tuple[type[BaseException], ...]] = (
        sqlite3.OperationalError, OSError,
    )

    def __init__(
        self, path: str | Path, *, busy_timeout_s: float = 5.0,
        migrations: Sequence[Migration] = MIGRATIONS,
    ) -> None:
        self.path = str(path)
        self.busy_timeout_s = busy_timeout_s
        self.in_memory = self.path == ":memory:" or self.path.startswith("file::memory:")
        if not self.in_memory:
            Path(self.path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            self._conn = self.connect()
            migrate(self._conn, migrations)
        except sqlite3.Error as exc:
            raise ConfigError(f"storage.url: cannot open SQLite store {self.path!r}: {exc}") \
                from exc

    def connect(self) -> sqlite3.Connection:
        """A new configured connection to the same database file (autocommit mode)."""
        if self.in_memory and getattr(self, "_conn", None) is not None:
            raise ConfigError("storage.url: an in-memory store cannot be shared; use a file")
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None,
                               check_same_thread=False)
        configure(conn, self.busy_timeout_s)
        return conn

    def journal_mode(self) -> str:
        with self._lock:
            return str(self._conn.execute("PRAGMA journal_mode").fetchone()[0])

    # -- ledger ---------------------------------------------------------------

    def insert(self, rows: Iterable[LedgerRow | Attempt]) -> int:
        values = [_row_values(r) if isinstance(r, LedgerRow) else _attempt_values(r)
                  for r in rows]
        if not values:
            return 0
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                _insert_chunks(conn, values)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        return len(values)

    def spend(
        self, group_by: GroupBy | None = None, since: float | None = None,
        until: float | None = None, filters: Filters = NO_FILTERS,
    ) -> list[SpendRow]:
        if group_by is not None and group_by not in _GROUP_EXPR:
            raise ValueError(f"cannot group by {group_by!r} (expected one of "
                             f"{', '.join(_GROUP_EXPR)})")
        group = _GROUP_EXPR[group_by] if group_by else "NULL"
        label = "MAX(key_name)" if group_by == "key" else "NULL"
        clause, params = where(since, until, filters)
        sql = (
            f"SELECT {group} AS g, {label}, COUNT(*), COUNT(DISTINCT request_id), "
            "COALESCE(SUM(status != 'ok'), 0), COALESCE(SUM(prompt_tokens), 0), "
            "COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(cached_tokens), 0), "
            f"COALESCE(SUM(cost_nusd), 0) FROM attempts{clause}"
        )
        if group_by:
            order = "g" if group_by == "day" else "SUM(cost_nusd) DESC, g"
            sql += f" GROUP BY g ORDER BY {order}"
        with self._lock:
            records = self._conn.execute(sql, params).fetchall()
        rows = [SpendRow(*r) for r in records]
        return [r for r in rows if r.attempts] if not group_by else rows

    def recent(self, limit: int = 100) -> list[LedgerRow]:
        with self._lock:
            records = self._conn.execute(f"{_SELECT} ORDER BY id DESC LIMIT ?",
                                         (max(int(limit), 0),)).fetchall()
        return [_row(r) for r in records]

    def rows(
        self, since: float | None = None, until: float | None = None, batch: int = 1000
    ) -> Iterator[LedgerRow]:
        clause, params = where(since, until)
        joiner = " AND " if clause else " WHERE "
        last = 0
        while True:
            with self._lock:
                records = self._conn.execute(
                    f"{_SELECT}{clause}{joiner}id > ? ORDER BY id LIMIT ?",
                    [*params, last, batch],
                ).fetchall()
            for record in records:
                yield _row(record)
            if len(records) < batch:
                return
            last = records[-1][0]

    def total_spend_nusd(self, scope: Scope, since: float | None, until: float | None) -> int:
        with self._lock:
            return spend_nusd(self._conn, scope, since, until)

    # -- keys -------------------------------------------------------------------

    def insert_key(self, key: KeyRow) -> None:
        values = [getattr(key, c) for c in _KEY_COLUMNS]
        values[-1] = json.dumps(list(key.models)) if key.models is not None else None
        sql = (f"INSERT INTO api_keys ({', '.join(_KEY_COLUMNS)}) "
               f"VALUES ({', '.join('?' for _ in _KEY_COLUMNS)})")
        with self._lock:
            try:
                self._conn.execute(sql, values)
            except sqlite3.IntegrityError:
                clash = self._conn.execute(
                    "SELECT id FROM api_keys WHERE name = ? AND revoked_at IS NULL",
                    (key.name,)).fetchone()
                if clash is None:  # the new id itself (48 random bits) is taken
                    raise ConfigError(f"a key with id {key.id!r} already exists; "
                                      "try again") from None
                raise ConfigError(f"a key named {key.name!r} already exists ({clash[0]}); "
                                  "revoke it first or pick another name") from None

    def get_key(self, key_id: str) -> KeyRow | None:
        with self._lock:
            record = self._conn.execute(
                f"SELECT {', '.join(_KEY_COLUMNS)} FROM api_keys WHERE id = ?", (key_id,)
            ).fetchone()
        return _key(record) if record else None

    def find_key(self, id_or_name: str) -> KeyRow | None:
        found = self.get_key(id_or_name)
        if found is not None:
            return found
        with self._lock:
            record = self._conn.execute(
                f"SELECT {', '.join(_KEY_COLUMNS)} FROM api_keys WHERE name = ? "
                "ORDER BY revoked_at IS NULL DESC, created_at DESC LIMIT 1", (id_or_name,)
            ).fetchone()
        return _key(record) if record else None

    def list_keys(self) -> list[KeyRow]:
        with self._lock:
            records = self._conn.execute(
                f"SELECT {', '.join(_KEY_COLUMNS)} FROM api_keys ORDER BY created_at, rowid"
            ).fetchall()
        return [_key(r) for r in records]

    def revoke_key(self, key_id: str, at: float) -> bool:
        with self._lock:
            cur = self._conn.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (at, key_id),
            )
        return cur.rowcount > 0

    def close(self) -> None:
        with self._lock:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("PRAGMA optimize")
            self._conn.close()


__all__ = ["SqliteLedgerStore", "configure", "spend_nusd", "where"]
