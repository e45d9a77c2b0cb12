"""Routing configuration: the ``routing``, ``routes`` and ``rules`` sections.

Shipped defaults encode the set-up the first users describe -- a three-tier
local → mid-price cloud → premium cloud arrangement:

- embeddings stay local;
- ``quality=critical`` with ``complexity ≥ high`` goes to the premium tier;
- ``batch_size > 10`` goes to the batch tier (e.g. DashScope);
- everything else goes local first, with cloud models only as fallback
  (and never for sensitive data, which the hard constraints filter out).

User ``routes`` / ``rules`` replace the defaults of the same name; a user rule
list replaces the default rule list as a whole (order matters).
"""

from __future__ import annotations

import operator
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aegis.errors import ConfigError
from aegis.privacy.classes import DataClass
from aegis.privacy.detectors import DETECTOR_NAMES
from aegis.routing.decision import COMPLEXITY, QUALITY, STRATEGIES, TASK_TYPES

SENSITIVE_DEFAULT = (DataClass.CONFIDENTIAL, DataClass.PII, DataClass.PHI)


@dataclass(frozen=True, slots=True)
class Route:
    """A named pool of models and how to order it."""

    name: str
    strategy: str = "balanced"
    models: tuple[str, ...] = ()  # explicit members (an allow-list); empty = all that qualify
    locality: str | None = None  # "local" restricts the pool to local providers
    capabilities: frozenset[str] = frozenset()  # required of every member
    min_context: int = 0
    min_quality: float = 0.0
    name_contains: tuple[str, ...] = ()  # e.g. ("coder", "codestral") for a code route
    description: str = ""


@dataclass(frozen=True, slots=True)
class Condition:
    """One test on the request profile; ``op`` is one of ==, in, >=, >, <=, <."""

    field: str
    op: str
    value: Any


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    route: str
    when: tuple[Condition, ...] = ()  # all must hold; empty = always


@dataclass(frozen=True, slots=True)
class Weights:
    quality: float = 0.5
    cost: float = 0.3
    latency: float = 0.2


@dataclass(frozen=True)
class RoutingPolicy:
    sensitive: frozenset[DataClass] = frozenset(SENSITIVE_DEFAULT)
    airgap: bool = False
    default_strategy: str = "balanced"
    detector: str = "regex"
    weights: Weights = Weights()
    routes: Mapping[str, Route] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()


DEFAULT_ROUTES: tuple[Route, ...] = (
    Route("balanced", "balanced", description="weighted quality, cost and latency"),
    Route("smart", "quality", min_quality=0.7, description="highest quality available"),
    Route("premium", "quality", min_quality=0.8, description="premium tier for critical work"),
    Route("cheap", "cost", description="cheapest model that can serve the request"),
    Route("fast", "latency", description="lowest expected latency"),
    Route("local_only", "balanced", locality="local", description="never leaves local providers"),
    Route("local_first", "local_first", description="local models first, cloud as fallback"),
    Route("code", "quality", name_contains=("code", "coder", "codestral", "devstral"),
          description="code-specialised models"),
    Route("long_context", "cost", min_context=200_000, description="200k+ token context"),
    Route("analysis", "quality", min_quality=0.6, description="careful reasoning"),
    Route("simple", "cost", description="simple tasks at minimum cost"),
    Route("batch", "cost", models=("qwen-plus", "qwen-turbo", "qwen-flash", "qwen3-coder-plus"),
          description="bulk jobs on the batch tier (DashScope)"),
)

DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("embeddings-local", "local_only", (Condition("task_type", "==", "embedding"),)),
    Rule("critical-premium", "premium", (Condition("quality", "==", "critical"),
                                         Condition("complexity", ">=", "high"))),
    Rule("batch-tier", "batch", (Condition("batch_size", ">", 10),)),
    Rule("default-local", "local_first"),
)

_FIELDS: dict[str, tuple[str, ...] | None] = {
    "task_type": TASK_TYPES, "quality": QUALITY, "complexity": COMPLEXITY,
    "data_class": tuple(d.value for d in DataClass), "batch_size": None, "workspace": None,
    "tags": None,
}
_OPS = (">=", "<=", "!=", ">", "<")


def airgap_from_env(env: Mapping[str, str]) -> bool:
    return env.get("AEGIS_AIRGAP", "").strip().lower() in ("1", "true", "yes", "on")


