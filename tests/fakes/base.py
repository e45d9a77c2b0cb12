"""The machinery every fake upstream shares: a real server, a request log, faults.

A fake is an ASGI app served by uvicorn on 127.0.0.1 (a free port) in a thread
of its own, so the gateway under test talks to it over real sockets. Each fake
records every request it receives (method, path, headers, raw and parsed body)
and can be told to misbehave for its next N requests via ``Fault``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from tests.servers import ServerThread


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body) if self.body else None


@dataclass
class Fault:
    """What to do instead of a normal answer. ``times`` requests are affected."""

    status: int | None = None  # reply with the provider's error body for this status
    retry_after: str | None = None  # Retry-After header to add to an error reply
    hang_before_headers: float | None = None  # sleep this long before answering
    delay: float = 0.0  # answer normally, but this much later
    close_mid_body: bool = False  # send part of the body, then drop the connection
    malformed_json: bool = False  # 200 with a body that is not valid JSON
    truncate_stream: bool = False  # stream a few events, then end without the terminator
    hang_mid_stream: float | None = None  # stream a few events, then stall this long
    times: int = 1


@dataclass
class JSONReply:
    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class StreamReply:
    """A streamed body: ``frames`` are already framed (SSE events or NDJSON lines)."""

    frames: list[bytes]
    content_type: str = "text/event-stream"
    delay: float = 0.0  # between frames
    headers: dict[str, str] = field(default_factory=dict)


Reply = JSONReply | StreamReply
Handler = Callable[[Recorded], Awaitable[Reply]]


class FakeUpstream:
    """Subclasses register routes in ``__init__`` and implement ``error_reply``."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._faults: deque[Fault] = deque()
        self._routes: dict[tuple[str, str], Handler] = {}
        self._runner: ServerThread | None = None
        self._chaos: tuple[float, list[Fault], random.Random] | None = None
        self.port = 0
        self.disconnects = 0  # streams the client abandoned before the end
        self.frames_sent = 0  # stream frames actually written, across requests

    # -- test-facing API ----------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail(self, fault: Fault | None = None, **kwargs: Any) -> None:
        """Queue a fault: ``fake.fail(status=503, times=2)``."""
        self._faults.append(fault or Fault(**kwargs))

    def chaos(self, rate: float, faults: list[Fault], seed: int = 0) -> None:
        """From now on, each request draws a random fault from ``faults`` with probability ``rate``."""
        self._chaos = (rate, faults, random.Random(seed))

    def reset(self) -> None:
        self.requests.clear()
        self._faults.clear()
        self._chaos = None
        self.disconnects = 0
        self.frames_sent = 0

    def bodies(self, path: str | None = None) -> list[Any]:
        return [r.json for r in self.requests if path is None or r.path == path]

    def route(self, method: str, path: str, handler: Handler) -> None:
        self._routes[(method, path)] = handler

    def error_reply(self, status: int, message: str) -> JSONReply:
        """The provider's own error body for ``status``."""
        raise NotImplementedError

    # -- lifecycle ------------------------------------------------------------

    def start(self) -> FakeUpstream:
        self._runner = ServerThread(self).start()
        self.port = self._runner.port
        return self

    def stop(self) -> None:
        if self._runner is not None:
            self._runner.stop()

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- ASGI -----------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        req = Recorded(
            method=scope["method"],
            path=scope["path"],
            query=scope.get("query_string", b"").decode(),
            headers={k.decode().lower(): v.decode() for k, v in scope["headers"]},
            body=body,
        )
        self.requests.append(req)
        fault = self._take_fault()
        handler = self._routes.get((req.method, req.path))
        if fault and fault.hang_before_headers:
            await asyncio.sleep(fault.hang_before_headers)
        if fault and fault.delay:
            await asyncio.sleep(fault.delay)
        if fault and fault.status:
            reply: Reply = self.error_reply(fault.status, f"injected HTTP {fault.status}")
            if fault.retry_after is not None:
                reply.headers["retry-after"] = fault.retry_after
        elif handler is None:
            reply = self.error_reply(404, f"no route for {req.method} {req.path}")
        else:
            reply = await handler(req)
        await self._send(send, reply, fault, receive)

    def _take_fault(self) -> Fault | None:
        if not self._faults:
            if self._chaos is not None:
                rate, faults, rng = self._chaos
                if rng.random() < rate:
                    return dataclasses.replace(rng.choice(faults))
            return None
        fault = self._faults[0]
        fault.times -= 1
        if fault.times <= 0:
            self._faults.popleft()
        return fault

    async def _send(self, send: Any, reply: Reply, fault: Fault | None, receive: Any) -> None:
        if isinstance(reply, JSONReply):
            payload = orjson.dumps(reply.body)
            if fault and fault.malformed_json:
                payload = payload[: max(1, len(payload) // 2)]
            headers = {"content-type": "application/json", **reply.headers}
            await send({"type": "http.response.start", "status": reply.status,
                        "headers": _encode(headers)})
            if fault and fault.close_mid_body:
                await send({"type": "http.response.body", "body": payload[:10],
                            "more_body": True})
                raise ConnectionAbortedError("fake: dropping the connection mid-body")
            await send({"type": "http.response.body", "body": payload})
            return
        headers = {"content-type": reply.content_type, "cache-control": "no-cache",
                   **reply.headers}
        await send({"type": "http.response.start", "status": 200, "headers": _encode(headers)})
        gone = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.create_task(watch())
        try:
            await self._send_frames(send, reply, fault, gone)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def _send_frames(
        self, send: Any, reply: StreamReply, fault: Fault | None, gone: asyncio.Event
    ) -> None:
        frames = reply.frames
        cut = min(2, len(frames))
        for i, frame in enumerate(frames):
            if fault and i == cut:
                if fault.truncate_stream:
                    break
                if fault.hang_mid_stream:
                    await asyncio.sleep(fault.hang_mid_stream)
                if fault.close_mid_body:
                    raise ConnectionAbortedError("fake: dropping the connection mid-stream")
            if fault and fault.malformed_json and i == cut:
                frame = frame[: len(frame) // 2] + b"\n\n"
            if gone.is_set():
                self.disconnects += 1
                return
            await send({"type": "http.response.body", "body": frame, "more_body": True})
            self.frames_sent += 1
            if reply.delay:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(gone.wait(), reply.delay)
        await send({"type": "http.response.body", "body": b""})


def _encode(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode(), v.encode()) for k, v in headers.items()]


async def collect(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([c async for c in chunks])
