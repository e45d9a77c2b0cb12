"""Configuration: interpolation, validation messages, defaults, and the CLI's exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from aegis.config import default_config, from_dict, load
from aegis.errors import ConfigError


def test_env_interpolation_with_defaults():
    settings = from_dict(
        {"providers": {
            "dashscope": {"kind": "openai", "api_key": "${DASH_KEY}",
                          "base_url": "${DASH_URL:-https://dashscope-intl.aliyuncs.com/compatible-mode/v1}"},
        }},
        env={"DASH_KEY": "sk-dash"},
    )
    provider = settings.providers["dashscope"]
    assert provider.api_key is not None and provider.api_key.reveal() == "sk-dash"
    assert provider.base_url.endswith("/compatible-mode/v1")
    assert "sk-dash" not in repr(provider)


def test_missing_variable_names_the_path_and_variable():
    with pytest.raises(ConfigError) as info:
        from_dict({"providers": {"openai": {"api_key": "${NOPE_KEY}"}}}, env={})
    assert "providers.openai.api_key: environment variable NOPE_KEY is not set" in str(info.value)


def test_bad_url_names_the_key_path():
    with pytest.raises(ConfigError) as info:
        from_dict({"providers": {"openai": {"kind": "openai", "base_url": "ftp:/x"}}}, env={})
    assert "providers.openai.base_url: not a URL" in str(info.value)


def test_unknown_keys_and_kinds_are_reported_together():
    with pytest.raises(ConfigError) as info:
        from_dict({
            "providers": {
                "a": {"kind": "nonsense", "base_url": "http://127.0.0.1:1"},
                "b": {"kind": "openai", "base_url": "http://127.0.0.1:1", "modle": "x"},
            },
            "sever": {"port": 1},
        }, env={})
    text = str(info.value)
    assert "sever: unknown key" in text


def test_kind_specific_options_are_checked():
    with pytest.raises(ConfigError) as info:
        from_dict({"providers": {
            "b": {"kind": "openai", "base_url": "http://127.0.0.1:1", "modle_path": "x"}}}, env={})
    assert "providers.b.modle_path: unknown option for kind openai" in str(info.value)


def test_unknown_kind_lists_known_ones():
    with pytest.raises(ConfigError) as info:
        from_dict({"providers": {"a": {"kind": "nonsense", "base_url": "http://127.0.0.1:1"}}},
                  env={})
    assert "providers.a.kind: unknown kind 'nonsense'" in str(info.value)
    assert "anthropic" in str(info.value)


def test_model_entry_must_name_a_configured_provider():
    with pytest.raises(ConfigError) as info:
        from_dict({"providers": {}, "models": [{"name": "m", "provider": "ghost"}]}, env={})
    assert "models[0].provider: unknown provider 'ghost'" in str(info.value)


def test_route_members_must_name_known_models():
    providers = {"openai": {"preset": "openai", "api_key": "sk-x"}}
    with pytest.raises(ConfigError) as info:
        from_dict({"providers": providers,
                   "routes": {"r1": {"models": ["gpt-4o-mini", "gpt-4o-mni"]}}}, env={})
    assert ("routes.r1.models[1]: unknown model 'gpt-4o-mni' (not in the catalog or models; "
            "did you mean 'gpt-4o-mini'? see `aegis models`)") in str(info.value)
    # a catalog model whose provider is not configured here, and the user's own model: fine
    settings = from_dict({"providers": providers, "routes": {"r2": {"models": [
        "gpt-4o-mini", "claude-haiku-4-5", "mine"]}}, "models": [
        {"name": "mine", "provider": "openai", "context_window": 8000, "max_output": 1000,
         "input_per_mtok": 1, "output_per_mtok": 2}]},
        env={})
    assert settings.routing.routes["r2"].models == ("gpt-4o-mini", "claude-haiku-4-5", "mine")


def test_a_new_model_lists_everything_it_lacks_at_its_key_path():
    providers = {"mine": {"kind": "openai", "base_url": "http://127.0.0.1:9/v1"}}
    with pytest.raises(ConfigError) as info:
        from_dict({"providers": providers, "models": [
            {"name": "ok-model", "provider": "mine", "context_window": 8000, "max_output": 100,
             "input_per_mtok": 1, "output_per_mtok": 1},
            {"name": "my-model", "provider": "mine"}]}, env={})
    assert ("models[1] ('my-model'): a model not in the catalog needs context_window, "
            "max_output, input_per_mtok, output_per_mtok (missing)") in str(info.value)


def test_presets_make_cloud_providers_data_only():
    settings = from_dict({"providers": {"together": {"api_key": "k"}, "groq": {"api_key": "k"}}},
                         env={})
    assert settings.providers["together"].base_url == "https://api.together.xyz/v1"
    assert settings.providers["together"].kind == settings.providers["groq"].kind == "openai"
    assert settings.providers["together"].locality == "cloud"


def test_presets_carry_the_options_their_service_needs_and_config_overrides_them():
    settings = from_dict({"providers": {
        "openai": {"api_key": "k"}, "mistral": {"api_key": "k"},
        "together": {"api_key": "k"},
        "legacy": {"preset": "openai", "api_key": "k", "max_tokens_field": "max_tokens"}}},
        env={})
    options = {name: dict(p.options) for name, p in settings.providers.items()}
    assert options == {"openai": {"max_tokens_field": "max_completion_tokens"},
                       "mistral": {"stream_usage": False}, "together": {},
                       "legacy": {"max_tokens_field": "max_tokens"}}


def test_locality_defaults_fail_closed():
    settings = from_dict({"providers": {
        "vllm": {"kind": "openai", "base_url": "http://10.0.0.5:8000/v1"}}}, env={})
    assert settings.providers["vllm"].locality == "cloud"


def test_default_config_adds_keyed_cloud_presets_only():
    data = default_config({"DASHSCOPE_API_KEY": "k", "OPENAI_API_KEY": ""})
    assert "dashscope" in data["providers"]
    assert "openai" not in data["providers"]


def test_user_models_override_catalog_prices():
    settings = from_dict({
        "providers": {"openai": {"api_key": "k"}},
        "models": [{"name": "gpt-4o-mini", "input_per_mtok": 9.0}],
    }, env={})
    info = settings.catalog.get("gpt-4o-mini")
    assert info is not None and info.prices.input == 9.0 and info.provider == "openai"


def test_load_reads_yaml_file(tmp_path: Path):
    path = tmp_path / "aegis.yaml"
    path.write_text("server: {port: 4100}\nproviders:\n  openai: {api_key: k}\n")
    settings = load(path, env={})
    assert settings.server.port == 4100 and "openai" in settings.providers


def test_a_relative_store_path_is_relative_to_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    (tmp_path / "conf").mkdir()
    monkeypatch.chdir(tmp_path)
    conf = Path.cwd() / "conf"  # as the OS spells it (tmp_path may be behind a symlink)
    path = conf / "aegis.yaml"

    def url(storage: str) -> str:
        path.write_text(f"storage: {{url: '{storage}'}}\n")
        return load("conf/aegis.yaml", env={}).raw.storage.url

    assert url("sqlite:///aegis.db") == f"sqlite:///{conf}/aegis.db"
    assert url("sqlite:///data/a.db") == f"sqlite:///{conf}/data/a.db"
    assert url("sqlite:////srv/a.db") == "sqlite:////srv/a.db"
    assert url("sqlite:///:memory:") == "sqlite:///:memory:"
    path.write_text("server: {port: 4100}\n")  # the default store, too
    assert load(path, env={}).raw.storage.url == f"sqlite:///{conf}/aegis.db"
    # no config file: relative to the cwd, as before
    assert load(None, env={}).raw.storage.url == "sqlite:///aegis.db"
    assert from_dict({}, env={}).raw.storage.url == "sqlite:///aegis.db"


def test_serve_exits_non_zero_before_binding_on_bad_config(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text("providers:\n  openai: {kind: openai, base_url: nope}\n")
    proc = subprocess.run([sys.executable, "-m", "aegis.cli", "serve", "--config", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "providers.openai.base_url: not a URL" in proc.stderr
