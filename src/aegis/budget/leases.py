"""Budgets shared by several worker processes, without a database trip per request.

One SQLite transaction per reservation (``SqliteBudgetBackend``) serialises every
worker on the file's write lock and sends each request through the budget
thread: two workers served fewer requests than one. Here each worker *leases*
headroom instead: a reservation row of its own (token ``lease:<owner>``) in the
shared state, counted in every key's ``reserved`` total like any reservation.
Requests then reserve and settle against the local lease in memory; a worker
goes back to the shared store only when its lease cannot cover a request, and
every ``sync_interval_s`` to add its settled spend to the shared total and to
resize the lease to what it recently used (an idle worker returns its headroom).

The bound is the shared one, unchanged: every key keeps ``spent + reserved <=
limit`` in the shared store, a lease is part of ``reserved``, and a worker's
local ``reserved + pending <= lease``. Renewal never shrinks a lease below the
worker's outstanding reservations; while a renewal is in flight the spare part
it may give back is frozen (requests cannot reserve against it), so nothing
granted locally is ever left uncovered. Near the limit a lease grows by at most
``1/workers`` of what is left, so one worker cannot starve the others.

What changes for operators: ``reserved`` in ``aegis budgets`` includes leased
headroom; shared spend and alerts lag by at most ``sync_interval_s`` (each
threshold still fires once, from the renewal that crosses it); a worker killed
outright loses the spend it had not flushed yet (at most ``sync_interval_s``;
the ledger still has the rows, and the next start lifts spend to the ledger's
sum) and its lease returns to the pool after ``lease_ttl_s``.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from aegis.budget.backends import (
    BudgetBackend,
    LeaseGrant,
    LeaseRequest,
    OpenReservations,
    Settled,
    Shortfall,
    SqliteBudgetBackend,
    StateKey,
)

log = logging.getLogger("aegis.budget")

_GROWTH = 16  # a renewal asks for this many more reservations of the size that needed it


@dataclass(slots=True)
class _Lease:
    """One state key, as this worker sees it (nano-dollars)."""

    limit: int = 0
    held: int = 0  # granted by the shared store (in its reserved total)
    reserved: int = 0  # outstanding local reservations
    pending: int = 0  # settled locally, not yet in the shared spend
    frozen: int = 0  # spare headroom a renewal in flight may give back
    used: int = 0  # reserved since the last renewal (sizes the next lease)

    @property
    def free(self) -> int:
        return self.held - self.reserved - self.pending - self.frozen


class LeasedBudgetBackend(BudgetBackend):
    blocking: ClassVar[bool] = True  # a renewal is a SQLite transaction
    local_settle: ClassVar[bool] = True

    def __init__(
        self,
        shared: SqliteBudgetBackend,
        *,
        workers: int,
        owner: str | None = None,
        sync_interval_s: float = 0.2,
        lease_ttl_s: float = 120.0,
        clock: Callable[[], float] = time.time,
        sweep_interval_s: float = 1.0,
    ) -> None:
        self.shared = shared
        self.workers = max(workers, 1)
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.sync_interval_s = sync_interval_s
        self.lease_ttl_s = lease_ttl_s
        self.clock = clock
        self._lock = threading.Lock()  # the local state (event loop, budget thread, syncer)
        self._sync_lock = threading.Lock()  # one renewal at a time
        self._leases: dict[StateKey, _Lease] = {}
        self._held = OpenReservations(sweep_interval_s)
        self._renewed: dict[StateKey, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sync_loop, name="aegis-budget-leases",
                                        daemon=True)
        self._thread.start()

    # -- the request path (in memory) --------------------------------------------------

    def try_reserve(self, token: str, keys: Sequence[StateKey], limits: Sequence[int],
                    amount: int, expires_at: float, now: float) -> tuple[Shortfall, ...] | None:
        with self._lock:
            self._held.sweep(now, self._give_back)
            leases = [self._leases.get(k) for k in keys]
            for lease, limit in zip(leases, limits, strict=True):
                if lease is None or lease.limit != limit or lease.free < amount:
                    return None  # the lease must grow (or the limit changed): renew first
            return self._grant(token, keys, amount, expires_at)

    def reserve(self, token: str, keys: Sequence[StateKey], limits: Sequence[int],
                amount: int, expires_at: float, now: float) -> tuple[Shortfall, ...]:
        with self._sync_lock:
            granted = self.try_reserve(token, keys, limits, amount, expires_at, now)
            if granted is not None:
                return granted  # a renewal that ran meanwhile made room
            grants = self._renew(keys, limits, amount, now)
            with self._lock:
                short = []
                for i, (k, g) in enumerate(zip(keys, grants, strict=True)):
                    if self._leases[k].free < amount:
                        short.append(Shortfall(i, g.settled.after_nusd, g.reserved))
                if short:
                    return tuple(short)
                return self._grant(token, keys, amount, expires_at)

    def _grant(self, token: str, keys: Sequence[StateKey], amount: int,
               expires_at: float) -> tuple[Shortfall, ...]:
        """Reserve against leases known to cover ``amount``; call with ``_lock`` held."""
        for k in keys:
            lease = self._leases[k]
            lease.reserved += amount
            lease.used += amount
        self._held.add(token, keys, amount, expires_at)
        return ()

    def settle(self, token: str, keys: Sequence[StateKey], actual: int,
               now: float) -> tuple[Settled, ...]:
        """Local: the spend reaches the shared total (and alerts) with the next renewal."""
        with self._lock:
            returned = self._held.settling(token)
            if returned is None:
                return ()
            for k in keys:
                lease = self._leases.setdefault(k, _Lease())
                lease.reserved -= returned
                lease.pending += actual
            return ()

    def release(self, token: str, now: float) -> None:
        with self._lock:
            self._held.release(token, self._give_back)

    def expire(self, now: float) -> int:
        with self._lock:
            count = self._held.sweep(now, self._give_back, force=True)
        return count + self.shared.expire(now)

    def _give_back(self, keys: Sequence[StateKey], amount: int) -> None:
        """A local reservation ended unused (released, or past its TTL): back to the lease."""
        for k in keys:
            self._leases[k].reserved -= amount

    # -- renewals (SQLite, off the event loop) -----------------------------------------

    def _renew(self, keys: Sequence[StateKey], limits: Sequence[int], amount: int,
               now: float) -> list[LeaseGrant]:
        """Flush spend and resize the leases of ``keys``; call with ``_sync_lock`` held.

        ``amount`` > 0: a reservation waits for this renewal, so the lease should fit
        it plus room for more of its kind; 0: keep about what was used lately.
        """
        with self._lock:
            requests, snapshots = [], []
            for k, limit in zip(keys, limits, strict=True):
                lease = self._leases.setdefault(k, _Lease())
                lease.limit = limit
                spare = max(lease.held - lease.reserved - lease.pending, 0)
                lease.frozen = spare
                need = lease.reserved
                floor = need + amount
                grow = max(lease.used, amount * _GROWTH) if amount else lease.used
                requests.append(LeaseRequest(k, limit, lease.pending, need, floor,
                                             floor + grow, self.workers))
                snapshots.append((lease, lease.pending))
        try:
            grants = self.shared.sync_leases(self.owner, requests, now, self.lease_ttl_s)
        except BaseException:
            with self._lock:
                for lease, _ in snapshots:
                    lease.frozen = 0
            raise
        with self._lock:
            for (lease, flushed), grant in zip(snapshots, grants, strict=True):
                lease.pending -= flushed
                lease.held = grant.held
                lease.frozen = 0
                lease.used = 0
        for k, request, grant in zip(keys, requests, grants, strict=True):
            self._renewed[k] = now
            if request.flush and self.settled_hook is not None:
                try:
                    self.settled_hook(k, grant.settled)
                except Exception:
                    log.exception("budget settled hook failed")
        return grants

    def sync(self, now: float | None = None, *, trim: bool = False) -> None:
        """Flush spend and resize leases that need it (the background thread's step).

        ``trim``: give back every spare nano-dollar (shutdown, and before reporting
        state, so ``reserved`` shows this worker's reservations, not its headroom).
        """
        now = self.clock() if now is None else now
        with self._sync_lock:
            with self._lock:
                due = [(k, lease.limit) for k, lease in self._leases.items()
                       if trim or lease.pending or lease.used != 0
                       or (lease.held and (lease.held > lease.reserved + lease.pending
                                           or now - self._renewed.get(k, 0.0)
                                           >= self.lease_ttl_s / 4))]
                if trim:
                    for lease in self._leases.values():
                        lease.used = 0
            if due:
                self._renew([k for k, _ in due], [limit for _, limit in due], 0, now)

    def _sync_loop(self) -> None:
        while not self._stop.wait(self.sync_interval_s):
            try:
                self.sync()
            except Exception:
                log.exception("budget lease renewal failed; retrying")

    # -- state -------------------------------------------------------------------------

    def state(self, keys: Sequence[StateKey]) -> list[tuple[int, int]]:
        """The shared totals, after flushing this worker's spend and spare headroom.

        Other workers' leases still count as reserved until their next renewal.
        """
        self.sync(trim=True)
        return self.shared.state(keys)

    def restore(self, keys: Sequence[StateKey]) -> None:
        self.shared.restore(keys)

    def close(self) -> None:
        """Flush every settled nano-dollar and give the spare headroom back."""
        self._stop.set()
        self._thread.join(5.0)
        try:
            self.sync(trim=True)
        except Exception:
            log.exception("budget leases: final flush failed; the ledger keeps the spend")
        self.shared.close()


__all__ = ["LeasedBudgetBackend"]
