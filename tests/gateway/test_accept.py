"""The uvloop server that accepts every waiting connection at once (aegis.gateway.accept)."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest
import uvloop

from aegis.gateway import accept
from aegis.gateway.accept import AcceptingLoop, AcceptingServer
from aegis.gateway.server import bind_listener

BURST = 64


class _Echo(asyncio.Protocol):
    made: list[int]
    step: Callable[[], int]

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.made.append(self.step())

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)


def _proto(made: list[int] | None = None,
           step: Callable[[], int] = lambda: 0) -> type[_Echo]:
    """An echo protocol class recording ``step()`` into ``made`` as each connection opens."""
    return type("P", (_Echo,), {"made": [] if made is None else made,
                                "step": staticmethod(step)})


def _burst_steps(loop: asyncio.AbstractEventLoop, *, use_sock: bool) -> list[int]:
    """Open ``BURST`` connections at once to a server whose loop is kept busy (2 ms of
    work per iteration, as under load); return the iteration each was accepted in."""
    steps = [0]
    made: list[int] = []
    proto = _proto(made, lambda: steps[0])

    def busy() -> None:  # one call per loop iteration
        steps[0] += 1
        end = time.perf_counter() + 0.002
        while time.perf_counter() < end:
            pass
        loop.call_soon(busy)

    async def main() -> None:
        sock = bind_listener("127.0.0.1", 0)
        if use_sock:
            server = await loop.create_server(proto, sock=sock, backlog=256)
        else:
            port = sock.getsockname()[1]
            sock.close()
            server = await loop.create_server(proto, "127.0.0.1", port, backlog=256)
        port = server.sockets[0].getsockname()[1]
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(BURST)]
        loop.call_soon(busy)
        deadline = time.monotonic() + 20
        while len(made) < BURST and time.monotonic() < deadline:
            await asyncio.sleep(0)
        server.close()
        for c in clients:
            c.close()

    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    assert len(made) == BURST
    return made


def test_a_burst_of_new_connections_is_accepted_in_one_step_on_a_busy_loop() -> None:
    made = _burst_steps(AcceptingLoop(), use_sock=True)
    assert max(made) - min(made) <= 2, made  # accepted together, connected the step after


def test_uvloop_itself_accepts_one_connection_per_step() -> None:
    """Why ``AcceptingLoop`` exists: should this fail, uvloop accepts in a loop again and
    ``aegis.gateway.accept`` can go."""
    made = _burst_steps(uvloop.new_event_loop(), use_sock=True)
    assert max(made) - min(made) >= BURST // 2, made


def test_servers_on_a_host_and_port_are_uvloops_own() -> None:
    made = _burst_steps(AcceptingLoop(), use_sock=False)  # still serves, the slow way
    assert max(made) - min(made) >= BURST // 2


def _run(coro: Any) -> Any:
    loop = AcceptingLoop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


async def _echo(port: int | None, reader_writer: Any = None, msg: bytes = b"ping") -> bytes:
    """``msg`` echoed on a new connection to ``port`` (closed after), or on ``reader_writer``."""
    reader, writer = reader_writer or await asyncio.open_connection("127.0.0.1", port)
    writer.write(msg)
    try:
        return bytes(await reader.readexactly(len(msg)))
    finally:
        if reader_writer is None:
            writer.close()


def test_connections_are_served_and_close_stops_listening_only() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_proto(), sock=bind_listener("127.0.0.1", 0))
        assert isinstance(server, AcceptingServer) and server.is_serving()
        port = server.sockets[0].getsockname()[1]
        conn = await asyncio.open_connection("127.0.0.1", port)
        assert await _echo(None, conn) == b"ping"
        server.close()
        await server.wait_closed()
        assert not server.is_serving() and server.sockets == ()
        assert await _echo(None, conn, b"still here") == b"still here"  # accepted carry on
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", port)
        conn[1].close()
        await conn[1].wait_closed()

    _run(main())


class _Exhausted(socket.socket):
    """A listening socket whose first ``accept`` finds no file descriptor left."""

    failures = 1
    error = errno.EMFILE

    def accept(self) -> tuple[socket.socket, Any]:
        if self.failures:
            self.failures -= 1
            raise OSError(self.error, os.strerror(self.error))
        return super().accept()


class _Broken(_Exhausted):
    """...or a connection whose network error is already pending (accept(2): retry)."""

    error = errno.EPROTO


async def _listen_on(sock_class: type[socket.socket]) -> tuple[asyncio.AbstractServer, int]:
    """An echo server on a ``sock_class`` socket, and its port."""
    sock = sock_class(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = await asyncio.get_running_loop().create_server(_proto(), sock=sock)
    return server, sock.getsockname()[1]


def test_a_connection_with_a_pending_network_error_is_skipped_not_fatal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def main() -> bytes:
        server, port = await _listen_on(_Broken)
        try:
            return await asyncio.wait_for(_echo(port), 5)
        finally:
            server.close()

    with caplog.at_level(logging.WARNING):
        assert _run(main()) == b"ping"
    assert not caplog.records  # served at once, nothing to report


def test_running_out_of_descriptors_pauses_accepting_then_resumes(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(accept, "RETRY_DELAY_S", 0.2)

    async def main() -> float:
        server, port = await _listen_on(_Exhausted)
        t0 = time.monotonic()
        assert await asyncio.wait_for(_echo(port), 10) == b"ping"
        server.close()
        return time.monotonic() - t0

    with caplog.at_level(logging.ERROR, logger="aegis.gateway"):
        waited = _run(main())
    # served once accepting resumed, not before (without the pause: a few ms); uvloop's
    # timers have millisecond resolution and may fire a fraction of one early
    assert waited >= 0.19
    assert [r.getMessage() for r in caplog.records] == [
        "cannot accept connections ([Errno 24] Too many open files); retrying in 0.2 s"]


def test_the_cli_runs_uvicorn_on_the_accepting_loop() -> None:
    import uvicorn

    from aegis.cli import _uvicorn_loop

    async def app(scope: Any, receive: Any, send: Any) -> None: ...

    factory = uvicorn.Config(app, loop=_uvicorn_loop("uvloop")).get_loop_factory()
    assert factory is not None
    loop = factory()
    try:
        assert isinstance(loop, AcceptingLoop)
    finally:
        loop.close()
    assert _uvicorn_loop("asyncio") == "asyncio"
