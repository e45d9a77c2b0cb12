"""The ledger recorder: ``record()`` only enqueues; a thread writes batches.

Why a thread and not the event loop: a SQLite commit is blocking I/O and can
wait on another worker's lock (``busy_timeout``); the request path must never
wait on it. ``record`` is a ``SimpleQueue.put`` (lock-free enough to be called
from any thread or the loop, ~1 us).

Batching: the thread takes the first waiting attempt, then keeps collecting
for up to ``max_delay_s`` or ``batch_size`` rows, and inserts them in one
transaction. Under load the queue refills during a commit, so batches grow and
the per-row cost drops.

Nothing is dropped silently:

* a *transient* failure (locked database, full disk: ``store.transient_errors``)
  is logged and the same batch retried with backoff, indefinitely while running;
* any other failure is retried twice, then the batch is split in halves to
  isolate the bad row(s); a single row that still fails is *spilled*
  (appended as one JSON line to ``spill_dir/aegis-ledger-spill-<pid>.jsonl``,
  re-importable with ``read_rows``-compatible dicts) and logged at ERROR;
* ``close()`` flushes; if the store still fails when its deadline passes, the
  unwritten rows are spilled the same way.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aegis.ledger.store import LedgerRow, LedgerStore
from aegis.records import Attempt, Recorder

log = logging.getLogger("aegis.ledger")


@dataclass(frozen=True, slots=True)
class _Marker:
    """A flush request or the stop signal, queued behind the attempts it covers."""

    done: threading.Event = field(default_factory=threading.Event)
    stop: bool = False


class LedgerWriter(Recorder):
    def __init__(
        self,
        store: LedgerStore,
        *,
        batch_size: int = 500,
        max_delay_s: float = 0.05,
        spill_dir: str | Path | None = None,
        max_backoff_s: float = 2.0,
    ) -> None:
        self.store = store
        self.batch_size = batch_size
        self.max_delay_s = max_delay_s
        self.max_backoff_s = max_backoff_s
        self.spill_dir = Path(spill_dir) if spill_dir is not None else Path.cwd()
        self.written = 0  # rows durably inserted
        self.spilled = 0
        self.failing_since: float | None = None  # unix time of the first failed try, if failing
        self._retrying = 0  # rows of the batch being retried (out of the queue, not stored)
        self._queue: queue.SimpleQueue[Attempt | LedgerRow | _Marker] = queue.SimpleQueue()
        self._closing = threading.Event()
        self._deadline = float("inf")
        self._closed = False
        self._gate = threading.Lock()  # orders record() against close()
        self._thread = threading.Thread(target=self._run, name="aegis-ledger-writer",
                                        daemon=True)
        self._thread.start()
        atexit.register(self.close)  # a safety net; the gateway closes it on shutdown

    # -- the request path ---------------------------------------------------------

    def record(self, attempt: Attempt) -> None:
        """Enqueue only: no I/O, safe from the event loop and any thread."""
        with self._gate:
            if not self._closed:
                self._queue.put(attempt)
                return
        self._write([LedgerRow.from_attempt(attempt)])  # a straggler after close()

    def record_row(self, row: LedgerRow) -> None:
        with self._gate:
            if not self._closed:
                self._queue.put(row)
                return
        self._write([row])

    def health(self) -> dict[str, object]:
        """For ``/health/ready`` and ``/metrics``: a store that cannot be written (read-only,
        full disk, locked) keeps rows in memory, retried; this is how anyone finds out."""
        since = self.failing_since
        return {"ok": since is None, "failing_for_s": None if since is None
                else round(time.time() - since, 1),
                "unwritten_rows": self._queue.qsize() + self._retrying,
                "spilled_rows": self.spilled}

    # -- lifecycle -----------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Block until everything recorded before this call is durable (or spilled)."""
        if self._closed:
            return True
        marker = _Marker()
        self._queue.put(marker)
        return marker.done.wait(timeout)

    def close(self, timeout: float | None = 30.0) -> bool:
        """Flush, then stop the thread. After ``timeout`` a failing store is spilled."""
        if self._closed:
            return True
        atexit.unregister(self.close)
        self._deadline = time.monotonic() + (timeout if timeout is not None else 1e9)
        self._closing.set()
        marker = _Marker(stop=True)
        self._queue.put(marker)
        self._thread.join(None if timeout is None else timeout + 5.0)
        with self._gate:
            self._closed = True
        if not self._thread.is_alive():
            self._drain()  # anything recorded while the thread was stopping
        return marker.done.is_set()

    # -- the writer thread -----------------------------------------------------------

    def _run(self) -> None:
        while True:
            batch, markers = self._collect()
            if batch:
                try:
                    self._write(batch)
                except Exception:  # _write handles failures; this keeps the thread alive
                    log.exception("ledger writer error")
            stop = False
            for marker in markers:
                marker.done.set()
                stop = stop or marker.stop
            if stop:
                self._drain()
                return

    def _drain(self) -> None:
        """Rows recorded between the stop signal and now: written, not lost."""
        rest: list[LedgerRow] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, _Marker):
                item.done.set()
            elif (row := _to_row(item)) is not None:
                rest.append(row)
        if rest:
            self._write(rest)

    def _collect(self) -> tuple[list[Attempt | LedgerRow], list[_Marker]]:
        """The first item (waiting as long as needed), then whatever arrives shortly.

        Drains in bursts and naps between them (at most every 10 ms) rather than
        waking once per row: under load rows arrive thousands a second, and every
        wake-up is time the event loop waits for the GIL.
        """
        batch: list[Attempt | LedgerRow] = []
        markers: list[_Marker] = []
        pending: list[Attempt | LedgerRow | _Marker] = [self._queue.get()]
        deadline = time.monotonic() + self.max_delay_s
        while True:
            for item in pending:
                if isinstance(item, _Marker):
                    markers.append(item)
                    return batch, markers  # write now: someone waits for it
                batch.append(item)
            pending = []
            try:
                while len(batch) + len(pending) < self.batch_size:
                    pending.append(self._queue.get_nowait())
            except queue.Empty:
                pass
            if pending:
                continue
            remaining = deadline - time.monotonic()
            if len(batch) >= self.batch_size or remaining <= 0:
                return batch, markers
            time.sleep(min(remaining, 0.01))

    def _write(self, batch: Sequence[Attempt | LedgerRow]) -> None:
        failures = 0
        backoff = 0.05
        while True:
            try:
                self.store.insert(batch)
                self.written += len(batch)
                self.failing_since, self._retrying = None, 0
                if failures:
                    log.warning("ledger batch of %d rows written after %d failed tries",
                                len(batch), failures)
                return
            except Exception as exc:
                failures += 1
                if self.failing_since is None:
                    self.failing_since = time.time()
                self._retrying = len(batch)
                transient = isinstance(exc, self.store.transient_errors)
                log.error("ledger insert of %d rows failed (try %d, %s): %s", len(batch),
                          failures, "will retry" if transient else "retrying", exc,
                          extra={"event": "ledger_write_failed", "rows": len(batch)})
                if self._closing.is_set() and time.monotonic() >= self._deadline:
                    self._spill(batch, exc)
                    return
                if not transient and failures >= 3:
                    if len(batch) == 1:
                        self._spill(batch, exc)
                    else:
                        half = len(batch) // 2
                        self._write(batch[:half])
                        self._write(batch[half:])
                    return
                time.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)

    def _spill(self, items: Sequence[Attempt | LedgerRow], exc: BaseException) -> None:
        rows = [row for row in map(_to_row, items) if row is not None]
        if not rows:
            return  # nothing storable: _to_row has logged each invalid attempt
        path = self.spill_dir / f"aegis-ledger-spill-{os.getpid()}.jsonl"
        try:
            self.spill_dir.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as handle:
                for row in rows:
                    handle.write(json.dumps(row.to_dict(), ensure_ascii=False) + "\n")
            self.spilled += len(rows)
            log.error("%d ledger rows could not be stored (%s); saved to %s", len(rows), exc,
                      path, extra={"event": "ledger_spilled", "rows": len(rows),
                                   "path": str(path)})
        except OSError as spill_exc:  # the last resort: the rows go to the log itself
            for row in rows:
                log.critical("ledger row lost to storage (%s / %s): %s", exc, spill_exc,
                             json.dumps(row.to_dict()),
                             extra={"event": "ledger_row_unstored"})


def _to_row(item: Attempt | LedgerRow) -> LedgerRow | None:
    """Convert off the event loop; an unconvertible attempt is logged whole, not lost silently."""
    if isinstance(item, LedgerRow):
        return item
    try:
        return LedgerRow.from_attempt(item)
    except Exception as exc:  # e.g. a NaN cost: a bug upstream of the ledger
        log.error("cannot store ledger attempt (%s): %r", exc, item,
                  extra={"event": "ledger_row_invalid"})
        return None


__all__ = ["LedgerWriter"]
