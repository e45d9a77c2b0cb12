"""The storage interface: every backend (SQLite now, PostgreSQL later) implements it.

Callers (the ledger writer, budgets, keys, reports, the CLI and admin API) only
see ``LedgerStore`` and the plain rows defined here, so a new backend is one
new module plus one branch in ``open_store``.

Money is an integer number of **nano-dollars** (``*_nusd``, 1e-9 USD) in every
row and column: ``aegis.pricing.cost_usd`` already rounds to 1e-9, so the
conversion at the edge (``usd_to_nusd``) is exact and sums of any number of
rows cannot drift. Floats appear only in USD-facing properties.
"""

from __future__ import annotations

import csv
import enum
import json
import math
import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, ClassVar, Literal

from aegis.errors import ConfigError

if TYPE_CHECKING:
    from aegis.records import Attempt

NANO_PER_USD = 10**9
GroupBy = Literal["provider", "model", "key", "team", "workspace", "day"]
GROUPS: tuple[str, ...] = ("provider", "model", "key", "team", "workspace", "day")
SCOPE_KINDS: tuple[str, ...] = ("global", "provider", "model", "key", "team", "workspace")
ExportFormat = Literal["csv", "json"]


# -- money ---------------------------------------------------------------------


_FAST = 1e6  # below $1M, usd * 1e9 is within 0.2 of the exact product: round() is exact


def usd_to_nusd(usd: float) -> int:
    """USD -> nano-dollars, exact for values with <= 9 decimals (every row cost)."""
    if -_FAST < usd < _FAST:
        return round(usd * NANO_PER_USD)
    return int((Decimal(repr(float(usd))) * NANO_PER_USD).to_integral_value(ROUND_HALF_EVEN))


def usd_to_nusd_ceil(usd: float) -> int:
    """USD -> nano-dollars, never below ``usd_to_nusd`` of any smaller amount.

    For reservations: if ``actual <= reserved`` in USD, then
    ``usd_to_nusd(actual) <= usd_to_nusd_ceil(reserved)`` (float rounding is
    monotonic), which is all the budget invariant needs. Amounts that are
    whole nano-dollars (what ``worst_case_cost`` returns) convert exactly.
    """
    if not math.isfinite(usd):
        raise ValueError(f"not a finite amount: {usd!r}")
    if -_FAST < usd < _FAST:
        scaled = usd * NANO_PER_USD
        nearest = round(scaled)
        return nearest if abs(scaled - nearest) <= 0.25 else math.ceil(scaled)  # 0.25: noise
    return int((Decimal(repr(float(usd))) * NANO_PER_USD).to_integral_value(ROUND_CEILING))


def nusd_to_usd(nusd: int) -> float:
    return nusd / NANO_PER_USD


def nusd_text(nusd: int) -> str:
    """Exact decimal text, e.g. ``0.000123456`` (what CSV exports carry)."""
    return f"{Decimal(nusd).scaleb(-9):f}"


def usd_text(usd: float) -> str:
    """Money for people (messages, alerts): cents, plus digits a small amount needs.

    ``$80.00``, ``$1,234.50``; below a dollar, up to three significant digits
    (``$0.50``, ``$0.0153``, ``$0.000624``, ``$0.0005``), so a sub-cent budget
    never reads as ``$0.00``.
    """
    size = abs(usd)
    if not math.isfinite(usd) or size >= 1 or size == 0:
        return f"{'-' if usd < 0 else ''}${size:,.2f}"
    places = min(9, max(2, 2 - math.floor(math.log10(size))))
    whole, _, frac = f"{size:.{places}f}".partition(".")
    return f"{'-' if usd < 0 else ''}${whole}.{frac.rstrip('0').ljust(2, '0')}"


# -- scopes and filters --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scope:
    """What a budget (or a spend query) covers: ``global`` or ``kind:value``."""

    kind: str
    value: str | None = None

    @classmethod
    def parse(cls, text: str) -> Scope:
        text = text.strip()
        if text == "global":
            return cls("global")
        kind, sep, value = text.partition(":")
        if not sep or kind not in SCOPE_KINDS or kind == "global" or not value.strip():
            raise ValueError(
                f"{text!r} is not a scope (expected global, provider:<name>, model:<name>, "
                "key:<id or name>, team:<name> or workspace:<name>)"
            )
        return cls(kind, value.strip())

    def __str__(self) -> str:
        return self.kind if self.value is None else f"{self.kind}:{self.value}"


