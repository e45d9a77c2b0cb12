"""``FastClient`` against real sockets on 127.0.0.1.

A uvicorn ASGI app covers the ordinary traffic (JSON, keep-alive, limits, SSE,
large bodies); raw ``asyncio.start_server`` servers script the byte-level edge
cases a real upstream or middlebox produces (odd chunking, closes, stalls). The
core scenarios run again on uvloop, which is what production uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import uvloop

from aegis.http import Timeouts, iter_sse
from aegis.http.errors import ConnectError, ProtocolError, TransportTimeout
from aegis.http.fast import FastClient
from aegis.http.pool import HIGH_WATER, Pool
from tests.fakes.base import FakeUpstream
from tests.fakes.openai import FakeOpenAI

FAST = Timeouts(connect=2.0, read=2.0, total=10.0)


def pool_of(client: FastClient) -> Pool:
    (pool,) = client._pools.values()
    return pool


# -- an ASGI app served by uvicorn in a thread -----------------------------------


class App(FakeUpstream):
    """Echo, slow, big, upload and a paced SSE stream; records client sockets."""

    def __init__(self) -> None:
        super().__init__()
        self.clients: set[tuple[str, int]] = set()
        self.in_flight = 0
        self.max_in_flight = 0
        self.release = threading.Event()

    def reset(self) -> None:
        super().reset()
        self.clients.clear()
        self.in_flight = self.max_in_flight = 0
        self.release.clear()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.clients.add(tuple(scope["client"]))  # type: ignore[arg-type]
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        query = scope["query_string"].decode()
        if path == "/echo":
            headers = {k.decode(): v.decode() for k, v in scope["headers"]}
            payload = {"method": scope["method"], "query": query, "headers": headers,
                       "json": orjson.loads(body) if body else None}
            await self._reply(send, orjson.dumps(payload))
        elif path == "/slow":
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            await asyncio.sleep(0.05)
            self.in_flight -= 1
            await self._reply(send, b'{"slow":true}')
        elif path == "/big":
            await self._reply(send, _pattern(int(query)))
        elif path == "/upload":
            digest = hashlib.sha256(body).hexdigest()
            await self._reply(send, orjson.dumps({"len": len(body), "sha256": digest}))
        elif path == "/sse":
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/event-stream")]})
            await send({"type": "http.response.body", "body": b"data: one\n\n",
                        "more_body": True})
            deadline = time.monotonic() + 5
            while not self.release.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
            for frame in (b"data: two\n\n", b"data: [DONE]\n\n"):
                await send({"type": "http.response.body", "body": frame, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        else:
            await self._reply(send, b"{}", status=404)

    @staticmethod
    async def _reply(send: Any, payload: bytes, status: int = 200) -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": payload})


def _pattern(n: int) -> bytes:
    return (bytes(range(256)) * (n // 256 + 1))[:n]


@pytest.fixture(scope="module")
def app_server() -> Iterator[App]:
    with App() as app:
        yield app  # type: ignore[misc]


@pytest.fixture
def app(app_server: App) -> App:
    app_server.reset()
    return app_server


async def test_json_round_trip(app: App) -> None:
    client = FastClient()
    resp = await client.request(
        "POST", f"{app.base_url}/echo?x=1", headers={"Content-Type": "application/json",
                                                    "Authorization": "Bearer k"},
        body=orjson.dumps({"hello": "wörld"}), timeouts=FAST,
    )
    assert resp.status == 200
    assert resp.headers["content-type"] == "application/json"
    data = orjson.loads(await resp.aread())
    assert data["json"] == {"hello": "wörld"}
    assert data["query"] == "x=1"
    sent = data["headers"]
    assert sent["host"] == f"127.0.0.1:{app.port}"
    assert sent["user-agent"] == "aegis"
    assert sent["accept-encoding"] == "identity"
    assert sent["authorization"] == "Bearer k"
    assert sent["content-length"] == str(len(orjson.dumps({"hello": "wörld"})))
    await client.aclose()


async def test_keep_alive_reuses_one_connection(app: App) -> None:
    client = FastClient()
    for _ in range(5):
        resp = await client.request("GET", f"{app.base_url}/echo", timeouts=FAST)
        await resp.aread()
    assert len(app.clients) == 1
    await client.aclose()


async def test_concurrency_is_bounded_by_max_connections(app: App) -> None:
    client = FastClient(max_connections=3)

    async def one() -> bytes:
        resp = await client.request("GET", f"{app.base_url}/slow", timeouts=FAST)
        return await resp.aread()

    results = await asyncio.gather(*(one() for _ in range(12)))
    assert results == [b'{"slow":true}'] * 12
    assert app.max_in_flight == 3
    assert len(app.clients) == 3
    pool = pool_of(client)
    assert pool.size == 3 and len(pool.idle) == 3
    await client.aclose()


async def test_sse_arrives_incrementally(app: App) -> None:
    client = FastClient()
    resp = await client.request("GET", f"{app.base_url}/sse", timeouts=FAST)
    events = iter_sse(resp.aiter_bytes())
    first = await asyncio.wait_for(anext(events), 2)
    assert first.data == b"one"
    assert not app.release.is_set()  # the server has not sent the rest yet
    app.release.set()
    assert [e.data async for e in events] == [b"two", b"[DONE]"]
    await resp.aclose()
    await client.aclose()


async def test_large_bodies_both_ways(app: App) -> None:
    client = FastClient()
    up = _pattern(1_000_000)
    resp = await client.request("POST", f"{app.base_url}/upload", body=up, timeouts=FAST)
    assert orjson.loads(await resp.aread()) == {
        "len": len(up), "sha256": hashlib.sha256(up).hexdigest()}
    resp = await client.request("GET", f"{app.base_url}/big?1000000", timeouts=FAST)
    assert await resp.aread() == _pattern(1_000_000)
    resp = await client.request("GET", f"{app.base_url}/big?1000000", timeouts=FAST)
    chunks = [c async for c in resp.aiter_bytes()]
    assert b"".join(chunks) == _pattern(1_000_000)
    assert len(app.clients) == 1
    await client.aclose()


async def test_openai_shaped_stream_keeps_its_connection() -> None:
    """The adapter stops at ``[DONE]`` and closes; the chunked terminator comes
    in a separate write, so the connection survives only through draining."""
    with FakeOpenAI() as fake:
        client = FastClient()
        headers = {"authorization": "Bearer sk-test-openai", "content-type": "application/json"}
        body = orjson.dumps({"model": "gpt-4o-mini", "stream": True,
                             "messages": [{"role": "user", "content": "hi there"}]})
        for _ in range(3):
            resp = await client.request("POST", f"{fake.base_url}/chat/completions",
                                        headers=headers, body=body, timeouts=FAST)
            async for event in iter_sse(resp.aiter_bytes()):
                if event.data == b"[DONE]":
                    break
            await resp.aclose()
            await asyncio.sleep(0.02)
        resp = await client.request("POST", f"{fake.base_url}/chat/completions",
                                    headers=headers, body=body.replace(b"true", b"false"),
                                    timeouts=FAST)
        assert orjson.loads(await resp.aread())["object"] == "chat.completion"
        pool = pool_of(client)
        assert pool.size == 1 and len(pool.idle) == 1
        await client.aclose()


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def leaked_tasks(before: set[asyncio.Task[Any]], server: RawServer) -> set[asyncio.Task[Any]]:
    return {t for t in asyncio.all_tasks() - before if t not in server.tasks and not t.done()}


# Scenarios that also run on uvloop (see ``test_on_uvloop``).


async def scenario_chunked_odd_sizes_and_extensions() -> None:
    async def handler(conn: RawConn) -> None:
        while await conn.read_request() is not None:
            conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"1;name=value\r\na\r\n1F;x\r\n" + b"b" * 31 + b"\r\n")
            await asyncio.sleep(0.01)
            conn.send(b"3\r\nccc\r\n0\r\nX-Trailer: t\r\n\r\n")

    async with raw_server(handler) as server:
        client = FastClient()
        for _ in range(2):
            assert await get(client, server.url) == b"a" + b"b" * 31 + b"ccc"
        assert server.connections == 1
        await client.aclose()


async def scenario_stale_connection_is_retried_once() -> None:
    async def handler(conn: RawConn) -> None:
        if conn.index == 1:
            await conn.read_request()
            conn.send(ok(b"first"))
            await conn.read_request()  # the reused connection's request arrives...
            return  # ...and the server drops it unanswered, as at its idle timeout
        while await conn.read_request() is not None:
            conn.send(ok(b"fresh"))

    async with raw_server(handler) as server:
        client = FastClient()
        assert await get(client, server.url) == b"first"
        assert await get(client, server.url) == b"fresh"
        assert server.connections == 2
        assert len(server.requests) == 3
        pool = pool_of(client)
        assert pool.size == 1 and len(pool.idle) == 1
        await client.aclose()


async def scenario_cancel_mid_stream_closes_the_connection() -> None:
    async with raw_server(stall_after_headers) as server:
        client = FastClient()
        before = asyncio.all_tasks()
        got: list[bytes] = []
        first = asyncio.Event()

        async def consume() -> None:
            resp = await client.request("GET", server.url, timeouts=FAST)
            async for chunk in resp.aiter_bytes():
                got.append(chunk)
                first.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(first.wait(), 2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wait_for(server.eof.wait(), 2)
        assert got == [b"first"]
        pool = pool_of(client)
        assert pool.size == 0 and not pool.idle and not pool.conns
        await asyncio.sleep(0.01)
        assert not leaked_tasks(before, server)
        await client.aclose()


async def scenario_read_timeouts() -> None:
    async def never(conn: RawConn) -> None:
        await conn.read_request()
        await conn.wait_eof()

    async with raw_server(never) as server:
        client = FastClient()
        start = time.monotonic()
        with pytest.raises(TransportTimeout) as err:
            await client.request("GET", server.url, timeouts=Timeouts(read=0.2))
        assert err.value.phase == "read"
        assert 0.15 < time.monotonic() - start < 1.5
        await asyncio.wait_for(server.eof.wait(), 2)
        assert pool_of(client).size == 0
        await client.aclose()

    async with raw_server(stall_after_headers) as server:
        client = FastClient()
        resp = await client.request("GET", server.url, timeouts=Timeouts(read=0.2))
        chunks = resp.aiter_bytes()
        assert await anext(chunks) == b"first"
        with pytest.raises(TransportTimeout) as err:
            await anext(chunks)
        assert err.value.phase == "read"
        await asyncio.wait_for(server.eof.wait(), 2)
        await client.aclose()


async def scenario_tls(certs: tuple[Path, Path]) -> None:
    cert, key = certs
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    async with raw_server(serve_ok, server_ctx) as server:
        trusted = FastClient(verify=str(cert))
        for _ in range(3):
            assert await get(trusted, server.url) == b"ok"
        assert server.connections == 1
        await trusted.aclose()

        untrusted = FastClient()
        with pytest.raises(ConnectError):
            await get(untrusted, server.url)
        await untrusted.aclose()

        unverified = FastClient(verify=False)
        assert await get(unverified, server.url) == b"ok"
        await unverified.aclose()


async def test_chunked_odd_sizes_and_extensions() -> None:
    await scenario_chunked_odd_sizes_and_extensions()


async def test_stale_connection_is_retried_once() -> None:
    await scenario_stale_connection_is_retried_once()


async def test_cancel_mid_stream_closes_the_connection() -> None:
    await scenario_cancel_mid_stream_closes_the_connection()


async def test_read_timeouts() -> None:
    await scenario_read_timeouts()


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (``cryptography`` is not in the venv)."""
    tmp = tmp_path_factory.mktemp("tls")
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return cert, key


