"""Rendering a decision record as a readable table (for ``aegis route``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in rows)


def render(record: Mapping[str, Any], *, explain: bool) -> str:
    profile = record.get("profile", {})
    lines = [
        f"route:     {record.get('route', '-')}",
        f"strategy:  {record.get('strategy', '-')}",
    ]
    if "refused" in record:
        refused = record["refused"]
        lines.append(f"REFUSED:   {refused['message']} (rule: {refused['rule']})")
    else:
        lines.append(f"chosen:    {record.get('chosen', '-')}   ({record.get('reason', '')})")
    lines.append(
        f"request:   data_class={profile.get('data_class')} task_type={profile.get('task_type')}"
        f" quality={profile.get('quality')} complexity={profile.get('complexity')}"
        f" needs={','.join(profile.get('needs', [])) or '-'}"
        f" prompt~{profile.get('prompt_tokens')} tok")
    if profile.get("findings"):
        lines.append(f"detected:  {', '.join(profile['findings'])}")
    if record.get("inferred"):
        lines.append("inferred:  " + ", ".join(f"{k}={v}" for k, v in record["inferred"].items()))
    if not explain:
        return "\n".join(lines)
    if record.get("rules_tried"):
        lines.append("\nrules tried:")
        lines.append(table([("RULE", "ROUTE", "ELIGIBLE")] + [
            (r["rule"], r["route"], str(r["eligible"])) for r in record["rules_tried"]]))
    ranked = record.get("ranked") or []
    if ranked:
        lines.append("\ncandidates (in fallback order):")
        lines.append(table([("#", "CANDIDATE", "SCORE", "EXP. COST $", "EXP. LATENCY ms",
                             "QUALITY", "LOCALITY")] + [
            (str(i + 1), r["candidate"], f"{r['score']:.4f}", f"{r['expected_cost_usd']:.6f}",
             f"{r['expected_latency_ms']:.0f}", f"{r['quality']:.2f}", r["locality"])
            for i, r in enumerate(ranked)]))
    excluded = record.get("excluded") or []
    if excluded:
        lines.append("\nexcluded:")
        lines.append(table([("CANDIDATE", "RULE", "WHY")] + [
            (e["candidate"], e["rule"], e["reason"]) for e in excluded]))
    return "\n".join(lines)
