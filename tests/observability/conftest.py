"""An observed gateway, wired as ``create_app`` wires it: the engine reports to
``Observability`` (recorders, routing hooks, budget and ledger sources) and the app wraps
itself in it."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from aegis.config import Settings, from_dict
from aegis.engine import Engine
from aegis.gateway import GatewayApp
from aegis.observability import Observability, configure_logging, configure_tracing
from tests.conftest import openai_config
from tests.fakes.openai import FakeOpenAI
from tests.servers import ServerThread


@pytest.fixture
def restore_root() -> Iterator[None]:
    """Put the root logger's handlers and level back after a test configures logging."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


class LogCapture:
    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        rows = [json.loads(line) for line in self.text.splitlines() if line.strip()]
        return [r for r in rows if name is None or r["event"] == name]


@pytest.fixture
def log_capture() -> Iterator[LogCapture]:
    """JSON logs of everything (DEBUG and up) into a buffer; the root logger is restored.

    The test's own OpenAI SDK client is held at INFO: what *it* logs at DEBUG is the
    client's business, not the gateway's."""
    root, sdk = logging.getLogger(), logging.getLogger("openai")
    levels = root.level, sdk.level
    stream = io.StringIO()
    handler = configure_logging("json", "DEBUG", stream=stream)
    sdk.setLevel(logging.INFO)
    yield LogCapture(stream)
    root.removeHandler(handler)
    root.setLevel(levels[0])
    sdk.setLevel(levels[1])


class Observed:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.spans = InMemorySpanExporter()
        self.obs = Observability.from_settings(
            settings,
            tracing=configure_tracing(True, self.spans, settings=settings, batch=False))
        self.engine = Engine(settings, observability=self.obs)  # wired as create_app wires it
        # wired as create_app wires it: the app wraps itself in ``obs``
        self.server = ServerThread(GatewayApp(self.engine, observability=self.obs),
                                   lifespan="on").start()

    @property
    def url(self) -> str:
        return self.server.url


def observed_config(fake: FakeOpenAI) -> dict[str, Any]:
    """openai (cloud) and dashscope (cloud, trusted for PII): PHI has nowhere to go.

    Route ``chat`` tries gpt-4o-mini, then qwen-plus (both served by the fake). Three
    failures in a row (a try and its two retries) open a circuit."""
    config = openai_config(fake, routes={"chat": {"models": ["gpt-4o-mini", "qwen-plus"]}})
    config["providers"]["dashscope"]["trusted_for"] = ["pii"]
    config["providers"]["openai"]["breaker"] = {"failure_threshold": 3}
    return config


@pytest.fixture
def observed(fake_openai: FakeOpenAI) -> Iterator[Observed]:
    gateway = Observed(from_dict(observed_config(fake_openai), env={}))
    yield gateway
    gateway.server.stop()
