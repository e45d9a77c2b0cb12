"""Aggregate the per-round measurements and write JSON, Markdown and a PNG chart.

Aggregation rules (also printed in the Markdown):
- requests/s = successful responses summed over rounds / measured seconds summed.
- p50/p95/p99 (and TTFB percentiles) = the median over rounds of each round's value.
- added latency = the median over rounds of (system's value - direct's value in the
  same round), so slow drift of the machine cancels out; in chat-c32-aiohttp the
  direct path is direct-aiohttp (the same mock as a plain aiohttp app).
- peak RSS = the largest sum of VmRSS over the process tree, sampled every 50 ms
  while the system was under load (and the idle RSS at start-up).
- CPU s / 1k requests = utime+stime of the process tree during the measured
  rounds (warm-ups excluded) / successful responses x 1000.
- aegis-full-w2 (`--workers 2`) runs in chat-c32 and chat-c128 only; its RSS and CPU
  are summed over the supervisor and both workers.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

GATEWAYS = ("aegis-full", "aegis-minimal")  # one worker each: the targets apply
BASELINE = "litellm"
MULTI = "aegis-full-w2"  # aegis-full with --workers 2; rows in some scenarios only
SINGLE = "aegis-full"  # its one-worker twin
# aegis-full and the direct path on the aiohttp mock (issue 7's kind of direct path)
AIOHTTP_GW, AIOHTTP_DIRECT, AIOHTTP_SCENARIO = ("aegis-full-aiohttp", "direct-aiohttp",
                                                "chat-c32-aiohttp")
DIRECTS = ("direct", AIOHTTP_DIRECT)  # a scenario's direct path: whichever it measured
# (system, reference) pairs of the ratio table; a pair without both rows is left out
RATIO_PAIRS = (*((gw, other) for gw in (*GATEWAYS, MULTI) for other in (BASELINE, "direct")),
               (MULTI, SINGLE), (AIOHTTP_GW, AIOHTTP_DIRECT))


def _median(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def aggregate(runs: Sequence[Mapping[str, Any]], scenarios: Sequence[Mapping[str, Any]],
              systems: Sequence[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """summary[scenario][system] = the numbers in the report."""
    summary: dict[str, dict[str, dict[str, Any]]] = {}
    for sc in scenarios:
        name = sc["name"]
        by_sys: dict[str, list[Mapping[str, Any]]] = {}
        for run in runs:
            if run["scenario"] == name and not run["load"].get("failed"):
                by_sys.setdefault(run["system"], []).append(run)
        direct_name = next((d for d in DIRECTS if d in by_sys), None)
        direct = {run["round"]: run["load"] for run in by_sys.get(direct_name or "", [])}
        out: dict[str, dict[str, Any]] = {}
        for system in systems:
            rows = by_sys.get(system, [])
            failed = [run for run in runs if run["scenario"] == name
                      and run["system"] == system and run["load"].get("failed")]
            if not rows:
                if failed:
                    out[system] = {"rounds": 0, "failed": failed[-1]["load"]["failed"]}
                continue
            loads = [run["load"] for run in rows]
            ok = sum(_ok(load) for load in loads)
            elapsed = sum(load["elapsed_s"] for load in loads)
            cpu = sum(run["cpu_s"] for run in rows)
            entry: dict[str, Any] = {
                "rounds": len(rows),
                "tool": loads[0]["tool"],
                "requests": ok,
                "errors": sum(load["errors"] for load in loads),
                "error_detail": _sum_dicts(load["error_detail"] for load in loads),
                "rps": ok / elapsed if elapsed else 0.0,
                "rps_rounds": [round(load["rps"], 1) for load in loads],
                "p50_ms": _median(load["p50_ms"] for load in loads),
                "p95_ms": _median(load["p95_ms"] for load in loads),
                "p99_ms": _median(load["p99_ms"] for load in loads),
                "p50_rounds": [load["p50_ms"] for load in loads],
                "peak_rss_mb": max(run["peak_rss"] for run in rows) / 1e6,
                "cpu_s_per_1k": cpu / ok * 1000 if ok else None,
                "cpu_util": cpu / elapsed if elapsed else None,
                "other_cpu_s": sum(run.get("other_cpu_s", 0.0) for run in rows),
                "wall_s": sum(run.get("wall_s", 0.0) for run in rows),
            }
            if failed:
                entry["failed_rounds"] = len(failed)
            if sc.get("stream"):
                entry["ttfb_p50_ms"] = _median(load["ttfb_p50_ms"] for load in loads)
                entry["ttfb_p95_ms"] = _median(load["ttfb_p95_ms"] for load in loads)
                entry["ttfb_p99_ms"] = _median(load["ttfb_p99_ms"] for load in loads)
                mins = [load["events_min"] for load in loads if load["events_min"] is not None]
                maxs = [load["events_max"] for load in loads if load["events_max"] is not None]
                entry["events"] = [min(mins), max(maxs)] if mins else None
            if system != direct_name and direct:
                for key in ("p50_ms", "p99_ms", "ttfb_p50_ms", "ttfb_p99_ms"):
                    diffs = [run["load"][key] - direct[run["round"]][key] for run in rows
                             if run["round"] in direct and run["load"].get(key) is not None
                             and direct[run["round"]].get(key) is not None]
                    if diffs:
                        entry["added_" + key] = statistics.median(diffs)
            out[system] = entry
        summary[name] = out
    return summary


def _ok(load: Mapping[str, Any]) -> int:
    detail = load.get("error_detail") or {}
    return max(0, int(load["requests"]) - detail.get("status", 0) - detail.get("bad_stream", 0))


def _sum_dicts(dicts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return out


def ratios(summary: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for scenario, rows in summary.items():
        entry: dict[str, Any] = {}
        for gw, other in RATIO_PAIRS:
            mine, theirs = rows.get(gw), rows.get(other)
            if mine and mine.get("rps") and theirs and theirs.get("rps"):
                entry[f"{gw}/{other} rps"] = mine["rps"] / theirs["rps"]
                if mine.get("p50_ms") and theirs.get("p50_ms"):
                    entry[f"{gw}/{other} p50"] = mine["p50_ms"] / theirs["p50_ms"]
        out[scenario] = entry
    return out


def targets(summary: Mapping[str, Mapping[str, Mapping[str, Any]]],
            peak_rss: Mapping[str, float], systems: Sequence[str]) -> list[dict[str, Any]]:
    """The issue's targets, per Aegis configuration: measured value and met / missed."""
    rows: list[dict[str, Any]] = []

    def get(scenario: str, system: str, key: str) -> float | None:
        value = summary.get(scenario, {}).get(system, {}).get(key)
        return float(value) if isinstance(value, int | float) else None

    for gw in GATEWAYS:
        if gw not in systems:
            continue
        checks: list[tuple[str, float | None, float, str]] = [
            ("added p50 latency at c=1 (ms)", get("chat-c1", gw, "added_p50_ms"), 0.5, "<="),
            ("added p99 latency at c=1 (ms)", get("chat-c1", gw, "added_p99_ms"), 2.0, "<="),
        ]
        mine = get("chat-c32", gw, "rps")
        lite = get("chat-c32", BASELINE, "rps")
        direct = get("chat-c32", "direct", "rps")
        checks.append(("req/s at c=32 vs LiteLLM (x)",
                       mine / lite if mine and lite else None, 25.0, ">="))
        checks.append(("req/s at c=32 vs direct (%)",
                       100 * mine / direct if mine and direct else None, 20.0, ">="))
        checks.append(("added TTFB p50 streaming c=1 (ms)",
                       get("stream-c1", gw, "added_ttfb_p50_ms"), 1.0, "<="))
        checks.append(("peak RSS, 1 worker, whole run (MB)", peak_rss.get(gw), 100.0, "<="))
        for label, value, limit, op in checks:
            met = None if value is None else (value <= limit if op == "<=" else value >= limit)
            rows.append({"system": gw, "target": label, "limit": f"{op} {limit:g}",
                         "measured": value, "met": met})
    if MULTI in systems:  # the others are one-worker targets; this one is about scaling
        mine, single = get("chat-c32", MULTI, "rps"), get("chat-c32", SINGLE, "rps")
        value = mine / single if mine and single else None
        rows.append({"system": MULTI, "target": "req/s at c=32, --workers 2 vs 1 worker (x)",
                     "limit": ">= 1.5", "measured": value,
                     "met": None if value is None else value >= 1.5})
    if AIOHTTP_GW in systems:  # the 20 % of direct, on the kind of mock
        mine = get(AIOHTTP_SCENARIO, AIOHTTP_GW, "rps")
        direct = get(AIOHTTP_SCENARIO, AIOHTTP_DIRECT, "rps")
        value = 100 * mine / direct if mine and direct else None
        rows.append({"system": AIOHTTP_GW,
                     "target": "req/s at c=32 vs direct, aiohttp mock (%)", "limit": ">= 20",
                     "measured": value, "met": None if value is None else value >= 20.0})
    return rows


