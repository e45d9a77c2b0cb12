"""``bench/run.py --profile``: where Aegis spends its time under load.

Starts the mock upstream and Aegis (full configuration), then, for each phase
(non-streaming c=32 and c=1, streaming c=32, ~100 KB prompt c=8), applies load
while py-spy samples the Aegis process (``--nonblocking``, so the gateway is not
paused). py-spy is installed from PyPI into bench/.tools-venv (never .venv); if
that fails, the fallback is cProfile (stdlib) for one non-streaming phase.
The summary -- time by package, top functions by self time, top Aegis functions
by inclusive time -- goes to bench/results/profile.txt.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pstats
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import loadgen
import run as runmod
import systems as sysmod

HERE = Path(__file__).resolve().parent
PYSPY_VERSION = "0.4.3"
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def ensure_pyspy(install: bool) -> tuple[Path | None, str]:
    problem = sysmod.tools_venv((f"py-spy=={PYSPY_VERSION}",), ["py-spy", "--version"], install)
    if problem:
        return None, problem
    return sysmod.TOOLS_VENV / "bin" / "py-spy", f"py-spy {PYSPY_VERSION} (bench/.tools-venv)"


def short(path: str) -> str:
    for marker in ("/site-packages/", "/src/", "/lib/python3.11/", "/lib/python3.12/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path.rsplit("/", 1)[-1]


def package(path: str) -> str:
    p = short(path)
    if p.startswith("aegis/"):
        parts = p.split("/")
        return "aegis/" + parts[1].removesuffix(".py") if len(parts) > 1 else "aegis"
    if p.startswith("asyncio/"):
        return "asyncio (stdlib)"
    top = p.split("/", 1)[0].removesuffix(".py")
    stdlib = "/site-packages/" not in path and "/" not in p
    return f"{top} (stdlib)" if stdlib else top


def parse_collapsed(path: Path) -> list[tuple[list[tuple[str, str]], int]]:
    stacks = []
    for line in path.read_text(errors="replace").splitlines():
        if not line.strip():
            continue
        frames_text, _, count = line.rpartition(" ")
        frames = []
        for frame in frames_text.split(";"):
            m = _FRAME.match(frame.strip())
            frames.append((m.group("func"), m.group("file")) if m else (frame, "?"))
        stacks.append((frames, int(count)))
    return stacks


def summarize(stacks: list[tuple[list[tuple[str, str]], int]], top: int = 25) -> list[str]:
    total = sum(c for _, c in stacks)
    if not total:
        return ["  (no samples)"]
    self_fn: Counter[str] = Counter()
    self_pkg: Counter[str] = Counter()
    incl_aegis: Counter[str] = Counter()
    for frames, count in stacks:
        func, file = frames[-1]
        self_fn[f"{func} ({short(file)})"] += count
        self_pkg[package(file)] += count
        seen = set()
        for func, file in frames:
            if short(file).startswith("aegis/"):
                key = f"{func} ({short(file)})"
                if key not in seen:
                    seen.add(key)
                    incl_aegis[key] += count
    out = [f"  samples: {total}", "", "  self time by package:"]
    out += [f"    {100 * c / total:5.1f}%  {name}" for name, c in self_pkg.most_common(15)]
    out += ["", f"  top {top} functions by self time:"]
    out += [f"    {100 * c / total:5.1f}%  {name}" for name, c in self_fn.most_common(top)]
    out += ["", f"  top {top} Aegis functions by inclusive time (callees included):"]
    out += [f"    {100 * c / total:5.1f}%  {name}" for name, c in incl_aegis.most_common(top)]
    return out


_MEMORY_STEPS = r"""
import asyncio, json, os, sys
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
steps = [("python interpreter", rss())]
try:
    import httptools, orjson, uvicorn, uvloop
    steps.append(("+ import uvicorn, uvloop, httptools, orjson", rss()))
    import aegis
    steps.append(("+ import aegis", rss()))
    from aegis.config import load
    settings = load(sys.argv[1])
    steps.append(("+ load the config (catalog, routing policy)", rss()))
    from aegis.gateway import create_app
    app = create_app(settings)
    steps.append(("+ create_app (engine, router, adapters, recorders)", rss()))
    async def start():
        await app.engine.start()
        steps.append(("+ engine.start() (tokenizer tables, provider checks)", rss()))
        await app.engine.aclose()
    asyncio.run(start())
except Exception as exc:
    steps.append((f"stopped: {type(exc).__name__}: {exc}", rss()))
