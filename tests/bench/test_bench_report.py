"""bench/report.py on synthetic rounds: no processes, so it runs in well under a second.

Covers a system measured in some scenarios only (aegis-full-w2, ``--workers 2``):
its one target row, the ratios, and that tables and chart skip it elsewhere.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def report() -> Any:
    sys.path.insert(0, str(BENCH))
    try:
        import report
    finally:
        sys.path.remove(str(BENCH))
    return report


def _run(scenario: str, system: str, rnd: int, rps: float, p50: float) -> dict[str, Any]:
    load = {"tool": "wrk", "requests": int(rps * 2), "elapsed_s": 2.0, "errors": 0,
            "error_detail": {}, "rps": rps, "p50_ms": p50, "p95_ms": p50 * 2,
            "p99_ms": p50 * 3, "failed": None}
    return {"scenario": scenario, "system": system, "round": rnd, "load": load,
            "cpu_s": 1.0, "peak_rss": 80_000_000, "other_cpu_s": 0.0, "wall_s": 2.0}


def test_multi_worker_rows_and_target(report: Any, tmp_path: Path) -> None:
    systems = ["direct", "aegis-full", "aegis-full-w2", "aegis-minimal"]
    speeds = {"direct": (20_000.0, 0.05), "aegis-full": (1_000.0, 30.0),
              "aegis-full-w2": (1_700.0, 18.0), "aegis-minimal": (1_200.0, 25.0)}
    scenarios = [
        {"name": "chat-c1", "title": "c1", "concurrency": 1, "stream": False,
         "rounds_done": 2, "duration_s": 2.0, "skipped": ["aegis-full-w2"]},
        {"name": "chat-c32", "title": "c32", "concurrency": 32, "stream": False,
         "rounds_done": 2, "duration_s": 2.0, "skipped": []},
    ]
    runs = [_run(sc["name"], name, rnd, *speeds[name]) for sc in scenarios
            for name in systems for rnd in (0, 1)
            if not (name == "aegis-full-w2" and sc["name"] == "chat-c1")]

    summary = report.aggregate(runs, scenarios, systems)
    assert "aegis-full-w2" not in summary["chat-c1"]  # skipped, not failed
    assert summary["chat-c32"]["aegis-full-w2"]["rps"] == pytest.approx(1_700.0)

    targets = report.targets(summary, {"aegis-full": 90.0, "aegis-full-w2": 170.0}, systems)
    w2 = [t for t in targets if t["system"] == "aegis-full-w2"]
    assert len(w2) == 1
    assert w2[0]["target"] == "req/s at c=32, --workers 2 vs 1 worker (x)"
    assert w2[0]["limit"] == ">= 1.5"
    assert w2[0]["measured"] == pytest.approx(1.7) and w2[0]["met"] is True
    assert not any(t["system"] == "aegis-full-w2" and "RSS" in t["target"] for t in targets)

    slow = report.targets({"chat-c32": {"aegis-full": {"rps": 1000.0},
                                        "aegis-full-w2": {"rps": 1400.0}}}, {}, systems)
    assert [t["met"] for t in slow if t["system"] == "aegis-full-w2"] == [False]
    alone = report.targets({"chat-c32": {"aegis-full-w2": {"rps": 1400.0}}}, {},
                           ["aegis-full-w2"])  # no 1-worker twin measured
    assert [(t["measured"], t["met"]) for t in alone] == [(None, None)]

    ratios = report.ratios(summary)
    assert ratios["chat-c32"]["aegis-full-w2/aegis-full rps"] == pytest.approx(1.7)
    assert not any(k.startswith("aegis-full-w2/") for k in ratios["chat-c1"])

    result = {
        "meta": {"date": "2026-01-01 00:00 UTC", "mode": "quick", "elapsed_s": 1.0,
                 "loadgen": "wrk", "chunks": 50, "delay_ms": 1.0, "versions": ["test"],
                 "notes": [], "machine": {"cpu": "test", "cores": 2, "kernel": "x",
                                          "mem_gb": 1.0, "python": "3", "loadavg_start": "0"}},
        "systems": [{"name": n, "status": "ok", "version": "", "startup_s": 1.0, "reason": "",
                     "notes": [], "features": {}} for n in systems],
        "scenarios": scenarios, "summary": summary, "ratios": ratios, "targets": targets,
    }
    md = report.markdown(result)
    assert "| aegis-full-w2 | req/s at c=32, --workers 2 vs 1 worker (x) | >= 1.5 | 1.700 | yes |" \
        in md
    c1_table = md.split("### chat-c1")[1].split("###")[0]
    assert "not run here: aegis-full-w2" in c1_table
    assert "| aegis-full-w2 |" not in c1_table
    assert "aegis-full-w2/aegis-full rps" in md
    console = report.console_table(result)
    assert "--workers 2 vs 1 worker" in console and "1.700" in console
    assert report.chart(result, tmp_path / "chart.png") is None
    assert (tmp_path / "chart.png").stat().st_size > 1000


def test_aiohttp_scenario_has_its_own_direct_path_and_target(report: Any) -> None:
    """chat-c32-aiohttp measures aegis-full-aiohttp against direct-aiohttp, never `direct`."""
    systems = ["direct", "aegis-full", "direct-aiohttp", "aegis-full-aiohttp"]
    scenarios = [
        {"name": "chat-c32", "title": "c32", "concurrency": 32, "stream": False,
         "rounds_done": 2, "duration_s": 2.0, "skipped": []},
        {"name": "chat-c32-aiohttp", "title": "c32 aiohttp", "concurrency": 32,
         "stream": False, "rounds_done": 2, "duration_s": 2.0, "skipped": []},
    ]
    speeds = {("chat-c32", "direct"): (80_000.0, 0.4), ("chat-c32", "aegis-full"): (3_000.0, 10.0),
              ("chat-c32-aiohttp", "direct-aiohttp"): (12_000.0, 2.5),
              ("chat-c32-aiohttp", "aegis-full-aiohttp"): (2_700.0, 11.0)}
    runs = [_run(sc, name, rnd, *speed) for (sc, name), speed in speeds.items()
            for rnd in (0, 1)]

    summary = report.aggregate(runs, scenarios, systems)
    assert summary["chat-c32-aiohttp"]["aegis-full-aiohttp"]["added_p50_ms"] == pytest.approx(8.5)
    assert summary["chat-c32"]["aegis-full"]["added_p50_ms"] == pytest.approx(9.6)
    targets = report.targets(summary, {"aegis-full": 60.0}, systems)
    row = next(t for t in targets if t["system"] == "aegis-full-aiohttp")
    assert row["target"] == "req/s at c=32 vs direct, aiohttp mock (%)"
    assert row["measured"] == pytest.approx(22.5) and row["met"] is True
    plain = next(t for t in targets if t["target"] == "req/s at c=32 vs direct (%)")
    assert plain["measured"] == pytest.approx(3.75) and plain["met"] is False
    assert report.ratios(summary)["chat-c32-aiohttp"] == {
        "aegis-full-aiohttp/direct-aiohttp rps": pytest.approx(0.225),
        "aegis-full-aiohttp/direct-aiohttp p50": pytest.approx(4.4)}
