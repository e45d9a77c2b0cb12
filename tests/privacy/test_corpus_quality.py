"""Precision / recall of the regex detector on the labelled corpus, with floors.

The floors sit below the measured values (see bench/privacy_eval.py for the
table) with a margin, so a regression fails here while noise does not. The
corpus is generated from the spec, not from the detector: see corpus.py.
"""

from __future__ import annotations

from collections import Counter

import pytest

from aegis.privacy import scan_messages
from tests.privacy.corpus import KINDS, SEED, Corpus, Report, build_corpus, evaluate, holdout

# Measured (regex detector): request-level precision 0.9994, recall 0.9982;
# every kind >= 0.996 precision and >= 0.971 recall.
REQUEST_PRECISION_FLOOR = 0.99
REQUEST_RECALL_FLOOR = 0.99
KIND_PRECISION_FLOOR = 0.97
KIND_RECALL_FLOOR = 0.95
# The hand-written holdout is small (46 + 45); measured 1.0 / 1.0.
HOLDOUT_FLOOR = 0.95


def _scan(sample: object) -> object:
    return scan_messages(sample.messages, sample.tools)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return build_corpus()


@pytest.fixture(scope="module")
def report(corpus: Corpus) -> Report:
    return evaluate(corpus.samples, _scan)


def test_corpus_size_and_coverage(corpus: Corpus) -> None:
    assert len(corpus.positives) >= 1_000
    assert len(corpus.negatives) >= 1_000
    required = Counter(kind for s in corpus.positives for kind in s.kinds)
    for kind in KINDS:
        assert required[kind] >= 50, kind
    carriers = Counter(s.carrier for s in corpus.samples)
    assert set(carriers) == {
        "user",
        "system",
        "developer",
        "assistant",
        "parts",
        "tool_result",
        "tool_result_json",
        "tool_args",
    }
    assert min(carriers.values()) >= 200
    assert all(s.kinds for s in corpus.positives)
    assert not any(s.kinds for s in corpus.negatives)
    assert len({s.category for s in corpus.negatives}) >= 20


def test_corpus_is_deterministic(corpus: Corpus) -> None:
    again = build_corpus.__wrapped__(SEED)  # bypass the cache
    assert [s.messages for s in again.samples] == [s.messages for s in corpus.samples]


def test_request_level_precision_and_recall(report: Report) -> None:
    missed = [s.text for s, _ in report.missed]
    alarms = [s.text for s, _ in report.false_alarms if not s.positive]
    assert report.request.recall >= REQUEST_RECALL_FLOOR, missed
    assert report.request.precision >= REQUEST_PRECISION_FLOOR, alarms


@pytest.mark.parametrize("kind", KINDS)
def test_per_kind_precision_and_recall(report: Report, kind: str) -> None:
    score = report.kinds[kind]
    assert score.recall >= KIND_RECALL_FLOOR, (kind, score)
    assert score.precision >= KIND_PRECISION_FLOOR, (kind, score)


def test_no_hard_negative_category_is_systematically_flagged(report: Report) -> None:
    for category, score in report.negative_categories.items():
        total = score.tp + score.fp
        assert score.fp / total <= 0.05, category


def test_holdout() -> None:
    samples = holdout()
    assert sum(s.positive for s in samples) >= 40
    assert sum(not s.positive for s in samples) >= 40
    result = evaluate(samples, _scan)
    assert result.request.recall >= HOLDOUT_FLOOR, [s.text for s, _ in result.missed]
    assert result.request.precision >= HOLDOUT_FLOOR, [s.text for s, _ in result.false_alarms]