def build_policy(
    routing: Mapping[str, Any],
    routes: Mapping[str, Any],
    rules: Sequence[Any],
    env: Mapping[str, str] | None = None,
) -> RoutingPolicy:
    """Validate the three sections; errors name ``routing.x`` / ``routes.y.z`` / ``rules[i]``."""
    env = os.environ if env is None else env
    problems: list[str] = []
    known = {"sensitive", "airgap", "default_strategy", "detector", "weights"}
    for key in routing:
        if key not in known:
            problems.append(f"routing.{key}: unknown key (known: {', '.join(sorted(known))})")
    sensitive: set[DataClass] = set(SENSITIVE_DEFAULT)
    if "sensitive" in routing:
        sensitive = set()
        for i, value in enumerate(routing["sensitive"] or ()):
            try:
                sensitive.add(DataClass.parse(value))
            except ValueError as exc:
                problems.append(f"routing.sensitive[{i}]: {exc}")
    strategy = str(routing.get("default_strategy", "balanced"))
    if strategy not in STRATEGIES:
        problems.append(f"routing.default_strategy: unknown strategy {strategy!r} "
                        f"(allowed: {', '.join(STRATEGIES)})")
    detector = str(routing.get("detector", "regex"))
    if detector not in DETECTOR_NAMES:
        problems.append(f"routing.detector: unknown detector {detector!r} "
                        f"(allowed: {', '.join(DETECTOR_NAMES)})")
    weights = Weights()
    if "weights" in routing:
        try:
            weights = Weights(**{k: float(v) for k, v in dict(routing["weights"]).items()})
        except (TypeError, ValueError) as exc:
            problems.append(f"routing.weights: {exc} (keys: quality, cost, latency)")
    table = {r.name: r for r in DEFAULT_ROUTES}
    for name, spec in routes.items():
        route = _route(str(name), spec, problems)
        if route is not None:
            table[route.name] = route
    rule_list = DEFAULT_RULES
    if rules:
        rule_list = tuple(r for i, spec in enumerate(rules)
                          if (r := _rule(i, spec, problems)) is not None)
    for i, rule in enumerate(rule_list):
        if rule.route not in table:
            problems.append(f"rules[{i}].route: unknown route {rule.route!r} "
                            f"(routes: {', '.join(sorted(table))})")
    if problems:
        raise ConfigError("invalid routing configuration:\n" +
                          "\n".join(f"  {p}" for p in problems))
    return RoutingPolicy(
        sensitive=frozenset(sensitive),
        airgap=bool(routing.get("airgap", False)) or airgap_from_env(env),
        default_strategy=strategy,
        detector=detector,
        weights=weights,
        routes=table,
        rules=rule_list,
    )


def _route(name: str, spec: Any, problems: list[str]) -> Route | None:
    where = f"routes.{name}"
    if not isinstance(spec, Mapping):
        problems.append(f"{where}: expected a mapping")
        return None
    allowed = {"strategy", "models", "locality", "capabilities", "min_context", "min_quality",
               "name_contains", "description"}
    bad = [k for k in spec if k not in allowed]
    for key in bad:
        problems.append(f"{where}.{key}: unknown key (known: {', '.join(sorted(allowed))})")
    strategy = str(spec.get("strategy", "balanced" if not spec.get("models") else "ordered"))
    if strategy not in STRATEGIES:
        problems.append(f"{where}.strategy: unknown strategy {strategy!r} "
                        f"(allowed: {', '.join(STRATEGIES)})")
    locality = spec.get("locality")
    if locality not in (None, "local", "cloud"):
        problems.append(f"{where}.locality: must be 'local' or 'cloud'")
    if bad:
        return None
    return Route(
        name=name, strategy=strategy, models=tuple(spec.get("models") or ()),
        locality=locality, capabilities=frozenset(spec.get("capabilities") or ()),
        min_context=int(spec.get("min_context", 0)),
        min_quality=float(spec.get("min_quality", 0.0)),
        name_contains=tuple(spec.get("name_contains") or ()),
        description=str(spec.get("description", "")),
    )


def _rule(i: int, spec: Any, problems: list[str]) -> Rule | None:
    where = f"rules[{i}]"
    if not isinstance(spec, Mapping) or "route" not in spec:
        problems.append(f"{where}: expected {{name, when, route}}")
        return None
    conditions: list[Condition] = []
    for key, raw in dict(spec.get("when") or {}).items():
        if key not in _FIELDS:
            problems.append(f"{where}.when.{key}: unknown field (known: {', '.join(_FIELDS)})")
            continue
        cond = _condition(key, raw)
        allowed = _FIELDS[key]
        values = cond.value if isinstance(cond.value, list) else [cond.value]
        if allowed is not None and any(str(v) not in allowed for v in values):
            problems.append(f"{where}.when.{key}: {raw!r} is not one of {', '.join(allowed)}")
            continue
        conditions.append(cond)
    return Rule(str(spec.get("name", f"rule{i}")), str(spec["route"]), tuple(conditions))


def _condition(key: str, raw: Any) -> Condition:
    if isinstance(raw, list):
        return Condition(key, "in", [str(v) for v in raw])
    if isinstance(raw, str):
        text = raw.strip()
        for op in _OPS:
            if text.startswith(op):
                value: Any = text[len(op):].strip()
                if key == "batch_size":
                    value = int(value)
                return Condition(key, op, value)
        return Condition(key, "==", text)
    return Condition(key, "==", raw)


_COMPARE: Mapping[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq, "!=": operator.ne, ">=": operator.ge, ">": operator.gt,
    "<=": operator.le, "<": operator.lt,
}


def holds(cond: Condition, value: Any) -> bool:
    """Evaluate one condition against a profile value; ordered fields compare by rank."""
    if value is None:
        return False
    if cond.op == "in":
        return str(value) in cond.value
    order = _FIELDS.get(cond.field)
    if order is not None:
        left, right = order.index(str(value)), order.index(str(cond.value))
    elif cond.field == "tags":
        return str(cond.value) in value
    else:
        left, right = value, cond.value
    return bool(_COMPARE[cond.op](left, right))