async def test_tls(certs: tuple[Path, Path]) -> None:
    await scenario_tls(certs)


async def test_tls_with_an_ssl_context_and_streaming(certs: tuple[Path, Path]) -> None:
    cert, key = certs
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)

    async def big(conn: RawConn) -> None:
        while await conn.read_request() is not None:
            conn.send(ok(_pattern(2_000_000)))

    async with raw_server(big, server_ctx) as server:
        client = FastClient(verify=ssl.create_default_context(cafile=str(cert)))
        resp = await client.request("GET", server.url, timeouts=FAST)
        await asyncio.sleep(0.2)  # let it fill up to the high-water mark
        assert b"".join([c async for c in resp.aiter_bytes()]) == _pattern(2_000_000)
        assert await get(client, server.url) == _pattern(2_000_000)
        assert server.connections == 1
        await client.aclose()


async def test_tls_handshake_counts_as_connect() -> None:
    async def silent(conn: RawConn) -> None:
        await conn.wait_eof()  # accepts TCP, never answers the ClientHello

    async with raw_server(silent) as server:
        client = FastClient(verify=False)
        url = server.url.replace("http://", "https://")
        with pytest.raises(TransportTimeout) as err:
            await get(client, url, Timeouts(connect=0.2))
        assert err.value.phase == "connect"
        assert pool_of(client).size == 0
        await client.aclose()


