"""What the request path reports: who served a request, and one record per upstream attempt.

Kept apart from the engine so that consumers (ledger, metrics, live latency,
budgets) depend on the records, not on the machinery that produces them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aegis.task import Task
from aegis.types import Usage


@dataclass(frozen=True, slots=True)
class Served:
    """Who answered and why: echoed in headers and kept in every record."""

    request_id: str
    provider: str
    model: str  # the catalog name clients use
    upstream_model: str
    route: str
    reason: str
    attempt: int  # 0-based index in the fallback chain


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is spending: the gateway key (by id, never its secret) and its team."""

    key_id: str | None = None
    key_name: str | None = None
    team: str | None = None
    models: frozenset[str] | None = None  # the key's allow-list; None = any model


ANONYMOUS = Caller()


@dataclass(frozen=True, slots=True)
class Attempt:
    """One upstream call, successful or not: what the ledger and metrics consume."""

    request_id: str
    started_at: float  # unix seconds
    provider: str
    model: str
    route: str
    reason: str
    attempt: int  # index in the fallback chain
    streamed: bool
    status: str  # "ok" | "error" | "cancelled"
    usage: Usage
    cost_usd: float
    latency_ms: float
    ttft_ms: float | None
    error_kind: str | None = None
    usage_estimated: bool = False  # counted locally because upstream reported none
    task: Task = field(default_factory=Task)
    caller: Caller = ANONYMOUS
    upstream_model: str = ""
    data_class: str = "public"  # effective class: declared, raised by detection
    retry: int = 0  # 0 = first try on this candidate, 1 = first retry, ...


class Recorder:
    """Receives every attempt. Must not block: queue and write elsewhere."""

    def record(self, attempt: Attempt) -> None:  # pragma: no cover - interface
        raise NotImplementedError
