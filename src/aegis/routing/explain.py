"""The decision record, and rendering it as a readable table (for ``aegis route``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aegis.catalog import ModelInfo
    from aegis.routing.decision import Exclusion, Profile, Task
    from aegis.routing.strategies import Ranked


class Explanation(Mapping[str, Any]):
    """A decision record that is assembled only when somebody reads it.

    Every request gets one, but few are ever read in full (``/v1/route``,
    refusals, ``aegis route``), so even the head (what was requested and
    inferred) is built on first access. Per-request logs and metrics read the
    ``profile`` and ``model_requested`` attributes instead of the mapping.
    """

    def __init__(self, model_requested: str, task: Task, profile: Profile,
                 airgap: bool) -> None:
        self.model_requested = model_requested
        self.task = task
        self.profile = profile
        self.airgap = airgap
        self.rules_tried: list[dict[str, Any]] = []
        self._ranked: Ranked | None = None
        self._cache: dict[str, Any] | None = None
        self._head_cache: dict[str, Any] | None = None
        self._route: str | None = None
        self._strategy: str | None = None
        self._reason: str | None = None
        self._pool: Sequence[ModelInfo] = ()
        self._excluded: Sequence[Exclusion] = ()
        self._refused: dict[str, str] | None = None

    def head(self) -> dict[str, Any]:
        """What was requested, declared and inferred: the part every record has."""
        if self._head_cache is None:
            profile = self.profile
            self._head_cache = {
                "model_requested": self.model_requested,
                "declared": self.task.declared(),
                "inferred": dict(profile.inferred),
                "profile": {"data_class": str(profile.data_class),
                            "task_type": profile.task_type, "quality": profile.quality,
                            "complexity": profile.complexity, "needs": sorted(profile.needs),
                            "prompt_tokens": profile.prompt_tokens,
                            "output_tokens": profile.output_tokens,
                            "findings": list(profile.findings)},
                "airgap": self.airgap,
            }
        return self._head_cache

    @property
    def ranked(self) -> Ranked | None:
        return self._ranked

    @ranked.setter
    def ranked(self, ranking: Ranked) -> None:
        self._ranked, self._cache = ranking, None

    def decided(self, route: str, strategy: str, reason: str, pool: Sequence[ModelInfo],
                excluded: Sequence[Exclusion]) -> None:
        self._route, self._strategy, self._reason = route, strategy, reason
        self._pool, self._excluded = pool, excluded
        self._cache = None

    def refused(self, rule: str, message: str) -> None:
        self._refused = {"rule": rule, "message": message}
        self._cache = None

    def full(self) -> dict[str, Any]:
        if self._cache is None:
            self._cache = self._build()
        return self._cache

    def _build(self) -> dict[str, Any]:
        out = dict(self.head())
        out["rules_tried"] = list(self.rules_tried)
        if self._route is not None:
            out.update(
                route=self._route, strategy=self._strategy,
                considered=[f"{m.provider}/{m.name}" for m in self._pool],
                excluded=[{"candidate": e.candidate, "rule": e.rule, "reason": e.reason}
                          for e in self._excluded])
        if self._refused is not None:
            out["refused"] = dict(self._refused)
        if self._ranked is not None and self._ranked.candidates:
            out["ranked"] = [r.explain() for r in self._ranked.rows()]
            out["chosen"] = self._ranked.candidates[0].label
            out["reason"] = self._reason
        return out

    def __getitem__(self, key: str) -> Any:
        head = self.head()
        if key in head:
            return head[key]
        return self.full()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.full())

    def __len__(self) -> int:
        return len(self.full())

    def __repr__(self) -> str:
        return f"Explanation({self.full()!r})"


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
