"""Accepting connections on uvloop: every waiting connection at once, not one per step.

libuv (under uvloop) accepts one connection per event-loop iteration. On a busy
gateway one iteration handles every ready request and can take 10-20 ms, so a
burst of new connections waits in the kernel's accept queue for one iteration
each: measured with one worker at concurrency 128 (wrk opening its 128
connections at once), the last connections were accepted 1.4 s after the first
and their first requests made the p99 0.9 s, while no request spent more than
0.1 s inside the server. The stdlib loop accepts up to ``backlog`` connections
per readiness event and showed no such tail.

``AcceptingLoop`` is uvloop's loop with ``create_server(sock=...)`` answered by an
``AcceptingServer``: the listening socket is watched with ``add_reader`` and each
readiness accepts until the queue is empty (at most ``backlog``), handing every
connection to uvloop's own transport (``connect_accepted_socket``). Reading,
writing and everything after the accept are uvloop's. uvicorn is given the loop
as a custom loop factory and the listening sockets by the CLI (see ``cli``).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Callable
from typing import Any

import uvloop

log = logging.getLogger("aegis.gateway")

# out of file descriptors or buffers: stop accepting for a while, as asyncio does
_EXHAUSTED = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
# a network error already pending on that one connection (Linux reports it from accept;
# accept(2) says to retry), or a firewall refusing it: skip it, accept the next
_ONE_CONNECTION = frozenset(getattr(errno, name) for name in (
    "ENETDOWN", "EPROTO", "ENOPROTOOPT", "EHOSTDOWN", "ENONET", "EHOSTUNREACH",
    "EOPNOTSUPP", "ENETUNREACH", "EPERM") if hasattr(errno, name))
RETRY_DELAY_S = 1.0


class AcceptingServer(asyncio.AbstractServer):
    """A listening socket whose waiting connections are all accepted per readiness."""

    def __init__(self, loop: asyncio.AbstractEventLoop,
                 protocol_factory: Callable[[], asyncio.BaseProtocol],
                 sock: socket.socket, backlog: int) -> None:
        self._loop = loop
        self._factory = protocol_factory
        self._sock = sock
        self._backlog = max(1, backlog)
        self._nodelay = sock.family in (socket.AF_INET, socket.AF_INET6)
        self._serving = False
        self._closed = False
        self._retry: asyncio.TimerHandle | None = None
        self._pending: set[asyncio.Task[Any]] = set()
        sock.setblocking(False)
        sock.listen(self._backlog)

    # -- asyncio.AbstractServer ------------------------------------------------------

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return () if self._closed else (self._sock,)

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def is_serving(self) -> bool:
        return self._serving

    async def start_serving(self) -> None:
        if not self._serving and not self._closed:
            self._serving = True
            self._loop.add_reader(self._sock.fileno(), self._accept)

    async def serve_forever(self) -> None:
        await self.start_serving()
        while not self._closed:
            await asyncio.sleep(3600)

    def close(self) -> None:
        """Stop listening; connections already accepted carry on (asyncio's semantics)."""
        if self._closed:
            return
        self._closed = True
        if self._retry is not None:
            self._retry.cancel()
        if self._serving:
            self._serving = False
            self._loop.remove_reader(self._sock.fileno())
        self._sock.close()

    async def wait_closed(self) -> None:
        while self._pending:  # connections accepted but not yet handed to a protocol
            await asyncio.gather(*self._pending, return_exceptions=True)

    # -- accepting -------------------------------------------------------------------

    def _accept(self) -> None:
        for _ in range(self._backlog):
            try:
                conn, _addr = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return  # the queue is empty
            except ConnectionAbortedError:
                continue  # the client gave up while waiting
            except OSError as exc:
                if exc.errno in _ONE_CONNECTION:
                    continue
                if exc.errno not in _EXHAUSTED:
                    raise
                log.error("cannot accept connections (%s); retrying in %g s", exc,
                          RETRY_DELAY_S, extra={"event": "accept_failed"})
                self._loop.remove_reader(self._sock.fileno())
                self._serving = False
                self._retry = self._loop.call_later(RETRY_DELAY_S, self._resume)
                return
            if self._nodelay:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            task = self._loop.create_task(self._connect(conn))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _connect(self, conn: socket.socket) -> None:
        try:
            await self._loop.connect_accepted_socket(self._factory, conn)
        except OSError:  # reset before it could be wrapped: nothing to serve
            conn.close()

    def _resume(self) -> None:
        self._retry = None
        if not self._closed and not self._serving:
            self._serving = True
            self._loop.add_reader(self._sock.fileno(), self._accept)


class AcceptingLoop(uvloop.Loop):
    """uvloop, with servers on given sockets accepting every waiting connection."""

    async def create_server(  # type: ignore[override]  # the one overload uvicorn calls
        self, protocol_factory: Callable[[], asyncio.BaseProtocol], host: Any = None,
        port: Any = None, *, sock: socket.socket | None = None, backlog: int = 100,
        ssl: Any = None, start_serving: bool = True, **kwargs: Any,
    ) -> asyncio.AbstractServer:
        if sock is None or ssl is not None or kwargs:
            return await super().create_server(
                protocol_factory, host, port, sock=sock, backlog=backlog, ssl=ssl,
                start_serving=start_serving, **kwargs)
        server = AcceptingServer(self, protocol_factory, sock, backlog)
        if start_serving:
            await server.start_serving()
        return server


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvicorn's custom loop factory (``loop="aegis.gateway.accept:new_event_loop"``)."""
    return AcceptingLoop()