print(json.dumps(steps))
"""


def memory_steps(config: Path, env: dict[str, str]) -> list[str]:
    """RSS of a fresh interpreter after each start-up step of ``aegis serve``."""
    proc = subprocess.run([sys.executable, "-c", _MEMORY_STEPS, str(config)], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    try:
        steps = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return [f"  memory steps failed: {proc.stderr.strip()[-300:]}"]
    out = ["", "== start-up memory (RSS of one process after each step; idle, before load)"]
    prev = 0.0
    for label, mb in steps:
        out.append(f"  {mb:7.1f} MB  ({mb - prev:+6.1f})  {label}")
        prev = mb
    return out


def main(args: argparse.Namespace, run_dir: Path) -> int:
    import shutil

    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    out_path = args.out / "profile.txt"
    args.out.mkdir(parents=True, exist_ok=True)
    tools, notes = loadgen.ensure_tools(install=not args.no_install)
    pyspy, how = ensure_pyspy(not args.no_install)
    seconds = max(3.0, args.profile_seconds)
    mock = sysmod.Mock(run_dir, args.chunks, args.delay_ms)
    system: sysmod.System | None = None
    lines = [f"Aegis profile — {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
             f"machine: {runmod.machine()['cpu']}, {os.cpu_count()} cores; profiler: "
             f"{how if pyspy else 'cProfile (fallback: ' + how + ')'}",
             "config: bench/configs/aegis-full.yaml (model=auto), mock upstream as in the "
             "benchmark; samples exclude idle time (waiting in the event loop).",
             "Percentages are of all samples of all threads (the event-loop thread and any "
             "worker thread, e.g. the ledger writer). Time in C code (uvloop, httptools, "
             "orjson, sqlite3) is charged to the Python frame that called it: "
             "`Runner.run` self time is the uvloop loop itself (socket I/O, callbacks).",
             *notes]
    try:
        if pyspy is None:
            lines += profile_cprofile(args, run_dir, mock, tools, seconds)
            return 0
        system = sysmod.aegis("aegis-full", "aegis-full.yaml", "auto", mock, run_dir,
                              "profiled")
        sysmod.check(system)
        if not system.ok:
            lines.append(f"aegis-full failed to start: {system.reason}")
            return 1
        lines += [f"note: {n}" for n in system.notes if "rejected" in n]
        (run_dir / "mem").mkdir(exist_ok=True)
        lines += memory_steps(run_dir / "aegis-full.yaml",
                              sysmod._env(BENCH_UPSTREAM=mock.base_url,
                                          BENCH_RUN_DIR=str(run_dir / "mem")))
        bodies = runmod.write_bodies(run_dir, [system])
        phases = [("chat-c32", 32, False, "small"), ("chat-c1", 1, False, "small"),
                  ("stream-c32", 32, True, "stream"), ("large-c8", 8, False, "large")]
        for name, conc, stream, kind in phases:
            sc = runmod.Scenario(name, name, conc, stream=stream)
            body = bodies[(system.name, kind)]
            _load(tools, system, sc, body, 1.0)  # warm-up
            raw = run_dir / f"profile-{name}.txt"
            assert system.proc is not None and system.tree is not None
            cpu0 = system.tree.cpu_seconds()
            spy = subprocess.Popen(
                [str(pyspy), "record", "--pid", str(system.proc.pid), "--rate", "250",
                 "--duration", str(int(seconds)), "--format", "raw", "--function",
                 "--nonblocking", "--full-filenames", "--output", str(raw)],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            time.sleep(0.5)  # let py-spy attach
            result = _load(tools, system, sc, body, seconds - 1)
            try:
                _, err = spy.communicate(timeout=seconds + 30)
            except subprocess.TimeoutExpired:
                spy.kill()
                _, err = spy.communicate()
            cpu = system.tree.cpu_seconds() - cpu0
            mode = "streaming" if stream else "non-streaming"
            lines += ["", f"== {name}: concurrency {conc}, {mode}"
                      f"{', ~100 KB prompt' if kind == 'large' else ''} — {result.rps:.0f} req/s "
                      f"under profiling, p50 {result.p50_ms or 0:.3f} ms, Aegis CPU "
                      f"{cpu / seconds * 100:.0f}% of one core"]
            if not raw.exists():
                lines.append(f"  py-spy produced nothing: {err.strip()[-300:]}")
                continue
            lines += summarize(parse_collapsed(raw))
        return 0
    finally:
        if system is not None:
            system.stop()
        mock.stop()
        out_path.write_text("\n".join(lines) + "\n")
        print("\n".join(lines))
        print(f"\nbench: wrote {out_path}")


def _load(tools: dict[str, str | None], system: sysmod.System, sc: Any, body: Path,
          duration: float) -> loadgen.LoadResult:
    if not sc.stream and tools.get("wrk"):
        return loadgen.run_wrk(str(tools["wrk"]), system.url, body, sc.concurrency, duration)
    return loadgen.run_python(system.url, body, sc.concurrency, duration, stream=sc.stream)


def profile_cprofile(args: argparse.Namespace, run_dir: Path, mock: sysmod.Mock,
                     tools: dict[str, str | None], seconds: float) -> list[str]:
    """No py-spy: run Aegis under cProfile for one non-streaming c=32 phase."""
    env = sysmod._env(BENCH_UPSTREAM=mock.base_url, BENCH_RUN_DIR=str(run_dir))
    cfg, _ = sysmod.effective_aegis_config(sysmod.CONFIGS / "aegis-full.yaml", env,
                                           run_dir / "aegis-full.yaml")
    port = sysmod.free_port()
    prof = run_dir / "aegis.prof"
    log = open(run_dir / "aegis-cprofile.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "cProfile", "-o", str(prof), "-m",
                             "aegis.cli", "serve", "--config", str(cfg), "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=run_dir)
    log.close()
    problem = sysmod.wait_ready(port, "/health/live", proc, 60)
    if problem:
        proc.kill()
        return [f"Aegis under cProfile failed to start: {problem}"]
    system = sysmod.System("aegis-full", "cprofile", model="auto", port=port, status="ok")
    bodies = runmod.write_bodies(run_dir, [system])
    sc = runmod.Scenario("chat-c32", "chat-c32", 32)
    result = _load(tools, system, sc, bodies[("aegis-full", "small")], seconds)
    proc.send_signal(signal.SIGINT)
    proc.wait(30)
    if not prof.exists():
        return ["cProfile wrote no profile"]
    import io

    buf = io.StringIO()
    stats = pstats.Stats(str(prof), stream=buf)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats("aegis", 25)
    return ["", f"== chat-c32 under cProfile (inflates Python call costs): {result.rps:.0f} "
            "req/s", buf.getvalue()]
