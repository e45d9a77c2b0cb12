"""``FastClient`` against real sockets on 127.0.0.1: ordinary traffic and the core
scenarios.

A uvicorn ASGI app covers the ordinary traffic (JSON, keep-alive, limits, SSE,
large bodies); raw servers (``tests.http.raw``) script the byte-level scenarios,
which run again on uvloop, what production uses. Further edge cases:
``test_fast_client_edges``.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import subprocess
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import uvloop

from aegis.http import Timeouts, iter_sse
from aegis.http.errors import ConnectError, TransportTimeout
from aegis.http.fast import FastClient
from tests.fakes.base import FakeUpstream
from tests.fakes.openai import FakeOpenAI
from tests.http.raw import (
    FAST,
    RawConn,
    get,
    leaked_tasks,
    ok,
    pattern,
    pool_of,
    raw_server,
    serve_ok,
    stall_after_headers,
)

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
            await self._reply(send, pattern(int(query)))
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
    up = pattern(1_000_000)
    resp = await client.request("POST", f"{app.base_url}/upload", body=up, timeouts=FAST)
    assert orjson.loads(await resp.aread()) == {
        "len": len(up), "sha256": hashlib.sha256(up).hexdigest()}
    resp = await client.request("GET", f"{app.base_url}/big?1000000", timeouts=FAST)
    assert await resp.aread() == pattern(1_000_000)
    resp = await client.request("GET", f"{app.base_url}/big?1000000", timeouts=FAST)
    chunks = [c async for c in resp.aiter_bytes()]
    assert b"".join(chunks) == pattern(1_000_000)
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
            conn.send(ok(pattern(2_000_000)))

    async with raw_server(big, server_ctx) as server:
        client = FastClient(verify=ssl.create_default_context(cafile=str(cert)))
        resp = await client.request("GET", server.url, timeouts=FAST)
        await asyncio.sleep(0.2)  # let it fill up to the high-water mark
        assert b"".join([c async for c in resp.aiter_bytes()]) == pattern(2_000_000)
        assert await get(client, server.url) == pattern(2_000_000)
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
