"""Connections and the per-origin keep-alive pool behind ``FastClient``.

A ``Connection`` is an ``asyncio.Protocol`` that feeds ``data_received`` straight
into an ``httptools.HttpResponseParser``: no stream objects, no tasks, one future
and one timer per wait, so a small JSON exchange costs little beyond its two
syscalls (``bench/http_clients.py``).

The ``Pool`` for one (scheme, host, port) holds at most ``max_connections``
sockets (idle + in use + connecting); idle ones are reused newest first so the
oldest expire, and requests queue for a slot when all are busy.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import deque
from typing import Any, cast

import httptools

from aegis.http.errors import ConnectError, ProtocolError, TransportError, TransportTimeout

HIGH_WATER = 256 * 1024  # unread body bytes before reading from the socket pauses
DRAIN_LIMIT = 64 * 1024  # bytes an abandoned response may still send while draining


class StaleConnection(ProtocolError):
    """The server closed the connection before sending any byte of the response."""


def _keepalive_timeout(value: str) -> float | None:
    """``timeout=N`` from a ``Keep-Alive`` response header."""
    for part in value.split(","):
        name, _, number = part.strip().partition("=")
        if name.strip().lower() == "timeout":
            try:
                return float(number)
            except ValueError:
                return None
    return None


class Connection(asyncio.Protocol):
    """One socket carrying one exchange at a time; the response state lives here
    so the parser callbacks stay plain attribute writes."""

    __slots__ = (
        "_active",
        "_body",
        "_buffered",
        "_drain_handle",
        "_drained",
        "_draining",
        "_head_only",
        "_interim",
        "_parser",
        "_paused",
        "_received",
        "_spoiled",
        "_timer",
        "_timer_at",
        "_until_eof",
        "_wait_until",
        "_waiter",
        "closed",
        "complete",
        "dropped",
        "error",
        "expires_at",
        "headers",
        "headers_done",
        "idle",
        "keep_alive",
        "loop",
        "pool",
        "status",
        "transport",
    )

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.loop = pool.loop
        self.transport: asyncio.Transport | None = None
        self.closed = False  # connection_lost was called
        self.idle = False  # sits in the pool's idle stack
        self.dropped = False  # its pool slot was given back
        self.expires_at = 0.0
        self._parser: Any = None
        self._spoiled = False  # bytes outside a response: never reuse
        self._waiter: asyncio.Future[bool] | None = None
        self._wait_until = 0.0  # when the current wait times out
        self._timer: asyncio.TimerHandle | None = None  # see ``wait``
        self._timer_at = 0.0
        self._draining = False
        self._drain_handle: asyncio.TimerHandle | None = None
        self._drained = 0
        self._reset(False)

    def _reset(self, head_only: bool) -> None:
        self._active = False
        self._head_only = head_only
        self._received = False
        self._interim = False
        self._until_eof = False
        self._body: list[bytes] = []
        self._buffered = 0
        self._paused = False
        self.status = 0
        self.headers: dict[str, str] = {}
        self.headers_done = False
        self.complete = False
        self.keep_alive = False
        self.error: TransportError | None = None

    # -- exchange, driven by the client ----------------------------------------

    def begin(self, head: bytes, body: bytes | None, head_only: bool) -> None:
        """Start one exchange: reset the response state and write the request."""
        self._reset(head_only)
        self._active = True
        transport = self.transport
        if self.closed or transport is None or transport.is_closing():
            self.error = StaleConnection("connection was closed before the request was sent")
            return
        if self._parser is None:
            self._parser = httptools.HttpResponseParser(self)
        if not body:
            transport.write(head)
        elif len(body) <= 65536:
            transport.write(head + body)
        else:
            transport.writelines((head, body))

    async def wait(self, idle: float, total_at: float) -> None:
        """Wait for the next bytes (or the end) from the server.

        One timer serves many waits: a wait whose deadline is no earlier than the
        pending timer's leaves it be, and when it fires before the current wait's
        deadline it is set again for that. Why: a timer per wait (uvloop's ``call_at``
        and ``cancel``) cost 2 µs isolated, and deadlines (seconds) outlast waits (ms).
        """
        loop = self.loop
        now = loop.time()
        if now >= total_at:
            raise TransportTimeout("total timeout exceeded", phase="total")
        idle_at = now + idle
        until = idle_at if idle_at < total_at else total_at
        fut: asyncio.Future[bool] = loop.create_future()
        self._waiter = fut
        self._wait_until = until
        timer = self._timer
        if timer is None or self._timer_at > until:
            if timer is not None:
                timer.cancel()
            self._timer = loop.call_at(until, self._on_timer)
            self._timer_at = until
        try:
            expired = await fut
        finally:
            self._waiter = None
        if expired:
            if idle_at < total_at:
                raise TransportTimeout("timed out waiting for the upstream", phase="read")
            raise TransportTimeout("total timeout exceeded", phase="total")

    def _on_timer(self) -> None:
        self._timer = None
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if self._timer_at >= self._wait_until:
            waiter.set_result(True)  # this wait's deadline: it timed out
        else:  # set for an earlier wait: on to this one's deadline
            self._timer = self.loop.call_at(self._wait_until, self._on_timer)
            self._timer_at = self._wait_until

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def has_body(self) -> bool:
        return bool(self._body)

    def take(self) -> bytes:
        """Every body byte received so far; resumes reading if it was paused."""
        body = self._body
        data = body[0] if len(body) == 1 else b"".join(body)
        self._body = []
        self._buffered = 0
        if self._paused:
            self._paused = False
            if self.transport is not None and not self.closed:
                self.transport.resume_reading()
        return data

    def reusable(self) -> bool:
        transport = self.transport
        return (
            self.complete
            and self.keep_alive
            and self.error is None
            and not self.closed
            and not self._spoiled
            and transport is not None
            and not transport.is_closing()
            and transport.get_write_buffer_size() == 0
        )

    def drainable(self) -> bool:
        return (
            self.headers_done
            and not self._until_eof
            and self.keep_alive
            and self.error is None
            and not self.closed
        )

    def finish(self) -> None:
        """The exchange is over: drop references to its response."""
        self._active = False
        self._body = []
        self._buffered = 0
        if self._paused:  # unread data was dropped: read again (and notice a FIN)
            self._paused = False
            if self.transport is not None and not self.closed:
                self.transport.resume_reading()
        if self._head_only:
            self._parser = None  # it still expects the body the headers announced

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def drain(self, grace: float) -> None:
        """Read the rest of an abandoned response in the background, then pool the
        connection, or close it after ``grace`` seconds or ``DRAIN_LIMIT`` bytes.

        An SSE consumer stops at ``[DONE]`` while the chunked terminator is still
        in flight; closing there would cost a new (TLS) connection per stream.
        """
        self._draining = True
        self._drained = 0
        self._body = []
        self._buffered = 0
        if self._paused:
            self._paused = False
            if self.transport is not None:
                self.transport.resume_reading()
        self._drain_handle = self.loop.call_later(grace, self._drain_done, False)

    def _drain_done(self, ok: bool) -> None:
        if not self._draining:
            return
        self._draining = False
        if self._drain_handle is not None:
            self._drain_handle.cancel()
            self._drain_handle = None
        if ok:
            self.pool.release(self)
        else:
            self.pool.drop(self)

    # -- asyncio.Protocol --------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def data_received(self, data: bytes) -> None:
        parser = self._parser
        if not self._active or self.complete or parser is None:
            # Bytes while idle or after the response: the stream is out of sync.
            self._spoiled = True
            self.abort()
            return
        self._received = True
        try:
            parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(ProtocolError("the upstream switched protocols"))
        except httptools.HttpParserError as exc:
            if self.complete:
                self._spoiled = True
                self.abort()
            else:
                self._fail(ProtocolError(f"malformed HTTP response: {exc}"))
        if self._draining:
            if self.complete or self._drained > DRAIN_LIMIT or self.error is not None:
                self._drain_done(self.complete and not self._spoiled)
            return
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(False)

    def eof_received(self) -> bool | None:
        return None  # close our side too; connection_lost settles the response

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._parser = None
        self._stop_timer()  # a closed connection is waited on no more (the waiter is woken below)
        if self._active and not self.complete and self.error is None:
            if self.headers_done and self._until_eof and exc is None:
                self.complete = True  # a close-delimited body ends here
                self.keep_alive = False
            elif not self._received:
                self.error = StaleConnection("the upstream closed the connection without answering")
            else:
                self.error = ProtocolError("the upstream closed the connection mid-response")
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(False)
        if self._draining:
            self._drain_done(False)
        elif self.idle:
            self.pool.drop(self)

    # -- httptools callbacks -------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.complete:
            self._spoiled = True  # a second response to one request

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers = self.headers
        prev = headers.get(key)
        headers[key] = text if prev is None else f"{prev}, {text}"

    def on_headers_complete(self) -> None:
        parser = self._parser
        status: int = parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            self._interim = True  # 100 Continue / 103 Early Hints: the real one follows
            self.headers = {}
            return
        self.status = status
        self.keep_alive = bool(parser.should_keep_alive())
        headers = self.headers
        if self._head_only:
            self.complete = True
        elif (
            status not in (204, 304)
            and "content-length" not in headers
            and "chunked" not in headers.get("transfer-encoding", "").lower()
        ):
            self._until_eof = True
            self.keep_alive = False
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        if self._draining:
            self._drained += len(body)
            return
        self._body.append(body)
        self._buffered += len(body)
        if self._buffered > HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        self.complete = True

    def _fail(self, error: TransportError) -> None:
        if self.error is None:
            self.error = error
        self.keep_alive = False
        self.abort()


class Pool:
    """Keep-alive connections to one origin, at most ``max_connections`` of them."""

    __slots__ = (
        "_waiters",
        "closed",
        "conns",
        "host",
        "idle",
        "keepalive_expiry",
        "loop",
        "max_connections",
        "port",
        "server_hostname",
        "size",
        "ssl",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        host: str,
        port: int,
        ssl_context: ssl.SSLContext | None,
        *,
        max_connections: int,
        keepalive_expiry: float,
    ) -> None:
        self.loop = loop
        self.host = host
        self.port = port
        self.ssl = ssl_context
        self.server_hostname = host if ssl_context is not None else None
        self.max_connections = max_connections
        self.keepalive_expiry = keepalive_expiry
        self.idle: deque[Connection] = deque()  # newest on the right
        self.conns: set[Connection] = set()
        self.size = 0  # open + connecting connections, i.e. slots in use
        self._waiters: deque[asyncio.Future[Connection | None]] = deque()
        self.closed = False

    def reuse(self) -> Connection | None:
        """An idle connection that is still good, if any (the usual case: no coroutine)."""
        idle = self.idle
        if idle:
            now = self.loop.time()
            while idle:
                conn = idle.pop()
                conn.idle = False
                if conn.closed or conn.expires_at <= now:
                    self.drop(conn)
                    continue
                return conn
        return None

    async def acquire(self, connect: float, total_at: float) -> tuple[Connection, bool]:
        """A connection for one exchange and whether it was used before."""
        while True:
            conn = self.reuse()
            if conn is not None:
                return conn, True
            if self.size < self.max_connections:
                self.size += 1
                return await self.connect(connect, total_at), False
            got = await self._wait_turn(connect, total_at)
            if got is None:
                return await self.connect(connect, total_at), False
            if not got.closed:
                return got, True
            self.drop(got)

    async def _wait_turn(self, connect: float, total_at: float) -> Connection | None:
        """Queue until a connection (or a free slot, ``None``) is handed over."""
        fut: asyncio.Future[Connection | None] = self.loop.create_future()
        self._waiters.append(fut)
        when = min(self.loop.time() + connect, total_at)
        try:
            try:
                async with asyncio.timeout_at(when):
                    return await fut
            except BaseException:
                if fut.done() and not fut.cancelled() and fut.exception() is None:
                    got = fut.result()  # handed over just as we gave up: pass it on
                    if got is None:
                        self._free_slot()
                    else:
                        self._hand_off(got)
                else:
                    fut.cancel()
                    with contextlib.suppress(ValueError):
                        self._waiters.remove(fut)
                raise
        except TimeoutError:
            phase = "total" if when >= total_at else "connect"
            raise TransportTimeout(
                f"timed out waiting for one of {self.max_connections} pooled connections",
                phase=phase,
            ) from None

    async def connect(self, connect: float, total_at: float) -> Connection:
        """Open a connection in a slot the caller already holds."""
        loop = self.loop
        when = min(loop.time() + connect, total_at)
        try:
            async with asyncio.timeout_at(when):
                _, conn = await loop.create_connection(
                    lambda: Connection(self),
                    self.host,
                    self.port,
                    ssl=self.ssl,
                    server_hostname=self.server_hostname,
                )
        except BaseException as exc:
            self._free_slot()
            if isinstance(exc, TimeoutError):
                phase = "total" if when >= total_at else "connect"
                raise TransportTimeout(
                    f"timed out connecting to {self.host}:{self.port}", phase=phase
                ) from None
            if isinstance(exc, OSError):  # refused, DNS, TLS (ssl.SSLError is an OSError)
                raise ConnectError(f"could not connect to {self.host}:{self.port}: {exc}") from exc
            raise
        if self.closed:
            conn.abort()
            self._free_slot()
            raise ConnectError("the client was closed")
        self.conns.add(conn)
        return conn

    def replace(self, conn: Connection) -> None:
        """Close ``conn`` but keep its slot for a new connection (stale retry)."""
        conn.abort()
        conn.dropped = True
        self.conns.discard(conn)

    def release(self, conn: Connection) -> None:
        """The exchange on ``conn`` finished: keep it for reuse or close it."""
        ok = not self.closed and conn.reusable()
        keep_alive = conn.headers.get("keep-alive") if ok else None
        conn.finish()
        if not ok:
            self.drop(conn)
            return
        expiry = self.keepalive_expiry
        if keep_alive:
            server = _keepalive_timeout(keep_alive)
            if server is not None:
                expiry = min(expiry, server - 0.5)  # leave the server's close a margin
        conn.expires_at = self.loop.time() + expiry
        self._hand_off(conn)

    def _hand_off(self, conn: Connection) -> None:
        waiters = self._waiters
        while waiters:
            fut = waiters.popleft()
            if not fut.done():
                fut.set_result(conn)
                return
        idle = self.idle
        now = self.loop.time()
        while idle and idle[0].expires_at <= now:  # the oldest sit at the left
            old = idle.popleft()
            old.idle = False
            self.drop(old)
        conn.idle = True
        idle.append(conn)

    def drop(self, conn: Connection) -> None:
        """Close ``conn`` and give its slot to a waiter (idempotent)."""
        conn.finish()
        conn.abort()
        if conn.dropped:
            return
        conn.dropped = True
        if conn.idle:
            conn.idle = False
            with contextlib.suppress(ValueError):
                self.idle.remove(conn)
        self.conns.discard(conn)
        self._free_slot()

    def _free_slot(self) -> None:
        if self.closed:
            return
        self.size -= 1
        waiters = self._waiters
        while waiters:
            fut = waiters.popleft()
            if not fut.done():
                self.size += 1
                fut.set_result(None)
                return

    def close(self) -> None:
        """Close every connection; queued requests fail with ``ConnectError``."""
        self.closed = True
        for conn in list(self.conns):
            conn.dropped = True
            if conn.idle and conn.transport is not None:
                conn.idle = False
                conn.transport.close()
            else:
                conn.abort()
        self.conns.clear()
        self.idle.clear()
        self.size = 0
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_exception(ConnectError("the client was closed"))
