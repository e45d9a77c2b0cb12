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
                 floor: float, score: float) -> None:
        self.candidate = candidate
        self.cost_usd = cost_usd
        self.latency_ms = latency_ms
        self.quality = candidate.model.quality
        self.below_floor = self.quality < floor
        self.score = score  # higher is better, within one strategy

    def explain(self) -> dict[str, object]:
        return {"candidate": self.candidate.label, "score": round(self.score, 4),
                "expected_cost_usd": round(self.cost_usd, 8),
                "expected_latency_ms": round(self.latency_ms, 1),
                "quality": self.quality, "below_quality_floor": self.below_floor,
                "locality": self.candidate.provider.locality}


class Ranked:
    """A strategy's ordering of the eligible candidates.

    Every request needs the order; only explanations read the per-candidate
    figures, so ``Scored`` rows are made from the columns on first access.
    """

    __slots__ = ("_columns", "_floor", "_order", "_rows", "candidates")

    def __init__(self, pool: Sequence[Candidate], order: Sequence[int], floor: float,
                 columns: tuple[list[float], list[float], list[float]]) -> None:
        self.candidates = tuple(pool[i] for i in order)
        self._order = order
        self._floor = floor
        self._columns = columns  # cost_usd, latency_ms, score; in pool order
        self._rows: list[Scored] | None = None

    def rows(self) -> list[Scored]:
        if self._rows is None:
            costs, lats, scores = self._columns
            self._rows = [Scored(c, costs[i], lats[i], self._floor, scores[i])
                          for c, i in zip(self.candidates, self._order, strict=True)]
        return self._rows


def expected_cost(prices: Prices, prompt_tokens: int, output_tokens: int) -> float:
    """Expected (not worst-case) cost; ``rank`` passes at most 512 output tokens."""
    p = prices.for_prompt(prompt_tokens)
    return (prompt_tokens * p.input + output_tokens * p.output) / 1_000_000


# A scorer: (candidates, expected costs, expected latencies, profile, weights) -> scores
Scorer = Callable[[Sequence[Candidate], list[float], list[float], Profile, Weights], list[float]]


def rank(
    strategy: str,
    candidates: Sequence[Candidate],
    profile: Profile,
    weights: Weights,
    latency: LatencyStats,
) -> Ranked:
    floor = max(QUALITY_FLOOR[profile.quality_rank], COMPLEXITY_FLOOR[profile.complexity_rank])
    prompt, out_tokens = profile.prompt_tokens, min(profile.output_tokens, 512)
    costs = [expected_cost(c.model.prices, prompt, out_tokens) for c in candidates]
    lats = latency.expected_all(candidates, out_tokens)
    n = len(candidates)
    if strategy == "ordered" or n < 2:
        return Ranked(candidates, range(n), floor, (costs, lats, [-float(i) for i in range(n)]))
    scores = _SCORERS.get(strategy, _balanced)(candidates, costs, lats, profile, weights)
    # floors first, then score; the sort is stable (reverse=True too), so equal scores
    # keep catalog order
    by_score = sorted(range(n), key=scores.__getitem__, reverse=True)
    below = [i for i in by_score if candidates[i].model.quality < floor]
    if below:
        by_score = [i for i in by_score if candidates[i].model.quality >= floor] + below
    return Ranked(candidates, by_score, floor, (costs, lats, scores))


def _norm(values: Sequence[float], *, log: bool = False) -> list[float]:
    """Min-max to [0, 1]; log scale for costs, which span orders of magnitude."""
    xs = [math.log10(v + 1e-9) for v in values] if log else list(values)
    lo, hi = min(xs), max(xs)
    if hi - lo < 1e-12:
        return [0.0 for _ in xs]
    span = hi - lo
    return [(x - lo) / span for x in xs]


def _balanced(cands: Sequence[Candidate], costs: list[float], lats: list[float],
              profile: Profile, weights: Weights) -> list[float]:
    cost = _norm(costs, log=True)
    lat = _norm(lats, log=True)
    wq = weights.quality * QUALITY_EMPHASIS[max(profile.quality_rank,
                                                profile.complexity_rank)]
    wc, wl = weights.cost, weights.latency
    total = wq + wc + wl or 1.0
    return [(wq * cand.model.quality + wc * (1 - c) + wl * (1 - la)) / total
            for cand, c, la in zip(cands, cost, lat, strict=True)]


def _cost(cands: Sequence[Candidate], costs: list[float], lats: list[float],
          profile: Profile, weights: Weights) -> list[float]:
    return [-cost + cand.model.quality * 1e-12 for cand, cost in zip(cands, costs, strict=True)]


def _latency(cands: Sequence[Candidate], costs: list[float], lats: list[float],
             profile: Profile, weights: Weights) -> list[float]:
    return [-la for la in lats]


def _quality(cands: Sequence[Candidate], costs: list[float], lats: list[float],
             profile: Profile, weights: Weights) -> list[float]:
    return [cand.model.quality - cost * 1e-6 for cand, cost in zip(cands, costs, strict=True)]


def _local_first(cands: Sequence[Candidate], costs: list[float], lats: list[float],
                 profile: Profile, weights: Weights) -> list[float]:
    scores = _balanced(cands, costs, lats, profile, weights)
    return [s + 10.0 if cand.provider.locality == "local" else s
            for cand, s in zip(cands, scores, strict=True)]


_SCORERS: dict[str, Scorer] = {
    "balanced": _balanced,
    "cost": _cost,
    "latency": _latency,
    "quality": _quality,
    "local_first": _local_first,
}
