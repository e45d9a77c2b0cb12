"""``HttpClient`` on a lean ``asyncio.Protocol`` + ``httptools`` HTTP/1.1 client.

On our hardware a forwarder whose upstream client is built this way ran ~2.3x
the throughput of the same forwarder on aiohttp, and httpx is slower still
(``/work/shared/notes/performance.md``; ``bench/http_clients.py`` compares this
client with ``HttpxClient``), so it is the default. It speaks HTTP/1.1 only (no
HTTP/2, no proxies, no redirects, no decompression -- it asks for ``identity``);
``factory.build_client`` falls back to ``HttpxClient`` where a proxy applies.

Semantics follow ``HttpxClient``: ``read`` bounds the wait for the first byte
and every later gap, ``total`` the whole exchange; failures are only
``aegis.http.errors`` types. A connection goes back to the pool only once its
response was received completely; a reused connection the server had already
closed is retried once on a fresh one, as urllib3 and httpx do.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import ssl
from collections.abc import AsyncIterator, Mapping
from typing import NamedTuple
from urllib.parse import quote, urlsplit

from aegis.http.base import Timeouts
from aegis.http.errors import TransportTimeout
from aegis.http.pool import Connection, Pool, StaleConnection

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(r"[\x00\r\n]")
_UNSAFE_TARGET = re.compile(r"[^\x21-\x7e]")
_TARGET_SAFE = "/?#[]@!$&'()*+,;=:%~-._"
_NO_BODY_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS", "TRACE", "CONNECT"})
_CACHE_SIZE = 256  # prepared requests kept per client (then the cache starts over)

Origin = tuple[str, str, int]


def _split_url(url: str) -> tuple[Origin, str, str]:
    """(scheme, host, port), request target, ``Host`` header value."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"unsupported URL scheme in {url!r}")
    host = parts.hostname
    if not host:
        raise ValueError(f"no host in {url!r}")
    port = parts.port or (443 if scheme == "https" else 80)
    target = parts.path or "/"
    if parts.query:
        target = f"{target}?{parts.query}"
    if _UNSAFE_TARGET.search(target):
        target = quote(target, safe=_TARGET_SAFE)
    authority = parts.netloc.rpartition("@")[2]
    if not host.isascii():  # an internationalised name goes on the wire as IDNA
        host = host.encode("idna").decode("ascii")
        authority = host if parts.port is None else f"{host}:{parts.port}"
    return (scheme, host, port), target, authority


def _encode_head(
    method: str, target: str, host: str, headers: Mapping[str, str] | None, body: bytes | None
) -> bytes:
    return _head_lines(method, target, host, headers) + _framing(method, body)


def _head_lines(
    method: str, target: str, host: str, headers: Mapping[str, str] | None
) -> bytes:
    """The request head up to its framing: the same for every call with these arguments."""
    lines = [f"{method} {target} HTTP/1.1\r\n"]
    seen_host = seen_agent = seen_encoding = False
    if headers:
        for name, value in headers.items():
            if not _TOKEN.fullmatch(name) or _BAD_VALUE.search(value):
                raise ValueError(f"invalid HTTP header {name!r}")
            lower = name.lower()
            if lower in ("content-length", "transfer-encoding"):
                continue  # framing is ours: the body is sent whole
            if lower == "host":
                seen_host = True
            elif lower == "user-agent":
                seen_agent = True
            elif lower == "accept-encoding":
                seen_encoding = True
            lines.append(f"{name}: {value}\r\n")
    if not seen_host:
        lines.append(f"Host: {host}\r\n")
    if not seen_agent:
        lines.append("User-Agent: aegis\r\n")
    if not seen_encoding:
        lines.append("Accept-Encoding: identity\r\n")
    return "".join(lines).encode("latin-1")


def _framing(method: str, body: bytes | None) -> bytes:
    """``Content-Length`` (when there is a body to frame) and the blank line ending the head."""
    if body or (body is not None and method not in _NO_BODY_METHODS):
        return b"Content-Length: %d\r\n\r\n" % len(body)
    return b"\r\n"


class _Prepared(NamedTuple):
    """What ``FastClient.request`` derives from (method, url, headers) alone."""

    method: str  # upper case
    origin: Origin
    head: bytes  # ``_head_lines``


