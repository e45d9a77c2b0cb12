"""bench/privacy_eval.py runs as documented (not a speed test: a tiny share of its runs).

It imports the test corpus's internals, so a refactor of the corpus can break it
without any other test noticing; this one notices.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_privacy_eval_prints_scores_and_timings_against_a_baseline() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "privacy_eval.py"), "--scale", "0.01",
         "--baseline", "HEAD"],
        capture_output=True, text=True, timeout=120, cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert out.startswith("## Privacy detector `regex`")
    assert "| kind | class | precision | recall | TP | FP | FN |" in out
    assert "Hand-written holdout (" in out
    timed = [line for line in out.splitlines() if line.startswith("| ") and " ms |" in line]
    # 4 workloads x 2 sizes, 4 routing rows, the whole request; each with before/after
    assert len(timed) == 13
    assert all(line.rstrip().endswith("x |") for line in timed)
