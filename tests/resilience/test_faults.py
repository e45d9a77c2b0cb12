"""Fault injection against real loopback upstreams, through the gateway, via the OpenAI SDK.

Two cloud fakes (``a`` preferred, ``b`` as fallback) and a local fake. For each
fault: what the client sees, how many calls each upstream received, that every
attempt was recorded, and that sensitive requests never reached a cloud fake.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest

from aegis.engine import Call
from aegis.validation import chat_request
from tests.conftest import Gateway
from tests.fakes.base import Fault
from tests.fakes.ollama import FakeOllama
from tests.fakes.openai import FakeOpenAI

HI = [{"role": "user", "content": "hello there"}]
PII = [{"role": "user", "content": "send it to nora.keller@acme-mail.com"}]


@pytest.fixture(scope="module")
def fakes() -> Iterator[dict[str, Any]]:
    up = {"a": FakeOpenAI().start(), "b": FakeOpenAI().start(), "lan": FakeOllama().start()}
    yield up
    for fake in up.values():
        fake.stop()


@pytest.fixture
def a(fakes: dict[str, Any]) -> FakeOpenAI:
    fakes["a"].reset()
    return fakes["a"]


@pytest.fixture
def b(fakes: dict[str, Any]) -> FakeOpenAI:
    fakes["b"].reset()
    return fakes["b"]


@pytest.fixture
def lan(fakes: dict[str, Any]) -> FakeOllama:
    fakes["lan"].reset()
    return fakes["lan"]


def chat_model(name: str, provider: str, upstream: str, quality: float) -> dict[str, Any]:
    return {"name": name, "provider": provider, "model": upstream, "quality": quality,
            "input_per_mtok": 1.0, "output_per_mtok": 2.0, "context_window": 100_000,
            "max_output": 4096, "capabilities": ["tools", "json"]}


@pytest.fixture
def gateway(a: FakeOpenAI, b: FakeOpenAI, lan: FakeOllama,
            make_gateway: Callable[[dict[str, Any]], Gateway]) -> Gateway:
    cloud = {"kind": "openai", "api_key": "sk-test-openai", "timeout_s": 0.3}
    return make_gateway({
        "providers": {
            "a": {**cloud, "base_url": a.base_url},
            "b": {**cloud, "base_url": b.base_url},
            "lan": {"kind": "ollama", "base_url": lan.base_url, "locality": "local",
                    "timeout_s": 0.3},
        },
        "models": [chat_model("a-chat", "a", "gpt-4o-mini", 0.9),
                   chat_model("b-chat", "b", "gpt-4o", 0.8),
                   {**chat_model("local-chat", "lan", "llama3.2:latest", 0.3),
                    "input_per_mtok": 0, "output_per_mtok": 0}],
        "routes": {"ab": {"models": ["a-chat", "b-chat"]}},
        "resilience": {"retries": 2, "backoff": {"base_s": 0.01, "max_s": 0.02},
                       "retry_after_max_s": 1.0, "deadline_s": 10,
                       "breaker": {"failure_threshold": 4, "cooldown_s": 2.0,
                                   "min_requests": 1000}},
    })


def ask(gateway: Gateway, messages: list[dict[str, Any]] = HI, **kwargs: Any) -> Any:
    return gateway.openai().chat.completions.with_raw_response.create(
        model=kwargs.pop("model", "ab"), messages=messages, **kwargs)


def statuses(gateway: Gateway) -> list[tuple[str, str]]:
    return [(x.provider, x.status) for x in gateway.recorder.attempts]


@pytest.mark.parametrize("status", [500, 502, 503])
def test_one_5xx_is_retried_on_the_same_provider(gateway, a, b, status):
    a.fail(status=status)
    assert ask(gateway).headers["x-aegis-provider"] == "a"
    assert (len(a.requests), len(b.requests)) == (2, 0)
    assert statuses(gateway) == [("a", "error"), ("a", "ok")]


def test_persistent_5xx_falls_back_after_retries(gateway, a, b):
    a.fail(status=502, times=100)
    raw = ask(gateway)
    assert raw.headers["x-aegis-provider"] == "b"
    assert (len(a.requests), len(b.requests)) == (3, 1)
    assert statuses(gateway) == [("a", "error")] * 3 + [("b", "ok")]
    assert [x.attempt for x in gateway.recorder.attempts] == [0, 0, 0, 1]


def test_everything_down_is_a_503_with_every_attempt_recorded(gateway, a, b):
    a.fail(status=503, times=100)
    b.fail(status=503, times=100)
    with pytest.raises(openai.APIStatusError) as info:
        ask(gateway)
    assert info.value.status_code == 503
    assert "every candidate failed" in info.value.body["message"]
    assert (len(a.requests), len(b.requests)) == (3, 3)
    assert len(gateway.recorder.attempts) == 6


def test_429_with_retry_after_within_the_ceiling_is_waited_for(gateway, a, b):
    a.fail(status=429, retry_after="0.3")
    started = time.monotonic()
    assert ask(gateway).headers["x-aegis-provider"] == "a"
    assert time.monotonic() - started >= 0.3
    assert (len(a.requests), len(b.requests)) == (2, 0)


def test_429_with_retry_after_beyond_the_ceiling_moves_on(gateway, a, b):
    a.fail(status=429, retry_after="120", times=100)
    started = time.monotonic()
    assert ask(gateway).headers["x-aegis-provider"] == "b"
    assert time.monotonic() - started < 1.0
    assert (len(a.requests), len(b.requests)) == (1, 1)


def test_429_without_retry_after_backs_off_and_retries(gateway, a, b):
    a.fail(status=429)
    assert ask(gateway).headers["x-aegis-provider"] == "a"
    assert statuses(gateway) == [("a", "error"), ("a", "ok")]
    assert gateway.recorder.attempts[0].error_kind == "rate_limited"


def test_hang_before_headers_times_out_and_retries(gateway, a, b):
    a.fail(hang_before_headers=2.0)
    started = time.monotonic()
    assert ask(gateway).headers["x-aegis-provider"] == "a"
    assert time.monotonic() - started < 1.5
    assert gateway.recorder.attempts[0].error_kind == "timeout"


def test_connection_closed_mid_body_is_retried(gateway, a, b):
    a.fail(close_mid_body=True)
    assert ask(gateway).headers["x-aegis-provider"] == "a"
    assert gateway.recorder.attempts[0].error_kind in ("invalid_response", "unavailable")


def test_malformed_json_falls_back_when_persistent(gateway, a, b):
    a.fail(malformed_json=True, times=100)
    assert ask(gateway).headers["x-aegis-provider"] == "b"
    assert {x.error_kind for x in gateway.recorder.attempts if x.status == "error"} == {
        "invalid_response"}


def test_slow_response_within_the_timeout_succeeds(gateway, a, b):
    a.fail(delay=0.15)
    raw = ask(gateway)
    assert raw.headers["x-aegis-provider"] == "a"
    assert gateway.recorder.attempts[-1].latency_ms >= 150


def test_bad_request_is_returned_not_retried_or_fallen_back(gateway, a, b):
    a.fail(status=400, times=100)
    with pytest.raises(openai.BadRequestError):
        ask(gateway)
    assert (len(a.requests), len(b.requests)) == (1, 0)


def _stream(gateway: Gateway, messages: list[dict[str, Any]] = HI) -> list[Any]:
    return list(gateway.openai().chat.completions.create(
        model="ab", messages=messages, stream=True))


def test_stream_failing_before_the_first_chunk_falls_back(gateway, a, b):
    a.fail(status=503, times=100)
    chunks = _stream(gateway)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert (len(a.requests), len(b.requests)) == (3, 1)


def test_truncated_stream_after_first_chunk_is_an_error_event_not_a_retry(gateway, a, b):
    a.fail(truncate_stream=True)
    with pytest.raises(openai.APIError) as info:
        _stream(gateway, [{"role": "user", "content": "one two three four five six"}])
    assert "stream ended" in str(info.value)
    assert (len(a.requests), len(b.requests)) == (1, 0)  # bytes had gone out: never retried
    assert statuses(gateway) == [("a", "error")]


def test_stream_stalling_mid_way_is_ended_by_the_idle_timeout(gateway, a, b):
    a.fail(hang_mid_stream=3.0)
    started = time.monotonic()
    with pytest.raises(openai.APIError):
        _stream(gateway, [{"role": "user", "content": "one two three four five six"}])
    assert time.monotonic() - started < 2.0
    assert (len(a.requests), len(b.requests)) == (1, 0)
    assert gateway.recorder.attempts[-1].error_kind == "timeout"


def test_open_breaker_sends_nothing_until_its_probe(gateway, a, b):
    a.fail(status=503, times=1000)
    ask(gateway)  # 3 failures on a, then b
    ask(gateway)  # 4th failure opens a's breaker, then b
    calls_when_opened = len(a.requests)
    assert calls_when_opened == 4
    for _ in range(5):  # open: a is skipped by the router, nothing reaches it
        assert ask(gateway).headers["x-aegis-provider"] == "b"
    assert len(a.requests) == calls_when_opened
    probe = gateway.engine.prepare(chat_request({"model": "ab", "messages": HI}))
    decision = gateway.engine.route(probe, Call())
    assert decision.record["excluded"][0]["rule"] == "unavailable"
    a.reset()  # a recovers
    time.sleep(2.1)  # cooldown passes: half-open, one probe goes through
    assert ask(gateway).headers["x-aegis-provider"] == "a"
    assert len(a.requests) == 1
    assert ask(gateway).headers["x-aegis-provider"] == "a"  # closed again


@pytest.mark.parametrize("fault", [
    Fault(status=500, times=100), Fault(hang_before_headers=2.0, times=100),
    Fault(close_mid_body=True, times=100), Fault(malformed_json=True, times=100)],
    ids=["500", "hang", "close", "malformed"])
def test_sensitive_requests_never_reach_a_cloud_under_local_faults(gateway, a, b, lan, fault):
    lan.fail(fault)
    with pytest.raises(openai.APIStatusError) as info:
        ask(gateway, PII, model="auto")
    assert info.value.status_code == 503
    assert a.requests == [] and b.requests == []
    assert all(x.provider == "lan" for x in gateway.recorder.attempts)
