"""Budget definitions, their validation, and calendar periods (UTC).

A budget caps the settled spend of one scope (global, a provider, a model, a
gateway key, a team, a workspace) over one period. Periods are calendar
periods in UTC: a day from 00:00, a week from Monday 00:00, a month from the
1st, or ``total`` (never resets).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from aegis.errors import ConfigError
from aegis.ledger.store import Scope, usd_to_nusd

Period = Literal["daily", "weekly", "monthly", "total"]
OnExceed = Literal["downgrade", "reject"]
PERIODS: tuple[str, ...] = ("daily", "weekly", "monthly", "total")
ON_EXCEED: tuple[str, ...] = ("downgrade", "reject")
DEFAULT_ALERT_AT: tuple[float, ...] = (0.8, 1.0)
_FIELDS = {"name", "scope", "limit_usd", "period", "alert_at", "on_exceed", "webhook"}


@dataclass(frozen=True, slots=True)
class BudgetDef:
    name: str
    scope: Scope
    limit_usd: float
    period: Period = "monthly"
    alert_at: tuple[float, ...] = DEFAULT_ALERT_AT
    on_exceed: OnExceed = "reject"
    webhook: str | None = None
    limit_nusd: int = field(init=False, repr=False, compare=False)  # exact, for the hot path

    def __post_init__(self) -> None:
        object.__setattr__(self, "limit_nusd", usd_to_nusd(self.limit_usd))

    def applies(self, provider: str | None, model: str | None, key_id: str | None,
                key_name: str | None, team: str | None, workspace: str | None) -> bool:
        s = self.scope
        if s.kind == "global":
            return True
        if s.kind == "key":
            return s.value is not None and s.value in (key_id, key_name)
        actual = {"provider": provider, "model": model, "team": team,
                  "workspace": workspace}.get(s.kind)
        return actual is not None and actual == s.value

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "scope": str(self.scope), "limit_usd": self.limit_usd,
                "period": self.period, "alert_at": list(self.alert_at),
                "on_exceed": self.on_exceed, "webhook": self.webhook}


# -- validation ------------------------------------------------------------------


def parse_budget(raw: Any, path: str = "budgets[0]") -> BudgetDef:
    """One config entry -> ``BudgetDef``; every problem names ``path.field``."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: expected a mapping with name, scope, limit_usd, period")
    problems: list[str] = []
    for extra in sorted(set(raw) - _FIELDS):
        problems.append(f"{path}.{extra}: unknown field (expected one of "
                        f"{', '.join(sorted(_FIELDS))})")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(f"{path}.name: required, a non-empty string")
    scope: Scope | None = None
    try:
        scope = Scope.parse(str(raw.get("scope", "global")))
    except ValueError as exc:
        problems.append(f"{path}.scope: {exc}")
    limit = raw.get("limit_usd")
    if isinstance(limit, bool) or not isinstance(limit, int | float) or \
            not math.isfinite(limit) or limit < 0:
        problems.append(f"{path}.limit_usd: required, a number >= 0 (USD)")
    period = raw.get("period", "monthly")
    if period not in PERIODS:
        problems.append(f"{path}.period: {period!r} is not one of {', '.join(PERIODS)}")
    alert_at = raw.get("alert_at", list(DEFAULT_ALERT_AT))
    if not isinstance(alert_at, list | tuple) or not all(
        not isinstance(a, bool) and isinstance(a, int | float) and 0 < a <= 1 for a in alert_at
    ):
        problems.append(f"{path}.alert_at: a list of fractions in (0, 1], e.g. [0.8, 1.0]")
        alert_at = []
    on_exceed = raw.get("on_exceed", "reject")
    if on_exceed not in ON_EXCEED:
        problems.append(f"{path}.on_exceed: {on_exceed!r} is not one of downgrade, reject")
    webhook = raw.get("webhook")
    if webhook is not None and (not isinstance(webhook, str) or
                                not webhook.startswith(("http://", "https://"))):
        problems.append(f"{path}.webhook: not a URL (expected http://… or https://…)")
    if problems or scope is None:
        raise ConfigError("\n".join(problems))
    return BudgetDef(
        name=str(name).strip(), scope=scope, limit_usd=float(limit),  # type: ignore[arg-type]
        period=period, alert_at=tuple(sorted({float(a) for a in alert_at})),
        on_exceed=on_exceed, webhook=webhook,
    )


def parse_budgets(raw: Sequence[Any] | None, path: str = "budgets") -> tuple[BudgetDef, ...]:
    """The ``budgets:`` list; names must be unique. All problems reported at once."""
    if raw is None:
        return ()
    if not isinstance(raw, list | tuple):
        raise ConfigError(f"{path}: expected a list of budgets")
    problems: list[str] = []
    out: list[BudgetDef] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(raw):
        try:
            budget = parse_budget(item, f"{path}[{i}]")
        except ConfigError as exc:
            problems.append(exc.message)
            continue
        if budget.name in seen:
            problems.append(f"{path}[{i}].name: {budget.name!r} is already used by "
                            f"{path}[{seen[budget.name]}]")
        seen.setdefault(budget.name, i)
        out.append(budget)
    if problems:
        raise ConfigError("\n".join(problems))
    return tuple(out)


# -- periods ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PeriodWindow:
    """One occurrence of a period: [start, end) in unix seconds; ``key`` names it."""

    key: str  # D2026-11-05 | W2026-11-02 (the Monday) | M2026-11 | total
    start: float
    end: float | None  # None for "total"

    def contains(self, at: float) -> bool:
        return self.start <= at and (self.end is None or at < self.end)

    def elapsed_fraction(self, at: float) -> float | None:
        if self.end is None:
            return None
        return min(max((at - self.start) / (self.end - self.start), 0.0), 1.0)


def _ts(d: date) -> float:
    return datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()


def period_window(period: str, at: float) -> PeriodWindow:
    """The calendar period (UTC) containing ``at``."""
    if period == "total":
        return PeriodWindow("total", 0.0, None)
    day = datetime.fromtimestamp(at, UTC).date()
    if period == "daily":
        return PeriodWindow(f"D{day.isoformat()}", _ts(day), _ts(day + timedelta(days=1)))
    if period == "weekly":
        monday = day - timedelta(days=day.weekday())
        return PeriodWindow(f"W{monday.isoformat()}", _ts(monday),
                            _ts(monday + timedelta(days=7)))
    if period == "monthly":
        first = day.replace(day=1)
        nxt = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        return PeriodWindow(f"M{first.year:04d}-{first.month:02d}", _ts(first), _ts(nxt))
    raise ValueError(f"unknown period {period!r}")


def window_for_key(key: str) -> PeriodWindow:
    """Inverse of ``PeriodWindow.key`` (state rows and restores only carry the key)."""
    if key == "total":
        return PeriodWindow("total", 0.0, None)
    kind, text = key[0], key[1:]
    if kind == "M":
        return period_window("monthly", _ts(date.fromisoformat(text + "-01")))
    if kind in ("D", "W"):
        return period_window("daily" if kind == "D" else "weekly",
                             _ts(date.fromisoformat(text)))
    raise ValueError(f"not a period key: {key!r}")


__all__ = [
    "DEFAULT_ALERT_AT", "ON_EXCEED", "PERIODS", "BudgetDef", "OnExceed", "Period",
    "PeriodWindow", "Scope", "parse_budget", "parse_budgets", "period_window", "window_for_key",
]
