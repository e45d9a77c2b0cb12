"""Task metadata: what a client says about a request (all optional).

Kept in a module of its own because both the router (which reads it) and the
records the engine emits (which carry it to the ledger) need it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aegis.privacy.classes import DataClass

TASK_TYPES = ("chat", "generation", "extraction", "code", "research", "embedding")
QUALITY = ("low", "medium", "high", "critical")  # ordered
COMPLEXITY = ("low", "medium", "high", "very_high")  # ordered
STRATEGIES = ("balanced", "cost", "latency", "quality", "local_first", "ordered")


@dataclass(frozen=True, slots=True)
class Task:
    """What the client declares about a request; every field optional.

    What is missing is inferred (see ``routing.classify``); a declared
    ``data_class`` is never lowered by inference, only raised.
    """

    task_type: str | None = None
    data_class: DataClass | None = None
    quality: str | None = None
    complexity: str | None = None
    batch_size: int | None = None
    strategy: str | None = None
    workspace: str | None = None
    tags: tuple[str, ...] = ()

    def declared(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in ("task_type", "data_class", "quality", "complexity", "batch_size",
                     "strategy", "workspace"):
            value = getattr(self, name)
            if value is not None:
                out[name] = str(value) if name == "data_class" else value
        if self.tags:
            out["tags"] = list(self.tags)
        return out
