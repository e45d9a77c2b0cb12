"""Reserve before the call, settle after: hard budget limits under any concurrency.

The guarantee
-------------
For every budget and period, the backend maintains, in one atomic step per
operation (a lock, or one SQLite ``BEGIN IMMEDIATE`` transaction shared by all
worker processes)::

    spent + reserved <= limit                                        (I)

``reserve`` adds ``amount`` to ``reserved`` of *every* applicable budget only
if (I) still holds for each of them afterwards (all or nothing); ``settle``
moves a reservation to ``spent`` as ``reserved -= amount; spent += actual``;
``release`` and expiry only lower ``reserved``. So (I) is preserved whenever
``actual <= amount``, and since ``reserved >= 0``, **settled spend never exceeds
the limit** — whatever the number of tasks, threads or processes. Amounts are
integer nano-dollars, converted monotonically (``actual_usd <= amount_usd``
implies the same in nano-dollars), so no rounding can break the inequality.

Precisely, for one budget and period::

    spent <= limit + sum(max(actual - reserved, 0))      over settlements that
                                                          exceeded their reservation
                   + sum(actual)                         over settlements that arrived
                                                          after their reservation expired

Both extra terms are zero when the reservation is a true worst case
(``reservation_amount``: an upper bound of the prompt's tokens at the dearest
input rate plus the request's ``max_tokens`` at the output rate) and settles
within ``reservation_ttl_s``. If a provider bills more than the reservation
(e.g. it ignored ``max_tokens``), the excess is still recorded — spend is never
under-reported — and the budget is then closed (``spent + amount > limit`` for
every non-zero request) until the period ends. A request whose worst case is
zero (a free local model) is never blocked.

Periods roll over at calendar boundaries (UTC) of the injected ``clock``: a
reservation belongs to the period in which it was made, and a period's state is
restored from the ledger the first time it is touched, so restarts do not reset
spend. (A request that straddles midnight is counted in the period it was
reserved in; after a restart the ledger attributes it by its start time.)
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal
from typing import Any, NamedTuple, Self

from aegis.budget.alerts import Alerter, BudgetAlert
from aegis.budget.backends import BudgetBackend, InMemoryBudgetBackend, Settled, StateKey
from aegis.budget.model import BudgetDef, PeriodWindow, period_window
from aegis.errors import BudgetExceeded
from aegis.ledger.store import nusd_to_usd, usd_text, usd_to_nusd, usd_to_nusd_ceil
from aegis.pricing import Prices, worst_case_cost, worst_case_nusd
from aegis.tokens import upper_bound_prompt_tokens

log = logging.getLogger("aegis.budget")
APPLICABLE_CACHE_SIZE = 4096  # distinct (provider, model, key, team, workspace) answers kept
#: (provider, model, key_id, key_name, team, workspace): what ``applicable`` depends on
_ScopeValues = tuple[str | None, str | None, str | None, str | None, str | None, str | None]
_NO_THRESHOLDS: tuple[float, tuple[tuple[float, int], ...]] = (math.inf, ())
BUDGET_COLUMNS = ("name", "scope", "period", "period_start", "spent_usd", "reserved_usd",
                  "limit_usd", "utilisation", "projected_usd", "on_exceed")


def reservation_amount(
    messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]] | None,
    max_tokens: int, prices: Prices,
) -> float:
    """The worst-case USD cost of a chat request on one candidate (what to reserve)."""
    return worst_case_cost(upper_bound_prompt_tokens(messages, tools), max_tokens, prices)


def reservation_nusd(
    messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]] | None,
    max_tokens: int, prices: Prices,
) -> int:
    """``reservation_amount`` in nano-dollars, exact (what ``reserve_nusd`` takes)."""
    return worst_case_nusd(upper_bound_prompt_tokens(messages, tools), max_tokens, prices)


class BudgetSet(tuple[BudgetDef, ...]):
    """Distinct budgets that one request reserves against, and what reserving needs.

    A tuple of ``BudgetDef`` (it compares, iterates and indexes as one) that also
    carries the budgets' limits and their state keys for the current period, so that
    the per-request path neither deduplicates, nor rebuilds the limits, nor looks up
    period windows: ``applicable`` returns the same ``BudgetSet`` for every request
    with the same scope values. The keys are re-derived only when ``now`` leaves the
    window they were derived for. It depends on nothing but its budgets.
    """

    limits: tuple[int, ...]  # limit_nusd of each budget, in order
    _period: tuple[float, float, tuple[StateKey, ...]]  # keys valid for start <= now < end

    def __new__(cls, budgets: Iterable[BudgetDef] = ()) -> Self:
        self = super().__new__(cls, dict.fromkeys(budgets))  # dedup, keeping the order
        self.limits = tuple(b.limit_nusd for b in self)
        self._period = (math.inf, -math.inf, ())  # derived on first use
        return self

    def keys_at(self, now: float) -> tuple[StateKey, ...]:
        """Each budget's state key for the period containing ``now``."""
        start, end, keys = self._period
        if start <= now < end:
            return keys
        windows = [period_window(b.period, now) for b in self]
        keys = tuple((b.name, str(b.scope), w.key) for b, w in zip(self, windows, strict=True))
        # one assignment: a thread reading concurrently sees the old or the new triple
        self._period = (max((w.start for w in windows), default=-math.inf),
                        min((math.inf if w.end is None else w.end for w in windows),
                            default=math.inf), keys)
        return keys


