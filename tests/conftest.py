"""Shared fixtures: fake upstreams and a real gateway on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest

from aegis.config import Settings, from_dict
from aegis.engine import Attempt, Engine, Recorder
from aegis.gateway import GatewayApp
from aegis.keys import MasterKey
from tests.fakes.openai import FakeOpenAI
from tests.servers import ServerThread

MEMORY_STORE = "sqlite:///:memory:"  # tests keep their ledgers in memory unless they say so


class ListRecorder(Recorder):
    """Keeps every attempt the engine reports, for assertions."""

    def __init__(self) -> None:
        self.attempts: list[Attempt] = []

    def record(self, attempt: Attempt) -> None:
        self.attempts.append(attempt)


class Gateway:
    def __init__(self, settings: Settings, *, master: str | None = None) -> None:
        self.settings = settings
        self.recorder = ListRecorder()
        self.engine = Engine(settings, recorders=[self.recorder])
        app = GatewayApp(self.engine, master=MasterKey.of(master) if master else None)
        self.server = ServerThread(app, lifespan="on").start()

    @property
    def url(self) -> str:
        return self.server.url

    def openai(self, **kwargs: Any) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.url + "/v1", api_key="unused", max_retries=0,
                             **kwargs)

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture(scope="session")
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture(autouse=True)
def _reset_fakes(request: pytest.FixtureRequest) -> None:
    for name in ("fake_openai", "fake_anthropic", "fake_ollama"):
        if name in request.fixturenames:
            request.getfixturevalue(name).reset()


def openai_config(fake: FakeOpenAI, **extra: Any) -> dict[str, Any]:
    """Two OpenAI-compatible providers on one fake: they differ only by data."""
    return {
        "storage": {"url": MEMORY_STORE},
        "resilience": {"backoff": {"base_s": 0.01, "max_s": 0.02}},
        "providers": {
            "openai": {"kind": "openai", "base_url": fake.base_url, "api_key": "sk-test-openai"},
            "dashscope": {"kind": "openai", "base_url": fake.base_url,
                          "api_key": "sk-test-openai", "headers": {"x-dashscope-sse": "enable"}},
        },
        "models": [
            {"name": "gpt-4o-mini", "provider": "openai", "input_per_mtok": 0.15,
             "output_per_mtok": 0.60, "cached_input_per_mtok": 0.075, "context_window": 128000,
             "max_output": 16384, "capabilities": ["tools", "vision", "json"]},
            {"name": "qwen-plus", "provider": "dashscope", "input_per_mtok": 0.4,
             "output_per_mtok": 1.2, "context_window": 131072, "max_output": 8192,
             "capabilities": ["tools", "json"]},
            {"name": "text-embedding-3-small", "provider": "openai", "kind": "embedding",
             "input_per_mtok": 0.02, "output_per_mtok": 0, "context_window": 8191,
             "max_output": 1, "capabilities": ["embeddings"]},
        ],
        **extra,
    }


@pytest.fixture
def make_gateway() -> Iterator[Callable[..., Gateway]]:
    started: list[Gateway] = []

    def make(config: dict[str, Any], *, master: str | None = None) -> Gateway:
        config = {"storage": {"url": MEMORY_STORE}, **config}
        gateway = Gateway(from_dict(config, env={}), master=master)
        started.append(gateway)
        return gateway

    yield make
    for gateway in started:
        gateway.stop()


@pytest.fixture
def gateway(fake_openai: FakeOpenAI, make_gateway: Callable[[dict[str, Any]], Gateway]) -> Gateway:
    return make_gateway(openai_config(fake_openai))
