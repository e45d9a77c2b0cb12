"""A tiny run of the benchmark harness itself (bench/run.py), not a performance test.

Direct path and Aegis minimal, two scenarios, two short rounds each, with the
Python load client (always available), into a temporary directory. When wrk is
installed, its Lua summary is parsed once against the mock upstream too.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"


def test_harness_smoke(tmp_path: Path) -> None:
    out = tmp_path / "results"
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--systems", "direct,aegis-minimal",
         "--scenario", "chat-c1", "--scenario", "stream-c1", "--loadgen", "python",
         "--rounds", "2", "--duration", "0.4", "--warmup", "0.2", "--no-install",
         "--chunks", "5", "--out", str(out), "--name", "smoke",
         "--run-dir", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=120, cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert time.monotonic() - started < 60
    result = json.loads((out / "smoke.json").read_text())
    assert [s["status"] for s in result["systems"]] == ["ok", "ok"]
    assert (out / "smoke.md").read_text().startswith("# Aegis benchmark")
    assert (out / "smoke.png").stat().st_size > 1000
    runs = result["runs"]
    assert {(r["scenario"], r["system"], r["round"]) for r in runs} == {
        (sc, system, rnd) for sc in ("chat-c1", "stream-c1")
        for system in ("direct", "aegis-minimal") for rnd in (0, 1)}
    for scenario in ("chat-c1", "stream-c1"):
        for system in ("direct", "aegis-minimal"):
            row = result["summary"][scenario][system]
            assert row["rps"] > 0 and row["errors"] == 0, (scenario, system, row)
            assert row["peak_rss_mb"] > 5
            assert row["cpu_s_per_1k"] is not None
        assert "added_p50_ms" in result["summary"][scenario]["aegis-minimal"]
    stream = result["summary"]["stream-c1"]["aegis-minimal"]
    assert stream["events"] == [8, 8]  # 5 content + finish + usage + [DONE]
    assert stream["ttfb_p50_ms"] <= stream["p50_ms"]
    assert any(t["target"].startswith("added p50") and t["measured"] is not None
               for t in result["targets"])


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_wrk_summary_parses(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCH))
    try:
        import loadgen
        import systems
    finally:
        sys.path.remove(str(BENCH))
    mock = systems.Mock(tmp_path, chunks=3, delay_ms=0)
    try:
        body = tmp_path / "body.json"
        body.write_text(json.dumps({"model": "m", "messages": [{"role": "user",
                                                                 "content": "hi"}]}))
        result = loadgen.run_wrk(shutil.which("wrk") or "wrk",
                                 f"http://127.0.0.1:{mock.port}/v1/chat/completions", body,
                                 concurrency=2, duration_s=1)
    finally:
        mock.stop()
    assert result.failed is None
    assert result.requests > 100 and result.errors == 0
    assert result.p50_ms is not None and 0 < result.p50_ms <= (result.p99_ms or 0)


def test_each_system_is_measured_only_on_its_upstream() -> None:
    sys.path.insert(0, str(BENCH))
    try:
        import run
    finally:
        sys.path.remove(str(BENCH))
    where = {name: [sc.name for sc in run.SCENARIOS if sc.includes(name)]
             for name in run.ALL_SYSTEMS}
    assert where["direct-aiohttp"] == where["aegis-full-aiohttp"] == ["chat-c32-aiohttp"]
    assert where["aegis-full-w2"] == ["chat-c32", "chat-c128"]
    assert where["aegis-full"] == where["direct"] == [
        sc.name for sc in run.SCENARIOS if sc.upstream == "raw"]
