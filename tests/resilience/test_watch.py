"""``DeadlineWatch.timeout`` behaves as ``asyncio.timeout`` for the block it guards.

Each scenario runs twice, once guarded by ``asyncio.timeout`` and once by the watch,
on both event loops the gateway may run (asyncio's and uvloop's); what the block
sees (its result or exception) and what the task is left with (``cancelling()``)
must be the same.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import pytest
import uvloop

from aegis.resilience import DeadlineWatch

Guard = Callable[[float], Any]  # asyncio.timeout, or a watch's timeout
LOOPS: list[Callable[[Coroutine[Any, Any, Any]], Any]] = [asyncio.run, uvloop.run]


async def _outcome(guard: Guard, delay: float, body: Callable[[], Awaitable[Any]]
                   ) -> tuple[str, Any, int]:
    """What the guarded block ended with, and the task's pending cancellations after."""
    task = asyncio.current_task()
    assert task is not None
    try:
        async with guard(delay):
            result = await body()
        outcome: tuple[str, Any] = ("ok", result)
    except TimeoutError:
        outcome = ("timeout", None)
    except asyncio.CancelledError:
        outcome = ("cancelled", None)
        task.uncancel()
    return (*outcome, task.cancelling())


def _both(scenario: Callable[[Guard], Coroutine[Any, Any, Any]]) -> None:
    for run in LOOPS:
        watch = DeadlineWatch()
        expected = run(scenario(asyncio.timeout))
        assert run(scenario(watch.timeout)) == expected, run
        assert run(scenario(watch.timeout)) == expected, run  # a new loop: rebinds


def test_a_block_that_finishes_in_time_is_untouched() -> None:
    async def scenario(guard: Guard) -> Any:
        async def body() -> int:
            await asyncio.sleep(0.001)
            return 7
        return await _outcome(guard, 5.0, body)

    _both(scenario)


def test_a_block_past_its_deadline_raises_timeout_error() -> None:
    async def scenario(guard: Guard) -> Any:
        async def body() -> int:
            await asyncio.sleep(5)
            return 1
        return await _outcome(guard, 0.02, body)

    _both(scenario)


def test_zero_and_negative_delays_expire_at_the_first_suspension() -> None:
    async def scenario(guard: Guard) -> Any:
        async def body() -> str:
            await asyncio.sleep(0)
            await asyncio.sleep(0.01)
            return "ran"
        return [await _outcome(guard, delay, body) for delay in (0.0, -1.0)]

    _both(scenario)


def test_a_block_that_swallows_the_cancellation_ends_normally() -> None:
    async def scenario(guard: Guard) -> Any:
        async def body() -> str:
            try:
                await asyncio.sleep(5)
            except asyncio.CancelledError:
                return "swallowed"
            return "slept"
        return await _outcome(guard, 0.01, body)

    _both(scenario)


def test_an_outside_cancel_is_not_turned_into_a_timeout() -> None:
    async def scenario(guard: Guard) -> Any:
        async def body() -> None:
            await asyncio.sleep(5)

        async def guarded() -> tuple[str, Any, int]:
            return await _outcome(guard, 5.0, body)

        task = asyncio.ensure_future(guarded())
        await asyncio.sleep(0.01)
        task.cancel()
        return await task

    _both(scenario)


def test_an_outside_cancel_racing_the_deadline_stays_a_cancel() -> None:
    async def scenario(guard: Guard) -> Any:
        async def body() -> None:
            try:
                await asyncio.sleep(5)
            finally:
                me = asyncio.current_task()
                assert me is not None
                me.cancel()  # a second cancel request arrives during the timeout's
                await asyncio.sleep(0)

        return await _outcome(guard, 0.01, body)

    _both(scenario)


def test_concurrent_blocks_each_expire_at_their_own_deadline() -> None:
    """Deadlines out of order (a later block with an earlier deadline re-times the
    shared timer), blocks finishing before, after and between them."""
    async def scenario(guard: Guard) -> Any:
        rng = random.Random(5)
        plans = [(rng.choice([0.02, 0.06, 0.25, 5.0]), rng.choice([0.0, 0.01, 0.12, 0.4]))
                 for _ in range(40)]

        async def one(delay: float, work: float) -> tuple[str, Any, int]:
            async def body() -> float:
                await asyncio.sleep(work)
                return work
            return await _outcome(guard, delay, body)

        tasks = []
        for delay, work in plans:
            tasks.append(asyncio.ensure_future(one(delay, work)))
            await asyncio.sleep(0.001)
        return await asyncio.gather(*tasks)

    _both(scenario)


def test_a_watch_shared_by_two_running_loops_keeps_each_exact() -> None:
    """A guard opened on a second loop while the first has guards in flight falls back
    to ``asyncio.timeout``; both loops' blocks still expire on time."""
    import threading

    watch = DeadlineWatch()
    results: dict[str, Any] = {}
    started = threading.Event()

    async def slow(name: str, hold: bool) -> None:
        async def body() -> None:
            if hold:
                started.set()
            await asyncio.sleep(5)
        results[name] = await _outcome(watch.timeout, 0.3 if hold else 0.05, body)

    thread = threading.Thread(target=lambda: asyncio.run(slow("first", True)))
    thread.start()
    assert started.wait(5)
    uvloop.run(slow("second", False))
    thread.join(5)
    assert results == {"first": ("timeout", None, 0), "second": ("timeout", None, 0)}


@pytest.mark.parametrize("run", LOOPS)
def test_one_timer_serves_many_blocks(run: Callable[[Coroutine[Any, Any, Any]], Any]) -> None:
    """Blocks that finish in time do not re-arm the loop timer: one ``call_at`` for all."""
    watch = DeadlineWatch()

    async def main() -> int:
        loop = asyncio.get_running_loop()
        calls = 0
        call_at = loop.call_at

        def counting(*args: Any, **kwargs: Any) -> asyncio.TimerHandle:
            nonlocal calls
            calls += 1
            return call_at(*args, **kwargs)

        loop.call_at = counting  # type: ignore[method-assign]
        for _ in range(200):
            async with watch.timeout(30):
                await asyncio.sleep(0)
        return calls

    assert run(main()) == 1
