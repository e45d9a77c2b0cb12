"""Health: passive from attempts, active probes (fake callables and a real loopback server)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator

import pytest

from aegis import errors
from aegis.http import Timeouts
from aegis.providers.base import Provider
from aegis.providers.registry import default_registry
from aegis.records import Attempt
from aegis.resilience import (
    BreakerConfig,
    CircuitBreaker,
    HealthConfig,
    HealthMonitor,
    State,
    adapter_probe,
)
from aegis.types import Usage


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeProbe:
    """A probe that can be switched between answering, failing and hanging."""

    def __init__(self) -> None:
        self.mode = "up"
        self.calls = 0

    async def __call__(self) -> list[str]:
        self.calls += 1
        if self.mode == "hang":
            await asyncio.sleep(3600)
        if self.mode == "down":
            raise errors.UpstreamUnavailable("connection refused", provider="x")
        if self.mode == "bad_request":
            raise errors.UpstreamBadRequest("404 on /models", provider="x", upstream_status=404)
        if self.mode == "bug":
            raise RuntimeError("probe bug")
        return ["m"]


def attempt(provider: str, status: str = "ok", kind: str | None = None) -> Attempt:
    return Attempt(request_id="r", started_at=0, provider=provider, model="m", route="r",
                   reason="x", attempt=0, streamed=False, status=status, usage=Usage(),
                   cost_usd=0, latency_ms=1, ttft_ms=None, error_kind=kind)


def monitor(probes: dict[str, FakeProbe] | None = None, providers: tuple[str, ...] = ("a", "b"),
            clock: Clock | None = None, **health: object) -> HealthMonitor:
    clock = clock or Clock()
    cfg = HealthConfig(**{"active": True, "interval_s": 0.01, "timeout_s": 0.2,  # type: ignore[arg-type]
                          "failure_threshold": 2, **health})
    breaker = CircuitBreaker(BreakerConfig(failure_threshold=2, cooldown_s=30), clock=clock,
                             probe_failure_threshold=cfg.failure_threshold)
    return HealthMonitor(breaker, providers, probes, cfg, clock=clock, recent_s=60)


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``predicate`` (bounded): generous for a loaded CI machine, quick when it holds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            return False
        await asyncio.sleep(0.005)
    return True


def health_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("aegis-health:")]


# -- passive ---------------------------------------------------------------------------


def test_unknown_until_something_is_seen_and_unknown_is_ready() -> None:
    m = monitor()
    assert m.status() == {"a": "unknown", "b": "unknown"}
    assert m.ready()


def test_passive_health_from_traffic() -> None:
    clock = Clock()
    m = monitor(clock=clock)
    m.record(attempt("a"))
    assert m.status()["a"] == "healthy"
    clock.now += 1
    m.record(attempt("a", "error", "timeout"))
    assert m.status()["a"] == "degraded"
    clock.now += 1
    m.record(attempt("a"))
    assert m.status()["a"] == "healthy"
    clock.now += 1
    m.record(attempt("a", "error", "bad_request"))  # the client's fault, not the provider's
    m.record(attempt("a", "cancelled", "client_disconnected"))
    assert m.status()["a"] == "healthy"
    m.record(attempt("a", "error", "unavailable"))
    assert m.status()["a"] == "degraded"
    clock.now += 61
    assert m.status()["a"] == "healthy"  # that failure is no longer recent
    m.record(attempt("unconfigured"))
    assert "unconfigured" not in m.status()


def test_open_circuits_show_and_block_readiness() -> None:
    m = monitor()
    for model in ("m1", "m2"):
        for _ in range(2):
            m.breaker.on_failure(("a", model), "timeout")
    m.breaker.on_failure(("b", "m1"), "timeout")
    m.breaker.on_failure(("b", "m1"), "timeout")
    m.breaker.allow(("b", "m2")).success()
    assert m.status() == {"a": "open", "b": "degraded"}
    assert m.ready()
    for _ in range(2):
        m.breaker.on_failure(("b", "m2"), "timeout")
    assert m.status() == {"a": "open", "b": "open"}
    assert not m.ready()
    assert m.snapshot()["status"] == "unavailable"


def test_no_providers_is_not_ready() -> None:
    assert not monitor(providers=()).ready()


# -- active, with fake probes ---------------------------------------------------------------


async def test_probe_results_feed_the_breaker() -> None:
    clock = Clock()
    probe = FakeProbe()
    m = monitor({"a": probe}, clock=clock)
    assert await m.probe_once("a")
    assert m.status()["a"] == "healthy"
    probe.mode = "down"
    assert not await m.probe_once("a")
    assert m.status()["a"] == "degraded"
    assert m.breaker.allow(("a", "m"))  # one failed probe: not yet
    assert not await m.probe_once("a")
    assert m.status()["a"] == "unreachable" and m.status()["b"] == "unknown"
    reason = m.breaker.down_reason(("a", "any-model")) or ""
    assert reason.startswith("provider unreachable: circuit open until")
    assert "2 failed health probes (last: unavailable)" in reason
    probe.mode = "up"
    assert await m.probe_once("a")
    assert m.breaker.state(("a", "m")) is State.OPEN  # still cooling down
    assert m.status()["a"] == "open"
    clock.now += 30
    assert m.breaker.state(("a", "m")) is State.HALF_OPEN
    assert await m.probe_once("a")  # a passing probe while half-open closes it
    assert m.breaker.state(("a", "m")) is State.CLOSED
    assert m.status()["a"] == "healthy"


async def test_a_hanging_probe_times_out() -> None:
    probe = FakeProbe()
    probe.mode = "hang"
    m = monitor({"a": probe}, timeout_s=0.05)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert not await m.probe_once("a")
    assert loop.time() - started < 5.0
    assert m.snapshot()["providers"]["a"]["last_error"] == "timeout"


async def test_a_request_error_means_the_server_answered() -> None:
    probe = FakeProbe()
    probe.mode = "bad_request"
    m = monitor({"a": probe})
    assert await m.probe_once("a")
    assert m.status()["a"] == "healthy"


async def test_a_probe_bug_counts_as_failure() -> None:
    probe = FakeProbe()
    probe.mode = "bug"
    m = monitor({"a": probe})
    assert not await m.probe_once("a")
    assert m.snapshot()["providers"]["a"]["last_error"] == "probe_failed"


async def test_start_runs_one_task_per_probe_and_stop_leaks_nothing() -> None:
    pa, pb = FakeProbe(), FakeProbe()
    pb.mode = "bug"  # a failing probe keeps its loop alive
    m = monitor({"a": pa, "b": pb})
    await m.start()
    await m.start()  # idempotent
    assert len(health_tasks()) == 2 and m.running
    assert await until(lambda: pa.calls >= 3 and pb.calls >= 3)
    await m.stop()
    assert health_tasks() == [] and not m.running
    calls = pa.calls
    await asyncio.sleep(0.05)
    assert pa.calls == calls


async def test_stop_cancels_a_probe_in_flight() -> None:
    probe = FakeProbe()
    probe.mode = "hang"
    m = monitor({"a": probe}, timeout_s=60)
    await m.start()
    assert await until(lambda: probe.calls > 0)
    await m.stop()
    assert health_tasks() == []


async def test_inactive_monitor_starts_nothing() -> None:
    m = monitor({"a": FakeProbe()}, active=False)
    await m.start()
    assert health_tasks() == [] and not m.running
    await m.stop()
    assert m.snapshot()["providers"]["a"]["probe"] is None


async def test_snapshot_is_json() -> None:
    probe = FakeProbe()
    m = monitor({"a": probe})
    await m.probe_once("a")
    m.record(attempt("b", "error", "timeout"))
    snap = json.loads(json.dumps(m.snapshot()))
    assert snap["status"] == "ready"
    assert snap["providers"]["a"]["probe"]["ok"] is True
    assert snap["providers"]["a"]["probe"]["count"] == 1
    assert snap["providers"]["b"]["state"] == "degraded"
    assert snap["providers"]["b"]["last_failure_s_ago"] == 0.0
    assert snap["providers"]["b"]["breaker"] == "closed"


# -- active, against a real HTTP server on loopback -----------------------------------------


class Upstream:
    """A tiny OpenAI-ish ``GET /models`` server that can be switched up, failing, hanging, down."""

    def __init__(self) -> None:
        self.mode = "up"
        self.hits = 0
        self.port = 0
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            self.hits += 1
            if self.mode == "hang":
                await asyncio.sleep(3600)
            status, body = ((200, b'{"object":"list","data":[{"id":"m"}]}') if self.mode == "up"
                            else (503, b'{"error":{"message":"overloaded"}}'))
            writer.write(b"HTTP/1.1 %d X\r\ncontent-type: application/json\r\n"
                         b"content-length: %d\r\nconnection: close\r\n\r\n%s"
                         % (status, len(body), body))
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


@pytest.fixture
def clock() -> Iterator[Clock]:
    yield Clock()


async def test_probes_against_a_real_loopback_server(clock: Clock) -> None:
    upstream = Upstream()
    await upstream.start()
    provider = Provider(name="up", kind="openai", base_url=f"http://127.0.0.1:{upstream.port}/v1",
                        timeouts=Timeouts(connect=1.0, read=0.3, total=1.0))
    adapter = default_registry().build(provider)
    m = monitor({"up": adapter_probe(adapter)}, providers=("up",), clock=clock,  # type: ignore[dict-item]
                timeout_s=2.0)
    try:
        assert await m.probe_once("up") and m.status()["up"] == "healthy"
        upstream.mode = "error"
        assert not await m.probe_once("up")
        assert m.snapshot()["providers"]["up"]["last_error"] == "unavailable"
        upstream.mode = "hang"
        assert not await m.probe_once("up")  # the adapter's read timeout fires first
        assert m.snapshot()["providers"]["up"]["last_error"] == "timeout"
        assert m.status()["up"] == "unreachable" and not m.ready()
        assert m.breaker.down_reason(("up", "m")) is not None
        upstream.mode = "up"
        await upstream.stop()  # now nothing listens: connection refused
        assert not await m.probe_once("up")
        assert m.snapshot()["providers"]["up"]["last_error"] == "unavailable"
        await upstream.start()  # same port, back up
        clock.now += 30
        assert await m.probe_once("up")
        assert m.status()["up"] == "healthy" and m.ready()
        assert m.breaker.down_reason(("up", "m")) is None
        assert upstream.hits == 4
    finally:
        await adapter.aclose()
        await upstream.stop()


async def test_probe_loop_against_a_real_server_marks_it_unreachable(clock: Clock) -> None:
    upstream = Upstream()
    await upstream.start()
    provider = Provider(name="up", kind="openai", base_url=f"http://127.0.0.1:{upstream.port}/v1",
                        timeouts=Timeouts(connect=1.0, read=1.0, total=1.0))
    adapter = default_registry().build(provider)
    m = monitor({"up": adapter_probe(adapter)}, providers=("up",), clock=clock)  # type: ignore[dict-item]
    try:
        await m.start()
        assert await until(lambda: m.status()["up"] == "healthy")
        upstream.mode = "error"
        assert await until(lambda: m.status()["up"] == "unreachable")
        await m.stop()
        assert health_tasks() == []
    finally:
        await m.stop()
        await adapter.aclose()
        await upstream.stop()


# -- the bundle the engine holds ---------------------------------------------------------


async def test_resilience_bundle_wires_the_parts() -> None:
    from aegis.resilience import Resilience, build_settings

    settings = build_settings(
        {"retries": 1, "deadline_s": 9, "health": {"active": True, "interval_s": 0.01}},
        {"local": {"retries": 0, "breaker": {"failure_threshold": 1}}},
    )
    probe = FakeProbe()
    r = Resilience(settings, ["local", "openai"], {"openai": probe})
    assert r.policy("local").retries == 0 and r.policy("openai").retries == 1
    assert r.policy("unknown").retries == 1
    assert 8.9 < r.deadline().remaining() <= 9
    assert r.breaker.config_for("local").failure_threshold == 1
    assert r.breaker.config_for("openai").failure_threshold == 5
    assert r.recorders == (r.stats, r.health)
    r.health.record(attempt("local"))
    await r.start()
    assert len(health_tasks()) == 1
    assert await until(lambda: probe.calls > 0)
    await r.stop()
    assert health_tasks() == []
    assert r.health.status() == {"local": "healthy", "openai": "healthy"}
