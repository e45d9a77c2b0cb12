"""The benchmark: Aegis side by side with the direct path and the LiteLLM proxy.

    .venv/bin/python bench/run.py                  # full suite (~6-8 min on 2 cores)
    .venv/bin/python bench/run.py --quick          # ~2 min, same scenarios, shorter rounds
    .venv/bin/python bench/run.py --scenario chat-c1 --scenario stream-c1
    .venv/bin/python bench/run.py --systems direct,aegis-full
    .venv/bin/python bench/run.py --systems aegis-full,aegis-full-w2 --scenario chat-c32
    .venv/bin/python bench/run.py --profile        # py-spy profile of Aegis -> results/profile.txt

Everything runs on 127.0.0.1: the mock upstream, each system under test, and the
load generator are separate processes. Each scenario interleaves the systems
(rotating order, at least two rounds), with fixed durations and a time limit.
A full run of every scenario writes bench/results/latest.{json,md,png}; other runs
write quick.* or partial.* next to it (git-ignored). See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import loadgen
import report
import systems as sysmod

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RUN_DIR = HERE / ".run"
ALL_SYSTEMS = ("direct", "aegis-full", "aegis-full-w2", "aegis-minimal", "litellm",
               "direct-aiohttp", "aegis-full-aiohttp")
WORKERS = {"aegis-full-w2": 2}  # systems with several workers (others: 1)
# systems whose upstream is not the fast raw mock (others: "raw")
UPSTREAMS = {"direct-aiohttp": "aiohttp", "aegis-full-aiohttp": "aiohttp"}


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    concurrency: int
    stream: bool = False
    body: str = "small"  # small | large
    rounds: int = 2
    duration_s: float = 5.0
    quick_duration_s: float = 1.0
    warmup_s: float = 1.0
    # also measure systems with several workers: only where throughput is the question
    multi_worker: bool = False
    upstream: str = "raw"  # the mock its systems talk to (see UPSTREAMS)

    def includes(self, system: str) -> bool:
        """Whether ``system`` is measured here: its upstream is this scenario's, and
        multi-worker systems only where enabled."""
        return (UPSTREAMS.get(system, "raw") == self.upstream
                and (WORKERS.get(system, 1) <= 1 or self.multi_worker))

    def plan(self, quick: bool, rounds: int | None, duration: float | None) -> tuple[int, float]:
        r = rounds or self.rounds
        d = duration or (self.quick_duration_s if quick else self.duration_s)
        return max(2, r), d

    def warmup(self, override: float | None) -> float:
        return self.warmup_s if override is None else override


SCENARIOS = (
    Scenario("chat-c1", "non-streaming, concurrency 1", 1, rounds=3, duration_s=4),
    Scenario("chat-c32", "non-streaming, concurrency 32", 32, multi_worker=True),
    # slow systems answer a burst of 128 in seconds: quick rounds must be long enough
    Scenario("chat-c128", "non-streaming, concurrency 128", 128, quick_duration_s=3,
             multi_worker=True),
    Scenario("stream-c1", "streaming (50 chunks), concurrency 1", 1, stream=True, duration_s=4),
    Scenario("stream-c32", "streaming (50 chunks), concurrency 32", 32, stream=True,
             quick_duration_s=2),
    Scenario("large-c8", "~100 KB prompt, non-streaming, concurrency 8", 8, body="large"),
    # chat-c32 again, upstream a plain aiohttp app: the kind of mock issue 7's numbers
    # (direct 8,200-12,400 req/s) come from; the raw mock above serves ~7x that
    Scenario("chat-c32-aiohttp", "non-streaming, concurrency 32, upstream: the mock as a "
             "plain aiohttp app", 32, upstream="aiohttp"),
)
BY_NAME = {s.name: s for s in SCENARIOS}


# -- request bodies ---------------------------------------------------------------------


_WORDS = ("the", "quarterly", "report", "shows", "steady", "growth", "in", "subscriptions",
          "while", "support", "tickets", "fell", "after", "release", "of", "version", "two",
          "team", "reviewed", "latency", "budgets", "across", "regions", "and", "agreed",
          "to", "migrate", "remaining", "services", "before", "winter", "freeze", "with",
          "careful", "rollout", "plans", "documentation", "owners", "metrics", "dashboards",
          "customers", "asked", "for", "clearer", "pricing", "tiers", "a", "new", "feature",
          "flag", "controls", "the", "experiment")


def large_prompt(size: int = 100_000) -> str:
    """~100 KB of plain, non-sensitive prose (deterministic), so no privacy refusal."""
    rng = random.Random(7)
    words: list[str] = []
    length = 0
    while length < size:
        sentence = [rng.choice(_WORDS) for _ in range(rng.randint(8, 18))]
        text = " ".join(sentence).capitalize() + "."
        words.append(text)
        length += len(text) + 1
    return " ".join(words)[:size]


def write_bodies(run_dir: Path, systems: list[sysmod.System]) -> dict[tuple[str, str], Path]:
    out: dict[tuple[str, str], Path] = {}
    big = large_prompt()
    bodies = run_dir / "bodies"
    bodies.mkdir(parents=True, exist_ok=True)
    for system in systems:
        small = {"model": system.model, "max_tokens": 16,
                 "messages": [{"role": "user", "content": "Say hello."}]}
        variants = {
            "small": small,
            "stream": dict(small, stream=True, stream_options={"include_usage": True}),
            "large": dict(small, messages=[
                {"role": "system", "content": "Summarise the document in one sentence."},
                {"role": "user", "content": big}]),
        }
        for kind, body in variants.items():
            path = bodies / f"{system.name}-{kind}.json"
            path.write_text(json.dumps(body))
            out[(system.name, kind)] = path
    return out


# -- measuring ---------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.notes: list[str] = []
        self.runs: list[dict[str, Any]] = []
        self.scenarios_done: list[dict[str, Any]] = []
        self.tools: dict[str, str | None] = {}
        self.loadgen = "python"
        self.sampler = sysmod.RssSampler()
        self.idle_rss: dict[str, int] = {}

    # the load generator for non-streaming scenarios
    def choose_loadgen(self) -> None:
        wanted = self.args.loadgen
        self.tools, notes = loadgen.ensure_tools(install=not self.args.no_install
                                                 and wanted in ("auto", "wrk", "hey"))
        self.notes.extend(notes)
        if wanted in ("auto", "wrk") and self.tools.get("wrk"):
            self.loadgen = "wrk"
        elif wanted in ("auto", "hey") and self.tools.get("hey"):
            self.loadgen = "hey"
        else:
            self.loadgen = "python"
            if wanted != "python":
                self.notes.append("wrk/hey unavailable: non-streaming load comes from the "
                                  "Python asyncio client (slower; compare ratios only)")

    def load(self, system: sysmod.System, sc: Scenario, body: Path, duration: float
             ) -> loadgen.LoadResult:
        if sc.stream or self.loadgen == "python":
            return loadgen.run_python(system.url, body, sc.concurrency, duration,
                                      stream=sc.stream)
        if self.loadgen == "wrk":
            assert self.tools["wrk"]
            return loadgen.run_wrk(self.tools["wrk"], system.url, body, sc.concurrency,
                                   duration)
        assert self.tools["hey"]
        return loadgen.run_hey(self.tools["hey"], system.url, body, sc.concurrency, duration)

    def measure(self, system: sysmod.System, sc: Scenario, body: Path, duration: float,
                round_: int) -> dict[str, Any]:
        assert system.tree is not None and system.mock is not None
        mock = system.mock
        distinct_mock = system.tree is not mock.tree
        watch = {"system": system.tree}
        if distinct_mock:
            watch["mock"] = mock.tree
        cpu0 = system.tree.cpu_seconds()
        mock0 = mock.tree.cpu_seconds() if distinct_mock else 0.0
        busy0 = sysmod.machine_busy_seconds()
        ch0, me0 = resource.getrusage(resource.RUSAGE_CHILDREN), \
            resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.monotonic()
        self.sampler.set(watch)
        result = self.load(system, sc, body, duration)
        peaks = self.sampler.take()
        wall = time.monotonic() - t0
        cpu = system.tree.cpu_seconds() - cpu0
        mock_cpu = (mock.tree.cpu_seconds() - mock0) if distinct_mock else 0.0
        ch1, me1 = resource.getrusage(resource.RUSAGE_CHILDREN), \
            resource.getrusage(resource.RUSAGE_SELF)
        gen_cpu = (ch1.ru_utime + ch1.ru_stime) - (ch0.ru_utime + ch0.ru_stime)
        own_cpu = (me1.ru_utime + me1.ru_stime) - (me0.ru_utime + me0.ru_stime)
        busy = sysmod.machine_busy_seconds() - busy0
        return {
            "scenario": sc.name, "system": system.name, "round": round_,
            "load": result.to_dict(), "cpu_s": round(cpu, 3), "mock_cpu_s": round(mock_cpu, 3),
            "loadgen_cpu_s": round(gen_cpu, 3), "peak_rss": peaks.get("system", 0),
            "mock_peak_rss": peaks.get("mock", 0), "wall_s": round(wall, 3),
            "other_cpu_s": round(max(0.0, busy - cpu - mock_cpu - gen_cpu - own_cpu), 3),
        }

    def other_cpu_pct(self, active: list[sysmod.System], mocks: list[sysmod.Mock],
                      window: float = 1.0) -> float:
        """Share of all cores used by processes outside this benchmark, over ``window`` s."""
        trees = {id(t): t for t in [*(m.tree for m in mocks), *(s.tree for s in active if s.ok)]
                 if t is not None}
        ours0 = sum(t.cpu_seconds() for t in trees.values())
        me0 = resource.getrusage(resource.RUSAGE_SELF)
        busy0 = sysmod.machine_busy_seconds()
        time.sleep(window)
        busy = sysmod.machine_busy_seconds() - busy0
        me1 = resource.getrusage(resource.RUSAGE_SELF)
        ours = sum(t.cpu_seconds() for t in trees.values()) - ours0
        ours += (me1.ru_utime + me1.ru_stime) - (me0.ru_utime + me0.ru_stime)
        return max(0.0, 100 * (busy - ours) / (window * (os.cpu_count() or 1)))

    def wait_quiet(self, active: list[sysmod.System], mocks: list[sysmod.Mock]
                   ) -> tuple[float, float]:
        """Wait (bounded) until other processes use < --quiet-below % of the machine."""
        limit = self.args.wait_quiet
        started = time.monotonic()
        other = self.other_cpu_pct(active, mocks)
        if other <= self.args.quiet_below:
            return 0.0, other
        while other > self.args.quiet_below and time.monotonic() - started < limit:
            print(f"   waiting for a quieter machine: other processes use {other:.0f}% "
                  "of the CPU", flush=True)
            other = self.other_cpu_pct(active, mocks, 2.0)
        return time.monotonic() - started, other

    def scenario(self, sc: Scenario, active: list[sysmod.System], mocks: list[sysmod.Mock],
                 bodies: dict[tuple[str, str], Path]) -> None:
        rounds, duration = sc.plan(self.args.quick, self.args.rounds, self.args.duration)
        kind = "stream" if sc.stream else sc.body
        skipped = [s.name for s in active  # on this scenario's upstream, left out here
                   if UPSTREAMS.get(s.name, "raw") == sc.upstream and not sc.includes(s.name)]
        measured = [s for s in active if sc.includes(s.name)]  # the rest: no warm-up, no rows
        limit = self.args.scenario_limit or (
            rounds * len(measured) * (duration + 30) + len(measured) * (sc.warmup_s + 30))
        waited, quiet = self.wait_quiet(active, mocks) if self.args.wait_quiet else (0.0, None)
        started = time.monotonic()
        print(f"\n== {sc.name}: {sc.title} — {rounds} rounds x {duration:g} s x "
              f"{len(measured)} systems"
              + (f" (not here: {', '.join(skipped)})" if skipped else ""), flush=True)
        done = 0
        note = ""
        other_cpu = 0.0
        wall = 0.0
        for r in range(rounds):
            shift = r % max(1, len(measured))
            order = measured[shift:] + measured[:shift]
            for system in order:
                if not system.ok:
                    continue
                if time.monotonic() - started > limit:
                    note = f"time limit ({limit:.0f} s) reached: stopped after round {r}"
                    break
                warmup = sc.warmup(self.args.warmup)
                if r == 0 and warmup > 0:  # at the scenario's concurrency, not measured
                    self.load(system, sc, bodies[(system.name, kind)], warmup)
                run = self.measure(system, sc, bodies[(system.name, kind)], duration, r)
                self.runs.append(run)
                other_cpu += run["other_cpu_s"]
                wall += run["wall_s"]
                load = run["load"]
                status = (f"FAILED {load['failed']}" if load["failed"] else
                          f"{load['rps']:>9.1f} req/s  p50 {load['p50_ms'] or 0:8.3f} ms  "
                          f"p99 {load['p99_ms'] or 0:8.3f} ms"
                          + (f"  ttfb50 {load['ttfb_p50_ms'] or 0:7.3f} ms" if sc.stream
                             else "")
                          + f"  err {load['errors']}  cpu {run['cpu_s']:.2f}s")
                print(f"   r{r} {system.name:<20}{status}", flush=True)
                if system.proc is not None and system.proc.poll() is not None:
                    system.fail(f"exited with status {system.proc.returncode} during "
                                f"{sc.name} round {r}")
                    print(f"   {system.name} died: {system.reason}", flush=True)
            else:
                done = r + 1
                continue
            break
        cores = os.cpu_count() or 1
        self.scenarios_done.append({
            "name": sc.name, "title": sc.title, "concurrency": sc.concurrency,
            "stream": sc.stream, "body": sc.body, "rounds": rounds, "rounds_done": done,
            "duration_s": duration, "note": note, "skipped": skipped,
            "other_cpu_pct": 100 * other_cpu / (wall * cores) if wall else 0.0,
            "waited_for_quiet_s": round(waited, 1), "other_cpu_pct_before": quiet,
        })
        share = self.scenarios_done[-1]["other_cpu_pct"]
        if share > self.args.quiet_below:
            print(f"   warning: other processes used {share:.0f}% of the machine during "
                  f"{sc.name}; absolute numbers are depressed (ratios in one round hold "
                  "better)", flush=True)


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(),
            "mem_gb": mem_kb / 1e6, "python": platform.python_version(),
            "loadavg_start": " ".join(f"{x:.2f}" for x in os.getloadavg())}


def git_revision() -> str:
    try:
        rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--",
                                "src"], capture_output=True, text=True, check=False).stdout
        return rev + (" + uncommitted changes in src/" if dirty.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def start_systems(names: list[str], mocks: dict[str, sysmod.Mock | str], install: bool,
                  run_dir: Path) -> list[sysmod.System]:
    """Each named system on its upstream (``mocks``: a mock per upstream, or why it failed)."""
    out: list[sysmod.System] = []
    for name in names:
        print(f"bench: starting {name}", flush=True)
        mock = mocks[UPSTREAMS.get(name, "raw")]
        if isinstance(mock, str):
            system = sysmod.System(name, f"upstream {UPSTREAMS.get(name, 'raw')} mock")
            system.fail(mock)
        elif name in ("direct", "direct-aiohttp"):
            system = sysmod.direct(mock, name)
        elif name == "aegis-full-aiohttp":
            system = sysmod.aegis(name, "aegis-full.yaml", "auto", mock, run_dir,
                                  "aegis-full with the aiohttp mock as its upstream; "
                                  "chat-c32-aiohttp only")
        elif name == "aegis-full":
            system = sysmod.aegis(name, "aegis-full.yaml", "auto", mock, run_dir,
                                  "routing (model=auto, shipped catalog), privacy scan, "
                                  "budgets + SQLite ledger, metrics")
        elif name == "aegis-full-w2":
            system = sysmod.aegis(name, "aegis-full.yaml", "auto", mock, run_dir,
                                  "aegis-full under `aegis serve --workers 2` (budgets "
                                  "leased from the shared SQLite file); chat-c32, chat-c128",
                                  workers=WORKERS[name])
        elif name == "aegis-minimal":
            system = sysmod.aegis(name, "aegis-minimal.yaml", "gpt-4o-mini", mock, run_dir,
                                  "one provider, one pinned model")
        elif name == "litellm":
            system = sysmod.litellm(mock, run_dir, install)
        else:
            raise SystemExit(f"unknown system {name!r} (known: {', '.join(ALL_SYSTEMS)})")
        sysmod.check(system)
        if name.startswith("aegis"):
            sysmod.aegis_banner(system)
        print(f"bench:   {name}: {system.status}"
              + (f" — {system.reason}" if system.reason else "")
              + (f" (ready in {system.started_s} s)" if system.started_s else ""), flush=True)
        out.append(system)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Aegis vs direct vs LiteLLM on loopback.",
        epilog=f"scenarios: {', '.join(BY_NAME)}")
    parser.add_argument("--quick", action="store_true", help="short rounds (~2 min in all)")
    parser.add_argument("--scenario", action="append", choices=list(BY_NAME),
                        help="run only this scenario (repeatable)")
    parser.add_argument("--systems", default=",".join(ALL_SYSTEMS),
                        help=f"comma-separated (default {','.join(ALL_SYSTEMS)})")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per scenario (>= 2)")
    parser.add_argument("--duration", type=float, default=None,
                        help="seconds per system per round (wrk rounds to whole seconds)")
    parser.add_argument("--warmup", type=float, default=None,
                        help="warm-up seconds per system per scenario (default 1; 0 = none)")
    parser.add_argument("--scenario-limit", type=float, default=None,
                        help="seconds allowed per scenario (default: from the plan)")
    parser.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                        help="before each scenario, wait up to this long for other "
                        "processes to use less than --quiet-below %% of the CPU")
    parser.add_argument("--quiet-below", type=float, default=20.0, metavar="PCT")
    parser.add_argument("--loadgen", choices=("auto", "wrk", "hey", "python"), default="auto")
    parser.add_argument("--chunks", type=int, default=50, help="SSE chunks per stream")
    parser.add_argument("--delay-ms", type=float, default=1.0, help="gap between SSE chunks")
    parser.add_argument("--no-install", action="store_true",
                        help="never apt-get/pip install (missing tools -> fallback/failed)")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--run-dir", type=Path, default=RUN_DIR,
                        help="scratch directory for configs, logs, bodies (wiped first)")
    parser.add_argument("--name", default=None, help="output file stem (default: latest, "
                        "quick or partial)")
    parser.add_argument("--profile", action="store_true",
                        help="profile Aegis under load instead (py-spy; writes profile.txt)")
    parser.add_argument("--profile-seconds", type=float, default=10.0)
    args = parser.parse_args(argv)

    if args.profile:
        import profile_aegis

        return profile_aegis.main(args, args.run_dir)

    names = [n.strip() for n in args.systems.split(",") if n.strip()]
    scenarios = [BY_NAME[n] for n in args.scenario] if args.scenario else list(SCENARIOS)
    complete = not args.quick and not args.scenario and args.rounds is None \
        and args.duration is None and names == list(ALL_SYSTEMS)
    stem = args.name or ("latest" if complete else "quick" if args.quick else "partial")
    idle = [n for n in names if not any(sc.includes(n) for sc in scenarios)]
    names = [n for n in names if n not in idle]  # no scenario would measure them

    started = time.monotonic()
    date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    run_dir: Path = args.run_dir
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    bench = Bench(args)
    meta_machine = machine()
    bench.choose_loadgen()
    print(f"bench: {meta_machine['cpu']}, {meta_machine['cores']} cores, "
          f"load {meta_machine['loadavg_start']}; non-streaming load generator: "
          f"{bench.loadgen}", flush=True)
    if idle:
        bench.notes.append(f"not started: {', '.join(idle)} (no scenario of this run "
                           "measures them)")
    for note in bench.notes:
        print(f"bench: {note}", flush=True)

    mocks: dict[str, sysmod.Mock | str] = {}
    for upstream in dict.fromkeys(UPSTREAMS.get(n, "raw") for n in names):
        try:
            mocks[upstream] = sysmod.Mock(run_dir, args.chunks, args.delay_ms, upstream,
                                          install=not args.no_install)
        except RuntimeError as exc:
            if upstream == "raw":
                raise
            mocks[upstream] = str(exc)
    started_mocks = [m for m in mocks.values() if isinstance(m, sysmod.Mock)]
    active: list[sysmod.System] = []
    try:
        active = start_systems(names, mocks, not args.no_install, run_dir)
        for system in active:
            if system.tree is not None:
                bench.idle_rss[system.name] = system.tree.rss_bytes()
        bodies = write_bodies(run_dir, active)
        bench.sampler.start()
        if "direct" not in names:
            bench.notes.append("no direct path in this run: added latency is not computed")
        for sc in scenarios:
            bench.scenario(sc, active, started_mocks, bodies)
        for system in active:
            if system.name.startswith("aegis"):
                sysmod.aegis_features(system, run_dir)
    finally:
        bench.sampler.stop()
        for system in active:
            system.stop()
        for mock in started_mocks:
            mock.stop()

    system_names = [s.name for s in active]
    summary = report.aggregate(bench.runs, bench.scenarios_done, system_names)
    peak_rss: dict[str, float] = {}
    for system in active:
        peaks = [run["peak_rss"] for run in bench.runs if run["system"] == system.name]
        peaks.append(bench.idle_rss.get(system.name, 0))
        if max(peaks) > 0:
            peak_rss[system.name] = max(peaks) / 1e6
    versions = [f"Aegis {_aegis_version()} (git {git_revision()})"]
    versions += [s.version for s in active if s.version and not s.name.startswith("aegis")]
    tool = bench.tools.get(bench.loadgen) if bench.loadgen != "python" else None
    versions.append(loadgen.tool_version(bench.loadgen, tool) or "Python load client")
    meta_machine["loadavg_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    result: dict[str, Any] = {
        "meta": {
            "date": date, "mode": "quick" if args.quick else "full", "machine": meta_machine,
            "elapsed_s": time.monotonic() - started, "loadgen": bench.loadgen,
            "chunks": args.chunks, "delay_ms": args.delay_ms, "versions": versions,
            "notes": bench.notes, "command": " ".join(["bench/run.py", *(argv or sys.argv[1:])]),
        },
        "systems": [s.summary() | {"idle_rss_mb": bench.idle_rss.get(s.name, 0) / 1e6,
                                   "peak_rss_mb": peak_rss.get(s.name)} for s in active],
        "scenarios": bench.scenarios_done,
        "summary": summary,
        "ratios": report.ratios(summary),
        "targets": report.targets(summary, peak_rss, system_names),
        "runs": bench.runs,
    }
    paths = report.write(result, args.out, stem)
    print(report.console_table(result))
    print("\nbench: wrote " + ", ".join(str(p.relative_to(ROOT)) if p.is_relative_to(ROOT)
                                        else str(p) for p in paths))
    print(f"bench: done in {time.monotonic() - started:.0f} s")
    return 0


def _aegis_version() -> str:
    try:
        import importlib.metadata

        return importlib.metadata.version("aegis-gateway")
    except Exception:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
