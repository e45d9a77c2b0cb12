"""``FastClient``'s per-request shortcuts, pinned to what they replace.

* The request head: prepared once per (method, URL, headers) and cached, it must equal
  ``_encode_head`` built afresh, and bad input must still fail on every call.
* The read timer: one timer per connection serves many waits instead of one per wait;
  a wait must still time out at its own deadline, earlier or later than the last one's.
"""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from aegis.http import Timeouts
from aegis.http.errors import TransportTimeout
from aegis.http.fast import (
    _CACHE_SIZE,
    FastClient,
    _encode_head,
    _framing,
    _prepare,
    _split_url,
)
from tests.http.raw import Handler, RawConn, get, ok, pool_of, raw_server, serve_ok

# -- the prepared head ------------------------------------------------------------------

URLS = ["http://api.example.com/v1/chat/completions", "https://h.example:8443/a/b?x=1&y=2",
        "http://127.0.0.1:9/", "http://bücher.example/p a t h", "https://user@h.example"]
HEADERS: list[dict[str, str] | None] = [
    None, {},
    {"content-type": "application/json", "accept": "application/json",
     "authorization": "Bearer sk-test"},
    {"Host": "other.example", "User-Agent": "ua/1", "Accept-Encoding": "gzip"},
    {"content-length": "99", "Transfer-Encoding": "chunked", "x-extra": "1"},
    {"HOST": "x", "user-agent": "y", "ACCEPT-ENCODING": "br", "x-a": ""},
]
BODIES = [None, b"", b"{}", b"x" * 70_000]
METHODS = ["POST", "GET", "get", "HEAD", "DELETE", "put", "OPTIONS"]


@pytest.mark.parametrize("url", URLS)
def test_prepared_heads_equal_fresh_ones(url: str) -> None:
    for method, headers, body in itertools.product(METHODS, HEADERS, BODIES):
        prepared = _prepare(method, url, headers)
        _, target, host = _split_url(url)
        upper = method.upper()
        assert prepared.method == upper
        assert prepared.origin == _split_url(url)[0]
        assert prepared.head + _framing(upper, body) == _encode_head(
            upper, target, host, headers, body)


@pytest.mark.parametrize(
    ("method", "url", "headers"),
    [("POST", "ftp://x/", None), ("BAD METHOD", "http://x/", None),
     ("POST", "http://x/", {"bad name": "v"}), ("POST", "http://x/", {"x": "a\r\nb"})],
)
async def test_bad_requests_fail_on_every_call(
    method: str, url: str, headers: dict[str, str] | None,
) -> None:
    client = FastClient()
    for _ in range(3):  # nothing bad is ever cached
        with pytest.raises(ValueError):
            await client.request(method, url, headers=headers, body=b"")
    assert not client._prepared
    await client.aclose()


async def test_the_wire_bytes_are_the_fresh_head_and_the_cache_is_bounded() -> None:
    async with raw_server(serve_ok) as server:
        client = FastClient()
        sent = []
        for i in range(_CACHE_SIZE + 5):
            headers = {"content-type": "application/json", "x-n": str(i % (_CACHE_SIZE + 3))}
            body = b'{"n": %d}' % i
            resp = await client.request("POST", server.url + "/v1/x", headers=headers,
                                        body=body)
            await resp.aread()
            sent.append(_encode_head("POST", "/v1/x", f"127.0.0.1:{server.port}", headers,
                                     body))
        assert [head for head, _ in server.requests] == sent
        assert len(client._prepared) <= _CACHE_SIZE
        await client.aclose()


# -- one read timer per connection ------------------------------------------------------


def _answer_then_stall(answered: int) -> Handler:
    """Answers the server's first ``answered`` requests (on any connection), then stalls."""
    count = itertools.count(1)

    async def handler(conn: RawConn) -> None:
        while await conn.read_request() is not None:
            if next(count) > answered:
                await conn.wait_eof()
                return
            conn.send(ok())

    return handler


async def test_a_reused_timer_still_times_out_a_later_wait_at_its_deadline() -> None:
    async with raw_server(_answer_then_stall(2)) as server:
        client = FastClient()
        read = Timeouts(connect=2, read=0.3, total=10)
        await get(client, server.url, read)
        (conn,) = pool_of(client).idle
        timer = conn._timer
        assert timer is not None
        await get(client, server.url, read)
        assert conn._timer is timer  # the second wait set no timer of its own
        await asyncio.sleep(0.2)  # the pending timer now fires 0.1 s into the next wait
        start = time.monotonic()
        with pytest.raises(TransportTimeout) as err:
            await get(client, server.url, read)
        elapsed = time.monotonic() - start
        assert err.value.phase == "read"
        assert 0.28 <= elapsed < 1.5  # this wait's own deadline, not the first one's
        await client.aclose()


async def test_a_wait_with_an_earlier_deadline_moves_the_timer() -> None:
    async with raw_server(_answer_then_stall(1)) as server:
        client = FastClient()
        await get(client, server.url, Timeouts(connect=2, read=30, total=60))
        start = time.monotonic()
        with pytest.raises(TransportTimeout) as err:
            await get(client, server.url, Timeouts(connect=2, read=0.2, total=60))
        assert err.value.phase == "read"
        assert time.monotonic() - start < 2  # not the 30 s the pending timer was set for
        start = time.monotonic()
        with pytest.raises(TransportTimeout) as err:  # a fresh connection, total first
            await get(client, server.url, Timeouts(connect=2, read=30, total=0.2))
        assert err.value.phase == "total"
        assert time.monotonic() - start < 2
        await client.aclose()


async def test_closing_a_connection_stops_its_timer() -> None:
    async with raw_server(serve_ok) as server:
        client = FastClient()
        await get(client, server.url, Timeouts(connect=2, read=30, total=60))
        (conn,) = pool_of(client).idle
        assert conn._timer is not None
        await client.aclose()
        for _ in range(100):
            if conn.closed:
                break
            await asyncio.sleep(0.01)
        assert conn.closed and conn._timer is None