def _default_ssl_context() -> ssl.SSLContext:
    """The system trust store, or certifi's where the system has none (slim images)."""
    ctx = ssl.create_default_context()
    paths = ssl.get_default_verify_paths()
    has_file = bool(paths.cafile and os.path.isfile(paths.cafile))
    has_dir = bool(paths.capath and os.path.isdir(paths.capath) and os.listdir(paths.capath))
    if not (has_file or has_dir):
        try:
            import certifi
        except ImportError:  # pragma: no cover - certifi comes with httpx
            pass
        else:
            ctx.load_verify_locations(certifi.where())
    return ctx


class FastResponse:
    """Status and headers are in; the body is read from the connection on demand."""

    __slots__ = (
        "_buffer",
        "_conn",
        "_done",
        "_drain",
        "_pool",
        "_read",
        "_total_at",
        "headers",
        "status",
    )

    def __init__(
        self, conn: Connection, pool: Pool, read: float, total_at: float, drain: float
    ) -> None:
        self.status = conn.status
        self.headers: Mapping[str, str] = conn.headers
        self._pool = pool
        self._read = read
        self._total_at = total_at
        self._drain = drain
        self._done = False
        if conn.complete:  # the usual small JSON answer: free the connection at once
            self._buffer = conn.take() if conn.has_body() else b""
            self._conn: Connection | None = None
            pool.release(conn)
        else:
            self._buffer = b""
            self._conn = conn

    async def aread(self) -> bytes:
        if self._done:
            raise RuntimeError("the response body was already read or closed")
        parts = [self._buffer] if self._buffer else []
        self._buffer = b""
        conn = self._conn
        if conn is not None:
            try:
                while True:
                    if conn.has_body():
                        parts.append(conn.take())
                    if conn.complete:
                        break
                    if conn.error is not None:
                        raise conn.error
                    await conn.wait(self._read, self._total_at)
            except BaseException:
                self._abort()
                raise
            self._conn = None
            self._pool.release(conn)
        self._done = True
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def aiter_bytes(self) -> AsyncIterator[bytes]:
        """Body bytes as they arrive (everything buffered so far, per step)."""
        return _BodyIterator(self)

    async def _next(self) -> bytes | None:
        if self._buffer:
            data = self._buffer
            self._buffer = b""
            return data
        conn = self._conn
        if conn is None:
            self._done = True
            return None
        try:
            while True:
                if conn.has_body():
                    data = conn.take()
                    if conn.complete:
                        self._conn = None
                        self._pool.release(conn)
                    elif conn.loop.time() >= self._total_at:
                        raise TransportTimeout("total timeout exceeded", phase="total")
                    return data
                if conn.complete:
                    self._conn = None
                    self._done = True
                    self._pool.release(conn)
                    return None
                if conn.error is not None:
                    raise conn.error
                await conn.wait(self._read, self._total_at)
        except BaseException:
            self._abort()
            raise

    def _abort(self) -> None:
        conn = self._conn
        self._done = True
        if conn is not None:
            self._conn = None
            self._pool.drop(conn)

    async def aclose(self) -> None:
        """Release the connection: pooled if the body is all in (or drains within a
        moment, see ``Connection.drain``), closed otherwise."""
        self._done = True
        self._buffer = b""
        conn = self._conn
        if conn is None:
            return
        self._conn = None
        if conn.complete:
            self._pool.release(conn)
        elif self._drain > 0 and conn.drainable():
            conn.drain(self._drain)
        else:
            self._pool.drop(conn)

    def __del__(self) -> None:
        conn = getattr(self, "_conn", None)
        if conn is not None:  # dropped without aclose(): never leak the socket
            self._conn = None
            with contextlib.suppress(Exception):
                self._pool.drop(conn)


class _BodyIterator:
    __slots__ = ("_resp",)

    def __init__(self, resp: FastResponse) -> None:
        self._resp = resp

    def __aiter__(self) -> _BodyIterator:
        return self

    async def __anext__(self) -> bytes:
        data = await self._resp._next()
        if data is None:
            raise StopAsyncIteration
        return data


