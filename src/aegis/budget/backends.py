"""Where budget counters live: in process memory, or in the shared SQLite file.

Both keep, per (budget, scope, period) *state key*, two integers in
nano-dollars: ``spent`` (settled) and ``reserved`` (outstanding
reservations), plus the open reservations themselves so that the ones never
settled can expire. Every operation is one critical section:

* ``InMemoryBudgetBackend``: a ``threading.Lock`` around dict updates, no I/O.
  Correct for any number of asyncio tasks and threads in **one** process.
* ``SqliteBudgetBackend``: one ``BEGIN IMMEDIATE`` transaction per operation on
  the ``budget_state`` / ``budget_reservations`` tables. SQLite admits one
  writer at a time across processes, so the check-then-reserve is atomic
  across every worker sharing the file. Its reads of the ``attempts`` table
  (restoring a period's spend) happen inside the same transaction.

A state key missing from the backend is *restored* from the ledger (the sum of
``cost_nusd`` in the budget's scope over the period) when first touched, so a
restart or a new period starts from what the ledger says was spent.

A Redis backend later would be the same interface over a Lua script per
operation.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, NamedTuple, TypeVar

from aegis.budget.model import window_for_key
from aegis.errors import ConfigError
from aegis.ledger.sqlite import SqliteLedgerStore, spend_nusd
from aegis.ledger.store import LedgerStore, Scope

_T = TypeVar("_T")
StateKey = tuple[str, str, str]  # (budget name, scope text, period key)
EXPIRED_RETENTION_S = 7 * 86400.0  # how long a late settle of an expired reservation counts


@dataclass(frozen=True, slots=True)
class Shortfall:
    """A budget that could not take the reservation: its index and current state."""

    index: int
    spent_nusd: int
    reserved_nusd: int


class Settled(NamedTuple):
    """Spend of one state key before and after a settlement (for threshold alerts).

    A named tuple rather than a dataclass: one is made per budget per request, and
    a frozen dataclass costs three times as much to create.
    """

    before_nusd: int
    after_nusd: int


def restore_query(key: StateKey) -> tuple[Scope, float | None, float | None]:
    """The ledger window that holds a state key's spend."""
    window = window_for_key(key[2])
    return Scope.parse(key[1]), (window.start if window.end is not None else None), window.end


@dataclass(frozen=True, slots=True)
class LeaseRequest:
    """One worker's lease on one state key, renewed in the shared store (``leases``)."""

    key: StateKey
    limit: int
    flush: int  # spend settled in the worker since its last renewal
    need: int  # the worker's outstanding reservations: the lease covers them whatever
    floor: int  # need + the reservation waiting for this renewal (need when none)
    want: int  # what the worker would like to hold (>= floor)
    share: int  # workers competing for what is left


@dataclass(frozen=True, slots=True)
class LeaseGrant:
    held: int  # the lease now held (counted in the key's reserved total)
    settled: Settled  # the key's spend before and after the flush
    reserved: int  # the key's reserved total afterwards (every worker's)


