"""Scoring a detector against the corpus (see ``tests.privacy.corpus``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.privacy.corpus.assembly import KINDS
from tests.privacy.corpus.base import PUBLIC, Sample

# ---------------------------------------------------------------------------
# Scoring


@dataclass(slots=True)
class KindScore:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass(slots=True)
class Report:
    """Per-kind scores (finding level) and request-level scores (the routing decision).

    Request level: a positive is caught when the scan's class is at least the
    expected class; a negative is a false alarm when its class is above public.
    """

    kinds: dict[str, KindScore] = field(default_factory=dict)
    request: KindScore = field(default_factory=KindScore)
    missed: list[tuple[Sample, frozenset[str]]] = field(default_factory=list)
    false_alarms: list[tuple[Sample, frozenset[str]]] = field(default_factory=list)
    negative_categories: dict[str, KindScore] = field(default_factory=dict)


def evaluate(samples: Sequence[Sample], scan: Callable[[Sample], Any]) -> Report:
    """Score ``scan`` (Sample -> aegis.privacy.Scan) over ``samples``."""
    report = Report(kinds={k: KindScore() for k in KINDS})
    for sample in samples:
        result = scan(sample)
        found = frozenset(result.kinds)
        for kind in sample.kinds:
            score = report.kinds.setdefault(kind, KindScore())
            if kind in found:
                score.tp += 1
            else:
                score.fn += 1
        wrong = found - sample.kinds - sample.optional
        for kind in wrong:
            report.kinds.setdefault(kind, KindScore()).fp += 1
        if sample.positive:
            if result.data_class >= sample.data_class:
                report.request.tp += 1
            else:
                report.request.fn += 1
                report.missed.append((sample, found))
        else:
            cat = report.negative_categories.setdefault(sample.category, KindScore())
            if result.data_class > PUBLIC:
                report.request.fp += 1
                cat.fp += 1
                report.false_alarms.append((sample, found))
            else:
                cat.tp += 1
        if sample.positive and wrong:
            report.false_alarms.append((sample, wrong))
    return report
