"""The router's inputs (task metadata) and output (an ordered candidate list)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

from aegis.catalog import ModelInfo
from aegis.privacy.classes import DataClass
from aegis.providers.base import Provider
from aegis.task import COMPLEXITY, QUALITY, STRATEGIES, TASK_TYPES, Task

__all__ = [
    "COMPLEXITY", "QUALITY", "STRATEGIES", "TASK_TYPES", "Candidate", "Decision",
    "Exclusion", "Profile", "Task",
]

_NOTHING_INFERRED: Mapping[str, Any] = MappingProxyType({})


class Profile(NamedTuple):
    """The effective view of a request the constraints and strategies read.

    A NamedTuple rather than a frozen dataclass: one is built per request, and
    the dataclass's ``__init__`` (an ``object.__setattr__`` per field) cost ~4x more.
    """

    task_type: str
    data_class: DataClass
    quality: str
    complexity: str
    batch_size: int
    needs: frozenset[str]  # capabilities: tools, vision, json, embeddings
    prompt_tokens: int  # estimate
    output_tokens: int  # requested (or the default cap)
    findings: tuple[str, ...] = ()  # kinds detected, never the matched text
    inferred: Mapping[str, Any] = _NOTHING_INFERRED  # what was inferred, not declared

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
    # Read per candidate per request by the strategies: one attribute, not a chain.
    quality: float = field(init=False, compare=False)
    local: bool = field(init=False, compare=False)
    # (USD per Mtok in, out) when the price has no long-context tiers, else None
    rates: tuple[float, float] | None = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "label", f"{self.provider.name}/{self.model.name}")
        object.__setattr__(self, "key", (self.provider.name, self.model.name))
        object.__setattr__(self, "quality", self.model.quality)
        object.__setattr__(self, "local", self.provider.locality == "local")
        prices = self.model.prices
        object.__setattr__(self, "rates",
                           None if prices.tiers else (prices.input, prices.output))

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
