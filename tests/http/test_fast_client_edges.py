"""``FastClient`` edge cases on real sockets: what raw servers (``tests.http.raw``) do
to it byte by byte -- heads, closes, timeouts, malformed answers, back-pressure,
the pool's limits and expiry."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from aegis.http import Timeouts
from aegis.http.errors import ConnectError, ProtocolError, TransportTimeout
from aegis.http.fast import FastClient
from aegis.http.pool import HIGH_WATER
from tests.http.raw import (
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
from tests.servers import free_port


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
        conn.send(ok(pattern(size)))
        await conn.writer.drain()

    async with raw_server(handler) as server:
        client = FastClient()
        resp = await client.request("GET", server.url)
        await asyncio.sleep(0.3)
        conn = resp._conn
        assert conn is not None and conn._paused
        assert conn._buffered < HIGH_WATER + 1024 * 1024
        body = b"".join([c async for c in resp.aiter_bytes()])
        assert body == pattern(size)
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


async def test_unread_body_past_the_high_water_mark_does_not_wedge_the_connection() -> None:
    size = HIGH_WATER + 50_000  # the read that completes the body also pauses reading

    async def handler(conn: RawConn) -> None:
        while await conn.read_request() is not None:
            conn.send(ok(pattern(size)))

    async with raw_server(handler) as server:
        client = FastClient()
        resp = await client.request("GET", server.url)
        conn = resp._conn
        assert conn is not None
        for _ in range(500):  # until the whole body has arrived (a busy machine: >0.1 s)
            if conn.complete:
                break
            await asyncio.sleep(0.01)
        assert conn.complete and conn._paused
        await resp.aclose()  # complete but never read
        assert await get(client, server.url, Timeouts(read=1)) == pattern(size)
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