class Reservation(NamedTuple):
    """A granted hold on every budget in ``budgets``; settle or release it exactly once.

    A ``NamedTuple`` (one is made per request): measured 0.87 µs -> 0.33 µs to build,
    isolated, against a frozen dataclass.
    """

    token: str  # "" when nothing was held (no budgets, or a zero worst case)
    budgets: tuple[BudgetDef, ...]
    keys: tuple[StateKey, ...]
    amount_nusd: int
    expires_at: float

    @property
    def amount_usd(self) -> float:
        return nusd_to_usd(self.amount_nusd)


@dataclass(frozen=True, slots=True)
class Blocked:
    budget: BudgetDef
    spent_usd: float
    reserved_usd: float


@dataclass(frozen=True, slots=True)
class Denied:
    """Which budgets refused a reservation, and what the caller should do."""

    blocked: tuple[Blocked, ...]
    amount_usd: float

    @property
    def on_exceed(self) -> str:
        """``reject`` if any refusing budget says so, else ``downgrade``."""
        return "reject" if any(b.budget.on_exceed == "reject" for b in self.blocked) \
            else "downgrade"

    @property
    def budget(self) -> BudgetDef:
        first = [b for b in self.blocked if b.budget.on_exceed == self.on_exceed]
        return first[0].budget

    def error(self) -> BudgetExceeded:
        b = next(x for x in self.blocked if x.budget is self.budget)
        left = max(b.budget.limit_usd - b.spent_usd - b.reserved_usd, 0.0)
        return BudgetExceeded(
            f"budget {b.budget.name!r} ({b.budget.scope}, {b.budget.period}) cannot cover "
            f"this request: up to {usd_text(self.amount_usd)} needed, {usd_text(left)} of "
            f"{usd_text(b.budget.limit_usd)} left", budget=b.budget.name,
        )


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """One row of ``aegis budgets`` / ``GET /admin/budgets``."""

    budget: BudgetDef
    window: PeriodWindow
    spent_usd: float
    reserved_usd: float
    utilisation: float  # spent / limit
    projected_usd: float | None  # spent / elapsed fraction; None for "total"

    def to_dict(self) -> dict[str, Any]:
        b = self.budget
        return {
            "name": b.name, "scope": str(b.scope), "period": b.period,
            "period_key": self.window.key,
            "period_start": datetime.fromtimestamp(self.window.start, UTC).date().isoformat()
            if self.window.end is not None else None,
            "spent_usd": self.spent_usd, "reserved_usd": self.reserved_usd,
            "limit_usd": b.limit_usd, "utilisation": self.utilisation,
            "projected_usd": self.projected_usd, "on_exceed": b.on_exceed,
        }