class BudgetBackend(ABC):
    """Atomic reserve / settle / release over several state keys at once."""

    #: True when operations do I/O: the manager then runs them off the event loop.
    blocking: ClassVar[bool] = False
    #: True when ``settle`` never does I/O even though ``reserve`` may (leases).
    local_settle: ClassVar[bool] = False
    #: Called with spend that reached the shared total later than its ``settle``
    #: returned (leases flush in batches); the manager checks alert thresholds.
    settled_hook: Callable[[StateKey, Settled], None] | None = None

    def try_reserve(self, token: str, keys: Sequence[StateKey], limits: Sequence[int],
                    amount: int, expires_at: float, now: float) -> tuple[Shortfall, ...] | None:
        """``reserve`` if it can answer without I/O, else None (call ``reserve`` off the loop)."""
        if self.blocking:
            return None
        return self.reserve(token, keys, limits, amount, expires_at, now)

    @abstractmethod
    def reserve(self, token: str, keys: Sequence[StateKey], limits: Sequence[int],
                amount: int, expires_at: float, now: float) -> tuple[Shortfall, ...]:
        """All or nothing: add ``amount`` to every key's reserved total iff, for each,
        spent + reserved + amount <= limit. Returns the keys that refused (empty = granted)."""

    @abstractmethod
    def settle(self, token: str, keys: Sequence[StateKey], actual: int,
               now: float) -> tuple[Settled, ...]:
        """Drop the reservation and add ``actual`` to every key's spend.

        An unknown token means it was already settled or released: nothing
        happens (empty result). A token that expired adds ``actual`` to spend
        without touching ``reserved`` (the reservation was already returned).
        The empty token settles without any reservation.
        """

    @abstractmethod
    def release(self, token: str, now: float) -> None:
        """Return an unused reservation (the call never happened)."""

    @abstractmethod
    def expire(self, now: float) -> int:
        """Return every reservation whose time is up; how many."""

    @abstractmethod
    def state(self, keys: Sequence[StateKey]) -> list[tuple[int, int]]:
        """(spent, reserved) per key, restoring from the ledger when unknown."""

    def restore(self, keys: Sequence[StateKey]) -> None:
        """Startup: make sure each key's spend is at least what the ledger holds."""
        self.state(keys)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources."""


class OpenReservations:
    """One process's granted reservations, until settled, released or expired.

    Shared by the backends that hold reservations in memory (``InMemory``, and
    ``leases`` in front of the shared store); ``give_back(keys, amount)`` returns an
    expired one's amount to whatever holds it. Call every method under the backend's lock.
    """

    __slots__ = ("expired", "next_sweep", "open", "sweep_interval")

    def __init__(self, sweep_interval_s: float) -> None:
        self.open: dict[str, tuple[Sequence[StateKey], int, float]] = {}
        self.expired: dict[str, float] = {}  # token -> when it expired
        self.sweep_interval = sweep_interval_s
        self.next_sweep = 0.0

    def add(self, token: str, keys: Sequence[StateKey], amount: int, expires_at: float) -> None:
        self.open[token] = (keys, amount, expires_at)

    def settling(self, token: str) -> int | None:
        """The amount a settlement returns (0 when it expired or there was none); None
        when the token is unknown (already settled or released: nothing to do)."""
        if not token:
            return 0
        held = self.open.pop(token, None)
        if held is not None:
            return held[1]
        return 0 if self.expired.pop(token, None) is not None else None

    def release(self, token: str, give_back: Callable[[Sequence[StateKey], int], None]) -> None:
        held = self.open.pop(token, None)
        if held is None:
            self.expired.pop(token, None)
        else:
            give_back(held[0], held[1])

    def sweep(self, now: float, give_back: Callable[[Sequence[StateKey], int], None],
              *, force: bool = False) -> int:
        """Expire what is due (at most once per interval unless ``force``); how many."""
        if not force and now < self.next_sweep:
            return 0
        self.next_sweep = now + self.sweep_interval
        due = [t for t, (_, _, exp) in self.open.items() if exp <= now]
        for token in due:
            keys, amount, _ = self.open.pop(token)
            give_back(keys, amount)
            self.expired[token] = now
        if self.expired:
            horizon = now - EXPIRED_RETENTION_S
            for token in [t for t, at in self.expired.items() if at < horizon]:
                del self.expired[token]
        return len(due)


class InMemoryBudgetBackend(BudgetBackend):
    """One process: a lock and dicts (sub-microsecond critical sections)."""

    def __init__(self, store: LedgerStore | None = None, *, sweep_interval_s: float = 1.0):
        self._store = store
        self._lock = threading.Lock()
        self._state: dict[StateKey, list[int]] = {}  # key -> [spent, reserved]
        self._held = OpenReservations(sweep_interval_s)

    def _restore(self, key: StateKey) -> int:
        return self._store.total_spend_nusd(*restore_query(key)) if self._store else 0

    def _cells(self, keys: Sequence[StateKey]) -> list[list[int]]:
        """State cells; the ledger is read *outside* the lock, only on first touch."""
        state = self._state
        try:
            return [state[k] for k in keys]
        except KeyError:
            pass
        restored = {k: self._restore(k) for k in keys if k not in state}
        with self._lock:
            for k, spent in restored.items():
                state.setdefault(k, [spent, 0])
        return [state[k] for k in keys]

    def reserve(self, token: str, keys: Sequence[StateKey], limits: Sequence[int],
                amount: int, expires_at: float, now: float) -> tuple[Shortfall, ...]:
        cells = self._cells(keys)
        if len(limits) != len(cells):
            raise ValueError("reserve: one limit per state key")
        with self._lock:
            held = self._held
            if now >= held.next_sweep:
                held.sweep(now, self._give_back)
            for c, limit in zip(cells, limits):  # noqa: B905 - checked above, and cheaper
                if c[0] + c[1] + amount > limit:
                    return tuple(
                        Shortfall(i, c[0], c[1])
                        for i, (c, limit) in enumerate(zip(cells, limits, strict=True))
                        if c[0] + c[1] + amount > limit
                    )
            for c in cells:
                c[1] += amount
            held.add(token, keys, amount, expires_at)
            return ()

    def settle(self, token: str, keys: Sequence[StateKey], actual: int,
               now: float) -> tuple[Settled, ...]:
        cells = self._cells(keys)
        with self._lock:
            returned = self._held.settling(token)
            if returned is None:
                return ()
            out = []
            for c in cells:
                before = c[0]
                c[0] = before + actual
                c[1] -= returned
                out.append(Settled(before, before + actual))
            return tuple(out)

    def release(self, token: str, now: float) -> None:
        with self._lock:
            self._held.release(token, self._give_back)

    def expire(self, now: float) -> int:
        with self._lock:
            return self._held.sweep(now, self._give_back, force=True)

    def _give_back(self, keys: Sequence[StateKey], amount: int) -> None:
        for k in keys:
            self._state[k][1] -= amount

    def state(self, keys: Sequence[StateKey]) -> list[tuple[int, int]]:
        cells = self._cells(keys)
        with self._lock:
            return [(c[0], c[1]) for c in cells]


class SqliteBudgetBackend(BudgetBackend):
    """Several worker processes sharing one SQLite file (one transaction per operation).

    Lock waits are handled here rather than by SQLite's busy handler, which
    sleeps 1, 2, 5, 10... ms between tries: against a peer that commits in
    tens of microseconds that starves the waiting processes. Retrying the whole
    transaction after a short jittered sleep (50 us doubling to 2 ms) keeps
    waits short and shares the lock fairly. Each operation is a pure function
    of the database state, so a retried transaction is simply redone.
    """

    blocking: ClassVar[bool] = True

    def __init__(self, store: SqliteLedgerStore, *, sweep_interval_s: float = 1.0,
                 lock_timeout_s: float | None = None):
        self._conn = store.connect()
        self._conn.execute("PRAGMA busy_timeout = 0")  # we retry ourselves, see above
        self._timeout = store.busy_timeout_s if lock_timeout_s is None else lock_timeout_s
        self._lock = threading.Lock()
        self._sweep_interval = sweep_interval_s
        self._next_sweep = 0.0

    def _run(self, op: Callable[[sqlite3.Connection], _T]) -> _T:
        """``op`` inside ``BEGIN IMMEDIATE ... COMMIT``, retried while the file is locked."""
        deadline = time.monotonic() + self._timeout
        delay = 0.00005
        with self._lock:
            conn = self._conn
            while True:
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    result = op(conn)
                    conn.execute("COMMIT")
                    return result
                except sqlite3.OperationalError as exc:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    if not _is_busy(exc) or time.monotonic() >= deadline:
                        raise
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.002)

    @staticmethod
    def _cell(conn: sqlite3.Connection, key: StateKey) -> tuple[int, int]:
        row = conn.execute(
            "SELECT spent_nusd, reserved_nusd FROM budget_state "
            "WHERE budget = ? AND scope = ? AND period = ?", key,
        ).fetchone()
        if row is not None:
            return int(row[0]), int(row[1])
        spent = spend_nusd(conn, *restore_query(key))
        conn.execute("INSERT INTO budget_state (budget, scope, period, spent_nusd, "
                     "reserved_nusd) VALUES (?, ?, ?, ?, 0)", (*key, spent))
        return spent, 0

    def reserve(self, token: str, keys: Sequence[StateKey], limits: Sequence[int],
                amount: int, expires_at: float, now: float) -> tuple[Shortfall, ...]:
        def op(conn: sqlite3.Connection) -> tuple[Shortfall, ...]:
            if now >= self._next_sweep:
                self._sweep(conn, now)
            cells = [self._cell(conn, k) for k in keys]
            short = tuple(
                Shortfall(i, spent, reserved)
                for i, ((spent, reserved), limit) in enumerate(zip(cells, limits, strict=True))
                if spent + reserved + amount > limit
            )
            if short:
                return short
            conn.executemany(
                "UPDATE budget_state SET reserved_nusd = reserved_nusd + ? "
                "WHERE budget = ? AND scope = ? AND period = ?", [(amount, *k) for k in keys])
            conn.executemany(
                "INSERT INTO budget_reservations (token, budget, scope, period, amount_nusd, "
                "expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                [(token, *k, amount, expires_at) for k in keys])
            return ()

        return self._run(op)

    def settle(self, token: str, keys: Sequence[StateKey], actual: int,
               now: float) -> tuple[Settled, ...]:
        def op(conn: sqlite3.Connection) -> tuple[Settled, ...]:
            held: dict[StateKey, tuple[int, int]] = {}
            if token:
                held = {
                    (r[0], r[1], r[2]): (int(r[3]), int(r[4]))
                    for r in conn.execute(
                        "SELECT budget, scope, period, amount_nusd, expired "
                        "FROM budget_reservations WHERE token = ?", (token,))
                }
                if not held:
                    return ()  # already settled or released
            out = []
            for k in keys:
                spent, _ = self._cell(conn, k)
                amount, expired = held.get(k, (0, 1))
                conn.execute(
                    "UPDATE budget_state SET spent_nusd = spent_nusd + ?, "
                    "reserved_nusd = reserved_nusd - ? "
                    "WHERE budget = ? AND scope = ? AND period = ?",
                    (actual, 0 if expired else amount, *k))
                out.append(Settled(spent, spent + actual))
            if token:
                conn.execute("DELETE FROM budget_reservations WHERE token = ?", (token,))
            return tuple(out)

        return self._run(op)

    def release(self, token: str, now: float) -> None:
        def op(conn: sqlite3.Connection) -> None:
            rows = conn.execute(
                "SELECT budget, scope, period, amount_nusd FROM budget_reservations "
                "WHERE token = ? AND expired = 0", (token,)).fetchall()
            conn.executemany(
                "UPDATE budget_state SET reserved_nusd = reserved_nusd - ? "
                "WHERE budget = ? AND scope = ? AND period = ?",
                [(r[3], r[0], r[1], r[2]) for r in rows])
            conn.execute("DELETE FROM budget_reservations WHERE token = ?", (token,))

        self._run(op)

    def expire(self, now: float) -> int:
        return self._run(lambda conn: self._sweep(conn, now))

    def _sweep(self, conn: sqlite3.Connection, now: float) -> int:
        self._next_sweep = now + self._sweep_interval
        count = int(conn.execute(
            "SELECT COUNT(DISTINCT token) FROM budget_reservations "
            "WHERE expired = 0 AND expires_at <= ?", (now,)).fetchone()[0])
        if count:
            due = conn.execute(
                "SELECT budget, scope, period, SUM(amount_nusd) FROM budget_reservations "
                "WHERE expired = 0 AND expires_at <= ? GROUP BY budget, scope, period", (now,),
            ).fetchall()
            conn.executemany(
                "UPDATE budget_state SET reserved_nusd = reserved_nusd - ? "
                "WHERE budget = ? AND scope = ? AND period = ?",
                [(r[3], r[0], r[1], r[2]) for r in due])
            conn.execute("UPDATE budget_reservations SET expired = 1 "
                         "WHERE expired = 0 AND expires_at <= ?", (now,))
        conn.execute("DELETE FROM budget_reservations WHERE expired = 1 AND expires_at < ?",
                     (now - EXPIRED_RETENTION_S,))
        return count

    def state(self, keys: Sequence[StateKey]) -> list[tuple[int, int]]:
        return self._run(lambda conn: [self._cell(conn, k) for k in keys])

    def sync_leases(self, owner: str, requests: Sequence[LeaseRequest], now: float,
                    ttl_s: float) -> list[LeaseGrant]:
        """One transaction: add each request's flushed spend, then resize ``owner``'s lease.

        A lease is a reservation row (token ``lease:<owner>``) that the sweep returns
        if its owner stops renewing it. The new size leaves other workers a fair part
        of what is left: at most ``floor + (available - floor) / share``; when even
        ``floor`` does not fit, only ``need`` is kept (the waiting reservation is refused).
        """
        token = f"lease:{owner}"

        def op(conn: sqlite3.Connection) -> list[LeaseGrant]:
            if now >= self._next_sweep:
                self._sweep(conn, now)
            out = []
            for r in requests:
                spent, reserved = self._cell(conn, r.key)
                row = conn.execute(
                    "SELECT amount_nusd, expired FROM budget_reservations WHERE token = ? "
                    "AND budget = ? AND scope = ? AND period = ?", (token, *r.key)).fetchone()
                mine = int(row[0]) if row is not None and not row[1] else 0
                others = reserved - mine
                after = spent + r.flush
                available = r.limit - after - others
                if available >= r.floor:
                    held = min(r.want, r.floor + (available - r.floor) // max(r.share, 1))
                else:
                    held = r.need
                conn.execute(
                    "UPDATE budget_state SET spent_nusd = ?, reserved_nusd = ? "
                    "WHERE budget = ? AND scope = ? AND period = ?",
                    (after, others + held, *r.key))
                if held:
                    conn.execute(
                        "INSERT OR REPLACE INTO budget_reservations (token, budget, scope, "
                        "period, amount_nusd, expires_at, expired) VALUES (?, ?, ?, ?, ?, ?, 0)",
                        (token, *r.key, held, now + ttl_s))
                elif row is not None:
                    conn.execute("DELETE FROM budget_reservations WHERE token = ? AND "
                                 "budget = ? AND scope = ? AND period = ?", (token, *r.key))
                out.append(LeaseGrant(held, Settled(spent, after), others + held))
            return out

        return self._run(op)

    def restore(self, keys: Sequence[StateKey]) -> None:
        """Lift stored spend to the ledger's sum where it is lower.

        The state row can lag the ledger when the deployment ran with the
        in-memory backend (one worker) for part of the period. Taking the max
        never double counts and never lowers spend (rows still queued in some
        writer are in the state already, not yet in the ledger).
        """
        def op(conn: sqlite3.Connection) -> None:
            for k in keys:
                spent, _ = self._cell(conn, k)
                ledger = spend_nusd(conn, *restore_query(k))
                if ledger > spent:
                    conn.execute("UPDATE budget_state SET spent_nusd = ? WHERE budget = ? "
                                 "AND scope = ? AND period = ?", (ledger, *k))

        self._run(op)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def backend_for(store: LedgerStore | None, workers: int = 1) -> BudgetBackend:
    """In memory for one worker; leases on the shared SQLite file for several processes."""
    if workers <= 1:
        return InMemoryBudgetBackend(store)
    if isinstance(store, SqliteLedgerStore) and not store.in_memory:
        from aegis.budget.leases import LeasedBudgetBackend

        return LeasedBudgetBackend(SqliteBudgetBackend(store), workers=workers)
    raise ConfigError("budgets: with server.workers > 1 the budget state must be shared; "
                      "use a file store (storage.url: sqlite:///aegis.db)")


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    text = str(exc).lower()
    return "locked" in text or "busy" in text


__all__ = [
    "EXPIRED_RETENTION_S",
    "BudgetBackend",
    "InMemoryBudgetBackend",
    "LeaseGrant",
    "LeaseRequest",
    "OpenReservations",
    "Settled",
    "Shortfall",
    "SqliteBudgetBackend",
    "StateKey",
    "backend_for",
    "restore_query",
]
