"""The router's inputs (task metadata) and output (an ordered candidate list)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aegis.catalog import ModelInfo
from aegis.privacy.classes import DataClass
from aegis.providers.base import Provider
from aegis.task import COMPLEXITY, QUALITY, STRATEGIES, TASK_TYPES, Task

__all__ = [
    "COMPLEXITY", "QUALITY", "STRATEGIES", "TASK_TYPES", "Candidate", "Decision",
    "Exclusion", "Profile", "Task",
]

@dataclass(frozen=True, slots=True)
class Profile:
    """The effective view of a request the constraints and strategies read."""

    task_type: str
    data_class: DataClass
    quality: str
    complexity: str
    batch_size: int
    needs: frozenset[str]  # capabilities: tools, vision, json, embeddings
    prompt_tokens: int  # estimate
    output_tokens: int  # requested (or the default cap)
    findings: tuple[str, ...] = ()  # kinds detected, never the matched text
    inferred: Mapping[str, Any] = field(default_factory=dict)  # what was inferred, not declared

    @property
    def quality_rank(self) -> int:
        return QUALITY.index(self.quality)

    @property
    def complexity_rank(self) -> int:
        return COMPLEXITY.index(self.complexity)


@dataclass(frozen=True, slots=True)
class Candidate:
    model: ModelInfo
    provider: Provider
    label: str = field(init=False, compare=False)  # "provider/model", read on every route
    key: tuple[str, str] = field(init=False, compare=False)  # (provider, model) for lookups

    def __post_init__(self) -> None:
        object.__setattr__(self, "label", f"{self.provider.name}/{self.model.name}")
        object.__setattr__(self, "key", (self.provider.name, self.model.name))

    @property
    def upstream_model(self) -> str:
        return self.model.upstream


@dataclass(frozen=True, slots=True)
class Exclusion:
    candidate: str  # provider/model label
    rule: str  # e.g. "privacy", "airgap", "capability:tools", "context_window"
    reason: str


@dataclass(frozen=True, slots=True)
class Decision:
    """An ordered candidate list: the first is tried, the rest are the fallback chain."""

    candidates: tuple[Candidate, ...]
    route: str  # the route / strategy / rule that decided, e.g. "rule:critical-premium"
    reason: str  # short, for the x-aegis-route-reason header
    record: Mapping[str, Any] = field(default_factory=dict)  # the full explanation
    profile: Profile | None = None