@pytest.mark.parametrize(
    "scenario",
    [
        scenario_chunked_odd_sizes_and_extensions,
        scenario_stale_connection_is_retried_once,
        scenario_cancel_mid_stream_closes_the_connection,
        scenario_read_timeouts,
        scenario_tls,
    ],
)
def test_on_uvloop(
    scenario: Callable[..., Awaitable[None]], certs: tuple[Path, Path]
) -> None:
    args = (certs,) if scenario is scenario_tls else ()

    async def main() -> None:
        assert type(asyncio.get_running_loop()).__module__.startswith("uvloop")
        await scenario(*args)

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())


async def test_request_head() -> None:
    async with raw_server(serve_ok) as server:
        client = FastClient()
        await (await client.request("POST", server.url + "/a b?q=1", body=b"",
                                    headers={"Accept-Encoding": "gzip", "X-Id": "7"})).aread()
        await (await client.request("get", server.url + "/models", body=b"")).aread()
        await (await client.request("POST", server.url, body=b"xyz",
                                    headers={"content-length": "999"})).aread()
        heads = [head.decode() for head, _ in server.requests]
        assert heads[0].startswith("POST /a%20b?q=1 HTTP/1.1\r\n")
        assert "Accept-Encoding: gzip\r\n" in heads[0]
        assert "identity" not in heads[0]
        assert "X-Id: 7\r\n" in heads[0]
        assert "Content-Length: 0\r\n" in heads[0]
        assert f"Host: 127.0.0.1:{server.port}\r\n" in heads[0]
        assert "User-Agent: aegis\r\n" in heads[0]
        assert heads[1].startswith("GET /models HTTP/1.1\r\n")
        assert "content-length" not in heads[1].lower()
        assert "Content-Length: 3\r\n" in heads[2] and "999" not in heads[2]
        assert server.requests[2][1] == b"xyz"
        with pytest.raises(ValueError):
            await client.request("GET", server.url, headers={"X-Evil": "a\r\nInjected: 1"})
        with pytest.raises(ValueError):
            await client.request("GET", "ftp://127.0.0.1/")
        await client.aclose()


