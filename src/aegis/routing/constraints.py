"""Hard constraints: a request never reaches a candidate that fails one.

Each check returns the reason it excludes a candidate, or None. They run in a
fixed order (airgap, privacy, allow-lists, health, capabilities, context) so the
explanation names the most fundamental rule first. Nothing downstream -- fallback,
retries, budget downgrades -- can add a candidate back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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


HealthCheck = Callable[[Candidate], str | None]  # reason the candidate is down, or None


def check(
    cand: Candidate,
    profile: Profile,
    policy: RoutingPolicy,
    limits: Limits,
    health: HealthCheck | None = None,
) -> Exclusion | None:
    provider, model = cand.provider, cand.model
    label = cand.label
    if policy.airgap and provider.locality != "local":
        return Exclusion(label, "airgap",
                         f"airgap mode: only local providers may serve; {provider.name} is cloud")
    dc = profile.data_class
    if dc in policy.sensitive and not trusted(provider, dc):
        return Exclusion(label, "privacy",
                         f"data_class={dc} may only be served by local providers (or providers "
                         f"trusted for {dc}); {provider.name} is {provider.locality}")
    if limits.allowed_models is not None and model.name not in limits.allowed_models:
        return Exclusion(label, f"allow_list:{limits.allow_list_source}",
                         f"{model.name} is not in the {limits.allow_list_source}'s allowed models")
    if health is not None and (down := health(cand)) is not None:
        return Exclusion(label, "unavailable", down)
    for need in sorted(profile.needs):
        if need == "embeddings":
            if model.kind != "embedding":
                return Exclusion(label, "capability:embeddings", f"{model.name} is not an "
                                 "embedding model")
            continue
        if need not in model.capabilities:
            return Exclusion(label, f"capability:{need}",
                             f"{model.name} does not support {_NEED_LABEL.get(need, need)}")
    if model.kind == "chat":
        needed = profile.prompt_tokens + profile.output_tokens
        if needed > model.context_window:
            return Exclusion(label, "context_window",
                             f"~{profile.prompt_tokens} prompt + {profile.output_tokens} output "
                             f"tokens exceed {model.name}'s {model.context_window}-token window")
    return None
