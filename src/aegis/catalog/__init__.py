"""The model catalog: what each model costs, how big it is, what it can do.

The shipped catalog is ``models.yaml`` in this package (package data; read
with ``importlib.resources``, never from the network). ``load_catalog()``
parses it once per process. User configuration adds or adjusts entries with
``Catalog.merged(overrides)``, using the same field names as the YAML file:

===========================  ==================================================
``name``                     what clients ask for (required)
``provider``                 preset name (openai, anthropic, ...) or ``local``
``model``                    upstream model id, when it differs from ``name``
``kind``                     ``chat`` (default) or ``embedding``
``input_per_mtok``           USD per million uncached input tokens
``output_per_mtok``          USD per million output tokens
``cached_input_per_mtok``    cache reads (defaults to input)
``cache_write_per_mtok``     cache creation (defaults to input)
``price_tiers``              ``[{above_tokens, input_per_mtok, ...}]``
``context_window``           tokens, prompt + output
``max_output``               the provider's output cap (chat models)
``capabilities``             subset of tools, vision, json, embeddings,
                             reasoning, streaming
``quality``                  0..1 prior (see models.yaml for its basis)
``latency``                  ``{ttft_ms, tokens_per_s}`` priors
``as_of`` / ``source``       when and where the price was read
``verified``                 whether that price was confirmed (see models.yaml)
``notes``                    free text
===========================  ==================================================
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Any

import yaml

from aegis.errors import ConfigError
from aegis.pricing import Prices, PriceTier

KINDS = ("chat", "embedding")
CAPABILITIES = frozenset({"tools", "vision", "json", "embeddings", "reasoning", "streaming"})
LOCAL_PROVIDERS = frozenset({"local", "ollama"})  # self-hosted: free unless told otherwise

_PRICE_FIELDS = (
    "input_per_mtok",
    "output_per_mtok",
    "cached_input_per_mtok",
    "cache_write_per_mtok",
)
FIELDS = frozenset(
    {
        "name",
        "provider",
        "model",
        "kind",
        *_PRICE_FIELDS,
        "price_tiers",
        "context_window",
        "max_output",
        "capabilities",
        "quality",
        "latency",
        "as_of",
        "source",
        "verified",
        "notes",
    }
)
_TIER_FIELDS = frozenset({"above_tokens", *_PRICE_FIELDS})
_LATENCY_FIELDS = frozenset({"ttft_ms", "tokens_per_s"})
# Every shipped entry must state these (as_of may come from the file level).
SHIPPED_REQUIRED = frozenset(
    {
        "name",
        "provider",
        "kind",
        "input_per_mtok",
        "output_per_mtok",
        "context_window",
        "capabilities",
        "quality",
        "latency",
        "source",
        "verified",
    }
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SNAPSHOT_SUFFIX = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8})$")

DEFAULT_QUALITY = 0.5
DEFAULT_LATENCY = {"ttft_ms": 1000, "tokens_per_s": 50.0}


@dataclass(frozen=True, slots=True)
class Latency:
    """Priors until the router has observed the model: time to first token, decode speed."""

    ttft_ms: int
    tokens_per_s: float
    per_token_ms: float = field(init=False, compare=False)  # read per candidate per request

    def __post_init__(self) -> None:
        object.__setattr__(self, "per_token_ms", 1000.0 / max(self.tokens_per_s, 0.1))


@dataclass(frozen=True, slots=True)
class ModelInfo:
    name: str
    provider: str
    upstream: str  # the id sent upstream (YAML/config field ``model``)
    kind: str
    prices: Prices
    context_window: int
    max_output: int  # 0 for embedding models
    capabilities: frozenset[str]
    quality: float
    latency: Latency
    as_of: str = ""
    source: str = ""
    verified: bool = False
    notes: str = ""

    @property
    def model(self) -> str:
        """The upstream model id (the YAML field name)."""
        return self.upstream

    @property
    def input_per_mtok(self) -> float:
        return self.prices.input

    @property
    def output_per_mtok(self) -> float:
        return self.prices.output

    @property
    def cached_input_per_mtok(self) -> float:
        return self.prices.cached_input

    @property
    def cache_write_per_mtok(self) -> float:
        return self.prices.cache_write

    @property
    def ttft_ms(self) -> int:
        return self.latency.ttft_ms

    @property
    def tokens_per_s(self) -> float:
        return self.latency.tokens_per_s

    @property
    def is_free(self) -> bool:
        return self.prices.is_free

    def supports(self, *capabilities: str) -> bool:
        return all(c in self.capabilities for c in capabilities)

    def to_dict(self) -> dict[str, Any]:
        """The entry in catalog/config field names (round-trips through ``merged``)."""
        out: dict[str, Any] = {
            "name": self.name,
            "provider": self.provider,
            "model": self.upstream,
            "kind": self.kind,
            **_prices_dict(self.prices),
            "context_window": self.context_window,
            "max_output": self.max_output,
            "capabilities": sorted(self.capabilities),
            "quality": self.quality,
            "latency": {"ttft_ms": self.latency.ttft_ms, "tokens_per_s": self.latency.tokens_per_s},
            "as_of": self.as_of,
            "source": self.source,
            "verified": self.verified,
            "notes": self.notes,
        }
        if self.prices.tiers:
            out["price_tiers"] = [
                {"above_tokens": t.above_tokens, **_prices_dict(t.prices)}
                for t in self.prices.tiers
            ]
        return out


def _prices_dict(prices: Prices) -> dict[str, float]:
    return {
        "input_per_mtok": prices.input,
        "output_per_mtok": prices.output,
        "cached_input_per_mtok": prices.cached_input,
        "cache_write_per_mtok": prices.cache_write,
    }


@dataclass(frozen=True)
class Catalog:
    """An immutable set of ``ModelInfo``; iteration keeps file order.

    Names are normally unique; when configuration serves one catalog model
    through two providers the name repeats, and ``get(name)`` returns the
    first entry (``all_named`` returns every one).
    """

    models: Sequence[ModelInfo] = ()  # stored as a tuple
    as_of: str | None = None
    _by_name: Mapping[str, tuple[ModelInfo, ...]] = field(init=False, repr=False, compare=False)
    _by_upstream: Mapping[tuple[str, str], ModelInfo] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        models = tuple(self.models)
        for m in models:
            if not isinstance(m, ModelInfo):
                raise TypeError(f"Catalog holds ModelInfo, not {type(m).__name__}")
        by_name: dict[str, list[ModelInfo]] = {}
        by_upstream: dict[tuple[str, str], ModelInfo] = {}
        for m in models:
            by_name.setdefault(m.name, []).append(m)
            key = (m.provider, m.upstream)
            # The entry named like its upstream id wins; otherwise the first one.
            if key not in by_upstream or m.name == m.upstream:
                by_upstream[key] = m
        object.__setattr__(self, "models", models)
        object.__setattr__(
            self, "_by_name", MappingProxyType({k: tuple(v) for k, v in by_name.items()})
        )
        object.__setattr__(self, "_by_upstream", MappingProxyType(by_upstream))

    # -- lookups ---------------------------------------------------------------

    def __iter__(self) -> Iterator[ModelInfo]:
        return iter(self.models)

    def __len__(self) -> int:
        return len(self.models)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> ModelInfo:
        found = self._by_name.get(name)
        if not found:
            raise KeyError(name)
        return found[0]

    def get(self, name: str) -> ModelInfo | None:
        found = self._by_name.get(name)
        return found[0] if found else None

    def all_named(self, name: str) -> tuple[ModelInfo, ...]:
        return self._by_name.get(name, ())

    def names(self) -> list[str]:
        return list(self._by_name)

    def providers(self) -> list[str]:
        return list(dict.fromkeys(m.provider for m in self.models))

    def for_provider(self, provider: str) -> tuple[ModelInfo, ...]:
        return tuple(m for m in self.models if m.provider == provider)

    def by_upstream(self, provider: str, model: str) -> ModelInfo | None:
        """The entry a provider's response ``model`` field refers to.

        Exact match first, then with a dated snapshot suffix removed
        (``gpt-4o-2024-08-06`` -> ``gpt-4o``, ``claude-x-20250929`` -> ``claude-x``).
        """
        found = self._by_upstream.get((provider, model))
        if found is None:
            base = _SNAPSHOT_SUFFIX.sub("", model)
            if base != model:
                found = self._by_upstream.get((provider, base))
        return found

    # -- user configuration ----------------------------------------------------

    def merged(self, overrides: Sequence[Mapping[str, Any]], *,
               paths: Sequence[str] | None = None) -> Catalog:
        """A new catalog with user entries applied.

        An override whose ``name`` exists replaces the fields it gives (for
        every entry of that name, or only the one on ``provider`` when it names
        one). A name served elsewhere but given a new ``provider`` copies that
        entry onto the new provider before applying the fields. A new name adds
        an entry; it needs ``provider``, ``context_window``, ``max_output``
        (chat) and prices (unless the provider is local). Unknown fields and
        bad values raise ``ConfigError`` naming the entry (``paths[i]``, default
        ``models[i]``, where it stands in the user's file) and the field.
        """
        models = list(self.models)
        for index, raw in enumerate(overrides):
            path = paths[index] if paths is not None else f"models[{index}]"
            if not isinstance(raw, Mapping):
                raise ConfigError(f"{path}: expected a mapping, got {type(raw).__name__}")
            name = raw.get("name")
            if not isinstance(name, str) or not name:
                raise ConfigError(f"{path}.name: required (a non-empty string)", param="name")
            where = f"{path} ({name!r})"
            _check_keys(raw, FIELDS, where)
            provider = raw.get("provider")
            same_name = [i for i, m in enumerate(models) if m.name == name]
            targets = [i for i in same_name if provider is None or models[i].provider == provider]
            if targets:
                for i in targets:
                    models[i] = _apply(models[i], raw, where)
            elif same_name:  # re-home a known model onto another provider
                base = replace(models[same_name[0]], provider=str(provider))
                models.append(_apply(base, raw, where))
            else:
                models.append(_new_entry(raw, where))
        return Catalog(tuple(models), self.as_of)


# -- parsing ---------------------------------------------------------------------


def _fail(where: str, key: str, problem: str) -> ConfigError:
    return ConfigError(f"{where}: field {key!r}: {problem}", param=key)


def _check_keys(raw: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    for key in raw:
        if key not in allowed:
            raise ConfigError(
                f"{where}: unknown field {key!r} (allowed: {', '.join(sorted(allowed))})",
                param=str(key),
            )


def _number(raw: Mapping[str, Any], key: str, where: str) -> float:
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(where, key, f"expected a number, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise _fail(where, key, f"must be a finite number >= 0, got {value!r}")
    return float(value)


def _integer(raw: Mapping[str, Any], key: str, where: str, *, minimum: int = 0) -> int:
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(where, key, f"expected an integer, got {value!r}")
    if value < minimum:
        raise _fail(where, key, f"must be >= {minimum}, got {value}")
    return value


def _string(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw[key]
    if not isinstance(value, str) or not value.strip():
        raise _fail(where, key, f"expected a non-empty string, got {value!r}")
    return value


def _date(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw[key]
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, str) and _DATE.match(value):
        try:
            _dt.date.fromisoformat(value)
        except ValueError:
            pass
        else:
            return value
    raise _fail(where, key, f"expected a date YYYY-MM-DD, got {value!r}")


def _prices(raw: Mapping[str, Any], where: str, base: Prices | None) -> Prices:
    """Prices from the flat ``*_per_mtok`` fields, falling back to ``base``."""

    def pick(key: str, current: float | None) -> float | None:
        return _number(raw, key, where) if key in raw else current

    inp = pick("input_per_mtok", base.input if base else None)
    out = pick("output_per_mtok", base.output if base else None)
    if inp is None or out is None:
        missing = "input_per_mtok" if inp is None else "output_per_mtok"
        raise _fail(where, missing, "required")
    # A changed input price carries unchanged "same as input" cache rates along.
    cached = pick("cached_input_per_mtok", _inherited(base, "cached_input", inp))
    write = pick("cache_write_per_mtok", _inherited(base, "cache_write", inp))
    tiers = base.tiers if base else ()
    if "price_tiers" in raw:
        tiers = _tiers(raw["price_tiers"], where)
    try:
        return Prices(inp, out, cached, write, tiers)  # type: ignore[arg-type]
    except ValueError as exc:
        raise _fail(where, "price_tiers" if tiers else "input_per_mtok", str(exc)) from None


def _inherited(base: Prices | None, attr: str, new_input: float) -> float | None:
    if base is None:
        return None
    value: float = getattr(base, attr)
    return None if value == base.input and new_input != base.input else value


def _tiers(value: Any, where: str) -> tuple[PriceTier, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _fail(where, "price_tiers", "expected a list of {above_tokens, *_per_mtok}")
    tiers: list[PriceTier] = []
    for i, item in enumerate(value):
        tier_where = f"{where} price_tiers[{i}]"
        if not isinstance(item, Mapping):
            raise _fail(where, "price_tiers", f"item {i} is not a mapping")
        _check_keys(item, _TIER_FIELDS, tier_where)
        if "above_tokens" not in item:
            raise _fail(tier_where, "above_tokens", "required")
        above = _integer(item, "above_tokens", tier_where, minimum=1)
        try:
            tiers.append(PriceTier(above, _prices(item, tier_where, None)))
        except ValueError as exc:
            raise _fail(tier_where, "above_tokens", str(exc)) from None
    return tuple(tiers)


def _capabilities(raw: Mapping[str, Any], where: str) -> frozenset[str]:
    value = raw["capabilities"]
    if isinstance(value, str) or not isinstance(value, list | tuple | set | frozenset):
        raise _fail(where, "capabilities", f"expected a list, got {value!r}")
    caps = frozenset(str(c) for c in value)
    unknown = caps - CAPABILITIES
    if unknown:
        raise _fail(
            where,
            "capabilities",
            f"unknown {', '.join(sorted(unknown))} (allowed: {', '.join(sorted(CAPABILITIES))})",
        )
    return caps


def _latency(raw: Mapping[str, Any], where: str, base: Latency | None) -> Latency:
    value = raw["latency"]
    if not isinstance(value, Mapping):
        raise _fail(where, "latency", "expected a mapping {ttft_ms, tokens_per_s}")
    _check_keys(value, _LATENCY_FIELDS, f"{where} latency")
    merged: dict[str, Any] = (
        {"ttft_ms": base.ttft_ms, "tokens_per_s": base.tokens_per_s} if base else {}
    )
    merged.update(value)
    for key in _LATENCY_FIELDS:
        if key not in merged:
            raise _fail(where, f"latency.{key}", "required")
    ttft = merged["ttft_ms"]
    tps = merged["tokens_per_s"]
    if isinstance(ttft, bool) or not isinstance(ttft, int | float) or ttft < 0:
        raise _fail(where, "latency.ttft_ms", f"expected a number >= 0, got {ttft!r}")
    if isinstance(tps, bool) or not isinstance(tps, int | float) or not tps > 0:
        raise _fail(where, "latency.tokens_per_s", f"expected a number > 0, got {tps!r}")
    return Latency(round(ttft), float(tps))


def _apply(info: ModelInfo, raw: Mapping[str, Any], where: str) -> ModelInfo:
    """``info`` with the fields present in ``raw`` replaced, then validated."""
    changes: dict[str, Any] = {}
    if "provider" in raw:
        changes["provider"] = _string(raw, "provider", where)
    if "model" in raw:
        changes["upstream"] = _string(raw, "model", where)
    if "kind" in raw:
        changes["kind"] = _kind(raw, where)
    if any(k in raw for k in (*_PRICE_FIELDS, "price_tiers")):
        changes["prices"] = _prices(raw, where, info.prices)
    if "context_window" in raw:
        changes["context_window"] = _integer(raw, "context_window", where, minimum=1)
    if "max_output" in raw:
        changes["max_output"] = _integer(raw, "max_output", where)
    if "capabilities" in raw:
        changes["capabilities"] = _capabilities(raw, where)
    if "quality" in raw:
        changes["quality"] = _quality(raw, where)
    if "latency" in raw:
        changes["latency"] = _latency(raw, where, info.latency)
    if "as_of" in raw:
        changes["as_of"] = _date(raw, "as_of", where)
    if "source" in raw:
        changes["source"] = str(raw["source"])
    if "verified" in raw:
        if not isinstance(raw["verified"], bool):
            raise _fail(where, "verified", f"expected true or false, got {raw['verified']!r}")
        changes["verified"] = raw["verified"]
    if "notes" in raw:
        changes["notes"] = str(raw["notes"] or "")
    updated = replace(info, **changes)
    _check_entry(updated, where)
    return updated


def _kind(raw: Mapping[str, Any], where: str) -> str:
    kind = raw["kind"]
    if kind not in KINDS:
        raise _fail(where, "kind", f"expected one of {', '.join(KINDS)}, got {kind!r}")
    return str(kind)


def _quality(raw: Mapping[str, Any], where: str) -> float:
    value = _number(raw, "quality", where)
    if value > 1:
        raise _fail(where, "quality", f"must be within [0, 1], got {value}")
    return value


def _check_entry(info: ModelInfo, where: str) -> None:
    if info.kind == "chat":
        if info.max_output <= 0:
            raise _fail(where, "max_output", "required (> 0) for chat models")
        if info.max_output >= info.context_window:
            raise _fail(
                where,
                "max_output",
                f"must be below context_window ({info.max_output} >= {info.context_window})",
            )
    if info.prices.cached_input > info.prices.input:
        raise _fail(where, "cached_input_per_mtok", "must not exceed input_per_mtok")
    for tier in info.prices.tiers:
        if tier.prices.cached_input > tier.prices.input:
            raise _fail(
                where, "price_tiers", f"cached rate above input in the tier above "
                f"{tier.above_tokens} tokens"
            )


def _new_entry(raw: Mapping[str, Any], where: str, *, file_as_of: str = "") -> ModelInfo:
    if "provider" not in raw:
        raise _fail(where, "provider", "required for a model not in the catalog")
    name = _string(raw, "name", where)
    provider = _string(raw, "provider", where)
    kind = _kind(raw, where) if "kind" in raw else "chat"
    free = provider in LOCAL_PROVIDERS
    base_prices = Prices(0.0, 0.0) if free else None
    needed = ["context_window"] + (["max_output"] if kind == "chat" else [])
    if not free:
        needed += ["input_per_mtok", "output_per_mtok"]
    missing = [key for key in needed if key not in raw]
    if missing:  # all at once: a user adding a model fixes them in one go
        raise ConfigError(f"{where}: a model not in the catalog needs "
                          f"{', '.join(missing)} (missing)", param=missing[0])
    seed = ModelInfo(
        name=name,
        provider=provider,
        upstream=name,
        kind=kind,
        prices=_prices(raw, where, base_prices),
        context_window=1,
        max_output=0,
        capabilities=frozenset({"streaming"}) if kind == "chat" else frozenset({"embeddings"}),
        quality=DEFAULT_QUALITY,
        latency=Latency(int(DEFAULT_LATENCY["ttft_ms"]), float(DEFAULT_LATENCY["tokens_per_s"])),
        as_of=file_as_of,
        source="user configuration",
        verified=False,
    )
    return _apply(seed, raw, where)


def parse_catalog(data: Mapping[str, Any], *, strict: bool = True) -> Catalog:
    """A catalog from the parsed YAML document (``{as_of, models: [...]}``).

    ``strict`` (the shipped file) requires every entry to state all of
    ``SHIPPED_REQUIRED`` plus ``max_output`` for chat models and ``as_of``
    (per entry or file-level), and names to be unique.
    """
    if not isinstance(data, Mapping):
        raise ConfigError("catalog: the top level must be a mapping")
    _check_keys(data, frozenset({"as_of", "models", "schema_version"}), "catalog")
    file_as_of = _date(data, "as_of", "catalog") if "as_of" in data else ""
    entries = data.get("models")
    if not isinstance(entries, list):
        raise ConfigError("catalog: 'models' must be a list")
    models: list[ModelInfo] = []
    seen: set[str] = set()
    for index, raw in enumerate(entries):
        if not isinstance(raw, Mapping):
            raise ConfigError(f"catalog models[{index}]: expected a mapping")
        name = raw.get("name")
        where = f"model {name!r}" if isinstance(name, str) else f"catalog models[{index}]"
        _check_keys(raw, FIELDS, where)
        if strict:
            required = set(SHIPPED_REQUIRED)
            if raw.get("kind") == "chat":
                required.add("max_output")
            if not file_as_of:
                required.add("as_of")
            for key in sorted(required):
                if key not in raw:
                    raise _fail(where, key, "required in the shipped catalog")
            if name in seen:
                raise _fail(where, "name", "duplicate name")
        info = _new_entry(raw, where, file_as_of=file_as_of)
        if "source" not in raw:
            info = replace(info, source="")
        seen.add(info.name)
        models.append(info)
    return Catalog(tuple(models), file_as_of or None)


def catalog_text() -> str:
    """The packaged ``models.yaml`` (package data, no network)."""
    return resources.files(__name__).joinpath("models.yaml").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    """The shipped catalog, parsed once per process."""
    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(catalog_text(), Loader=loader)  # a safe loader (C or pure)
    return parse_catalog(data, strict=True)


__all__ = [
    "CAPABILITIES",
    "FIELDS",
    "KINDS",
    "Catalog",
    "Latency",
    "ModelInfo",
    "catalog_text",
    "load_catalog",
    "parse_catalog",
]
