"""The multi-process sample directory (``PROMETHEUS_MULTIPROC_DIR``) across worker lives.

Every worker of ``aegis serve --workers N`` writes its samples to files there (see
``aegis.observability.metrics``). Files outlive the processes that wrote them: the
supervisor clears the directory before starting workers, and each starting worker
drops the live gauges of workers that died without closing, whose last values would
otherwise stay in the sums and maxima for good. Counters stay: what a dead worker
counted did happen.
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client.multiprocess import mark_process_dead


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def forget_dead_workers(path: str | os.PathLike[str]) -> list[int]:
    """Drop the live gauges (in-flight requests, circuit states) of workers that died
    without ``close()`` (killed, OOM); returns their pids."""
    dead: set[int] = set()
    for file in Path(path).glob("gauge_live*_*.db"):
        digits = file.stem.rpartition("_")[2]
        if digits.isascii() and digits.isdigit() and not _alive(int(digits)):
            dead.add(int(digits))
    for pid in dead:
        mark_process_dead(pid, str(path))  # type: ignore[no-untyped-call]
    return sorted(dead)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def clear_multiprocess_dir(path: str | os.PathLike[str] | None = None) -> None:
    """Remove stale sample files; call once before starting the workers (not in a worker)."""
    target = path or multiprocess_dir()
    if target is None:
        return
    directory = Path(target)
    directory.mkdir(parents=True, exist_ok=True)
    for file in directory.glob("*.db"):
        file.unlink(missing_ok=True)


__all__ = ["clear_multiprocess_dir", "forget_dead_workers", "multiprocess_dir"]
