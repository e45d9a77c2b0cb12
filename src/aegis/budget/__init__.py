"""Budgets: definitions, hard-limit reservations, alerts. See ``manager`` for the bound."""

from aegis.budget.alerts import Alerter, BudgetAlert
from aegis.budget.backends import (
    BudgetBackend,
    InMemoryBudgetBackend,
    SqliteBudgetBackend,
    backend_for,
)
from aegis.budget.manager import (
    BudgetManager,
    BudgetStatus,
    Denied,
    Reservation,
    reservation_amount,
    reservation_nusd,
)
from aegis.budget.model import BudgetDef, parse_budget, parse_budgets, period_window

__all__ = [
    "Alerter",
    "BudgetAlert",
    "BudgetBackend",
    "BudgetDef",
    "BudgetManager",
    "BudgetStatus",
    "Denied",
    "InMemoryBudgetBackend",
    "Reservation",
    "SqliteBudgetBackend",
    "backend_for",
    "parse_budget",
    "parse_budgets",
    "period_window",
    "reservation_amount",
    "reservation_nusd",
]
