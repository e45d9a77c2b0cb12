"""The insert fast path (None bound as NaN, tags JSON, labels) stores exactly what the
plain one-row INSERT of ``LedgerRow.from_attempt`` values stores: same values, same
storage classes, same order, for every batch size."""

from __future__ import annotations

import enum
import json
import math
import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from aegis.engine import Attempt, Caller
from aegis.ledger import LedgerRow
from aegis.ledger.sqlite import _INSERTS, _ROW_COLUMNS, SqliteLedgerStore, _row_values, _tags_json
from aegis.ledger.store import _label
from aegis.privacy.classes import DataClass
from aegis.task import Task
from aegis.types import Usage
from tests.ledger.helpers import T0

_RAW = "SELECT id, " + ", ".join(f"typeof({c}), {c}" for c in _ROW_COLUMNS) + \
    " FROM attempts ORDER BY id"
_TEXT = ["", "plain", 'q"uote', "back\\slash", "new\nline", "é", "😀", "\x00nul", "\u2028"]


def _varied(rng: random.Random, i: int) -> Attempt:
    def maybe(value: Any) -> Any:
        return value if rng.random() < 0.5 else None

    return Attempt(
        request_id=f"r{i}", started_at=T0 + i * 0.001, provider=rng.choice(["openai", "x"]),
        model=rng.choice(_TEXT[1:]), route="rule:r", reason=rng.choice(_TEXT), attempt=i % 3,
        streamed=rng.random() < 0.5, status=rng.choice(["ok", "error", "cancelled"]),
        usage=Usage(rng.randrange(10**6), rng.randrange(1000), rng.randrange(10),
                    rng.randrange(3)),
        cost_usd=rng.choice([0.0, 0.000000001, 0.1, rng.randrange(10**9) / 1e9, 2e6 + 0.5]),
        latency_ms=rng.choice([0.0, 1.25, 1e9, float(rng.randrange(100))]),
        ttft_ms=rng.choice([None, 0.0, 3.5, math.nan, math.inf]),
        error_kind=maybe(rng.choice(_TEXT)), usage_estimated=rng.random() < 0.5,
        task=Task(task_type=maybe("code"), quality=maybe(rng.choice(_TEXT)),
                  complexity=maybe("low"), strategy=maybe("balanced"),
                  workspace=maybe(rng.choice(_TEXT)), batch_size=maybe(rng.randrange(-1, 9)),
                  data_class=maybe(rng.choice(list(DataClass))),
                  tags=rng.choice([(), ("a",), tuple(rng.sample(_TEXT, 3))])),
        caller=Caller(key_id=maybe("key_1"), key_name=maybe(rng.choice(_TEXT)),
                      team=maybe("research")),
        upstream_model=rng.choice(["", "m-2026"]), data_class=rng.choice(["", "pii", "public"]),
    )


@pytest.mark.parametrize("count", [*range(1, 23), 63, 64, 65, 85, 129, 300])
def test_batches_store_what_one_row_inserts_of_ledger_rows_store(
    tmp_path: Path, count: int
) -> None:
    rng = random.Random(count)
    batch = [_varied(rng, i) for i in range(count)]
    fast = SqliteLedgerStore(tmp_path / "fast.db")
    assert fast.insert(batch) == count
    reference = SqliteLedgerStore(tmp_path / "ref.db")
    conn = reference.connect()
    for a in batch:  # the plain path: LedgerRow codec, one statement per row, None as None
        conn.execute(_INSERTS[1], _row_values(LedgerRow.from_attempt(a)))
    got = fast.connect().execute(_RAW).fetchall()
    assert len(got) == count
    assert got == conn.execute(_RAW).fetchall()  # values and storage classes, in order


def test_a_bound_nan_is_stored_as_null() -> None:
    """What the None-as-NaN binding relies on."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (r REAL, i INTEGER, s TEXT, n TEXT NOT NULL)")
    conn.execute("INSERT INTO t (r, i, s, n) VALUES (?, ?, ?, 'x')", [math.nan] * 3)
    assert conn.execute("SELECT typeof(r), typeof(i), typeof(s) FROM t").fetchall() == \
        [("null", "null", "null")]
    with pytest.raises(sqlite3.IntegrityError):  # NOT NULL still refuses it
        conn.execute("INSERT INTO t (n) VALUES (?)", [math.nan])


def test_tags_json_is_json_dumps() -> None:
    rng = random.Random(5)
    alphabet = ["a", '"', "\\", "\n", "\x00", "\x1f", "é", "\u2028", "😀", "\ud800", ",", " "]
    for _ in range(2000):
        tags = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(5)))
                for _ in range(rng.randrange(1, 4))]
        assert _tags_json(tags) == json.dumps(tags, ensure_ascii=False)


def test_label_keeps_its_meaning() -> None:
    class Text(str):
        pass

    class Kind(enum.Enum):
        A = 1

    for value, expected in [(None, None), ("x", "x"), (Text("y"), "y"), (DataClass.PII, "pii"),
                            (Kind.A, "1"), (3, "3")]:
        got = _label(value)
        assert got == expected and (got is None or type(got) is str)