async def test_response_headers_lower_cased_and_joined() -> None:
    async def handler(conn: RawConn) -> None:
        await conn.read_request()
        conn.send(b"HTTP/1.1 201 Created\r\nX-Thing: a\r\nx-thing: b\r\nContent-Type: text/plain"
                  b"\r\nContent-Length: 2\r\n\r\nhi")

    async with raw_server(handler) as server:
        client = FastClient()
        resp = await client.request("GET", server.url)
        assert resp.status == 201
        assert resp.headers["x-thing"] == "a, b"
        assert resp.headers["content-type"] == "text/plain"
        assert pool_of(client).idle  # a body that came with the headers frees the connection
        assert [c async for c in resp.aiter_bytes()] == [b"hi"]
        with pytest.raises(RuntimeError):
            await resp.aread()
        await client.aclose()


async def test_close_delimited_body() -> None:
    async def handler(conn: RawConn) -> None:
        await conn.read_request()
        conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello ")
        await asyncio.sleep(0.02)
        conn.send(b"world")

    async with raw_server(handler) as server:
        client = FastClient()
        assert await get(client, server.url) == b"hello world"
        assert await get(client, server.url) == b"hello world"
        assert server.connections == 2
        await client.aclose()


@pytest.mark.parametrize(
    "reply",
    [
        ok(extra="Connection: close\r\n"),
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    ],
    ids=["connection-close", "http-1.0"],
)
async def test_connection_close_and_http10_are_not_reused(reply: bytes) -> None:
    async def handler(conn: RawConn) -> None:
        await conn.read_request()
        conn.send(reply)
        await conn.wait_eof()

    async with raw_server(handler) as server:
        client = FastClient()
        assert await get(client, server.url) == b"ok"
        await asyncio.wait_for(server.eof.wait(), 2)  # we closed it
        assert await get(client, server.url) == b"ok"
        assert server.connections == 2
        assert pool_of(client).size == 0
        await client.aclose()


