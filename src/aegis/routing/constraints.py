"""Hard constraints: a request never reaches a candidate that fails one.

Each check returns the reason it excludes a candidate, or None. They run in a
fixed order (airgap, privacy, allow-lists, health, capabilities, context) so the
explanation names the most fundamental rule first; ``Screen`` applies them to a
pool. Nothing downstream -- fallback, retries, budget downgrades -- can add a
candidate back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from aegis.privacy.classes import DataClass
from aegis.providers.base import Provider
from aegis.routing.decision import Candidate, Exclusion, Profile
from aegis.routing.policy import RoutingPolicy

_NEED_LABEL = {"tools": "tool calling", "vision": "image input", "json": "JSON mode",
               "embeddings": "embeddings"}


def trusted(provider: Provider, data_class: DataClass) -> bool:
    """Local, or explicitly trusted for this class or a more sensitive one."""
    if provider.locality == "local":
        return True
    return any(DataClass.parse(c) >= data_class for c in provider.trusted_for)


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-request restrictions from outside the router (the caller's key, a route)."""

    allowed_models: frozenset[str] | None = None  # None = no allow-list
    allow_list_source: str = "key"


class Health(Protocol):
    """What the router asks the resilience layer (``CircuitBreaker`` implements it)."""

    def health_check(self, cand: Candidate) -> str | None:
        """Why ``cand`` cannot take a request now, or None."""

    def all_closed(self) -> bool:
        """True when no candidate is down, so none needs asking."""


def policy_exclusion(cand: Candidate, dc: DataClass, policy: RoutingPolicy,
                     limits: Limits) -> Exclusion | None:
    """Airgap, privacy and allow-lists: fixed for a given data class and caller."""
    provider, label = cand.provider, cand.label
    if policy.airgap and provider.locality != "local":
        return Exclusion(label, "airgap",
                         f"airgap mode: only local providers may serve; {provider.name} is cloud")
    if dc in policy.sensitive and not trusted(provider, dc):
        return Exclusion(label, "privacy",
                         f"data_class={dc} may only be served by local providers (or providers "
                         f"trusted for {dc}); {provider.name} is {provider.locality}")
    name = cand.model.name
    if limits.allowed_models is not None and name not in limits.allowed_models:
        return Exclusion(label, f"allow_list:{limits.allow_list_source}",
                         f"{name} is not in the {limits.allow_list_source}'s allowed models")
    return None


def _down(cand: Candidate, health: Health | None) -> Exclusion | None:
    if health is not None and (down := health.health_check(cand)) is not None:
        return Exclusion(cand.label, "unavailable", down)
    return None


def capability_exclusion(cand: Candidate, needs: tuple[str, ...]) -> Exclusion | None:
    """``needs`` sorted, so the reason named is the same whatever the request's order."""
    model = cand.model
    for need in needs:
        if need == "embeddings":
            if model.kind != "embedding":
                return Exclusion(cand.label, "capability:embeddings",
                                 f"{model.name} is not an embedding model")
            continue
        if need not in model.capabilities:
            return Exclusion(cand.label, f"capability:{need}",
                             f"{model.name} does not support {_NEED_LABEL.get(need, need)}")
    return None


def context_exclusion(cand: Candidate, profile: Profile) -> Exclusion | None:
    model = cand.model
    if model.kind == "chat":
        needed = profile.prompt_tokens + profile.output_tokens
        if needed > model.context_window:
            return Exclusion(cand.label, "context_window",
                             f"~{profile.prompt_tokens} prompt + {profile.output_tokens} output "
                             f"tokens exceed {model.name}'s {model.context_window}-token window")
    return None


class Screen:
    """The constraints over one pool, with what cannot change between requests done once.

    Policy and capability exclusions depend only on the pool, the data class, the
    needs and the caller's allow-list, so a router keeps one screen per such key;
    a request then adds the two checks that move: health and the context window.
    When nothing static excludes anyone, no circuit is open and the prompt fits
    the smallest window, the answer is the whole pool without a loop.
    """

    __slots__ = ("_clear", "_min_context", "_rows")

    def __init__(self, pool: Sequence[Candidate], dc: DataClass, needs: frozenset[str],
                 policy: RoutingPolicy, limits: Limits) -> None:
        ordered = tuple(sorted(needs))
        self._rows = tuple((c, policy_exclusion(c, dc, policy, limits),
                            capability_exclusion(c, ordered)) for c in pool)
        clean = all(static is None and cap is None for _, static, cap in self._rows)
        self._clear = tuple(pool) if clean else None
        self._min_context = min((c.model.context_window for c in pool if c.model.kind == "chat"),
                                default=None)

    def apply(self, profile: Profile,
              health: Health | None) -> tuple[list[Candidate], list[Exclusion]]:
        """(eligible, excluded), in pool order; each exclusion names the first rule failed."""
        if (self._clear is not None
                and (self._min_context is None
                     or profile.prompt_tokens + profile.output_tokens <= self._min_context)
                and (health is None or health.all_closed())):
            return list(self._clear), []
        eligible: list[Candidate] = []
        excluded: list[Exclusion] = []
        for cand, static, capability in self._rows:
            why = (static or _down(cand, health) or capability
                   or context_exclusion(cand, profile))
            if why is None:
                eligible.append(cand)
            else:
                excluded.append(why)
        return eligible, excluded
