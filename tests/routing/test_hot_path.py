"""The router's per-request shortcuts agree with the plain computations they replace.

``rank`` folds the balanced score's normalisation into per-request constants and
skips work that cannot change the answer; the classifier stops at the first
keyword hit and skips the list-item walk when no marker occurs. Each is pinned
here to the straightforward version over many varied inputs.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import pytest

from aegis.catalog import Latency, ModelInfo
from aegis.pricing import Prices, PriceTier
from aegis.privacy.classes import DataClass
from aegis.providers.base import Provider
from aegis.routing import classify
from aegis.routing.decision import COMPLEXITY, QUALITY, Candidate, Profile
from aegis.routing.latency import LatencyStats
from aegis.routing.policy import Weights
from aegis.routing.strategies import (
    COMPLEXITY_FLOOR,
    QUALITY_EMPHASIS,
    QUALITY_FLOOR,
    expected_cost,
    rank,
)

STRATEGIES = ("balanced", "local_first", "cost", "latency", "quality", "ordered")


def _norm_log(values: Sequence[float]) -> list[float]:
    xs = [math.log10(v + 1e-9) for v in values]
    lo, hi = min(xs), max(xs)
    if hi - lo < 1e-12:
        return [0.0 for _ in xs]
    return [(x - lo) / (hi - lo) for x in xs]


def reference_scores(strategy: str, cands: Sequence[Candidate], profile: Profile,
                     weights: Weights, lats: Sequence[float]) -> list[float]:
    """The strategies as documented, one plain step at a time."""
    out = min(profile.output_tokens, 512)
    costs = [expected_cost(c.model.prices, profile.prompt_tokens, out) for c in cands]
    if strategy == "cost":
        return [-cost + c.model.quality * 1e-12 for c, cost in zip(cands, costs, strict=True)]
    if strategy == "latency":
        return [-la for la in lats]
    if strategy == "quality":
        return [c.model.quality - cost * 1e-6 for c, cost in zip(cands, costs, strict=True)]
    cost_n, lat_n = _norm_log(costs), _norm_log(lats)
    wq = weights.quality * QUALITY_EMPHASIS[max(QUALITY.index(profile.quality),
                                                COMPLEXITY.index(profile.complexity))]
    total = wq + weights.cost + weights.latency or 1.0
    scores = [(wq * c.model.quality + weights.cost * (1 - cn) + weights.latency * (1 - ln))
              / total for c, cn, ln in zip(cands, cost_n, lat_n, strict=True)]
    if strategy == "local_first":
        scores = [s + 10.0 if c.provider.locality == "local" else s
                  for c, s in zip(cands, scores, strict=True)]
    return scores


def reference_order(scores: Sequence[float], cands: Sequence[Candidate],
                    floor: float) -> list[int]:
    by_score = sorted(range(len(cands)), key=lambda i: scores[i], reverse=True)
    above = [i for i in by_score if cands[i].model.quality >= floor]
    return above + [i for i in by_score if cands[i].model.quality < floor]


def random_pool(rng: random.Random, n: int) -> list[Candidate]:
    providers = [Provider("lan", "ollama", locality="local"), Provider("cloud", "openai")]
    pool = []
    for i in range(n):
        base = rng.choice([0.0, 0.0, 0.05, 0.15, 0.6, 2.5, 15.0])
        tiers: tuple[PriceTier, ...] = ()
        if rng.random() < 0.2:  # long-context pricing
            tiers = (PriceTier(rng.choice([1000, 128_000]),
                               Prices(base * 2, base * 8)),)
        model = ModelInfo(
            name=f"m{i}", provider="p", upstream=f"m{i}", kind="chat",
            context_window=200_000, max_output=8192,
            prices=Prices(base, base * rng.choice([1, 4]), tiers=tiers),
            quality=rng.choice([0.0, 0.3, 0.5, 0.55, 0.7, 0.75, 0.9, 1.0, rng.random()]),
            capabilities=frozenset(),
            latency=Latency(rng.choice([80, 300, 300, 900]), rng.choice([30.0, 150.0, 400.0])))
        pool.append(Candidate(model, rng.choice(providers)))
    return pool


@pytest.mark.parametrize("seed", range(40))
def test_rank_matches_the_reference_strategies(seed: int) -> None:
    rng = random.Random(seed)
    pool = random_pool(rng, rng.choice([2, 3, 5, 13, 30]))
    latency = LatencyStats()
    for cand in rng.sample(pool, len(pool) // 2):  # some observed, some on priors
        latency.observe(cand.provider.name, cand.model.name,
                        ttft_ms=rng.choice([None, 50.0, 700.0]),
                        latency_ms=rng.uniform(100, 3000), output_tokens=rng.choice([1, 40]))
    weights = Weights(rng.choice([0.0, 1.0, 2.0]), rng.choice([0.0, 1.0]), rng.choice([0.0, 1.0]))
    for strategy in STRATEGIES:
        for _ in range(5):
            profile = Profile("chat", DataClass.PUBLIC, rng.choice(QUALITY),
                              rng.choice(COMPLEXITY), 1, frozenset(),
                              rng.choice([5, 900, 5000, 200_000]), rng.choice([16, 512, 4096]))
            ranked = rank(strategy, pool, profile, weights, latency)
            out = min(profile.output_tokens, 512)
            lats = latency.expected_all(pool, out)
            floor = max(QUALITY_FLOOR[QUALITY.index(profile.quality)],
                        COMPLEXITY_FLOOR[COMPLEXITY.index(profile.complexity)])
            rows = {r.candidate.label: r for r in ranked.rows()}
            if strategy == "ordered":
                assert ranked.candidates == tuple(pool)
                continue
            expected = reference_scores(strategy, pool, profile, weights, lats)
            for cand, score, la in zip(pool, expected, lats, strict=True):
                row = rows[cand.label]
                assert row.score == pytest.approx(score, rel=1e-12, abs=1e-12)
                assert row.latency_ms == la
                assert row.cost_usd == expected_cost(cand.model.prices,
                                                     profile.prompt_tokens, out)
                assert row.below_floor == (cand.model.quality < floor)
            order = reference_order(expected, pool, floor)
            got = [pool.index(c) for c in ranked.candidates]
            # the same order, except where two scores differ only by float rounding
            for i, j in zip(order, got, strict=True):
                assert i == j or expected[i] == pytest.approx(expected[j], rel=1e-12, abs=1e-12)


TEXTS = [
    "", "Say hello.", "hello", "- a\n- b\n- c", "  * one\n  * two\n3) three\n4. four",
    "step by step, prove it", "extract the fields", "pull out the names",
    "research the literature", "write a poem", "select name from users",
    "def f(x): return x", "list all items - not a list-item", "-\n-\n-", "1.5 is a number",
    "must do x at least twice\n\u2022 bullet\n\u2022 another", "Trade-off? root cause!",
    "a\u2028- b\u2029* c\x0b3) d\x0c4. e\x1c- f\x85- g", "\t-\tx\n\u3000- y",
    "plain words only " * 50, "- " * 200, "ΣΊΣΥΦΟΣ writes αβγ", "İstanbul extract",
]


@pytest.mark.parametrize("text", TEXTS)
def test_classifier_shortcuts_match_the_plain_heuristics(text: str) -> None:
    t = classify._Text(text)
    for words, phrases in ((classify._EXTRACT, classify._EXTRACT_PHRASES),
                           (classify._RESEARCH, ()), (classify._GENERATE, ()),
                           (classify._REASONING, classify._REASONING_PHRASES)):
        plain = len(words & t.words) + sum(1 for p in phrases if p in t.lowered)
        assert t.count(words, phrases) == plain
        assert t.mentions(words, phrases) == (plain > 0)
    items = sum(1 for line in text.splitlines() if classify._LIST_ITEM.match(line.lstrip()))
    for tokens in (0, 1600, 5000):
        score = (min(3, tokens // 1500) + min(2, t.count(classify._REASONING,
                                                         classify._REASONING_PHRASES))
                 + (1 if t.has_code else 0)
                 + min(2, (items + t.count(classify._CONSTRAINT,
                                           classify._CONSTRAINT_PHRASES)) // 3))
        expected = ("very_high" if score >= 6 else "high" if score >= 4
                    else "medium" if score >= 2 else "low")
        assert classify._complexity(t, tokens) == expected


def test_remembered_rule_matches_equal_evaluating_every_rule() -> None:
    """``Router`` remembers which rules hold per combination of the values conditions
    read; over many varied requests (repeats included) the remembered answer is the
    rule list evaluated afresh."""
    from aegis.config import from_dict
    from aegis.engine import Engine
    from aegis.routing.decision import Task
    from aegis.routing.policy import holds

    eng = Engine(from_dict({
        "storage": {"url": "sqlite:///:memory:"},
        "providers": {"lan": {"kind": "ollama", "base_url": "http://127.0.0.1:9",
                              "locality": "local"}},
        "routes": {"a": {"strategy": "cost"}, "b": {"strategy": "quality"}},
        "rules": [{"name": "batch", "when": {"batch_size": ">= 10"}, "route": "a"},
                  {"name": "ws", "when": {"workspace": "research"}, "route": "b"},
                  {"name": "tag", "when": {"tags": "urgent"}, "route": "a"},
                  {"name": "code", "when": {"task_type": ["code", "extraction"],
                                            "complexity": ">= medium"}, "route": "b"},
                  {"name": "sens", "when": {"data_class": ">= confidential"}, "route": "b"},
                  {"name": "low", "when": {"quality": "<= low"}, "route": "a"},
                  {"name": "any", "route": "a"}],
    }, env={}))
    router = eng.router
    rng = random.Random(5)
    for _ in range(3000):
        profile = Profile(
            task_type=rng.choice(("chat", "code", "extraction", "generation")),
            data_class=rng.choice(list(DataClass)), quality=rng.choice(QUALITY),
            complexity=rng.choice(COMPLEXITY), batch_size=rng.choice((1, 9, 10, 50)),
            needs=frozenset(), prompt_tokens=10, output_tokens=10)
        task = Task(workspace=rng.choice((None, "research", "other")),
                    tags=rng.choice(((), ("urgent",), ("x", "urgent"), ("x",))))
        values = {"task_type": profile.task_type, "quality": profile.quality,
                  "complexity": profile.complexity, "data_class": str(profile.data_class),
                  "batch_size": profile.batch_size, "workspace": task.workspace,
                  "tags": task.tags}
        fresh = [r.name for r in router.policy.rules
                 if all(holds(c, values[c.field]) for c in r.when)]
        assert [r.name for r in router._rules_holding(profile, task)] == fresh
