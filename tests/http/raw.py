"""Helpers for ``FastClient`` tests: raw ``asyncio`` servers that script byte-level
behaviour (odd chunking, closes, stalls) a real upstream or middlebox produces."""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aegis.http import Timeouts
from aegis.http.fast import FastClient
from aegis.http.pool import Pool

FAST = Timeouts(connect=2.0, read=2.0, total=10.0)


def pattern(n: int) -> bytes:
    """``n`` bytes of a repeating 0..255 pattern: a body whose corruption shows."""
    return (bytes(range(256)) * (n // 256 + 1))[:n]


def pool_of(client: FastClient) -> Pool:
    (pool,) = client._pools.values()
    return pool


# -- raw servers for byte-level edge cases ---------------------------------------


class RawConn:
    def __init__(self, server: RawServer, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, index: int) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.index = index  # 1 for the first connection the server accepted

    async def read_request(self) -> bytes | None:
        """The request head (body read and recorded too), or None at EOF."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        match = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        body = await self.reader.readexactly(int(match.group(1))) if match else b""
        self.server.requests.append((head, body))
        return head

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def wait_eof(self) -> None:
        with contextlib.suppress(ConnectionError):
            while await self.reader.read(65536):
                pass
        self.server.eofs += 1
        self.server.eof.set()

    def close(self) -> None:
        self.writer.close()


Handler = Callable[[RawConn], Awaitable[None]]


class RawServer:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.eofs = 0
        self.eof = asyncio.Event()
        self.requests: list[tuple[bytes, bytes]] = []
        self.tasks: set[asyncio.Task[Any]] = set()
        self.port = 0
        self.scheme = "http"
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    async def start(self, ssl_context: ssl.SSLContext | None) -> None:
        self.scheme = "https" if ssl_context else "http"
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        self.connections += 1
        conn = RawConn(self, reader, writer, self.connections)
        try:
            await self.handler(conn)
            await writer.drain()
        except (ConnectionError, ssl.SSLError, asyncio.CancelledError):
            pass  # stop() cancels stalled handlers; finish quietly
        finally:
            writer.close()

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self._server.wait_closed()


@contextlib.asynccontextmanager
async def raw_server(
    handler: Handler, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[RawServer]:
    server = RawServer(handler)
    await server.start(ssl_context)
    try:
        yield server
    finally:
        await server.stop()


def ok(body: bytes = b"ok", extra: str = "") -> bytes:
    return f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body


async def serve_ok(conn: RawConn) -> None:
    while await conn.read_request() is not None:
        conn.send(ok())
    await conn.wait_eof()


async def stall_after_headers(conn: RawConn) -> None:
    await conn.read_request()
    conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
    await conn.wait_eof()


async def get(client: FastClient, url: str, timeouts: Timeouts = FAST) -> bytes:
    resp = await client.request("GET", url, timeouts=timeouts)
    return await resp.aread()


def leaked_tasks(before: set[asyncio.Task[Any]], server: RawServer) -> set[asyncio.Task[Any]]:
    return {t for t in asyncio.all_tasks() - before if t not in server.tasks and not t.done()}
