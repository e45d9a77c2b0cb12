"""Several worker processes, one scrape: ``PROMETHEUS_MULTIPROC_DIR`` mode end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from aegis.errors import ConfigError
from aegis.observability import Metrics, clear_multiprocess_dir

ROOT = Path(__file__).resolve().parents[2]

WORKER = """
import sys
from aegis.observability import Metrics
from tests.observability.helpers import attempt

state, spend, close = sys.argv[1], float(sys.argv[2]), sys.argv[3] == "close"
m = Metrics(providers=["openai"], models=["gpt-4o-mini"], routes=["pinned"])
for _ in range(3):
    m.record(attempt(cost_usd=0.5))
m.request_started()  # still in flight when the worker exits, unless it closes
m.request_finished(0.2, 0.1, "ok", provider="openai")
m.request_started()
m.breaker_state("openai", "gpt-4o-mini", state)
m.budget_state("monthly", spend, 100.0)
if close:
    m.close()
else:
    m.sync()  # what the sync thread does every 0.5 s: the files hold this worker's counts
print("ready", flush=True)
sys.stdin.read()  # alive until the test closes stdin (or kills it)
"""

SCRAPE = """
import sys
from aegis.observability import Metrics
body, _ = Metrics().exposition()
sys.stdout.write(body.decode())
"""


def _run(code: str, directory: Path, *args: str) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _worker(directory: Path, *args: str) -> subprocess.Popen[str]:
    """A worker process that has recorded its values and stays alive until stdin closes."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    proc = subprocess.Popen([sys.executable, "-c", WORKER, *args], env=env, cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    return proc


def _end(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait(30)


def _scrape(directory: Path) -> Callable[..., float]:
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(_run(SCRAPE, directory))
               for s in f.samples}

    def value(name: str, **labels: str) -> float:
        want = set(labels.items())
        return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))

    return value


def test_one_scrape_merges_every_worker(tmp_path: Path) -> None:
    alive = [_worker(tmp_path, "open", "10", "keep"), _worker(tmp_path, "closed", "20", "keep")]
    _end(_worker(tmp_path, "closed", "30", "close"))  # exited cleanly: its live gauges go
    try:
        value = _scrape(tmp_path)
    finally:
        for proc in alive:
            _end(proc)

    assert value("aegis_requests_total", provider="openai", status="ok") == 9  # counters sum
    assert value("aegis_cost_usd_total") == pytest.approx(4.5)
    assert value("aegis_tokens_total", direction="prompt") == 90
    assert value("aegis_request_duration_seconds_count") == 3
    assert value("aegis_gateway_overhead_seconds_sum") == pytest.approx(0.3)
    assert value("aegis_inflight_requests") == 2  # live sum: the closed worker is gone
    assert value("aegis_circuit_state", provider="openai", model="gpt-4o-mini") == 2  # worst
    assert value("aegis_budget_spend_usd", budget="monthly") == 30  # most recent write
    assert value("aegis_budget_utilisation", budget="monthly") == pytest.approx(0.3)


def test_a_killed_workers_live_gauges_go_when_the_next_one_starts(tmp_path: Path) -> None:
    """A worker killed outright never closes; its replacement drops its in-flight count
    and circuit state instead of summing and maxing them in for good."""
    survivor = _worker(tmp_path, "closed", "5", "keep")
    killed = _worker(tmp_path, "open", "10", "keep")
    killed.kill()
    killed.wait(30)
    try:
        assert list(tmp_path.glob(f"gauge_live*_{killed.pid}.db"))  # left behind
        replacement = _worker(tmp_path, "closed", "15", "keep")  # what the supervisor starts
        assert not list(tmp_path.glob(f"gauge_live*_{killed.pid}.db"))
        value = _scrape(tmp_path)
        assert value("aegis_circuit_state", provider="openai", model="gpt-4o-mini") == 0
        assert value("aegis_inflight_requests") == 2  # the survivor's and the replacement's
        assert value("aegis_requests_total", provider="openai", status="ok") == 9  # counters stay
        _end(replacement)
    finally:
        _end(survivor)


def test_clear_removes_stale_files(tmp_path: Path) -> None:
    _end(_worker(tmp_path, "closed", "1", "keep"))
    assert list(tmp_path.glob("*.db"))
    clear_multiprocess_dir(tmp_path)
    assert not list(tmp_path.glob("*.db"))


def test_dir_set_too_late_is_a_config_error(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # prometheus_client was imported by this process without the variable: values would
    # silently stay per process, which is exactly what multi-process mode must prevent.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    with pytest.raises(ConfigError, match="PROMETHEUS_MULTIPROC_DIR"):
        Metrics()


PERIODIC = """
import os, sys, time
from aegis.observability import Metrics
from tests.observability.helpers import attempt

m = Metrics(providers=["openai"], models=["gpt-4o-mini"], routes=["pinned"],
            sync_interval_s=0.1)
for _ in range(2):  # two rounds, each followed by syncs: written as deltas, not twice
    for _ in range(2):
        m.record(attempt(cost_usd=0.25))
        m.request_started()
        m.request_finished(0.2, 0.1, "ok", provider="openai")
    time.sleep(0.4)
os._exit(0)  # no close(), no atexit: only the periodic sync can have written them
"""


def test_a_running_worker_writes_its_counts_within_a_sync(tmp_path: Path) -> None:
    _run(PERIODIC, tmp_path)
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(_run(SCRAPE, tmp_path))
               for s in f.samples}
    total = sum(v for (n, labels), v in samples.items()
                if n == "aegis_requests_total" and ("status", "ok") in labels)
    assert total == 4
    assert sum(v for (n, _), v in samples.items() if n == "aegis_cost_usd_total") == 1.0
    assert sum(v for (n, _), v in samples.items()
               if n == "aegis_request_duration_seconds_count") == 4
    assert sum(v for (n, _), v in samples.items() if n == "aegis_inflight_requests") == 0