async def test_http10_keep_alive_is_reused() -> None:
    async def handler(conn: RawConn) -> None:
        while await conn.read_request() is not None:
            conn.send(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok")

    async with raw_server(handler) as server:
        client = FastClient()
        for _ in range(2):
            assert await get(client, server.url) == b"ok"
        assert server.connections == 1
        await client.aclose()


async def test_idle_connection_closed_by_server_is_discarded() -> None:
    async def handler(conn: RawConn) -> None:
        await conn.read_request()
        conn.send(ok())

    async with raw_server(handler) as server:
        client = FastClient()
        assert await get(client, server.url) == b"ok"
        await asyncio.sleep(0.05)  # the server's FIN arrives while the connection is idle
        pool = pool_of(client)
        assert pool.size == 0 and not pool.idle
        assert await get(client, server.url) == b"ok"
        assert server.connections == 2
        await client.aclose()


async def test_fresh_connection_closed_without_answer_is_an_error() -> None:
    async def handler(conn: RawConn) -> None:
        await conn.read_request()

    async with raw_server(handler) as server:
        client = FastClient()
        with pytest.raises(ProtocolError):
            await get(client, server.url)
        assert server.connections == 1  # no retry: it was not a reused connection
        await client.aclose()


async def test_server_closing_mid_body() -> None:
    async def handler(conn: RawConn) -> None:
        await conn.read_request()
        conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
        await asyncio.sleep(0.02)

    async with raw_server(handler) as server:
        client = FastClient()
        resp = await client.request("GET", server.url)
        with pytest.raises(ProtocolError):
            await resp.aread()
        resp = await client.request("GET", server.url)
        chunks = resp.aiter_bytes()
        assert await anext(chunks) == b"0123456789"
        with pytest.raises(ProtocolError):
            await anext(chunks)
        assert pool_of(client).size == 0
        await client.aclose()


async def test_total_timeout() -> None:
    async def trickle(conn: RawConn) -> None:
        await conn.read_request()
        conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        while True:
            conn.send(b"1\r\nx\r\n")
            await asyncio.sleep(0.02)

    async def never(conn: RawConn) -> None:
        await conn.read_request()
        await conn.wait_eof()

    async with raw_server(trickle) as server:
        client = FastClient()
        resp = await client.request("GET", server.url, timeouts=Timeouts(read=1, total=0.3))
        start = time.monotonic()
        with pytest.raises(TransportTimeout) as err:
            await resp.aread()
        assert err.value.phase == "total"
        assert time.monotonic() - start < 1
        resp = await client.request("GET", server.url, timeouts=Timeouts(read=1, total=0.3))
        with pytest.raises(TransportTimeout) as err:
            async for _ in resp.aiter_bytes():
                await asyncio.sleep(0.05)  # a slow consumer: data is always waiting
        assert err.value.phase == "total"
        await client.aclose()

    async with raw_server(never) as server:
        client = FastClient()
        with pytest.raises(TransportTimeout) as err:
            await get(client, server.url, Timeouts(read=5, total=0.2))
        assert err.value.phase == "total"
        await client.aclose()


async def test_connect_refused() -> None:
    client = FastClient()
    with pytest.raises(ConnectError):
        await get(client, f"http://127.0.0.1:{free_port()}/")
    assert pool_of(client).size == 0
    await client.aclose()


@pytest.mark.parametrize(
    "reply", [b"HTTP/1.1 2x0 OK\r\n\r\n", b"hello there\r\n\r\n",
              b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"],
    ids=["status", "garbage", "chunk-size"],
)
async def test_malformed_response(reply: bytes) -> None:
    async def handler(conn: RawConn) -> None:
        await conn.read_request()
        conn.send(reply)
        await conn.wait_eof()

    async with raw_server(handler) as server:
        client = FastClient()
        with pytest.raises(ProtocolError):
            await get(client, server.url)
        await asyncio.wait_for(server.eof.wait(), 2)
        assert pool_of(client).size == 0
        await client.aclose()


async def test_cancel_while_waiting_for_headers() -> None:
    async def never(conn: RawConn) -> None:
        await conn.read_request()
        await conn.wait_eof()

    async with raw_server(never) as server:
        client = FastClient()
        before = asyncio.all_tasks()
        task = asyncio.create_task(get(client, server.url))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wait_for(server.eof.wait(), 2)
        assert pool_of(client).size == 0
        assert not leaked_tasks(before, server)
        await client.aclose()


async def test_aclose_mid_stream_closes_after_the_drain_grace() -> None:
    async with raw_server(stall_after_headers) as server:
        client = FastClient(drain_timeout=0.1)
        resp = await client.request("GET", server.url)
        assert await anext(resp.aiter_bytes()) == b"first"
        start = time.monotonic()
        await resp.aclose()
        await asyncio.wait_for(server.eof.wait(), 2)
        assert time.monotonic() - start < 0.5
        assert pool_of(client).size == 0
        await client.aclose()

    async with raw_server(stall_after_headers) as server:
        client = FastClient(drain_timeout=0)
        resp = await client.request("GET", server.url)
        await resp.aclose()
        await asyncio.wait_for(server.eof.wait(), 0.2)
        await client.aclose()


async def test_aclose_before_the_terminator_keeps_the_connection() -> None:
    async def handler(conn: RawConn) -> None:
        await conn.read_request()
        conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"e\r\ndata: [DONE]\n\n\r\n")
        await asyncio.sleep(0.03)
        conn.send(b"0\r\n\r\n")
        await serve_ok(conn)

    async with raw_server(handler) as server:
        client = FastClient()
        resp = await client.request("GET", server.url)
        assert await anext(resp.aiter_bytes()) == b"data: [DONE]\n\n"
        await resp.aclose()
        await asyncio.sleep(0.06)
        assert await get(client, server.url) == b"ok"
        assert server.connections == 1
        await client.aclose()


async def test_back_pressure_pauses_reading() -> None:
    size = 8 * 1024 * 1024

    async def handler(conn: RawConn) -> None:
        await conn.read_request()
        conn.send(ok(_pattern(size)))
        await conn.writer.drain()

    async with raw_server(handler) as server:
        client = FastClient()
        resp = await client.request("GET", server.url)
        await asyncio.sleep(0.3)
        conn = resp._conn
        assert conn is not None and conn._paused
        assert conn._buffered < HIGH_WATER + 1024 * 1024
        body = b"".join([c async for c in resp.aiter_bytes()])
        assert body == _pattern(size)
        await client.aclose()


async def test_head_204_and_interim_responses_keep_the_connection_in_sync() -> None:
    async def handler(conn: RawConn) -> None:
        while (head := await conn.read_request()) is not None:
            if head.startswith(b"HEAD"):
                conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
            elif b"/204" in head:
                conn.send(b"HTTP/1.1 204 No Content\r\n\r\n")
            elif b"/103" in head:
                conn.send(b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n" + ok(b"late"))
            else:
                conn.send(ok())

    async with raw_server(handler) as server:
        client = FastClient()
        resp = await client.request("HEAD", server.url)
        assert resp.headers["content-length"] == "100"
        assert await resp.aread() == b""
        assert await get(client, server.url) == b"ok"
        resp = await client.request("GET", server.url + "/204")
        assert resp.status == 204 and await resp.aread() == b""
        resp = await client.request("GET", server.url + "/103")
        assert resp.status == 200 and "link" not in resp.headers
        assert await resp.aread() == b"late"
        assert await get(client, server.url) == b"ok"
        assert server.connections == 1
        await client.aclose()


async def test_bytes_after_the_response_spoil_the_connection() -> None:
    async def handler(conn: RawConn) -> None:
        while await conn.read_request() is not None:
            conn.send(ok() + b"HTTP/1.1 200 OK\r\n")

    async with raw_server(handler) as server:
        client = FastClient()
        assert await get(client, server.url) == b"ok"
        assert await get(client, server.url) == b"ok"
        assert server.connections == 2
        await client.aclose()


async def test_pool_wait_times_out_then_recovers() -> None:
    async def handler(conn: RawConn) -> None:
        if conn.index == 1:
            await stall_after_headers(conn)
        else:
            await serve_ok(conn)

    async with raw_server(handler) as server:
        client = FastClient(max_connections=1, drain_timeout=0)
        held = await client.request("GET", server.url)
        with pytest.raises(TransportTimeout) as err:
            await get(client, server.url, Timeouts(connect=0.1))
        assert err.value.phase == "connect"
        waiting = asyncio.create_task(get(client, server.url))
        await asyncio.sleep(0.02)
        await held.aclose()  # frees the slot for the queued request
        assert await waiting == b"ok"
        assert pool_of(client).size == 1
        await client.aclose()


async def test_idle_expiry_and_server_keep_alive_timeout() -> None:
    async def handler(conn: RawConn) -> None:
        while await conn.read_request() is not None:
            conn.send(ok(extra="Keep-Alive: timeout=2, max=100\r\n"))

    async with raw_server(handler) as server:
        client = FastClient()
        await get(client, server.url)
        (conn,) = pool_of(client).idle
        remaining = conn.expires_at - asyncio.get_running_loop().time()
        assert 1.0 < remaining <= 1.5
        await client.aclose()

    async with raw_server(serve_ok) as server:
        client = FastClient(keepalive_expiry=0.05)
        await get(client, server.url)
        await asyncio.sleep(0.1)
        await get(client, server.url)
        assert server.connections == 2
        await asyncio.wait_for(server.eof.wait(), 2)  # the expired one was closed
        await client.aclose()


async def test_aclose_closes_idle_connections() -> None:
    async with raw_server(serve_ok) as server:
        client = FastClient()
        await get(client, server.url)
        await client.aclose()
        await asyncio.wait_for(server.eof.wait(), 2)
        with pytest.raises(RuntimeError):
            await get(client, server.url)


def test_one_client_across_event_loops(app: App) -> None:
    """Built before any loop runs (as the registry does) and survives a new loop."""
    client = FastClient()

    async def once(close: bool) -> bytes:
        # The first loop's connection is closed by the server: a loop that ends
        # with live pooled sockets cannot close them (asyncio needs that loop).
        headers = {} if close else {"Connection": "close"}
        resp = await client.request("GET", f"{app.base_url}/echo", headers=headers)
        body = await resp.aread()
        await asyncio.sleep(0.05)
        if close:
            await client.aclose()
        return body

    assert b"GET" in asyncio.run(once(False))
    assert b"GET" in asyncio.run(once(True))
    assert len(app.clients) == 2


async def test_unread_body_past_the_high_water_mark_does_not_wedge_the_connection() -> None:
    size = HIGH_WATER + 50_000  # the read that completes the body also pauses reading

    async def handler(conn: RawConn) -> None:
        while await conn.read_request() is not None:
            conn.send(ok(_pattern(size)))

    async with raw_server(handler) as server:
        client = FastClient()
        resp = await client.request("GET", server.url)
        await asyncio.sleep(0.1)
        conn = resp._conn
        assert conn is not None and conn.complete and conn._paused
        await resp.aclose()  # complete but never read
        assert await get(client, server.url, Timeouts(read=1)) == _pattern(size)
        assert server.connections == 1
        await client.aclose()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.openai.com/v1/chat/completions",
         (("https", "api.openai.com", 443), "/v1/chat/completions", "api.openai.com")),
        ("HTTP://user:pw@127.0.0.1:8080?a=1#frag",
         (("http", "127.0.0.1", 8080), "/?a=1", "127.0.0.1:8080")),
        ("http://[::1]:9000/x y", (("http", "::1", 9000), "/x%20y", "[::1]:9000")),
        ("https://bücher.example/", (("https", "xn--bcher-kva.example", 443), "/",
                                     "xn--bcher-kva.example")),
    ],
)
def test_split_url(url: str, expected: tuple[Any, str, str]) -> None:
    from aegis.http.fast import _split_url

    assert _split_url(url) == expected
