"""Spend reports for the CLI and the admin API: windows, grouping, formatting.

Everything here reads through ``LedgerStore`` and formats plain dicts, so the
CLI (``aegis spend``, ``aegis budgets``) and ``GET /admin/*`` share one code
path and one set of column names.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, Literal

from aegis.ledger.store import (
    GROUPS,
    NO_FILTERS,
    Filters,
    GroupBy,
    LedgerRow,
    LedgerStore,
    SpendRow,
    nusd_to_usd,
)

OutputFormat = Literal["table", "csv", "json"]
SPEND_COLUMNS = ("group", "label", "attempts", "requests", "errors", "prompt_tokens",
                 "completion_tokens", "cached_tokens", "cost_usd")
RECENT_COLUMNS = ("time", "request_id", "provider", "model", "status", "attempt", "streamed",
                  "prompt_tokens", "completion_tokens", "cost_usd", "latency_ms", "key_name",
                  "team")


# -- time windows ----------------------------------------------------------------


def parse_time(text: str) -> float:
    """``2026-11-05`` or ISO 8601 date-time -> unix seconds; naive means UTC."""
    text = text.strip()
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            return datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not a date (expected YYYY-MM-DD or an ISO 8601 time)") \
            from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def parse_period(text: str) -> tuple[float, float]:
    """``2026``, ``2026-11`` or ``2026-11-05`` -> the UTC window [since, until)."""
    parts = text.strip().split("-")
    try:
        numbers = [int(p) for p in parts]
        if len(numbers) == 1:
            start, end = datetime(numbers[0], 1, 1, tzinfo=UTC), datetime(
                numbers[0] + 1, 1, 1, tzinfo=UTC)
        elif len(numbers) == 2:
            y, m = numbers
            start = datetime(y, m, 1, tzinfo=UTC)
            end = datetime(y + m // 12, m % 12 + 1, 1, tzinfo=UTC)
        elif len(numbers) == 3:
            start = datetime(numbers[0], numbers[1], numbers[2], tzinfo=UTC)
            return start.timestamp(), start.timestamp() + 86400.0
        else:
            raise ValueError
    except ValueError:
        raise ValueError(f"{text!r} is not a period (expected YYYY, YYYY-MM or YYYY-MM-DD)") \
            from None
    return start.timestamp(), end.timestamp()


def window(
    period: str | None = None, since: str | None = None, until: str | None = None
) -> tuple[float | None, float | None]:
    """The report window from CLI / query arguments (``period`` excludes the others)."""
    if period is not None:
        if since is not None or until is not None:
            raise ValueError("give either a period or since/until, not both")
        return parse_period(period)
    return (parse_time(since) if since else None, parse_time(until) if until else None)


# -- queries ---------------------------------------------------------------------------


def spend_report(
    store: LedgerStore, by: str | None = None, *, period: str | None = None,
    since: str | None = None, until: str | None = None, filters: Filters = NO_FILTERS,
) -> list[SpendRow]:
    """``aegis spend`` and ``GET /admin/spend``: validates ``by`` and the window."""
    if by is not None and by not in GROUPS:
        raise ValueError(f"cannot group by {by!r} (expected one of {', '.join(GROUPS)})")
    start, end = window(period, since, until)
    group: GroupBy | None = by  # type: ignore[assignment]  # checked above
    return store.spend(group, start, end, filters)


def recent_rows(store: LedgerStore, limit: int = 50) -> list[dict[str, Any]]:
    """``GET /admin/requests``: newest first, JSON-ready."""
    return [r.to_dict() for r in store.recent(min(max(limit, 1), 10_000))]


# -- formatting ------------------------------------------------------------------------


def _cell(value: Any, column: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return _joined(value)
    if column.endswith("_usd") and isinstance(value, int | float):
        return f"${value:,.6f}"
    if isinstance(value, float):
        return f"{value:.1%}" if column == "utilisation" else f"{value:,.1f}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _joined(values: Sequence[Any]) -> str:
    """A list as people write it (``gpt-4o-mini,qwen-plus``, as ``--models`` takes it)."""
    return ",".join(str(v) for v in values)


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    return _joined(value) if isinstance(value, list | tuple) else value


def format_records(
    records: Sequence[Mapping[str, Any]], columns: Sequence[str], fmt: OutputFormat = "table"
) -> str:
    """A list of dicts as an aligned text table, CSV or JSON (the CLI's three outputs).

    A list value (a key's models) is a real list in JSON, comma-separated otherwise.
    """
    if fmt == "json":
        return json.dumps([{c: r.get(c) for c in columns} for r in records], indent=2)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for r in records:
            writer.writerow([_csv_cell(r.get(c)) for c in columns])
        return out.getvalue()
    if fmt != "table":
        raise ValueError(f"unknown format {fmt!r} (expected table, csv or json)")
    cells = [[_cell(r.get(c), c) for c in columns] for r in records]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    numeric = [
        bool(records) and all(isinstance(r.get(c), int | float) or r.get(c) is None
                              for r in records)
        for c in columns
    ]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append("  ".join(
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(row, widths, numeric, strict=True)
        ).rstrip())
    return "\n".join(lines) + "\n"


def format_spend(
    rows: Sequence[SpendRow], by: str | None, fmt: OutputFormat = "table",
    total: SpendRow | None = None,
) -> str:
    """Grouped rows; a table of several groups ends with a TOTAL line.

    ``total`` is the ungrouped report over the same window and filters: its
    ``requests`` counts each request once, whereas a request whose attempts
    touched two groups (a fallback from one provider to another) is in both
    rows, so summing the rows would count it twice. Without ``total`` the TOTAL
    line shows ``requests`` as ``-``.
    """
    columns = [c for c in SPEND_COLUMNS if (c != "label" or by == "key") and
               (c != "group" or by is not None)]
    records = [r.to_dict() for r in rows]
    if by is not None and fmt != "json":
        columns[0] = by
        for r in records:
            r[by] = r["group"] if r["group"] is not None else "(none)"
        if by == "key":
            columns[1] = "name"
            for r in records:
                r["name"] = r["label"]
    note = ""
    if fmt == "table" and by is not None and len(rows) > 1:
        line: dict[str, Any] = {c: sum(r.get(c) or 0 for r in records) for c in columns
                                if c not in ("group", "label", "name", by)}
        line["cost_usd"] = nusd_to_usd(sum(r.cost_nusd for r in rows))  # exact, no float sum
        line["requests"] = None if total is None else total.requests
        if total is not None and total.requests < sum(r.requests for r in rows):
            note = (f"(a request with attempts on more than one {by} counts in each of "
                    "their rows, once in TOTAL)\n")
        line[columns[0]] = "TOTAL"
        records.append(line)
    return format_records(records, columns, fmt) + note


def format_recent(rows: Sequence[LedgerRow], fmt: OutputFormat = "table") -> str:
    return format_records([r.to_dict() for r in rows], RECENT_COLUMNS, fmt)


__all__ = [
    "RECENT_COLUMNS",
    "SPEND_COLUMNS",
    "OutputFormat",
    "format_recent",
    "format_records",
    "format_spend",
    "parse_period",
    "parse_time",
    "recent_rows",
    "spend_report",
    "window",
]
