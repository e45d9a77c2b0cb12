"""Decides, per request, where it may go (hard constraints) and where it should go.

Precedence:
1. ``model`` names a catalog model → pinned to it;
2. ``model`` names a route → that route's pool and strategy;
3. a ``strategy`` was given (``model: auto``) → that strategy over every model;
4. otherwise the rules, in order: the first whose conditions hold *and* whose
   route leaves at least one eligible candidate decides;
5. otherwise the default strategy over every model.

Hard constraints apply in every case; what they exclude is recorded with the
rule that excluded it. If nothing is eligible the request is refused: 403 when a
policy (privacy, airgap, allow-list) emptied the list, 503 when the eligible
providers are down, 400 when no model has the capability or context needed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from aegis import errors
from aegis.catalog import Catalog, ModelInfo
from aegis.privacy.classes import DataClass
from aegis.providers.base import Provider
from aegis.routing import classify
from aegis.routing.constraints import Health, Limits, Screen
from aegis.routing.decision import Candidate, Decision, Exclusion, Profile, Task
from aegis.routing.explain import Explanation
from aegis.routing.latency import LatencyStats
from aegis.routing.policy import Route, RoutingPolicy, Rule, holds
from aegis.routing.strategies import rank
from aegis.types import ChatRequest

if TYPE_CHECKING:
    from aegis.privacy import Detector

AUTO = "auto"
_POLICY_RULES = ("privacy", "airgap", "allow_list")
_MAX_SCREENS = 4096


class Router:
    def __init__(
        self,
        catalog: Catalog,
        providers: Mapping[str, Provider],
        policy: RoutingPolicy,
        *,
        detector: Detector | None,
        output_cap: int = 1024,
        latency: LatencyStats | None = None,
        health: Health | None = None,
    ) -> None:
        self.catalog = catalog
        self.providers = providers
        self.policy = policy
        self.detector = detector
        self.output_cap = output_cap
        self.latency = latency or LatencyStats()
        self.health = health
        self._models = [m for m in catalog if m.provider in providers]
        self._candidates = {(m.name, m.provider): Candidate(m, providers[m.provider])
                            for m in self._models}
        self._pools: dict[tuple[str | None, str], tuple[ModelInfo, ...]] = {}
        self._pinned: dict[str, tuple[ModelInfo, ...]] = {}
        # id(pool) keys: the pool is held in the value, so its id cannot be reused meanwhile
        self._screens: dict[tuple[int, DataClass, frozenset[str], Limits],
                            tuple[Sequence[ModelInfo], Screen]] = {}
        self._holding: dict[tuple[object, ...], tuple[Rule, ...]] = {}

    def profile(self, request: ChatRequest, task: Task, *, kind: str = "chat") -> Profile:
        return classify.profile(request, task, detector=self.detector,
                                output_cap=self.output_cap, kind=kind)

    def decide(
        self,
        request: ChatRequest,
        task: Task,
        *,
        kind: str = "chat",
        limits: Limits = Limits(),
    ) -> Decision:
        profile = self.profile(request, task, kind=kind)
        name = request.model
        pinned = self.catalog.get(name) if name != AUTO else None
        record = Explanation(name, task, profile, self.policy.airgap)
        if pinned is not None and pinned.provider in self.providers:
            if pinned.kind != kind:
                raise errors.InvalidRequest(
                    f"model {name!r} is a {pinned.kind} model, not a {kind} model", param="model")
            pool = self._pinned.get(name)
            if pool is None:
                pool = self._pinned[name] = (pinned,)
            return self._finish("pinned", f"model={pinned.name}", "ordered", pool,
                                profile, limits, record)
        if name in self.policy.routes:
            route = self.policy.routes[name]
            return self._finish(f"route:{name}", self._reason(profile, name), route.strategy,
                                self._pool(route, kind), profile, limits, record)
        if name != AUTO:
            raise errors.ModelNotFound(
                f"model {name!r} is not served here (not a configured model or route; "
                "see GET /v1/models)", param="model")
        if task.strategy:
            return self._finish(f"strategy:{task.strategy}",
                                self._reason(profile, task.strategy), task.strategy,
                                self._all(kind), profile, limits, record)
        for rule in self._rules_holding(profile, task):
            route = self.policy.routes[rule.route]
            pool = self._pool(route, kind)
            filtered = self._filter(pool, profile, limits)
            record.rules_tried.append({"rule": rule.name, "route": rule.route,
                                       "eligible": len(filtered[0])})
            if filtered[0]:
                return self._finish(f"rule:{rule.name}", self._reason(profile, rule.route),
                                    route.strategy, pool, profile, limits, record, filtered)
        strategy = self.policy.default_strategy
        return self._finish(f"strategy:{strategy}", self._reason(profile, strategy), strategy,
                            self._all(kind), profile, limits, record)

    # -- helpers ------------------------------------------------------------------

    def _rules_holding(self, profile: Profile, task: Task) -> tuple[Rule, ...]:
        """The rules whose conditions hold, in order. Conditions read only these few
        discrete values, so the answer is remembered per combination (bounded)."""
        key = (profile.task_type, profile.quality, profile.complexity, profile.data_class,
               profile.batch_size, task.workspace, task.tags)
        rules = self._holding.get(key)
        if rules is None:
            values = {"task_type": profile.task_type, "quality": profile.quality,
                      "complexity": profile.complexity, "data_class": str(profile.data_class),
                      "batch_size": profile.batch_size, "workspace": task.workspace,
                      "tags": task.tags}
            rules = tuple(rule for rule in self.policy.rules if not rule.when
                          or all(holds(c, values.get(c.field)) for c in rule.when))
            if len(self._holding) >= _MAX_SCREENS:  # workspaces, tags, batch sizes: open-ended
                self._holding.clear()
            self._holding[key] = rules
        return rules

    def _all(self, kind: str) -> tuple[ModelInfo, ...]:
        pool = self._pools.get((None, kind))
        if pool is None:
            pool = self._pools[(None, kind)] = tuple(m for m in self._models if m.kind == kind)
        return pool

    def _pool(self, route: Route, kind: str) -> tuple[ModelInfo, ...]:
        """A route's members; static for the process, so computed once."""
        pool = self._pools.get((route.name, kind))
        if pool is not None:
            return pool
        if route.models:
            chosen = [self.catalog.get(n) for n in route.models]
            members = [m for m in chosen if m is not None and m.provider in self.providers]
        else:
            members = list(self._all(kind))
        pool = tuple(m for m in members if m.kind == kind and self._fits(route, m))
        self._pools[(route.name, kind)] = pool
        return pool

    def _fits(self, route: Route, model: ModelInfo) -> bool:
        if route.locality and self.providers[model.provider].locality != route.locality:
            return False
        if route.capabilities and not route.capabilities <= model.capabilities:
            return False
        if route.min_context and model.context_window < route.min_context:
            return False
        if route.min_quality and model.quality < route.min_quality:
            return False
        name = f"{model.name} {model.upstream}".lower()
        return not route.name_contains or any(s in name for s in route.name_contains)

    def _filter(self, pool: Sequence[ModelInfo], profile: Profile,
                limits: Limits) -> tuple[list[Candidate], list[Exclusion]]:
        key = (id(pool), profile.data_class, profile.needs, limits)
        cached = self._screens.get(key)
        if cached is None or cached[0] is not pool:
            if len(self._screens) >= _MAX_SCREENS:  # callers' allow-lists are unbounded
                self._screens.clear()
            cached = self._screens[key] = (pool, Screen(
                [self._candidates[m.name, m.provider] for m in pool], profile.data_class,
                profile.needs, self.policy, limits))
        return cached[1].apply(profile, self.health)

    @staticmethod
    def _reason(profile: Profile, target: str) -> str:
        if profile.data_class >= DataClass.CONFIDENTIAL:
            return f"data_class={profile.data_class} -> {target}"
        if profile.quality != "medium":
            return f"quality={profile.quality} -> {target}"
        return f"complexity={profile.complexity} -> {target}"

    def _finish(
        self, route: str, reason: str, strategy: str, pool: Sequence[ModelInfo],
        profile: Profile, limits: Limits, record: Explanation,
        filtered: tuple[list[Candidate], list[Exclusion]] | None = None,
    ) -> Decision:
        eligible, excluded = filtered or self._filter(pool, profile, limits)
        record.decided(route, strategy, reason, pool, excluded)
        if not eligible:
            refusal = self._refusal(route, pool, profile, excluded)
            record.refused(getattr(refusal, "rule", refusal.code), refusal.message)
            refusal.decision = record
            raise refusal
        ranked = rank(strategy, eligible, profile, self.policy.weights, self.latency)
        record.ranked = ranked
        return Decision(ranked.candidates, route, reason, record, profile)

    def _refusal(self, route: str, pool: Sequence[ModelInfo], profile: Profile,
                 excluded: list[Exclusion]) -> errors.AegisError:
        """403 for policy, 503 for down, 400 for capability/context -- naming the rule."""
        if not pool:
            return errors.NoCandidateAvailable(
                f"{route}: no configured model can serve this request")
        rules = {e.rule.split(":")[0] for e in excluded}
        dc = profile.data_class
        other = next((e.reason for e in excluded
                      if e.rule.split(":")[0] not in _POLICY_RULES), None)
        also = f" (the others: {other})" if other else ""
        if "unavailable" in rules and rules <= {"unavailable", *_POLICY_RULES}:
            down = "; ".join(e.reason for e in excluded if e.rule == "unavailable")
            scope = f"for data_class={dc} " if "privacy" in rules else ""
            return errors.NoCandidateAvailable(
                f"every eligible provider {scope}is unavailable: {down}")
        if "airgap" in rules:
            return errors.PolicyRefusal(
                f"airgap mode: only local providers may serve requests; none is available{also}",
                rule="airgap")
        if "privacy" in rules:
            return errors.PolicyRefusal(
                f"data_class={dc} may only be served by local providers (or providers trusted "
                f"for {dc}); none is available{also}", rule="privacy")
        if "allow_list" in rules:
            first = next(e for e in excluded if e.rule.startswith("allow_list"))
            return errors.PolicyRefusal(f"{first.reason}{also}", rule=first.rule)
        cause = next((e for e in excluded if e.rule.startswith(("capability", "context"))),
                     excluded[0])
        err = errors.InvalidRequest(
            f"no configured model can serve this request: {cause.reason}",
            param="messages" if cause.rule == "context_window" else "model")
        err.code = ("context_length_exceeded" if cause.rule == "context_window"
                    else "capability_unavailable")
        return err
