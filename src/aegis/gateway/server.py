"""How Aegis runs under uvicorn: the HTTP protocol, and each worker's own listener.

``HeadWithBodyProtocol`` -- uvicorn's httptools protocol, sending a response's
head together with its body.

uvicorn writes the status line and headers as soon as the app sends
``http.response.start``, then the body as a second write: two ``send`` calls,
two TCP segments per answer. Here the head is held until the next write on the
connection -- the body, normally in the same step -- and leaves with it; if no
write follows in that step (a stream waiting for its first chunk), the head
leaves when the step is over, so it is never held back by a slow upstream.

Measured side by side (loopback): throughput +2-3 % at concurrency 32, less
kernel time per request, concurrency 1 no slower. Deferring *every* write to the
end of the step gained +7 % at concurrency 32 but added ~30 µs to each answer at
concurrency 1 (it then waited for the request's bookkeeping), so writes after
the head go out at once.

Only the transport seen by uvicorn's protocol changes; parsing, keep-alive, flow
control and shutdown are uvicorn's.

``ReusePortListener`` -- with ``--workers N`` uvicorn binds one socket in the
supervisor and every worker accepts from it; whichever worker wakes first takes
a whole burst of new connections (in benchmark rounds, one of two workers
accepted all 32 of wrk's connections, and the pair served like one worker). With
``SO_REUSEPORT`` each worker listens on its own socket and the kernel spreads new
connections over them by connection hash.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_HEAD = b"HTTP/1."  # how every status line uvicorn writes begins


class _HeadWithBody:
    """A transport that holds a response head until the next write or the step's end."""

    __slots__ = ("_held", "_loop", "_real")

    def __init__(self, real: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._real = real
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._real.write(held + data)
        elif data.startswith(_HEAD):
            self._held = data
            self._loop.call_soon(self._release)
        else:
            self._real.write(data)

    def _release(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._real.write(held)

    def close(self) -> None:
        self._release()
        self._real.close()

    def abort(self) -> None:
        self._held = None
        self._real.abort()

    def __getattr__(self, name: str) -> Any:  # everything else is the real transport's
        return getattr(self._real, name)


class HeadWithBodyProtocol(HttpToolsProtocol):
    """Pass as uvicorn's ``http=``."""

    def connection_made(self, transport: Any) -> None:
        super().connection_made(_HeadWithBody(transport, self.loop))  # type: ignore[arg-type]


def per_worker_listeners(port: int) -> bool:
    """Whether workers should each listen on their own socket: Linux balances
    connections over ``SO_REUSEPORT`` listeners (other systems may not), and only a
    fixed port can be shared (port 0 would give every worker a different one)."""
    return port != 0 and sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def bind_listener(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A socket bound to ``host:port`` (with ``reuse_port``, one that other
    ``SO_REUSEPORT`` sockets may share).

    Not yet listening: uvicorn's server calls ``listen`` when it starts serving.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def bind_reuse_port(host: str, port: int) -> socket.socket:
    return bind_listener(host, port, reuse_port=True)


class ReusePortListener:
    """What uvicorn's supervisor hands each worker instead of one shared socket.

    uvicorn pickles a worker's sockets when it spawns the worker; unpickling this
    in the worker binds that worker's own ``SO_REUSEPORT`` socket. The supervisor
    itself never listens, so no connection can land where nobody accepts.
    """

    __slots__ = ("host", "port")

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port

    def __reduce__(self) -> tuple[Any, tuple[str, int]]:
        return bind_reuse_port, (self.host, self.port)
