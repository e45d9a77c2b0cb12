"""FastClient vs HttpxClient against a trivial keep-alive upstream.

    .venv/bin/python bench/http_clients.py [--rounds 3] [--n1 2000] [--n32 8000]

The upstream (a raw uvloop + httptools server answering every request with one
fixed chat completion) runs in a separate process so it does not share the
client's core. Clients alternate A B A B within one run, because absolute
numbers drift between runs on these machines; compare the ratio, not the rates.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from typing import Any

import httptools
import orjson
import uvloop

from aegis.http.base import HttpClient, Timeouts
from aegis.http.fast import FastClient
from aegis.http.httpx_client import HttpxClient

COMPLETION = orjson.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 1700000000,
    "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there!"},
                 "logprobs": None, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12},
})
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"Content-Length: " + str(len(COMPLETION)).encode() + b"\r\n\r\n" + COMPLETION
)
REQUEST = orjson.dumps({"model": "gpt-4o-mini",
                        "messages": [{"role": "user", "content": "Say hello."}]})
HEADERS = {"content-type": "application/json", "accept": "application/json",
           "authorization": "Bearer sk-bench"}
TIMEOUTS = Timeouts(connect=5, read=30, total=60)


# -- the upstream, in its own process ---------------------------------------------


class _Upstream(asyncio.Protocol):
    def __init__(self) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            assert self.transport is not None
            self.transport.close()

    def on_message_complete(self) -> None:
        assert self.transport is not None
        self.transport.write(RESPONSE)


async def _serve() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Upstream, "127.0.0.1", 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent goes away


# -- the clients -------------------------------------------------------------------


async def _run(
    client: HttpClient, url: str, total: int, concurrency: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    per_worker = total // concurrency

    async def worker() -> None:
        clock = time.perf_counter
        for _ in range(per_worker):
            start = clock()
            resp = await client.request("POST", url, headers=HEADERS, body=REQUEST,
                                        timeouts=TIMEOUTS)
            body = await resp.aread()
            latencies.append(clock() - start)
            assert resp.status == 200 and len(body) == len(COMPLETION)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start, latencies


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _bench(url: str, rounds: int, counts: dict[int, int]) -> None:
    clients: dict[str, HttpClient] = {
        "fast": FastClient(max_connections=64),
        "httpx": HttpxClient(max_connections=64),
    }
    for client in clients.values():  # warm up: connections, caches, code paths
        await _run(client, url, 500, 32)
    results: dict[tuple[str, int], dict[str, list[float]]] = {}
    for concurrency, total in counts.items():
        for _ in range(rounds):
            for name, client in clients.items():
                elapsed, lat = await _run(client, url, total, concurrency)
                slot = results.setdefault((name, concurrency), {"rps": [], "lat": []})
                slot["rps"].append(len(lat) / elapsed)
                slot["lat"].extend(lat)
    for client in clients.values():
        await client.aclose()

    print(f"{'client':<7} {'conc':>4} {'req/s (median of rounds)':>26} "
          f"{'p50 ms':>8} {'p99 ms':>8}")
    for concurrency in counts:
        for name in clients:
            r = results[(name, concurrency)]
            rps = statistics.median(r["rps"])
            spread = f"[{min(r['rps']):.0f}-{max(r['rps']):.0f}]"
            print(f"{name:<7} {concurrency:>4} {rps:>10.0f} {spread:>15} "
                  f"{_pct(r['lat'], 0.5) * 1e3:>8.3f} {_pct(r['lat'], 0.99) * 1e3:>8.3f}")
        fast = statistics.median(results[("fast", concurrency)]["rps"])
        slow = statistics.median(results[("httpx", concurrency)]["rps"])
        print(f"{'':<7} {concurrency:>4} fast/httpx = {fast / slow:.2f}x")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--n1", type=int, default=2000, help="requests per round at c=1")
    parser.add_argument("--n32", type=int, default=8000, help="requests per round at c=32")
    args = parser.parse_args(argv)
    if args.serve:
        uvloop.run(_serve())
        return
    upstream: subprocess.Popen[Any] = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert upstream.stdout is not None
        port = int(upstream.stdout.readline())
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        print(f"upstream pid {upstream.pid} on {url}; {args.rounds} rounds per client, A B A B")
        uvloop.run(_bench(url, args.rounds, {1: args.n1, 32: args.n32}))
    finally:
        if upstream.stdin is not None:
            upstream.stdin.close()
        upstream.wait(10)


if __name__ == "__main__":
    main()
