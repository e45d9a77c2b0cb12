"""Kind-specific provider options: the ones an adapter reads are the ones it declares,
config validation accepts them, the README lists them, and they reach the wire."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from aegis import errors
from aegis.config import from_dict
from aegis.providers.base import Provider
from aegis.providers.registry import default_registry
from aegis.types import ChatRequest, EmbeddingRequest
from tests.conftest import Gateway
from tests.fakes.anthropic import API_KEY as ANTHROPIC_KEY
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.ollama import FakeOllama
from tests.servers import free_port

README = Path(__file__).resolve().parents[2] / "README.md"
BUILTIN_KINDS = ("openai", "anthropic", "ollama", "llamacpp")


class ReadOptions(Mapping[str, Any]):
    """Provider options that remember every key the adapter looks up (``get``, ``in``,
    ``[]`` all go through ``__getitem__``); values only for the keys given."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = dict(values)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return self.values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)


async def options_read(kind: str, tmp_path: Path) -> set[str]:
    """Every option key an adapter of ``kind`` reads while serving typical requests.

    HTTP adapters talk to a closed loopback port (each call fails after building its
    request); the in-process model gets a missing file, so it fails instead of loading.
    """
    options = ReadOptions({"model_path": str(tmp_path / "missing.gguf")})
    provider = Provider(name="p", kind=kind, base_url=f"http://127.0.0.1:{free_port()}",
                        options=options)
    adapter = default_registry().build(provider)
    hi = [{"role": "user", "content": "hi"}]
    requests = [
        ChatRequest(model="m", messages=hi),
        ChatRequest(model="m", messages=hi, max_tokens=4, temperature=0.5, top_p=0.5,
                    stop=("x",), response_format={"type": "json_object"}),
    ]
    try:
        for call in (adapter.check, adapter.list_models):
            with contextlib.suppress(errors.AegisError):
                await call()
        for request in requests:
            with contextlib.suppress(errors.AegisError):
                await adapter.complete(request, "m")
            with contextlib.suppress(errors.AegisError):
                async for _ in adapter.stream(request, "m"):
                    pass
        with contextlib.suppress(errors.AegisError):
            await adapter.embed(EmbeddingRequest(model="m", input=["hi"]), "m")
    finally:
        await adapter.aclose()
    return options.read


@pytest.mark.parametrize("kind", default_registry().kinds)
async def test_every_option_an_adapter_reads_is_declared_and_accepted(
    kind: str, tmp_path: Path
) -> None:
    read = await options_read(kind, tmp_path)
    cls = default_registry().adapter_class(kind)
    assert read == cls.option_names  # declared = read: none rejected, none ignored
    config = {"kind": kind, "base_url": "http://127.0.0.1:9", **dict.fromkeys(read, "1")}
    settings = from_dict({"providers": {"p": config}}, env={})  # raises on unknown options
    assert set(settings.providers["p"].options) == read


def documented_options() -> dict[str, set[str]]:
    """README's "Kind-specific options" bullet: ``kind``: ``opt``, ``opt``; ..."""
    bullet = README.read_text().split("- Kind-specific options:", 1)[1].split("\n- ", 1)[0]
    out: dict[str, set[str]] = {}
    for part in bullet.split(";"):
        kind, *names = re.findall(r"`(\w+)`", part)
        out[kind] = set(names)
    return out


def test_readme_lists_each_builtin_kinds_options() -> None:
    registry = default_registry()
    assert documented_options() == {
        kind: set(registry.adapter_class(kind).option_names) for kind in BUILTIN_KINDS}


# -- end to end: a config with the options loads, and they show on the wire ----------------


@pytest.fixture(scope="module")
def fakes() -> Iterator[tuple[FakeAnthropic, FakeOllama]]:
    with FakeAnthropic() as anthropic, FakeOllama() as ollama:
        yield anthropic, ollama


@pytest.fixture
def opts_config(fakes: tuple[FakeAnthropic, FakeOllama]) -> dict[str, Any]:
    anthropic, ollama = fakes
    anthropic.reset()
    ollama.reset()
    return {"providers": {
        "anthropic": {"kind": "anthropic", "base_url": anthropic.base_url,
                      "api_key": ANTHROPIC_KEY, "anthropic_version": "2023-01-01",
                      "default_max_tokens": 2048},
        "ollama": {"kind": "ollama", "base_url": ollama.base_url, "locality": "local",
                   "keep_alive": "5m", "num_ctx": 8192},
    }, "models": [{"name": "llama3.2:latest", "provider": "ollama", "context_window": 131072,
                   "max_output": 8192, "capabilities": ["tools", "json", "streaming"]}]}


def test_models_command_accepts_the_documented_options(
    opts_config: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "opts.yaml"
    path.write_text(yaml.safe_dump(opts_config))
    out = subprocess.run([sys.executable, "-m", "aegis.cli", "models", "-c", str(path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "claude-haiku-4-5" in out.stdout and "llama3.2:latest" in out.stdout


def test_options_take_effect_on_the_wire(
    opts_config: dict[str, Any], fakes: tuple[FakeAnthropic, FakeOllama],
    make_gateway: Callable[[dict[str, Any]], Gateway],
) -> None:
    anthropic, ollama = fakes
    client = make_gateway(opts_config).openai()
    hi = [{"role": "user", "content": "hello"}]
    answer = client.chat.completions.create(model="claude-haiku-4-5", messages=hi)
    assert answer.choices[0].message.content == "echo: hello"
    assert anthropic.requests[-1].headers["anthropic-version"] == "2023-01-01"
    for stream in (False, True):
        reply = client.chat.completions.create(model="llama3.2:latest", messages=hi,
                                               stream=stream)
        if stream:
            assert "".join(c.choices[0].delta.content or "" for c in reply if c.choices)
        body = ollama.bodies("/api/chat")[-1]
        assert body["keep_alive"] == "5m" and body["options"]["num_ctx"] == 8192


async def test_default_max_tokens_fills_in_for_a_request_without_one(
    opts_config: dict[str, Any], fakes: tuple[FakeAnthropic, FakeOllama]
) -> None:
    """(The gateway always sends its own ``defaults.max_tokens``; the adapter's default
    serves callers that use it directly.)"""
    anthropic, _ = fakes
    settings = from_dict(opts_config, env={})
    adapter = default_registry().build(settings.providers["anthropic"])
    try:
        await adapter.complete(ChatRequest(model="claude-haiku-4-5",
                                           messages=[{"role": "user", "content": "hi"}]),
                               "claude-haiku-4-5")
    finally:
        await adapter.aclose()
    assert anthropic.bodies("/v1/messages")[-1]["max_tokens"] == 2048
