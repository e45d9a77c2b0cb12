"""The shipped catalog file, its loader, lookups, and user overrides."""

from __future__ import annotations

import dataclasses
import datetime as dt
from importlib import resources
from typing import Any

import pytest
import yaml

from aegis.catalog import (
    CAPABILITIES,
    FIELDS,
    Catalog,
    Latency,
    ModelInfo,
    catalog_text,
    load_catalog,
    parse_catalog,
)
from aegis.errors import ConfigError
from aegis.pricing import Prices
from aegis.providers.presets import BY_NAME, PRESETS

RAW: dict[str, Any] = yaml.safe_load(catalog_text())
ENTRIES: list[dict[str, Any]] = RAW["models"]
REQUIRED = {
    "name", "provider", "kind", "input_per_mtok", "output_per_mtok", "context_window",
    "capabilities", "quality", "latency", "source", "verified",
}
PRICE_KEYS = ("input_per_mtok", "output_per_mtok", "cached_input_per_mtok",
              "cache_write_per_mtok")


def _id(entry: dict[str, Any]) -> str:
    return str(entry.get("name"))


# -- the shipped file ------------------------------------------------------------


def test_packaged_as_data_inside_the_package() -> None:
    path = resources.files("aegis.catalog").joinpath("models.yaml")
    assert path.is_file()
    # Under src/aegis, so hatchling's `packages = ["src/aegis"]` ships it.
    assert "aegis" in str(path) and str(path).endswith("catalog/models.yaml")


def test_enough_models_and_providers() -> None:
    assert len(ENTRIES) >= 35
    providers = {e["provider"] for e in ENTRIES}
    assert len(providers) >= 5
    assert providers <= set(BY_NAME) | {"local"}


@pytest.mark.parametrize("entry", ENTRIES, ids=_id)
def test_every_entry_is_complete_and_sane(entry: dict[str, Any]) -> None:
    missing = REQUIRED - set(entry)
    assert not missing, f"missing {missing}"
    assert set(entry) <= FIELDS
    assert entry["kind"] in ("chat", "embedding")
    for key in PRICE_KEYS:
        if key in entry:
            assert isinstance(entry[key], int | float) and entry[key] >= 0, key
    assert entry.get("cached_input_per_mtok", entry["input_per_mtok"]) <= entry["input_per_mtok"]
    for tier in entry.get("price_tiers", []):
        assert tier["above_tokens"] > 0
        assert tier.get("cached_input_per_mtok", tier["input_per_mtok"]) <= tier["input_per_mtok"]
        # a long-prompt tier never makes tokens cheaper
        assert tier["input_per_mtok"] >= entry["input_per_mtok"]
        assert tier["output_per_mtok"] >= entry["output_per_mtok"]
    if entry["kind"] == "chat":
        assert entry["context_window"] > entry["max_output"] > 0
        assert "embeddings" not in entry["capabilities"]
    else:
        assert entry["context_window"] > 0
        assert entry["capabilities"] == ["embeddings"]
    assert 0 <= entry["quality"] <= 1
    assert set(entry["capabilities"]) <= CAPABILITIES
    assert set(entry["latency"]) == {"ttft_ms", "tokens_per_s"}
    assert entry["latency"]["ttft_ms"] >= 0 and entry["latency"]["tokens_per_s"] > 0
    assert entry["source"].startswith("https://")
    assert isinstance(entry["verified"], bool)
    as_of = entry.get("as_of", RAW["as_of"])
    assert isinstance(as_of, dt.date) and as_of <= RAW["as_of"]


def test_names_are_unique() -> None:
    names = [e["name"] for e in ENTRIES]
    assert len(names) == len(set(names))


def test_local_models_are_free() -> None:
    for info in load_catalog():
        if info.provider in ("ollama", "local"):
            assert info.is_free, info.name
        else:
            assert info.prices.input > 0, info.name