@dataclass(frozen=True, slots=True)
class Filters:
    """Equality filters for spend reports; ``key`` matches a key id or a key name."""

    provider: str | None = None
    model: str | None = None
    key: str | None = None
    team: str | None = None
    workspace: str | None = None
    status: str | None = None

    @classmethod
    def for_scope(cls, scope: Scope) -> Filters:
        if scope.kind == "global":
            return cls()
        return cls(**{scope.kind: scope.value})


NO_FILTERS = Filters()


# -- rows ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """One upstream attempt as stored: every field of ``Attempt``. ``prompt`` and
    ``completion`` (JSON) are None unless ``storage.store_prompts`` is on."""

    request_id: str
    started_at: float  # unix seconds, UTC
    provider: str
    model: str
    upstream_model: str
    route: str
    reason: str
    attempt: int
    streamed: bool
    status: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cache_write_tokens: int
    cost_nusd: int
    latency_ms: float
    ttft_ms: float | None
    error_kind: str | None
    usage_estimated: bool
    key_id: str | None
    key_name: str | None
    team: str | None
    workspace: str | None
    data_class: str | None
    task_type: str | None
    quality: str | None
    complexity: str | None
    strategy: str | None
    batch_size: int | None
    tags: tuple[str, ...] = ()
    prompt: str | None = None
    completion: str | None = None

    @property
    def cost_usd(self) -> float:
        return nusd_to_usd(self.cost_nusd)

    @classmethod
    def from_attempt(cls, a: Attempt) -> LedgerRow:
        t, u, c = a.task, a.usage, a.caller
        return cls(
            request_id=a.request_id, started_at=float(a.started_at), provider=a.provider,
            model=a.model, upstream_model=a.upstream_model, route=a.route, reason=a.reason,
            attempt=a.attempt, streamed=a.streamed, status=a.status,
            prompt_tokens=u.prompt_tokens, completion_tokens=u.completion_tokens,
            cached_tokens=u.cached_tokens, cache_write_tokens=u.cache_write_tokens,
            cost_nusd=usd_to_nusd(a.cost_usd), latency_ms=float(a.latency_ms),
            ttft_ms=a.ttft_ms, error_kind=a.error_kind, usage_estimated=a.usage_estimated,
            key_id=c.key_id, key_name=c.key_name, team=c.team, workspace=_label(t.workspace),
            data_class=a.data_class or _label(t.data_class), task_type=_label(t.task_type),
            quality=_label(t.quality), complexity=_label(t.complexity),
            strategy=_label(t.strategy), batch_size=t.batch_size,
            tags=tuple(str(tag) for tag in t.tags),
            prompt=a.texts[0] if a.texts else None, completion=a.texts[1] if a.texts else None,
        )

    # -- the export codec (CSV and JSON share the column list) ---------------------

    COLUMNS: ClassVar[tuple[str, ...]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``cost_usd`` replaces ``cost_nusd``; ``time`` is for humans."""
        out = {name: getattr(self, name) for name in _ROW_FIELDS}  # asdict() is 10x slower
        out["tags"] = list(self.tags)
        del out["cost_nusd"]
        out["cost_usd"] = self.cost_usd
        out["time"] = datetime.fromtimestamp(self.started_at, UTC).isoformat()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LedgerRow:
        """Inverse of ``to_dict`` (and of the CSV row, whose values are all text)."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "cost_nusd":
                values[f.name] = usd_to_nusd_exact(data["cost_usd"])
            elif f.name == "tags":
                raw = data.get("tags") or ()
                values[f.name] = tuple(json.loads(raw) if isinstance(raw, str) else raw)
            else:
                values[f.name] = _coerce(f.name, data.get(f.name))
        return cls(**values)

    def csv_values(self) -> list[str]:
        d = self.to_dict()
        d["cost_usd"] = nusd_text(self.cost_nusd)
        d["started_at"] = repr(self.started_at)
        d["tags"] = json.dumps(list(self.tags), ensure_ascii=False) if self.tags else ""
        return [_csv_text(d[c]) for c in LedgerRow.COLUMNS]


_ROW_FIELDS = tuple(f.name for f in fields(LedgerRow))
LedgerRow.COLUMNS = (
    "time",
    *(f.name if f.name != "cost_nusd" else "cost_usd" for f in fields(LedgerRow)),
)
_INTS = {"attempt", "prompt_tokens", "completion_tokens", "cached_tokens",
         "cache_write_tokens", "batch_size"}
_FLOATS = {"started_at", "latency_ms", "ttft_ms"}
_BOOLS = {"streamed", "usage_estimated"}
_REQUIRED_TEXT = {"request_id", "provider", "model", "upstream_model", "route", "reason",
                  "status"}


def _label(value: object) -> str | None:
    """Task fields may be enums (``DataClass``) or text; rows store the text.

    Plain text and ``None`` return first: the writer thread labels five fields per
    row, and an ``isinstance`` check against ``Enum``'s metaclass costs 0.1 us each.
    """
    if value is None or type(value) is str:
        return value
    return str(value.value) if isinstance(value, enum.Enum) else str(value)


def usd_to_nusd_exact(value: Any) -> int:
    """A cost read back from an export (JSON number or CSV decimal text)."""
    text = value if isinstance(value, str) else repr(float(value))
    return int((Decimal(text) * NANO_PER_USD).to_integral_value(ROUND_HALF_EVEN))


def _coerce(name: str, value: Any) -> Any:
    if name in _REQUIRED_TEXT:
        return "" if value is None else str(value)
    if value is None or value == "":
        return False if name in _BOOLS else None
    if name in _INTS:
        return int(value)
    if name in _FLOATS:
        return float(value)
    if name in _BOOLS:
        return value if isinstance(value, bool) else str(value).lower() in ("true", "1")
    return str(value)


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True, slots=True)
class SpendRow:
    """One group of a spend report (``group`` is None for the ungrouped total)."""

    group: str | None
    label: str | None  # the key name when grouping by key
    attempts: int
    requests: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cost_nusd: int

    @property
    def cost_usd(self) -> float:
        return nusd_to_usd(self.cost_nusd)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        del out["cost_nusd"]
        out["cost_usd"] = self.cost_usd
        return out


@dataclass(frozen=True, slots=True)
class KeyRow:
    """A stored gateway key: only a salted digest of its secret, never the secret."""

    id: str
    name: str
    salt: bytes
    digest: bytes
    created_at: float
    team: str | None = None
    expires_at: float | None = None
    revoked_at: float | None = None
    budget_nusd: int | None = None
    period: str | None = None
    models: tuple[str, ...] | None = None


# -- the interface -------------------------------------------------------------


class LedgerStore(ABC):
    """Ledger rows, spend queries and key rows behind one URL-opened store.

    Implementations must be safe to call from several threads of one process
    and from several processes sharing the same database.
    """

    #: Errors worth retrying as-is (locked database, full disk...): the writer
    #: keeps retrying these instead of isolating a "poison" row.
    transient_errors: ClassVar[tuple[type[BaseException], ...]] = (OSError,)

    @abstractmethod
    def insert(self, rows: Iterable[LedgerRow | Attempt]) -> int:
        """Append rows in one transaction (all or none); returns how many."""

    @abstractmethod
    def spend(
        self, group_by: GroupBy | None = None, since: float | None = None,
        until: float | None = None, filters: Filters = NO_FILTERS,
    ) -> list[SpendRow]:
        """Totals per group over ``since <= started_at < until`` (UTC unix seconds)."""

    @abstractmethod
    def recent(self, limit: int = 100) -> list[LedgerRow]:
        """The newest rows first."""

    @abstractmethod
    def rows(
        self, since: float | None = None, until: float | None = None, batch: int = 1000
    ) -> Iterator[LedgerRow]:
        """Every row in the window, oldest first, fetched in batches (for exports)."""

    @abstractmethod
    def total_spend_nusd(self, scope: Scope, since: float | None, until: float | None) -> int:
        """Settled spend of one budget scope over a window (budget restore on start)."""

    def total_spend(self, scope: Scope, since: float | None, until: float | None) -> float:
        return nusd_to_usd(self.total_spend_nusd(scope, since, until))

    def export(
        self, fmt: ExportFormat, file: str | Path | IO[str],
        since: float | None = None, until: float | None = None,
    ) -> int:
        """Write the rows as CSV or a JSON array; returns the row count."""
        if isinstance(file, str | Path):
            with open(file, "w", encoding="utf-8", newline="") as handle:
                return write_rows(fmt, self.rows(since, until), handle)
        return write_rows(fmt, self.rows(since, until), file)

    # -- keys -------------------------------------------------------------------

    @abstractmethod
    def insert_key(self, key: KeyRow) -> None:
        """Store a new key; ``ConfigError`` when an active key has the same name."""

    @abstractmethod
    def get_key(self, key_id: str) -> KeyRow | None: ...

    @abstractmethod
    def find_key(self, id_or_name: str) -> KeyRow | None:
        """By id, else by name (the active key of that name first)."""

    @abstractmethod
    def list_keys(self) -> list[KeyRow]: ...

    @abstractmethod
    def revoke_key(self, key_id: str, at: float) -> bool:
        """Mark revoked; False when it was unknown or already revoked."""

    @abstractmethod
    def close(self) -> None: ...


# -- export codec ----------------------------------------------------------------


def write_rows(fmt: ExportFormat, rows: Iterable[LedgerRow], out: IO[str]) -> int:
    """Stream rows as CSV (header + one line each) or as one JSON array."""
    count = 0
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(LedgerRow.COLUMNS)
        for row in rows:
            writer.writerow(row.csv_values())
            count += 1
        return count
    if fmt != "json":
        raise ValueError(f"unknown export format {fmt!r} (expected csv or json)")
    out.write("[")
    for row in rows:
        out.write(",\n" if count else "\n")
        out.write(json.dumps(row.to_dict(), ensure_ascii=False, separators=(",", ":")))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count


def read_rows(fmt: ExportFormat, source: str | Path | IO[str]) -> list[LedgerRow]:
    """Parse an export back into rows; ``json`` reads an export's array or the writer's
    spill file (one row object per line), so ``aegis spend import`` takes either."""
    if isinstance(source, str | Path):
        with open(source, encoding="utf-8", newline="") as handle:
            return read_rows(fmt, handle)
    if fmt == "csv":
        return [LedgerRow.from_dict(d) for d in csv.DictReader(source)]
    text = source.read()
    if text.lstrip().startswith("["):
        return [LedgerRow.from_dict(d) for d in json.loads(text)]
    return [LedgerRow.from_dict(json.loads(line)) for line in text.splitlines() if line.strip()]


# -- opening by URL ----------------------------------------------------------------


def resolve_store_url(url: str, base_dir: str | os.PathLike[str]) -> str:
    """The URL with a relative SQLite path made absolute under ``base_dir``.

    A config file's ``sqlite:///aegis.db`` means the file next to the config, so
    every command (and every worker) finds the same store whatever its cwd.
    Absolute paths, ``~/...``, in-memory stores and URLs ``open_store`` rejects
    are returned unchanged (the latter to be reported there).
    """
    scheme, sep, rest = url.partition("://")
    path = rest[1:]
    if scheme.lower() != "sqlite" or not sep or not rest.startswith("/") or not path \
            or path == ":memory:" or path.startswith("file:"):
        return url
    if Path(path).expanduser().is_absolute():
        return url
    return "sqlite:///" + os.path.join(os.path.abspath(base_dir), path)


def open_store(url: str = "sqlite:///aegis.db", *, busy_timeout_s: float = 5.0) -> LedgerStore:
    """``sqlite:///relative.db`` (from the cwd), ``sqlite:////abs.db``, ``sqlite:///:memory:``.

    ``aegis.config.load`` has already made a config file's relative path absolute
    (``resolve_store_url``); only a URL given without a config file is cwd-relative.
    """
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        raise ConfigError(
            "storage.url: PostgreSQL is not supported yet; use sqlite:///path/to/aegis.db"
        )
    if scheme != "sqlite" or not sep or not rest.startswith("/") or rest == "/":
        raise ConfigError(
            f"storage.url: {url!r} is not a supported store URL "
            "(expected sqlite:///aegis.db, sqlite:////absolute/path.db or sqlite:///:memory:)"
        )
    from aegis.ledger.sqlite import SqliteLedgerStore

    path = rest[1:]  # sqlite:///x.db -> x.db ; sqlite:////abs -> /abs
    return SqliteLedgerStore(path, busy_timeout_s=busy_timeout_s)


__all__ = [
    "GROUPS", "NANO_PER_USD", "NO_FILTERS", "SCOPE_KINDS", "ExportFormat", "Filters",
    "GroupBy", "KeyRow",
    "LedgerRow", "LedgerStore", "Scope", "SpendRow", "nusd_text", "nusd_to_usd",
    "open_store", "read_rows", "resolve_store_url", "usd_text", "usd_to_nusd",
    "usd_to_nusd_ceil", "write_rows",
]
