"""The ledger writer: no I/O in record(), batches, flush/close, retries, processes."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from aegis.engine import Attempt
from aegis.ledger import LedgerRow
from aegis.ledger.sqlite import SqliteLedgerStore
from aegis.ledger.store import usd_to_nusd
from aegis.ledger.writer import LedgerWriter
from tests.ledger.helpers import attempt, write_from_process


class CountingStore(SqliteLedgerStore):
    """Records batch sizes; can be told to fail the next N inserts."""

    def __init__(self, path: Any, **kw: Any) -> None:
        super().__init__(path, **kw)
        self.batches: list[int] = []
        self.fail_next = 0
        self.fail_with: type[Exception] = sqlite3.OperationalError
        self.poison: str | None = None  # a request_id that can never be inserted

    def insert(self, rows: Iterable[LedgerRow | Attempt]) -> int:
        rows = list(rows)
        if self.fail_next:
            self.fail_next -= 1
            raise self.fail_with("database is locked")
        if self.poison and any(getattr(r, "request_id", "") == self.poison for r in rows):
            raise ValueError("poison row")
        n = super().insert(rows)
        self.batches.append(n)
        return n


@pytest.fixture
def store(tmp_path: Path) -> CountingStore:
    s = CountingStore(tmp_path / "w.db")
    yield s
    s.close()


def test_ten_thousand_records_from_threads_all_land(store: CountingStore) -> None:
    writer = LedgerWriter(store, batch_size=500, max_delay_s=0.05)

    def produce(t: int) -> None:
        for i in range(2500):
            writer.record(attempt(request_id=f"t{t}-{i}", cost_usd=0.000000001 * i))

    threads = [threading.Thread(target=produce, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert writer.close()
    (total,) = store.spend()
    assert total.attempts == total.requests == 10_000
    assert total.cost_nusd == 4 * sum(range(2500))
    assert writer.written == 10_000
    assert max(store.batches) <= 500
    assert len(store.batches) < 10_000 / 5  # batched, not row by row


def test_record_does_no_io(store: CountingStore) -> None:
    writer = LedgerWriter(store, max_delay_s=10.0, batch_size=10_000)
    for i in range(100):
        writer.record(attempt(request_id=f"r{i}"))
    assert store.batches == []  # still lingering on the writer thread
    assert writer.flush(5)  # flush cuts the linger short
    assert store.batches == [100]
    writer.close()


def test_flush_covers_everything_recorded_before(store: CountingStore) -> None:
    writer = LedgerWriter(store, max_delay_s=0.001)
    for round_ in range(5):
        for i in range(200):
            writer.record(attempt(request_id=f"{round_}-{i}"))
        assert writer.flush(5)
        assert store.spend()[0].attempts == 200 * (round_ + 1)
    writer.close()


def test_transient_failures_are_retried_not_dropped(
    store: CountingStore, caplog: pytest.LogCaptureFixture
) -> None:
    store.fail_next = 3
    writer = LedgerWriter(store, max_delay_s=0.001, max_backoff_s=0.01)
    for i in range(50):
        writer.record(attempt(request_id=f"r{i}"))
    assert writer.close()
    assert store.spend()[0].attempts == 50
    assert sum("ledger insert of" in r.message for r in caplog.records) == 3


def test_a_poison_row_is_isolated_and_spilled(store: CountingStore, tmp_path: Path) -> None:
    store.poison = "bad"
    writer = LedgerWriter(store, max_delay_s=0.05, max_backoff_s=0.001, spill_dir=tmp_path)
    for i in range(20):
        writer.record(attempt(request_id="bad" if i == 7 else f"r{i}"))
    assert writer.close()
    assert store.spend()[0].attempts == 19  # every good row written
    (spill,) = tmp_path.glob("aegis-ledger-spill-*.jsonl")
    (line,) = spill.read_text().splitlines()
    assert LedgerRow.from_dict(json.loads(line)).request_id == "bad"
    assert writer.spilled == 1


def test_close_spills_when_the_store_never_recovers(store: CountingStore, tmp_path: Path) -> None:
    store.fail_next = 10**9
    writer = LedgerWriter(store, max_delay_s=0.001, max_backoff_s=0.01, spill_dir=tmp_path)
    rows = [attempt(request_id=f"r{i}", cost_usd=0.001) for i in range(30)]
    for a in rows:
        writer.record(a)
    writer.close(timeout=0.2)
    (spill,) = tmp_path.glob("aegis-ledger-spill-*.jsonl")
    back = [LedgerRow.from_dict(json.loads(line)) for line in spill.read_text().splitlines()]
    assert back == [LedgerRow.from_attempt(a) for a in rows]
    # and they can be imported later
    store.fail_next = 0
    store.insert(back)
    assert store.spend()[0].cost_nusd == 30 * usd_to_nusd(0.001)


def test_records_after_close_are_still_written(store: CountingStore) -> None:
    writer = LedgerWriter(store)
    writer.close()
    writer.record(attempt(request_id="late"))
    assert [r.request_id for r in store.recent()] == ["late"]


def test_two_processes_share_one_file(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    SqliteLedgerStore(path).close()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        counts = pool.starmap(write_from_process, [(path, "a", 3000), (path, "b", 3000)])
    assert counts == [3000, 3000]
    store = SqliteLedgerStore(path)
    (total,) = store.spend()
    assert total.attempts == total.requests == 6000
    assert total.cost_nusd == 2 * sum(i % 7 for i in range(3000))
    store.close()


def test_an_invalid_attempt_is_logged_and_the_writer_survives(
    store: CountingStore, caplog: pytest.LogCaptureFixture
) -> None:
    writer = LedgerWriter(store, max_delay_s=0.001)
    writer.record(attempt(request_id="nan", cost_usd=float("nan")))
    writer.record(attempt(request_id="fine"))
    assert writer.close()
    assert [r.request_id for r in store.recent()] == ["fine"]
    assert any(getattr(r, "event", None) == "ledger_row_invalid" and "nan" in r.message
               for r in caplog.records)