def test_aliases_of_one_upstream_model_share_prices() -> None:
    by_upstream: dict[tuple[str, str], ModelInfo] = {}
    for info in load_catalog():
        first = by_upstream.setdefault((info.provider, info.upstream), info)
        assert first.prices == info.prices, (first.name, info.name)


def test_the_models_the_gateway_promises_are_there() -> None:
    catalog = load_catalog()
    expected = {
        "openai": ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "o3",
                   "o4-mini", "text-embedding-3-small", "text-embedding-3-large"],
        "mistral": ["mistral-large-latest", "mistral-medium-latest", "mistral-small-latest",
                    "codestral-latest", "mistral-embed"],
        "dashscope": ["qwen-max", "qwen-plus", "qwen-turbo", "qwen-flash", "qwen3-coder-plus",
                      "text-embedding-v3"],
        "deepseek": ["deepseek-chat", "deepseek-reasoner"],
        "ollama": ["llama3.2:3b", "llama3.1:8b", "qwen2.5:7b", "qwen2.5-coder:7b", "gemma3:4b",
                   "mistral:7b", "nomic-embed-text"],
        "local": ["smollm2-135m"],
    }
    for provider, names in expected.items():
        for name in names:
            info = catalog.get(name)
            assert info is not None and info.provider == provider, name
    anthropic = {m.name for m in catalog.for_provider("anthropic")}
    for family in ("opus", "sonnet", "haiku"):
        assert any(family in n for n in anthropic), family
    together = " ".join(m.upstream.lower() for m in catalog.for_provider("together"))
    for family in ("llama", "qwen", "deepseek"):
        assert family in together
    assert len(catalog.for_provider("groq")) >= 2


def test_every_keyed_preset_has_models_to_serve() -> None:
    """Setting a preset's key variable (the zero-config path) must serve something."""
    catalog = load_catalog()
    for preset in PRESETS:
        if preset.key_env:
            assert catalog.for_provider(preset.name), preset.key_env


def test_loaded_catalog_matches_the_file() -> None:
    catalog = load_catalog()
    assert load_catalog() is catalog  # parsed once per process
    assert len(catalog) == len(ENTRIES)
    assert [m.name for m in catalog] == [e["name"] for e in ENTRIES]  # file order
    assert catalog.as_of == RAW["as_of"].isoformat()
    gpt = catalog["gpt-4o"]
    assert gpt.prices == Prices(2.5, 10.0, 1.25, 2.5)
    assert gpt.input_per_mtok == 2.5 and gpt.cached_input_per_mtok == 1.25
    assert gpt.cache_write_per_mtok == 2.5  # defaults to input
    assert gpt.upstream == gpt.model == "gpt-4o"
    assert gpt.capabilities == frozenset({"tools", "vision", "json", "streaming"})
    assert gpt.supports("tools", "vision") and not gpt.supports("reasoning")
    assert isinstance(gpt.latency, Latency) and gpt.ttft_ms == gpt.latency.ttft_ms
    haiku = catalog["claude-haiku-5-5"]
    assert haiku.prices.cache_write == 0.125
    assert [t.above_tokens for t in haiku.prices.tiers] == [100_000]
    assert catalog["deepseek-chat"].upstream == "deepseek-v4-flash"
    assert catalog["text-embedding-3-small"].max_output == 0