# -- rendering -------------------------------------------------------------------------


def _f(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 100:
            return f"{value:.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.{digits}f}"
    return str(value)


def _signed(value: Any) -> str:
    if value is None:
        return "-"
    return ("+" if value >= 0 else "") + _f(value, 3 if abs(value) < 1 else 2)


def scenario_table(scenario: Mapping[str, Any], rows: Mapping[str, Mapping[str, Any]],
                   systems: Sequence[str]) -> list[str]:
    stream = bool(scenario.get("stream"))
    head = ["system", "req/s", "p50 ms", "p95 ms", "p99 ms", "added p50", "added p99"]
    if stream:
        head += ["TTFB p50", "TTFB p99", "added TTFB p50"]
    head += ["errors", "peak RSS MB", "CPU s/1k req"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for system in systems:
        row = rows.get(system)
        if row is None:
            continue
        if row.get("rounds", 0) == 0:
            lines.append(f"| {system} | load generator failed: {row.get('failed', '?')[:80]} |")
            continue
        cells = [system, _f(row["rps"]), _f(row["p50_ms"], 3), _f(row["p95_ms"], 3),
                 _f(row["p99_ms"], 3), _signed(row.get("added_p50_ms")),
                 _signed(row.get("added_p99_ms"))]
        if stream:
            cells += [_f(row.get("ttfb_p50_ms"), 3), _f(row.get("ttfb_p99_ms"), 3),
                      _signed(row.get("added_ttfb_p50_ms"))]
        errors = str(row["errors"])
        if row["errors"]:
            errors += " (" + ", ".join(f"{k} {v}" for k, v in row["error_detail"].items()) + ")"
        cells += [errors, _f(row["peak_rss_mb"], 1), _f(row.get("cpu_s_per_1k"), 3)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def markdown(result: Mapping[str, Any]) -> str:
    meta = result["meta"]
    systems = [s["name"] for s in result["systems"]]
    out = [f"# Aegis benchmark — {meta['date']}", ""]
    m = meta["machine"]
    out.append(f"**Machine:** {m['cpu']}, {m['cores']} cores, Linux {m['kernel']}, "
               f"{m['mem_gb']:.0f} GB RAM, Python {m['python']}; load average at start "
               f"{m['loadavg_start']}, at end {m.get('loadavg_end', '?')}.  ")
    out.append(f"**Run:** {meta['mode']} ({meta['elapsed_s']:.0f} s), systems interleaved "
               f"in rotating order each round; non-streaming load by {meta['loadgen']}, "
               f"streaming by the Python client (bench/loadgen.py); mock upstream: raw "
               f"asyncio + httptools, {meta['chunks']} chunks {meta['delay_ms']} ms apart "
               f"when streaming (chat-c32-aiohttp: the same mock as a plain aiohttp "
               f"app).  ")
    out.append(f"**Versions:** {'; '.join(meta['versions'])}.")
    if meta.get("notes"):
        out.append("")
        out.extend(f"- {note}" for note in meta["notes"])
    out += ["", "## Targets (issue 7)", "",
            "| system | target | limit | measured | met |", "|---|---|---|---|---|"]
    for t in result["targets"]:
        met = {True: "yes", False: "**no**", None: "not measured"}[t["met"]]
        out.append(f"| {t['system']} | {t['target']} | {t['limit']} | {_f(t['measured'], 3)} "
                   f"| {met} |")
    out += ["", "## Results", ""]
    for sc in result["scenarios"]:
        rows = result["summary"].get(sc["name"], {})
        out.append(f"### {sc['name']} — {sc['title']}")
        out.append("")
        out.append(f"{sc['rounds_done']} round(s) x {sc['duration_s']} s per system"
                   + (f"; {sc['note']}" if sc.get("note") else "")
                   + (f"; not run here: {', '.join(sc['skipped'])}" if sc.get("skipped")
                      else ""))
        out.append("")
        out.extend(scenario_table(sc, rows, systems))
        out.append("")
    cols = _ratio_cols(result["ratios"])
    out += ["## Ratios (req/s; p50 latency)", "",
            "| scenario | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for sc in result["scenarios"]:
        r = result["ratios"].get(sc["name"], {})
        out.append(f"| {sc['name']} | " + " | ".join(
            (f"{r[c]:.3g}x" if c in r else "-") for c in cols) + " |")
    out += ["", "## Systems", "", "| system | status | version | start-up s | notes |",
            "|---|---|---|---|---|"]
    for s in result["systems"]:
        notes = [*s["notes"], *(f"{k}: {v}" for k, v in s["features"].items())]
        if s["reason"]:
            notes.insert(0, "FAILED: " + s["reason"])
        text = "<br>".join(n.replace("|", "/").replace("\n", " ")[:300] for n in notes)
        out.append(f"| {s['name']} | {s['status']} | {s['version'] or '-'} | "
                   f"{_f(s['startup_s'])} | {text} |")
    out += ["", "## Noise", "",
            "CPU used by other processes on the machine while each scenario was measured "
            "(machine busy time minus the system, the mock, the load generator and the "
            "harness), as a share of all cores:", ""]
    out.append("| scenario | other CPU during | waited for quiet before |")
    out.append("|---|---|---|")
    for sc in result["scenarios"]:
        waited = sc.get("waited_for_quiet_s") or 0
        out.append(f"| {sc['name']} | {sc.get('other_cpu_pct', 0):.0f} % | "
                   + (f"{waited:.0f} s" if waited else "-") + " |")
    out += ["", "## Method", "", *(ln.strip() for ln in (__doc__ or "").split("\n")[2:]
                                   if ln.strip())]
    return "\n".join(out) + "\n"


def _ratio_cols(ratios: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Columns in RATIO_PAIRS order, only those some scenario has (w2: two scenarios)."""
    present = {key for entry in ratios.values() for key in entry}
    return [col for gw, other in RATIO_PAIRS for k in ("rps", "p50")
            if (col := f"{gw}/{other} {k}") in present]


def console_table(result: Mapping[str, Any]) -> str:
    systems = [s["name"] for s in result["systems"]]
    w = max([14, *(len(name) + 2 for name in systems)])
    lines = []
    for sc in result["scenarios"]:
        rows = result["summary"].get(sc["name"], {})
        stream = bool(sc.get("stream"))
        lines.append(f"\n{sc['name']}: {sc['title']}")
        head = (f"  {'system':<{w}}{'req/s':>9}{'p50':>9}{'p99':>9}{'+p50':>9}{'+p99':>9}"
                + (f"{'ttfb50':>9}{'+ttfb50':>9}" if stream else "")
                + f"{'err':>6}{'RSS MB':>8}{'CPU/1k':>8}")
        lines.append(head)
        for system in systems:
            row = rows.get(system)
            if row is None:
                continue
            if not row.get("rounds"):
                lines.append(f"  {system:<{w}}failed: {row.get('failed', '?')[:60]}")
                continue
            line = (f"  {system:<{w}}{_f(row['rps']):>9}{_f(row['p50_ms'], 3):>9}"
                    f"{_f(row['p99_ms'], 3):>9}{_signed(row.get('added_p50_ms')):>9}"
                    f"{_signed(row.get('added_p99_ms')):>9}")
            if stream:
                line += (f"{_f(row.get('ttfb_p50_ms'), 3):>9}"
                         f"{_signed(row.get('added_ttfb_p50_ms')):>9}")
            line += (f"{row['errors']:>6}{_f(row['peak_rss_mb'], 1):>8}"
                     f"{_f(row.get('cpu_s_per_1k'), 3):>8}")
            lines.append(line)
    lines.append("\ntargets:")
    for t in result["targets"]:
        met = {True: "met", False: "MISSED", None: "not measured"}[t["met"]]
        lines.append(f"  {t['system']:<{w}}{t['target']:<44}{t['limit']:>8}  "
                     f"{_f(t['measured'], 3):>8}  {met}")
    return "\n".join(lines)


def chart(result: Mapping[str, Any], path: Path) -> str | None:
    """Latency (p50 bar, p99 whisker) and throughput per system and scenario; log scales."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        return f"no chart: {exc}"
    systems = [s["name"] for s in result["systems"]]
    groups: list[tuple[str, str, str]] = []  # (label, scenario, key prefix)
    for sc in result["scenarios"]:
        if sc.get("stream"):
            groups.append((f"{sc['name']}\nTTFB", sc["name"], "ttfb_"))
            groups.append((f"{sc['name']}\ntotal", sc["name"], ""))
        else:
            groups.append((sc["name"], sc["name"], ""))
    colors = {"direct": "#888888", "aegis-full": "#1f6feb", "aegis-full-w2": "#0a3069",
              "aegis-minimal": "#6cb6ff", "litellm": "#d1242f", "any-llm": "#bf8700",
              "direct-aiohttp": "#bbbbbb", "aegis-full-aiohttp": "#54aeff"}
    scen = [sc["name"] for sc in result["scenarios"]]

    def row(scenario: str, system: str) -> Mapping[str, Any]:
        return result["summary"].get(scenario, {}).get(system) or {}

    def offsets(keys: Sequence[tuple[str, str]]) -> tuple[dict[tuple[int, str], float], float]:
        """Bar x per (group, system) for systems with a value there, centred per group.

        A system measured in some scenarios only (aegis-full-w2) leaves no gap elsewhere.
        """
        present = [[name for name in systems if row(scenario, name).get(key) is not None]
                   for scenario, key in keys]
        width = 0.8 / max([1, *(len(names) for names in present)])
        return {(g, name): g + (i - (len(names) - 1) / 2) * width
                for g, names in enumerate(present) for i, name in enumerate(names)}, width

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(13, 8.5))
    xpos, width = offsets([(scenario, prefix + "p50_ms") for _, scenario, prefix in groups])
    for system in systems:
        xs, p50s, errs = [], [], []
        for g, (_, scenario, prefix) in enumerate(groups):
            if (g, system) not in xpos:
                continue
            r = row(scenario, system)
            p50, p99 = r[prefix + "p50_ms"], r.get(prefix + "p99_ms") or r[prefix + "p50_ms"]
            xs.append(xpos[(g, system)])
            p50s.append(max(p50, 1e-3))
            errs.append(max(0.0, p99 - p50))
        ax1.bar(xs, p50s, width, yerr=[[0] * len(errs), errs], capsize=2, label=system,
                color=colors.get(system))
    ax1.set_yscale("log")
    ax1.set_ylabel("latency ms (bar p50, whisker p99)")
    ax1.set_xticks(range(len(groups)), [g[0] for g in groups], fontsize=8)
    ax1.legend(fontsize=8, ncol=len(systems))
    ax1.grid(axis="y", alpha=0.3)
    xpos, width = offsets([(name, "rps") for name in scen])
    for system in systems:
        placed = [(xpos[(g, system)], row(name, system)["rps"]) for g, name in enumerate(scen)
                  if (g, system) in xpos and row(name, system)["rps"]]
        ax2.bar([x for x, _ in placed], [v for _, v in placed], width, label=system,
                color=colors.get(system))
    ax2.set_yscale("log")
    ax2.set_ylabel("requests/s")
    ax2.set_xticks(range(len(scen)), scen, fontsize=8)
    ax2.grid(axis="y", alpha=0.3)
    m = result["meta"]["machine"]
    fig.suptitle(f"Aegis benchmark {result['meta']['date']} — {m['cpu']}, {m['cores']} cores "
                 f"({result['meta']['mode']})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def write(result: Mapping[str, Any], out_dir: Path, stem: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.json", out_dir / f"{stem}.md", out_dir / f"{stem}.png"]
    paths[0].write_text(json.dumps(result, indent=1, default=str) + "\n")
    paths[1].write_text(markdown(result))
    problem = chart(result, paths[2])
    if problem:
        paths.pop()
    return paths