class BudgetManager:
    def __init__(
        self,
        budgets: Sequence[BudgetDef] = (),
        backend: BudgetBackend | None = None,
        *,
        clock: Callable[[], float] = time.time,
        reservation_ttl_s: float = 900.0,
        alerter: Alerter | None = None,
    ) -> None:
        self.backend = backend or InMemoryBudgetBackend()
        self.clock = clock
        self.reservation_ttl_s = reservation_ttl_s
        self.alerter = alerter or Alerter()
        self._budgets = BudgetSet()
        self._by_name: dict[str, BudgetDef] = {}
        self._token_prefix = secrets.token_hex(8) + "-"  # unique across processes
        self._tokens = itertools.count()
        # the scope index and the answers of ``applicable`` derived from it, swapped together
        self._lookup: tuple[dict[tuple[str, str | None], tuple[BudgetDef, ...]],
                            dict[_ScopeValues, BudgetSet]] = ({}, {})
        # per budget name: its lowest alert spend (nano-dollars), and each (threshold,
        # spend) pair; most settlements stay below the lowest and compare nothing else
        self._thresholds: dict[str, tuple[float, tuple[tuple[float, int], ...]]] = {}
        self._lowest_alert = math.inf  # the lowest of them all: below it, nothing to check
        self._executor = (ThreadPoolExecutor(1, thread_name_prefix="aegis-budget")
                          if self.backend.blocking else None)
        self.backend.settled_hook = self._settled_later
        self._set(tuple(budgets))

    # -- definitions ---------------------------------------------------------------

    @property
    def budgets(self) -> BudgetSet:
        return self._budgets

    def register(self, budget: BudgetDef) -> None:
        """Add or replace a budget by name (e.g. a gateway key's own budget). Idempotent."""
        if self._by_name.get(budget.name) == budget:
            return  # the per-request fast path
        current = dict(self._by_name)
        current[budget.name] = budget
        self._set(tuple(current.values()))

    def _set(self, budgets: tuple[BudgetDef, ...]) -> None:
        index: dict[tuple[str, str | None], list[BudgetDef]] = {}
        for b in budgets:
            index.setdefault((b.scope.kind, b.scope.value), []).append(b)
            marks = tuple(
                (t, int((Decimal(repr(t)) * b.limit_nusd).to_integral_value(ROUND_CEILING)))
                for t in b.alert_at
            )
            self._thresholds[b.name] = (min((at for _, at in marks), default=math.inf), marks)
        self._lowest_alert = min((low for low, _ in self._thresholds.values()), default=math.inf)
        self._lookup = ({k: tuple(v) for k, v in index.items()}, {})
        self._by_name = {b.name: b for b in budgets}
        self._budgets = BudgetSet(budgets)

    def applicable(
        self, provider: str | None, model: str | None, *, key_id: str | None = None,
        key_name: str | None = None, team: str | None = None, workspace: str | None = None,
    ) -> BudgetSet:
        """Every budget that covers a request to ``provider``/``model`` by this caller.

        Answered from a cache per distinct combination of these values (cleared when
        it reaches ``APPLICABLE_CACHE_SIZE`` entries, and whenever a budget changes).
        """
        index, cache = self._lookup  # a stale answer lands in the replaced cache only
        values = (provider, model, key_id, key_name, team, workspace)
        found = cache.get(values)
        if found is None:
            found = BudgetSet(_covering(index, values))
            if len(cache) >= APPLICABLE_CACHE_SIZE:
                cache.clear()
            cache[values] = found
        return found

    # -- reserve / settle ------------------------------------------------------------

    def reserve(self, budgets: Sequence[BudgetDef], amount_usd: float) -> Reservation | Denied:
        """Hold ``amount_usd`` (a worst case) on all ``budgets`` at once, or on none."""
        return self.reserve_nusd(budgets, usd_to_nusd_ceil(amount_usd))

    def reserve_nusd(self, budgets: Sequence[BudgetDef], amount_nusd: int) -> Reservation | Denied:
        """``reserve`` of an exact amount in nano-dollars (e.g. ``worst_case_nusd``)."""
        held = self._reserve(budgets, amount_nusd, wait=True)
        assert held is not None
        return held

    def reserve_now(self, budgets: Sequence[BudgetDef],
                    amount_nusd: int) -> Reservation | Denied | None:
        """``reserve_nusd`` when it needs no I/O (in memory, or a lease answers), else None:
        then ``await reserve_off_loop``. Lets the request path skip the coroutines."""
        return self._reserve(budgets, amount_nusd, wait=self._executor is None)

    def _reserve(self, budgets: Sequence[BudgetDef], amount: int, *,
                 wait: bool) -> Reservation | Denied | None:
        """``wait=False``: None when the backend cannot answer without I/O."""
        now = self.clock()
        if not isinstance(budgets, BudgetSet):
            budgets = BudgetSet(budgets)
        start, end, keys = budgets._period  # keys_at(now), its usual case inlined
        if not start <= now < end:
            keys = budgets.keys_at(now)
        expires = now + self.reservation_ttl_s
        if not budgets or amount <= 0:
            return Reservation("", budgets, keys, 0, expires)
        token = f"{self._token_prefix}{next(self._tokens)}"
        limits = budgets.limits
        short = (self.backend.reserve(token, keys, limits, amount, expires, now) if wait
                 else self.backend.try_reserve(token, keys, limits, amount, expires, now))
        if short is None:
            return None
        if not short:
            return Reservation(token, budgets, keys, amount, expires)
        return Denied(tuple(Blocked(budgets[s.index], nusd_to_usd(s.spent_nusd),
                                    nusd_to_usd(s.reserved_nusd)) for s in short),
                      nusd_to_usd(amount))

    async def areserve(
        self, budgets: Sequence[BudgetDef], amount_usd: float
    ) -> Reservation | Denied:
        """``reserve`` without blocking the event loop (SQLite runs on the budget thread)."""
        return await self.areserve_nusd(budgets, usd_to_nusd_ceil(amount_usd))

    async def areserve_nusd(
        self, budgets: Sequence[BudgetDef], amount_nusd: int
    ) -> Reservation | Denied:
        """``reserve_nusd`` without blocking the event loop."""
        held = self.reserve_now(budgets, amount_nusd)  # a lease answers in memory
        if held is not None:
            return held
        return await self.reserve_off_loop(budgets, amount_nusd)

    async def reserve_off_loop(
        self, budgets: Sequence[BudgetDef], amount_nusd: int
    ) -> Reservation | Denied:
        """``reserve_nusd`` on the budget thread: after ``reserve_now`` answered None."""
        if self._executor is None:
            return self.reserve_nusd(budgets, amount_nusd)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.reserve_nusd, budgets,
                                          amount_nusd)

    def settle(self, reservation: Reservation, actual_usd: float) -> None:
        """Charge the actual cost and return the hold. Never blocks, never raises."""
        if not reservation.budgets:
            return
        actual = usd_to_nusd(actual_usd)
        if self._executor is None or self.backend.local_settle:  # in memory: no thread hop
            self._settle(reservation, actual)
        else:
            self._submit(self._settle, reservation, actual)

    def release(self, reservation: Reservation) -> None:
        """Return an unused hold (the upstream call was never made)."""
        if reservation.token:
            self._submit(self._release, reservation)

    def _submit(self, fn: Callable[..., None], *args: Any) -> None:
        if self._executor is None:
            fn(*args)
            return
        try:
            self._executor.submit(fn, *args)
        except RuntimeError:  # shut down: run inline rather than lose the settlement
            fn(*args)

    def _settle(self, r: Reservation, actual: int) -> None:
        try:
            results = self.backend.settle(r.token, r.keys, actual, self.clock())
        except Exception:
            retried = self._settle_again(r, actual)
            if retried is None:
                return
            results = retried
        if actual > r.amount_nusd and (results or self.backend.local_settle):
            log.warning("actual cost $%.9f exceeded the reservation $%.9f (budgets %s)",
                        nusd_to_usd(actual), r.amount_usd, ", ".join(b.name for b in r.budgets),
                        extra={"event": "budget_overrun"})
        lowest = self._lowest_alert
        for s in results:  # most settlements leave every budget below its lowest threshold
            if s.after_nusd >= lowest:
                self._check_alerts(r.budgets, r.keys, results)
                break

    def _settle_again(self, r: Reservation, actual: int) -> tuple[Settled, ...] | None:
        """Log a failed settlement (call from its ``except``) and retry it; None if all fail.

        Retried on the budget thread only (never on the event loop): a dropped
        settlement would under-count spend once its reservation expires.
        """
        tries = 3 if self._executor is not None and not self.backend.local_settle else 1
        message = "budget settlement failed (%s, $%s, try %d of %d)"
        log.exception(message, r.token, nusd_to_usd(actual), 1, tries)
        for attempt in range(2, tries + 1):
            time.sleep(0.1 * 2 ** (attempt - 2))
            try:
                return self.backend.settle(r.token, r.keys, actual, self.clock())
            except Exception:
                log.exception(message, r.token, nusd_to_usd(actual), attempt, tries)
        return None

    def _release(self, r: Reservation) -> None:
        try:
            self.backend.release(r.token, self.clock())
        except Exception:
            log.exception("budget release failed (%s); it will expire", r.token)

    def _settled_later(self, key: StateKey, s: Settled) -> None:
        """Spend a lease flushed to the shared total: the alert check of its settlements."""
        budget = self._by_name.get(key[0])
        if budget is not None:
            self._check_alerts((budget,), (key,), (s,))

    def _check_alerts(self, budgets: Iterable[BudgetDef], keys: Iterable[StateKey],
                      settled: Iterable[Settled]) -> None:
        """Alert each threshold that a settlement moved a budget's spend across."""
        thresholds = self._thresholds
        # no strict=: ``settled`` is empty for a token already settled, and the keyword
        # alone would cost more than the rest of this loop
        for b, key, (before, after) in zip(budgets, keys, settled):  # noqa: B905
            lowest, marks = thresholds.get(b.name, _NO_THRESHOLDS)
            if after < lowest:
                continue  # the usual case: no threshold reached yet
            for threshold, at in marks:
                if before < at <= after:
                    self.alerter.emit(BudgetAlert(
                        budget=b.name, scope=str(b.scope), period=key[2],
                        spend_usd=nusd_to_usd(after), limit_usd=b.limit_usd,
                        threshold=threshold, at=self.clock(),
                    ), b.webhook)

    def expire(self) -> int:
        """Return reservations past their TTL (also done lazily, once a second, by reserve)."""
        return self.backend.expire(self.clock())

    # -- state -------------------------------------------------------------------------

    def restore(self) -> None:
        """Load every budget's current period from the ledger now (call on startup)."""
        self.backend.restore(self._budgets.keys_at(self.clock()))

    def status(self, now: float | None = None) -> list[BudgetStatus]:
        """Spent, reserved, limit, utilisation and projected period-end spend per budget."""
        now = self.clock() if now is None else now
        self.backend.expire(now)  # show holds of dead requests as released
        windows = [period_window(b.period, now) for b in self._budgets]
        states = self.backend.state([(b.name, str(b.scope), w.key)
                                     for b, w in zip(self._budgets, windows, strict=True)])
        out = []
        for b, w, (spent, reserved) in zip(self._budgets, windows, states, strict=True):
            limit = b.limit_nusd
            fraction = w.elapsed_fraction(now)
            out.append(BudgetStatus(
                b, w, nusd_to_usd(spent), nusd_to_usd(reserved),
                spent / limit if limit else (1.0 if spent else 0.0),
                nusd_to_usd(round(spent / fraction)) if fraction else None,
            ))
        return out

    budgets_report = status

    async def astatus(self, now: float | None = None) -> list[BudgetStatus]:
        if self._executor is None:
            return self.status(now)
        return await asyncio.get_running_loop().run_in_executor(self._executor, self.status,
                                                                now)

    def flush(self, timeout: float | None = 30.0) -> None:
        """Wait for queued settlements (SQLite backend) and webhooks."""
        if self._executor is not None:
            self._executor.submit(lambda: None).result(timeout)
        self.alerter.flush(timeout)

    def close(self) -> None:
        """Finish queued settlements, stop the threads, close the backend."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        self.alerter.close()
        self.backend.close()


def _covering(index: Mapping[tuple[str, str | None], tuple[BudgetDef, ...]],
              values: _ScopeValues) -> list[BudgetDef]:
    """The budgets of ``index`` that cover a request with these scope values, in order:
    global, provider, model, key (id, then name), team, workspace."""
    provider, model, key_id, key_name, team, workspace = values
    found = list(index.get(("global", None), ()))
    for kind, value in (("provider", provider), ("model", model), ("key", key_id),
                        ("key", key_name), ("team", team), ("workspace", workspace)):
        if value is not None:
            found += index.get((kind, value), ())
    return found


__all__ = [
    "APPLICABLE_CACHE_SIZE", "BUDGET_COLUMNS", "Blocked", "BudgetManager", "BudgetSet",
    "BudgetStatus", "Denied", "Reservation", "reservation_amount", "reservation_nusd",
]