def test_model_info_is_frozen() -> None:
    info = load_catalog()["gpt-4o"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.quality = 1.0  # type: ignore[misc]
    assert dataclasses.replace(info, provider="azure").provider == "azure"


# -- lookups -----------------------------------------------------------------------


def test_lookups() -> None:
    catalog = load_catalog()
    assert "gpt-4o" in catalog and "no-such-model" not in catalog
    assert catalog.get("no-such-model") is None
    with pytest.raises(KeyError):
        catalog["no-such-model"]
    assert catalog.by_upstream("openai", "gpt-4o").name == "gpt-4o"  # type: ignore[union-attr]
    # dated snapshots that providers echo back resolve to the catalog entry
    assert catalog.by_upstream("openai", "gpt-4o-2024-08-06").name == "gpt-4o"  # type: ignore[union-attr]
    assert catalog.by_upstream("anthropic", "claude-haiku-4-5-20251001").name == "claude-haiku-4-5"  # type: ignore[union-attr]
    assert catalog.by_upstream("anthropic", "gpt-4o") is None
    # several names for one upstream id: the one named like it wins
    assert catalog.by_upstream("deepseek", "deepseek-v4-flash").name == "deepseek-v4-flash"  # type: ignore[union-attr]
    upstream = catalog.by_upstream("together", "meta-llama/Llama-3.3-70B-Instruct-Turbo")
    assert upstream is not None and upstream.name == "together/llama-3.3-70b"
    assert set(catalog.providers()) >= {"openai", "anthropic", "ollama", "local"}
    assert catalog.names()[0] == ENTRIES[0]["name"]


def test_duplicate_names_from_rehoming_are_kept() -> None:
    info = load_catalog()["gpt-4o"]
    catalog = Catalog([info, dataclasses.replace(info, provider="openai-eu")])
    assert len(catalog) == 2
    assert catalog["gpt-4o"].provider == "openai"
    assert [m.provider for m in catalog.all_named("gpt-4o")] == ["openai", "openai-eu"]


def test_to_dict_round_trips() -> None:
    catalog = load_catalog()
    rebuilt = Catalog().merged([m.to_dict() for m in catalog])
    assert list(rebuilt) == list(catalog)


# -- overrides -----------------------------------------------------------------------


def test_override_replaces_only_given_fields() -> None:
    base = load_catalog()
    merged = base.merged([{"name": "gpt-4o", "input_per_mtok": 3.0, "quality": 0.9}])
    new, old = merged["gpt-4o"], base["gpt-4o"]
    assert new.prices.input == 3.0 and new.quality == 0.9
    assert new.prices.output == old.prices.output
    assert new.prices.cached_input == 1.25  # explicitly priced: kept
    assert new.prices.cache_write == 3.0  # was "same as input": follows input
    assert new.context_window == old.context_window and new.source == old.source
    assert base["gpt-4o"].prices.input == 2.5  # the original is untouched
    assert len(merged) == len(base)


def test_override_latency_merges_and_tiers_replace() -> None:
    merged = load_catalog().merged([
        {"name": "claude-haiku-5-5", "latency": {"ttft_ms": 250}, "price_tiers": []},
    ])
    info = merged["claude-haiku-5-5"]
    assert info.latency == Latency(250, 150.0)
    assert info.prices.tiers == ()


def test_override_scoped_to_a_provider_and_rehoming() -> None:
    info = load_catalog()["gpt-4o"]
    catalog = Catalog([info, dataclasses.replace(info, provider="openai-eu")])
    scoped = catalog.merged([{"name": "gpt-4o", "provider": "openai-eu", "quality": 0.1}])
    assert [m.quality for m in scoped.all_named("gpt-4o")] == [info.quality, 0.1]
    everywhere = catalog.merged([{"name": "gpt-4o", "quality": 0.2}])
    assert [m.quality for m in everywhere.all_named("gpt-4o")] == [0.2, 0.2]
    rehomed = catalog.merged([{"name": "gpt-4o", "provider": "azure", "model": "my-4o"}])
    azure = rehomed.all_named("gpt-4o")[-1]
    assert (azure.provider, azure.upstream, azure.prices) == ("azure", "my-4o", info.prices)


def test_new_entry_with_defaults() -> None:
    merged = load_catalog().merged([{
        "name": "my-vllm-llama", "provider": "vllm", "model": "meta-llama/Llama-3.1-8B",
        "input_per_mtok": 0, "output_per_mtok": 0, "context_window": 32768, "max_output": 4096,
    }])
    info = merged["my-vllm-llama"]
    assert info.upstream == "meta-llama/Llama-3.1-8B" and info.kind == "chat"
    assert info.capabilities == frozenset({"streaming"})
    assert 0 <= info.quality <= 1 and info.latency.tokens_per_s > 0
    assert info.verified is False and info.is_free
    ollama = load_catalog().merged([
        {"name": "phi4-mini", "provider": "ollama", "context_window": 131072, "max_output": 8192},
    ])
    assert ollama["phi4-mini"].is_free  # local providers need no prices
    embed = load_catalog().merged([{
        "name": "bge-m3", "provider": "ollama", "kind": "embedding", "context_window": 8192,
    }])
    assert embed["bge-m3"].capabilities == frozenset({"embeddings"})


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"name": "gpt-4o", "inptu_per_mtok": 1.0}, "inptu_per_mtok"),
        ({"name": "gpt-4o", "input_per_mtok": -1}, "input_per_mtok"),
        ({"name": "gpt-4o", "input_per_mtok": "cheap"}, "input_per_mtok"),
        ({"name": "gpt-4o", "quality": 1.5}, "quality"),
        ({"name": "gpt-4o", "capabilities": ["tools", "telepathy"]}, "capabilities"),
        ({"name": "gpt-4o", "capabilities": "tools"}, "capabilities"),
        ({"name": "gpt-4o", "max_output": 200000}, "max_output"),
        ({"name": "gpt-4o", "context_window": 0}, "context_window"),
        ({"name": "gpt-4o", "cached_input_per_mtok": 99.0}, "cached_input_per_mtok"),
        ({"name": "gpt-4o", "kind": "image"}, "kind"),
        ({"name": "gpt-4o", "latency": {"ttft_ms": -5}}, "latency.ttft_ms"),
        ({"name": "gpt-4o", "latency": {"speed": 5}}, "speed"),
        ({"name": "gpt-4o", "verified": "yes"}, "verified"),
        ({"name": "gpt-4o", "as_of": "last week"}, "as_of"),
        ({"name": "gpt-4o", "price_tiers": [{"input_per_mtok": 1, "output_per_mtok": 1}]},
         "above_tokens"),
        ({"name": "brand-new", "provider": "acme", "context_window": 8192, "max_output": 1024},
         "input_per_mtok"),
        ({"name": "brand-new", "provider": "acme", "input_per_mtok": 1, "output_per_mtok": 1,
          "context_window": 8192}, "max_output"),
        ({"name": "brand-new", "input_per_mtok": 1}, "provider"),
    ],
)
def test_bad_override_names_entry_and_field(override: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_catalog().merged([override])
    assert repr(override["name"]) in info.value.message
    assert field in info.value.message
    assert info.value.param is not None and info.value.param.split(".")[0] in field


def test_override_without_a_name() -> None:
    with pytest.raises(ConfigError, match=r"models\[1\]\.name"):
        load_catalog().merged([{"name": "gpt-4o"}, {"quality": 0.3}])


# -- the strict parser ----------------------------------------------------------------


def _minimal(**extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": "m", "provider": "openai", "kind": "chat", "input_per_mtok": 1,
        "output_per_mtok": 2, "context_window": 1000, "max_output": 100,
        "capabilities": ["streaming"], "quality": 0.5,
        "latency": {"ttft_ms": 100, "tokens_per_s": 10}, "source": "https://x", "verified": True,
    }
    entry.update(extra)
    return entry


def test_strict_parser_requires_every_field() -> None:
    assert len(parse_catalog({"as_of": "2026-01-01", "models": [_minimal()]})) == 1
    broken = _minimal()
    del broken["quality"]
    with pytest.raises(ConfigError, match=r"'m'.*'quality'"):
        parse_catalog({"as_of": "2026-01-01", "models": [broken]})
    with pytest.raises(ConfigError, match="as_of"):
        parse_catalog({"models": [_minimal()]})
    with pytest.raises(ConfigError, match="duplicate"):
        parse_catalog({"as_of": "2026-01-01", "models": [_minimal(), _minimal()]})
    with pytest.raises(ConfigError, match="unknown field 'extra'"):
        parse_catalog({"as_of": "2026-01-01", "models": [_minimal(extra=1)]})
