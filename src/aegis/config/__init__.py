"""Loading configuration: YAML → ``${VAR}`` interpolation → validation → ``Settings``.

``load(path)`` reads ``aegis.yaml`` (or the given file); with no file it builds
the built-in default: the embedded local model, plus every preset cloud
provider whose API-key variable is set. Every problem is raised as one
``ConfigError`` whose lines read ``key.path: what was expected``. A relative
``storage.url`` path in a file is resolved against that file's directory.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from aegis.budget.model import BudgetDef, parse_budgets
from aegis.catalog import CAPABILITIES, Catalog, ModelInfo, load_catalog
from aegis.config.schema import AegisConfig, DefaultsConfig, ProviderConfig, ServerConfig
from aegis.errors import ConfigError
from aegis.http import Timeouts
from aegis.ledger.store import resolve_store_url
from aegis.providers import presets
from aegis.providers.base import Capabilities, Provider, Secret
from aegis.providers.registry import Registry, default_registry
from aegis.resilience.config import PROVIDER_KEYS, ResilienceSettings, build_settings
from aegis.routing.policy import RoutingPolicy, build_policy

DEFAULT_PATH = "aegis.yaml"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True)
class Settings:
    """The validated, resolved configuration the rest of Aegis runs on."""

    server: ServerConfig
    providers: Mapping[str, Provider]
    catalog: Catalog  # only models whose provider is configured
    defaults: DefaultsConfig
    raw: AegisConfig
    source: str  # file path, or "built-in default"
    routing: RoutingPolicy = field(default_factory=RoutingPolicy)
    resilience: ResilienceSettings = field(
        default_factory=lambda: build_settings({}, {}))
    budgets: tuple[BudgetDef, ...] = ()
    notes: tuple[str, ...] = ()  # start-up remarks worth logging


def load(
    path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    registry: Registry | None = None,
) -> Settings:
    env = os.environ if env is None else env
    registry = registry or default_registry()
    if path is None and Path(DEFAULT_PATH).exists():
        path = DEFAULT_PATH
    base_dir: Path | None = None  # no file: a relative store path stays cwd-relative
    if path is None:
        data, source = default_config(env), "built-in default"
    else:
        source, base_dir = str(path), Path(path).absolute().parent
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise ConfigError(f"cannot read config file {source}: {exc.strerror}") from None
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{source}: not valid YAML ({exc})") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: the top level must be a mapping")
    return from_dict(data, env=env, registry=registry, source=source, base_dir=base_dir)


def from_dict(
    data: Mapping[str, Any],
    *,
    env: Mapping[str, str] | None = None,
    registry: Registry | None = None,
    source: str = "<dict>",
    base_dir: str | os.PathLike[str] | None = None,
) -> Settings:
    """``base_dir``: what a relative ``storage.url`` path is relative to (else the cwd)."""
    env = os.environ if env is None else env
    registry = registry or default_registry()
    problems: list[str] = []
    data = _interpolate(data, env, (), problems)
    if problems:
        raise ConfigError(_report(source, problems))
    try:
        cfg = AegisConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_report(source, [_describe(err) for err in exc.errors()])) from None

    providers: dict[str, Provider] = {}
    for name, pcfg in cfg.providers.items():
        if pcfg.enabled:
            provider = _provider(name, pcfg, registry, problems)
            if provider is not None:
                providers[name] = provider
    catalog = _servable(load_catalog(), cfg, providers, registry, problems)
    try:
        resilience = build_settings(
            cfg.resilience,
            {name: dict(pcfg.model_extra or {}) for name, pcfg in cfg.providers.items()})
    except ConfigError as exc:
        problems += exc.message.splitlines()
        resilience = build_settings({}, {})
    budgets: tuple[BudgetDef, ...] = ()
    try:
        budgets = parse_budgets(cfg.budgets)
    except ConfigError as exc:
        problems += exc.message.splitlines()
    if problems:
        raise ConfigError(_report(source, problems))
    if base_dir is not None:
        url = resolve_store_url(cfg.storage.url, base_dir)
        cfg = cfg.model_copy(update={"storage": cfg.storage.model_copy(update={"url": url})})
    policy = build_policy(cfg.routing, cfg.routes, cfg.rules, env)
    problems += _unknown_route_models(policy, cfg)
    if problems:
        raise ConfigError(_report(source, problems))
    notes: tuple[str, ...] = () if providers else (
        "no providers configured: every request will fail",)
    if policy.airgap:
        notes += ("airgap mode: only local providers will be used",)
    return Settings(cfg.server, providers, catalog, cfg.defaults, cfg, source, policy,
                    resilience, budgets, notes)


def default_config(env: Mapping[str, str]) -> dict[str, Any]:
    """The zero-configuration set-up: local model first, then keyed cloud presets."""
    providers: dict[str, Any] = {}
    if local_model_available():
        providers["local"] = {"kind": "llamacpp", "locality": "local"}
    for preset in presets.PRESETS:
        if preset.key_env and env.get(preset.key_env):
            providers[preset.name] = {"preset": preset.name, "api_key": f"${{{preset.key_env}}}"}
    return {"providers": providers}


def local_model_available() -> bool:
    from aegis.providers.llamacpp import default_model_path, runtime_available

    return runtime_available() and default_model_path() is not None


# -- helpers ------------------------------------------------------------------


def _provider(
    name: str, pcfg: ProviderConfig, registry: Registry, problems: list[str]
) -> Provider | None:
    where = f"providers.{name}"
    preset = presets.BY_NAME.get(pcfg.preset or name)
    if pcfg.preset and preset is None:
        known = ", ".join(p.name for p in presets.PRESETS)
        problems.append(f"{where}.preset: unknown preset {pcfg.preset!r} (known: {known})")
        return None
    kind = pcfg.kind or (preset.kind if preset else None)
    if kind is None:
        problems.append(f"{where}.kind: required (one of {', '.join(registry.kinds)})")
        return None
    try:
        adapter = registry.adapter_class(kind)
    except ConfigError:
        problems.append(f"{where}.kind: unknown kind {kind!r} (one of {', '.join(registry.kinds)})")
        return None
    if preset is not None and preset.kind != kind:
        preset = None  # e.g. an "ollama" provider pointed at Ollama's OpenAI-compatible /v1
    options = {k: v for k, v in (pcfg.model_extra or {}).items() if k not in PROVIDER_KEYS}
    for key in options:
        if key not in adapter.option_names:
            allowed = ", ".join(sorted(adapter.option_names)) or "none"
            problems.append(f"{where}.{key}: unknown option for kind {kind} (options: {allowed})")
    if preset is not None:
        options = {**preset.options, **options}
    base_url = pcfg.base_url or (preset.base_url if preset else "")
    if adapter.needs_http and not base_url:
        problems.append(f"{where}.base_url: required for kind {kind}")
    locality = pcfg.locality or (preset.locality if preset else adapter.default_locality)
    return Provider(
        name=name,
        kind=kind,
        base_url=base_url,
        api_key=Secret(pcfg.api_key) if pcfg.api_key else None,
        headers=dict(pcfg.headers),
        locality="local" if locality == "local" else "cloud",
        trusted_for=frozenset(pcfg.trusted_for),
        timeouts=Timeouts(
            connect=pcfg.connect_timeout_s, read=pcfg.timeout_s, total=pcfg.total_timeout_s
        ),
        options=options,
        catalog_names=frozenset({name, preset.name} if preset else {name}),
    )


# Catalog capability -> the ``Capabilities`` flag an adapter needs to honour it. One with
# no flag (``reasoning``) is the model's alone: no adapter drops it.
ADAPTER_FLAGS = {"tools": "tools", "vision": "vision", "json": "json_mode",
                 "embeddings": "embeddings", "streaming": "streaming"}


def honoured(capabilities: Capabilities) -> frozenset[str]:
    """The catalog capabilities an adapter declaring ``capabilities`` can carry upstream."""
    return CAPABILITIES - {cap for cap, flag in ADAPTER_FLAGS.items()
                           if not getattr(capabilities, flag)}


def _servable(
    catalog: Catalog, cfg: AegisConfig, providers: Mapping[str, Provider], registry: Registry,
    problems: list[str],
) -> Catalog:
    """Catalog entries re-homed onto configured providers, then the user's ``models``, each
    holding only the capabilities its provider's adapter honours: the catalog says what a
    model can do, the adapter what Aegis can ask of it (Claude does JSON, but the Anthropic
    adapter sends no JSON constraint), and routing a need to a model that would silently
    drop it is worse than refusing."""
    entries: list[ModelInfo] = []
    for provider in providers.values():
        for info in catalog:
            if info.provider in provider.catalog_names:
                entries.append(replace(info, provider=provider.name))
    overrides: list[dict[str, Any]] = []
    paths: list[str] = []
    for i, mcfg in enumerate(cfg.models):
        entry = mcfg.model_dump(exclude_none=True)
        if mcfg.provider is not None and mcfg.provider not in providers:
            known = ", ".join(providers) or "none"
            problems.append(
                f"models[{i}].provider: unknown provider {mcfg.provider!r} (configured: {known})"
            )
            continue
        overrides.append(entry)
        paths.append(f"models[{i}]")
    try:
        merged = Catalog(entries).merged(overrides, paths=paths)
    except ConfigError as exc:
        problems.append(exc.message)
        merged = Catalog(entries)
    models: list[ModelInfo] = []
    for info in merged:
        bound = providers.get(info.provider)
        if bound is not None:
            flags = registry.adapter_class(bound.kind).capabilities
            if not info.capabilities <= (allowed := honoured(flags)):
                info = replace(info, capabilities=info.capabilities & allowed)
        models.append(info)
    return Catalog(tuple(models), merged.as_of)


def _unknown_route_models(policy: RoutingPolicy, cfg: AegisConfig) -> list[str]:
    """Route members that name no model at all: a typo would otherwise load fine and
    refuse every request to that route. A known model whose provider is not configured
    here (no key set) is not a problem: the route just has fewer members."""
    known = {m.name for m in load_catalog()} | {m.name for m in cfg.models}
    problems = []
    for route in policy.routes.values():
        for i, name in enumerate(route.models):
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ";"
                problems.append(f"routes.{route.name}.models[{i}]: unknown model {name!r} "
                                f"(not in the catalog or models{hint} see `aegis models`)")
    return problems


def _interpolate(value: Any, env: Mapping[str, str], path: tuple[str, ...],
                 problems: list[str]) -> Any:
    if isinstance(value, str):
        def sub(match: re.Match[str]) -> str:
            var, default = match.group(1), match.group(2)
            if var in env:
                return env[var]
            if default is not None:
                return default
            problems.append(f"{'.'.join(path)}: environment variable {var} is not set "
                            f"(use ${{{var}:-}} to allow it to be empty)")
            return ""
        return _VAR.sub(sub, value)
    if isinstance(value, Mapping):
        return {k: _interpolate(v, env, (*path, str(k)), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, env, (*path[:-1], f"{path[-1]}[{i}]") if path else (f"[{i}]",),
                             problems) for i, v in enumerate(value)]
    return value


def _describe(err: Any) -> str:
    loc = ""
    for part in err["loc"]:
        loc += f"[{part}]" if isinstance(part, int) else (f".{part}" if loc else str(part))
    message = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        message = "unknown key"
    return f"{loc or '(top level)'}: {message}"


def _report(source: str, problems: list[str]) -> str:
    lines = "\n".join(f"  {p}" for p in problems)
    return f"invalid configuration ({source}):\n{lines}"


__all__ = ["DEFAULT_PATH", "Settings", "default_config", "from_dict", "load"]
