"""Ordering the eligible candidates: ``balanced``, ``cost``, ``latency``, ``quality``,
``local_first`` and ``ordered`` (as configured).

Every strategy produces a full ordering -- the first candidate is tried, the rest
form the fallback chain -- plus the per-candidate figures that went into it, for
the explanation record.

Quality need: ``quality`` and ``complexity`` set a quality floor (below it a
candidate is ranked after every candidate above it) and, for ``balanced``, scale
the weight of quality against cost and latency.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from aegis.pricing import Prices
from aegis.routing.decision import Candidate, Profile
from aegis.routing.latency import LatencyStats
from aegis.routing.policy import Weights

# minimum model quality for each quality need / complexity (index = rank)
QUALITY_FLOOR = (0.0, 0.0, 0.55, 0.75)
COMPLEXITY_FLOOR = (0.0, 0.0, 0.5, 0.7)
QUALITY_EMPHASIS = (0.5, 1.0, 2.0, 4.0)  # multiplies the quality weight in balanced


class Scored:
    """One eligible candidate with the figures its strategy ranked it by."""

    __slots__ = ("below_floor", "candidate", "cost_usd", "latency_ms", "quality", "score")

    def __init__(self, candidate: Candidate, cost_usd: float, latency_ms: float,
                 floor: float) -> None:
        self.candidate = candidate
        self.cost_usd = cost_usd
        self.latency_ms = latency_ms
        self.quality = candidate.model.quality
        self.below_floor = self.quality < floor
        self.score = 0.0  # higher is better, within one strategy

    def explain(self) -> dict[str, object]:
        return {"candidate": self.candidate.label, "score": round(self.score, 4),
                "expected_cost_usd": round(self.cost_usd, 8),
                "expected_latency_ms": round(self.latency_ms, 1),
                "quality": self.quality, "below_quality_floor": self.below_floor,
                "locality": self.candidate.provider.locality}


def expected_cost(prices: Prices, prompt_tokens: int, output_tokens: int) -> float:
    """Expected (not worst-case) cost; ``rank`` passes at most 512 output tokens."""
    p = prices.for_prompt(prompt_tokens)
    return (prompt_tokens * p.input + output_tokens * p.output) / 1_000_000


def rank(
    strategy: str,
    candidates: Sequence[Candidate],
    profile: Profile,
    weights: Weights,
    latency: LatencyStats,
) -> list[Scored]:
    floor = max(QUALITY_FLOOR[profile.quality_rank], COMPLEXITY_FLOOR[profile.complexity_rank])
    prompt, out_tokens = profile.prompt_tokens, min(profile.output_tokens, 512)
    rows = [Scored(c, expected_cost(c.model.prices, prompt, out_tokens),
                   latency.expected_ms(c.provider.name, c.model, out_tokens), floor)
            for c in candidates]
    if strategy == "ordered" or len(rows) < 2:
        for i, r in enumerate(rows):
            r.score = -float(i)
        return rows
    _SCORERS.get(strategy, _balanced)(rows, profile, weights)
    # floors first, then score; the sort is stable, so equal scores keep catalog order
    rows.sort(key=lambda r: (r.below_floor, -r.score))
    return rows


def _norm(values: Sequence[float], *, log: bool = False) -> list[float]:
    """Min-max to [0, 1]; log scale for costs, which span orders of magnitude."""
    xs = [math.log10(v + 1e-9) for v in values] if log else list(values)
    lo, hi = min(xs), max(xs)
    if hi - lo < 1e-12:
        return [0.0 for _ in xs]
    return [(x - lo) / (hi - lo) for x in xs]


def _balanced(rows: list[Scored], profile: Profile, weights: Weights) -> None:
    cost = _norm([r.cost_usd for r in rows], log=True)
    lat = _norm([r.latency_ms for r in rows], log=True)
    wq = weights.quality * QUALITY_EMPHASIS[max(profile.quality_rank,
                                                profile.complexity_rank)]
    total = wq + weights.cost + weights.latency or 1.0
    for r, c, la in zip(rows, cost, lat, strict=True):
        r.score = (wq * r.quality + weights.cost * (1 - c) + weights.latency * (1 - la)) / total


def _cost(rows: list[Scored], profile: Profile, weights: Weights) -> None:
    for r in rows:
        r.score = -r.cost_usd + r.quality * 1e-12


def _latency(rows: list[Scored], profile: Profile, weights: Weights) -> None:
    for r in rows:
        r.score = -r.latency_ms


def _quality(rows: list[Scored], profile: Profile, weights: Weights) -> None:
    for r in rows:
        r.score = r.quality - r.cost_usd * 1e-6


def _local_first(rows: list[Scored], profile: Profile, weights: Weights) -> None:
    _balanced(rows, profile, weights)
    for r in rows:
        if r.candidate.provider.locality == "local":
            r.score += 10.0


_SCORERS: dict[str, Callable[[list[Scored], Profile, Weights], None]] = {
    "balanced": _balanced,
    "cost": _cost,
    "latency": _latency,
    "quality": _quality,
    "local_first": _local_first,
}
