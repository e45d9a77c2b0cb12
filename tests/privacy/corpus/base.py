"""The corpus's types: labelled samples, the corpus, the items generators make (see
``tests.privacy.corpus``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aegis.privacy.classes import DataClass

SEED = 20_240_611
LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "en_IN")
LANG = {
    "en_US": "en",
    "en_GB": "en",
    "en_IN": "en",
    "de_DE": "de",
    "fr_FR": "fr",
    "es_ES": "es",
    "it_IT": "it",
    "nl_NL": "nl",
}

PII, PHI, CONF, PUBLIC = DataClass.PII, DataClass.PHI, DataClass.CONFIDENTIAL, DataClass.PUBLIC


@dataclass(frozen=True, slots=True)
class Sample:
    """One labelled request. ``text`` is the embedded (synthetic) text, for debugging."""

    category: str
    kinds: frozenset[str]
    data_class: DataClass
    messages: tuple[dict[str, Any], ...]
    tools: tuple[dict[str, Any], ...] | None = None
    optional: frozenset[str] = frozenset()
    carrier: str = "user"
    text: str = ""

    @property
    def positive(self) -> bool:
        return self.data_class > PUBLIC


@dataclass(frozen=True, slots=True)
class Corpus:
    positives: tuple[Sample, ...]
    negatives: tuple[Sample, ...]
    # Person names with no anchor ("forward this to Maria Rossi"): out of the
    # regex detector's reach by design (that is Presidio's job). Reported
    # separately by bench/privacy_eval.py, never part of the floors.
    free_text_names: tuple[Sample, ...]

    @property
    def samples(self) -> tuple[Sample, ...]:
        return self.positives + self.negatives


@dataclass(slots=True)
class _Item:
    """A text before it is embedded in a request."""

    category: str
    kinds: frozenset[str]
    data_class: DataClass
    text: str
    value: str | None = None  # the bare value, for structured JSON carriers
    field_name: str = "value"
    optional: frozenset[str] = field(default_factory=frozenset)
