"""``build_client`` picks ``FastClient`` unless a proxy applies or it is overridden."""

from __future__ import annotations

import pytest

from aegis.http.factory import ENV_VAR, build_client, proxy_for
from aegis.http.fast import FastClient
from aegis.http.httpx_client import HttpxClient

PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.delenv(ENV_VAR, raising=False)


def test_fast_by_default() -> None:
    assert isinstance(build_client("https://api.openai.com/v1"), FastClient)
    assert isinstance(build_client("http://127.0.0.1:11434"), FastClient)


def test_proxy_in_the_environment_selects_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    assert proxy_for("https://api.openai.com/v1") == "http://127.0.0.1:3128"
    assert isinstance(build_client("https://api.openai.com/v1"), HttpxClient)
    # an https proxy says nothing about plain http URLs
    assert isinstance(build_client("http://127.0.0.1:8000/v1"), FastClient)


def test_lower_case_and_all_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:3128")
    assert isinstance(build_client("http://example.internal/v1"), HttpxClient)
    monkeypatch.delenv("http_proxy")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:3128")
    assert isinstance(build_client("https://api.anthropic.com"), HttpxClient)


def test_no_proxy_bypass_keeps_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1,.openai.com")
    assert proxy_for("https://api.openai.com/v1") is None
    assert isinstance(build_client("https://api.openai.com/v1"), FastClient)
    assert isinstance(build_client("http://127.0.0.1:11434"), FastClient)
    assert isinstance(build_client("https://api.anthropic.com"), HttpxClient)


def test_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "httpx")
    assert isinstance(build_client("https://api.openai.com/v1"), HttpxClient)
    monkeypatch.setenv(ENV_VAR, "fast")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    assert isinstance(build_client("https://api.openai.com/v1"), FastClient)
    monkeypatch.setenv(ENV_VAR, "curl")
    with pytest.raises(ValueError, match=ENV_VAR):
        build_client("https://api.openai.com/v1")