class FastClient:
    """Pooled keep-alive HTTP/1.1 client; one per provider, for the process lifetime.

    ``max_connections`` bounds each origin; ``verify`` is ``True`` (system CAs),
    ``False`` (no verification, tests only), a CA bundle path or an
    ``ssl.SSLContext``. ``drain_timeout`` is how long a response closed early may
    finish arriving so its connection can be reused (0 closes it at once).
    """

    def __init__(
        self,
        *,
        max_connections: int = 200,
        verify: bool | str | ssl.SSLContext = True,
        keepalive_expiry: float = 30.0,
        drain_timeout: float = 0.1,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self._max_connections = max_connections
        self._verify = verify
        self._keepalive_expiry = keepalive_expiry
        self._drain = drain_timeout
        self._ssl: ssl.SSLContext | None = verify if isinstance(verify, ssl.SSLContext) else None
        self._pools: dict[Origin, Pool] = {}
        # (method, url, header items) -> _Prepared: an adapter sends the same few
        # combinations again and again (measured isolated: 3.3 µs -> 0.8 µs a request).
        self._prepared: dict[tuple[str, str, tuple[tuple[str, str], ...]], _Prepared] = {}
        self._default_timeouts = Timeouts()
        self._closed = False

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            verify = self._verify
            if verify is True:
                ctx = _default_ssl_context()
            elif verify is False:
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            else:
                assert isinstance(verify, str)
                ctx = ssl.create_default_context(cafile=verify)
            ctx.set_alpn_protocols(["http/1.1"])
            self._ssl = ctx
        return self._ssl

    def _pool(self, origin: Origin, loop: asyncio.AbstractEventLoop) -> Pool:
        pool = self._pools.get(origin)
        if pool is None or pool.loop is not loop:
            if pool is not None:
                _close_pool(pool, loop)
            scheme, host, port = origin
            pool = Pool(
                loop,
                host,
                port,
                self._ssl_context() if scheme == "https" else None,
                max_connections=self._max_connections,
                keepalive_expiry=self._keepalive_expiry,
            )
            self._pools[origin] = pool
        return pool

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeouts: Timeouts | None = None,
    ) -> FastResponse:
        if self._closed:
            raise RuntimeError("the HTTP client was closed")
        t = timeouts or self._default_timeouts
        loop = asyncio.get_running_loop()
        total_at = loop.time() + t.total
        key = (method, url, tuple(headers.items()) if headers else ())
        prepared = self._prepared.get(key)
        if prepared is None:
            prepared = _prepare(method, url, headers)
            if len(self._prepared) >= _CACHE_SIZE:
                self._prepared.clear()
            self._prepared[key] = prepared
        method, origin, head = prepared
        head += _framing(method, body)
        head_only = method == "HEAD"
        pool = self._pool(origin, loop)
        idle = pool.reuse()
        if idle is not None:
            conn, reused = idle, True
        else:
            conn, reused = await pool.acquire(t.connect, total_at)
        while True:
            try:
                conn.begin(head, body, head_only)
                while not conn.headers_done:
                    if conn.error is not None:
                        raise conn.error
                    await conn.wait(t.read, total_at)
            except StaleConnection:
                if not reused:
                    pool.drop(conn)
                    raise
                pool.replace(conn)  # the server closed it while idle: once more, fresh
                reused = False
                conn = await pool.connect(t.connect, total_at)
                continue
            except BaseException:
                pool.drop(conn)
                raise
            return FastResponse(conn, pool, t.read, total_at, self._drain)

    async def aclose(self) -> None:
        self._closed = True
        loop = asyncio.get_running_loop()
        for pool in self._pools.values():
            _close_pool(pool, loop)
        self._pools.clear()


def _prepare(method: str, url: str, headers: Mapping[str, str] | None) -> _Prepared:
    origin, target, host = _split_url(url)
    method = method.upper()
    if not _TOKEN.fullmatch(method):
        raise ValueError(f"invalid HTTP method {method!r}")
    return _Prepared(method, origin, _head_lines(method, target, host, headers))


def _close_pool(pool: Pool, loop: asyncio.AbstractEventLoop) -> None:
    """Close ``pool`` on its own loop (its sockets belong there), if that still runs."""
    if pool.loop is loop:
        pool.close()
    elif not pool.loop.is_closed():
        pool.loop.call_soon_threadsafe(pool.close)
