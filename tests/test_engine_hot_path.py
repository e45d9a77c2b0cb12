"""The engine's per-request path, pinned field by field.

``_Tracker.record`` builds each ``Attempt`` positionally, usage is only counted
locally when upstream reported none, budgets are held in exact nano-dollars without
a coroutine, the attempt timeout runs on the shared ``DeadlineWatch``, and requests
without an allow-list share one ``Limits``: what every recorder, budget and client
sees must be what the plain computations give.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from aegis import errors
from aegis.budget.manager import reservation_amount
from aegis.config import from_dict
from aegis.engine import Call, Caller, Engine
from aegis.ledger.store import usd_to_nusd, usd_to_nusd_ceil
from aegis.pricing import cost_usd
from aegis.providers.base import Adapter
from aegis.task import Task
from aegis.types import ChatRequest, Chunk, Completion, Usage
from tests.conftest import MEMORY_STORE, ListRecorder

MESSAGES = ({"role": "user", "content": "Say hello, señor."},)


class Stub(Adapter):
    """Answers from a script: a usage dict (or None), an error to raise, or a delay."""

    needs_http = False

    def __init__(self) -> None:
        self.script: list[Any] = []
        self.calls = 0

    async def complete(self, request: ChatRequest, model: str) -> Completion:
        self.calls += 1
        step = self.script.pop(0) if self.script else {"prompt_tokens": 9,
                                                        "completion_tokens": 3}
        if isinstance(step, BaseException):
            raise step
        if isinstance(step, float):
            await asyncio.sleep(step)
            step = {"prompt_tokens": 1, "completion_tokens": 1}
        body: dict[str, Any] = {
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant",
                                                 "content": "Hello there, friend!"},
                         "finish_reason": "stop"}]}
        if step is not None:
            body["usage"] = step
        return Completion(body)

    def stream(self, request: ChatRequest, model: str) -> AsyncIterator[Chunk]:
        raise NotImplementedError

    async def embed(self, request: Any, model: str) -> Any:
        raise NotImplementedError

    async def check(self) -> None:
        return None

    async def list_models(self) -> list[str]:
        return []

    async def aclose(self) -> None:
        return None


def _engine(**resilience: Any) -> tuple[Engine, Stub, ListRecorder]:
    settings = from_dict({
        "storage": {"url": MEMORY_STORE},
        "resilience": {"backoff": {"base_s": 0.001, "max_s": 0.002}, **resilience},
        "providers": {"openai": {"kind": "openai", "base_url": "http://127.0.0.1:9/v1",
                                 "api_key": "sk-test"}},
        "models": [
            {"name": "big", "provider": "openai", "model": "big-up", "input_per_mtok": 2.5,
             "output_per_mtok": 10, "context_window": 128000, "max_output": 4096,
             "quality": 0.9},
            {"name": "small", "provider": "openai", "model": "small-up",
             "input_per_mtok": 0.15, "output_per_mtok": 0.6, "context_window": 128000,
             "max_output": 8, "quality": 0.5},
        ],
        "budgets": [
            {"name": "all", "scope": "global", "limit_usd": 100, "period": "monthly",
             "alert_at": [0.5]},
            {"name": "oa", "scope": "provider:openai", "limit_usd": 50, "period": "daily"},
        ],
    }, env={})
    stub, recorder = Stub(), ListRecorder()
    engine = Engine(settings, adapters={"openai": stub}, recorders=[recorder])
    return engine, stub, recorder


def _request(model: str = "big", max_tokens: int | None = 64) -> ChatRequest:
    return ChatRequest(model=model, messages=MESSAGES, max_tokens=max_tokens)


async def test_every_attempt_field_is_what_the_request_produced() -> None:
    engine, _, recorder = _engine()
    call = Call("req_fixed", Task(workspace="ws", tags=("a",)),
                Caller(key_id="key_1", key_name="k", team="t"))
    before = time.time()
    outcome = await engine.complete(_request(), call)
    after = time.time()
    [a] = recorder.attempts
    usage = Usage(prompt_tokens=9, completion_tokens=3)
    prices = engine.settings.catalog.get("big").prices  # type: ignore[union-attr]
    assert outcome.completion.content == "Hello there, friend!"
    assert outcome.served == (a.request_id, a.provider, a.model, a.upstream_model, a.route,
                              a.reason, a.attempt)
    assert (outcome.usage, outcome.cost_usd, outcome.latency_ms) == (usage,
                                                                     cost_usd(usage, prices),
                                                                     a.latency_ms)
    assert before <= a.started_at <= after and 0 <= a.latency_ms <= (after - before) * 1000
    assert a._asdict() == {
        "request_id": "req_fixed", "started_at": a.started_at, "provider": "openai",
        "model": "big", "route": outcome.served.route, "reason": outcome.served.reason,
        "attempt": 0, "streamed": False, "status": "ok", "usage": usage,
        "cost_usd": cost_usd(usage, prices), "latency_ms": a.latency_ms, "ttft_ms": None,
        "error_kind": None, "usage_estimated": False, "task": call.task,
        "caller": call.caller, "upstream_model": "big-up", "data_class": "public",
        "retry": 0, "texts": None,  # storage.store_prompts is off
    }
    assert a.route == "pinned" and a.reason
    await engine.aclose()


async def test_usage_is_counted_locally_only_when_upstream_reports_none() -> None:
    engine, stub, recorder = _engine()
    stub.script = [None, {"prompt_tokens": 0, "completion_tokens": 0}, {"prompt_tokens": 5}]
    estimated = [await engine.complete(_request()) for _ in range(3)]
    assert [a.usage_estimated for a in recorder.attempts] == [True, True, False]
    counted = estimated[0].usage
    assert counted.prompt_tokens > 0 and counted.completion_tokens > 0  # the text was read
    assert estimated[1].usage == counted
    assert estimated[2].usage == Usage(prompt_tokens=5)
    await engine.aclose()


async def test_budgets_hold_the_exact_worst_case_and_charge_the_cost() -> None:
    engine, _, _ = _engine()
    held: list[int] = []
    reserve = engine.budgets.backend.reserve

    def spy(token: str, keys: Any, limits: Any, amount: int, *rest: Any) -> Any:
        held.append(amount)
        return reserve(token, keys, limits, amount, *rest)

    engine.budgets.backend.reserve = spy  # type: ignore[method-assign]
    costs: list[float] = []
    for model, max_tokens in (("big", 64), ("small", 100), ("big", None)):
        request = _request(model, max_tokens)
        outcome = await engine.complete(request)
        info = engine.settings.catalog.get(model)
        assert info is not None
        fitted = min(engine.prepare(request).max_tokens or 0, info.max_output)
        assert held[-1] == usd_to_nusd_ceil(reservation_amount(
            request.messages, request.tools, fitted, info.prices))
        assert outcome.cost_usd == cost_usd(Usage(9, 3), info.prices) > 0
        costs.append(outcome.cost_usd)
    charged = [usd_to_nusd(o) for o in costs]
    assert [usd_to_nusd(s.spent_usd) for s in engine.budgets.status()] == [sum(charged)] * 2
    assert all(s.reserved_usd == 0 for s in engine.budgets.status())
    await engine.aclose()


async def test_the_deadline_cuts_a_slow_attempt_and_counts_against_its_circuit() -> None:
    engine, stub, recorder = _engine(deadline_s=0.05, retries=0)
    stub.script = [5.0]
    started = time.monotonic()
    with pytest.raises(errors.UpstreamTimeout, match="request deadline exceeded"):
        await engine.complete(_request())
    assert time.monotonic() - started < 2
    [a] = recorder.attempts
    assert (a.status, a.error_kind) == ("error", "timeout")
    circuit = engine.resilience.breaker.snapshot()["providers"]["openai"]["models"]["big"]
    assert circuit["consecutive_failures"] == 1
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0  # nothing left pending
    stub.script = []
    assert (await engine.complete(_request())).usage == Usage(9, 3)  # the next one is fine
    await engine.aclose()


async def test_retries_record_their_number_and_reach_the_breaker() -> None:
    engine, stub, recorder = _engine(retries=2)
    stub.script = [errors.UpstreamUnavailable("down", provider="openai"),
                   errors.UpstreamUnavailable("down", provider="openai")]
    outcome = await engine.complete(_request())
    assert [(a.status, a.retry, a.attempt) for a in recorder.attempts] == [
        ("error", 0, 0), ("error", 1, 0), ("ok", 2, 0)]
    assert outcome.served.attempt == 0 and stub.calls == 3
    circuit = engine.resilience.breaker.snapshot()["providers"]["openai"]["models"]["big"]
    assert circuit["consecutive_failures"] == 0 and circuit["window"] == {
        "requests": 3, "failures": 2}
    assert all(s.reserved_usd == 0 for s in engine.budgets.status())
    await engine.aclose()


async def test_an_allow_list_still_limits_routing() -> None:
    engine, _, _ = _engine()
    shared = engine.route(_request(), Call())
    assert shared.candidates[0].model.name == "big"
    with pytest.raises(errors.AegisError):
        engine.route(_request(), Call(caller=Caller(models=frozenset({"small"}))))
    assert engine.route(_request("small"), Call(caller=Caller(models=frozenset({"small"})))
                        ).candidates[0].model.name == "small"
    await engine.aclose()
