"""Load generators, each run as its own process: wrk (preferred), hey, or a Python client.

The harness calls ``run_wrk`` / ``run_hey`` / ``run_python``; each returns a
``LoadResult``. The Python client (``python bench/loadgen.py client …``) is
uvloop + httptools over keep-alive connections; it is what measures streaming
(time to first body byte and total per request), since wrk and hey do not
report time to first byte, and it is the fallback for non-streaming runs when
neither wrk nor hey can be installed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WRK_SCRIPT = HERE / "wrk_post.lua"


@dataclass
class LoadResult:
    tool: str
    concurrency: int
    requests: int = 0  # completed responses (any status)
    elapsed_s: float = 0.0
    errors: int = 0  # non-200 responses + transport errors + timeouts + bad streams
    error_detail: dict[str, int] = field(default_factory=dict)
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    mean_ms: float | None = None
    max_ms: float | None = None
    ttfb_p50_ms: float | None = None  # streaming only
    ttfb_p95_ms: float | None = None
    ttfb_p99_ms: float | None = None
    events_min: int | None = None  # SSE ``data:`` events per streamed response
    events_max: int | None = None
    failed: str | None = None  # the tool itself failed (not the system under test)

    @property
    def ok_requests(self) -> int:
        return max(0, self.requests - self.error_detail.get("status", 0)
                   - self.error_detail.get("bad_stream", 0))

    @property
    def rps(self) -> float:
        return self.ok_requests / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rps"] = round(self.rps, 1)
        return data


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of unsorted values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


# -- tools ---------------------------------------------------------------------------


def ensure_tools(install: bool = True) -> tuple[dict[str, str | None], list[str]]:
    """Paths of wrk and hey, installing them with apt-get when missing and allowed."""
    notes: list[str] = []
    found = {name: shutil.which(name) for name in ("wrk", "hey")}
    if all(found.values()) or not install:
        return found, notes
    missing = [name for name, path in found.items() if not path]
    if os.geteuid() == 0 and shutil.which("apt-get"):
        notes.append(f"installing {' '.join(missing)} with apt-get")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        try:
            subprocess.run(["apt-get", "update", "-qq"], env=env, timeout=300,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
            proc = subprocess.run(["apt-get", "install", "-y", "-qq", *missing], env=env,
                                  timeout=600, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                notes.append(f"apt-get install failed: {proc.stderr.strip()[-300:]}")
        except (OSError, subprocess.TimeoutExpired) as exc:
            notes.append(f"apt-get install failed: {exc}")
    else:
        notes.append(f"{' '.join(missing)} missing and cannot apt-get install (not root / no apt)")
    found = {name: shutil.which(name) for name in ("wrk", "hey")}
    return found, notes


def tool_version(name: str, path: str | None) -> str | None:
    if not path:
        return None
    if name == "wrk":
        proc = subprocess.run([path, "-v"], capture_output=True, text=True, check=False)
        first = (proc.stdout or proc.stderr).strip().splitlines()
        return first[0] if first else "wrk"
    proc = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], capture_output=True,
                          text=True, check=False)
    return f"hey {proc.stdout.strip()}" if proc.returncode == 0 else "hey"


# -- wrk -----------------------------------------------------------------------------


def run_wrk(wrk: str, url: str, body_file: Path, concurrency: int, duration_s: float,
            timeout_s: float = 30.0) -> LoadResult:
    result = LoadResult("wrk", concurrency)
    seconds = max(1, round(duration_s))
    cmd = [wrk, "-t1", f"-c{concurrency}", f"-d{seconds}s", f"--timeout={int(timeout_s)}s",
           "-s", str(WRK_SCRIPT), url]
    env = dict(os.environ, BENCH_BODY_FILE=str(body_file))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env,
                              timeout=seconds + timeout_s + 15, check=False)
    except subprocess.TimeoutExpired:
        result.failed = "wrk did not finish in time"
        return result
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if line is None:
        result.failed = f"wrk exited {proc.returncode}: {(proc.stderr or proc.stdout)[-300:]}"
        return result
    data = json.loads(line.removeprefix("BENCH_JSON "))
    result.requests = int(data["requests"])
    result.elapsed_s = data["duration_us"] / 1e6
    detail = {k: int(data[k]) for k in ("connect", "read", "write", "status", "timeout")
              if data[k]}
    result.error_detail = detail
    result.errors = sum(detail.values())
    if result.requests:
        result.p50_ms = data["p50_us"] / 1000
        result.p95_ms = data["p95_us"] / 1000
        result.p99_ms = data["p99_us"] / 1000
        result.mean_ms = data["mean_us"] / 1000
        result.max_ms = data["max_us"] / 1000
    return result


# -- hey -----------------------------------------------------------------------------


def run_hey(hey: str, url: str, body_file: Path, concurrency: int, duration_s: float,
            timeout_s: float = 30.0) -> LoadResult:
    result = LoadResult("hey", concurrency)
    seconds = max(1, round(duration_s))
    cmd = [hey, "-z", f"{seconds}s", "-c", str(concurrency), "-m", "POST",
           "-T", "application/json", "-H", "Authorization: Bearer sk-bench",
           "-D", str(body_file), "-t", str(int(timeout_s)), "-o", "csv", url]
    started = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              timeout=seconds + timeout_s + 15, check=False)
    except subprocess.TimeoutExpired:
        result.failed = "hey did not finish in time"
        return result
    elapsed = time.perf_counter() - started
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    last_offset = 0.0
    for row in proc.stdout.splitlines()[1:]:
        cols = row.split(",")
        if len(cols) < 8:
            continue
        latencies.append(float(cols[0]) * 1000)
        statuses[cols[6]] = statuses.get(cols[6], 0) + 1
        last_offset = max(last_offset, float(cols[7]) + float(cols[0]))
    if not latencies:
        result.failed = f"hey exited {proc.returncode}: {(proc.stderr or proc.stdout)[-300:]}"
        return result
    result.requests = len(latencies)
    result.elapsed_s = last_offset or elapsed
    bad = sum(n for code, n in statuses.items() if code != "200")
    if bad:
        result.error_detail = {"status": bad}
    result.errors = bad
    _fill_latency(result, latencies)
    return result


def _fill_latency(result: LoadResult, latencies: list[float]) -> None:
    result.p50_ms = percentile(latencies, 50)
    result.p95_ms = percentile(latencies, 95)
    result.p99_ms = percentile(latencies, 99)
    if latencies:
        result.mean_ms = sum(latencies) / len(latencies)
        result.max_ms = max(latencies)


# -- the Python client (own process) ------------------------------------------------


def run_python(url: str, body_file: Path, concurrency: int, duration_s: float, *,
               stream: bool = False, timeout_s: float = 30.0,
               max_requests: int = 0) -> LoadResult:
    result = LoadResult("python", concurrency)
    cmd = [sys.executable, str(Path(__file__).resolve()), "client", "--url", url,
           "--body-file", str(body_file), "--concurrency", str(concurrency),
           "--duration", str(duration_s), "--timeout", str(timeout_s),
           "--max-requests", str(max_requests)]
    if stream:
        cmd.append("--stream")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              timeout=duration_s + timeout_s + 30, check=False)
    except subprocess.TimeoutExpired:
        result.failed = "python client did not finish in time"
        return result
    if proc.returncode != 0 or not proc.stdout.strip():
        result.failed = f"python client exited {proc.returncode}: {proc.stderr[-400:]}"
        return result
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    result.requests = data["requests"]
    result.elapsed_s = data["elapsed"]
    result.error_detail = {k: v for k, v in data["errors"].items() if v}
    result.errors = sum(result.error_detail.values())
    _fill_latency(result, data["latency_ms"])
    if stream:
        result.ttfb_p50_ms = percentile(data["ttfb_ms"], 50)
        result.ttfb_p95_ms = percentile(data["ttfb_ms"], 95)
        result.ttfb_p99_ms = percentile(data["ttfb_ms"], 99)
        if data["events"]:
            result.events_min, result.events_max = min(data["events"]), max(data["events"])
    return result


class _Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection driven by httptools' response parser."""

    def __init__(self) -> None:
        import httptools

        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.parts: list[bytes] = []
        self.first: float | None = None
        self.status = 0
        self.keep_alive = True
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed"))

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except Exception as exc:
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_exception(exc)

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        if self.first is None:
            self.first = time.perf_counter()
        self.parts.append(body)

    def on_message_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


async def _client(url: str, body: bytes, concurrency: int, duration: float, stream: bool,
                  timeout: float, max_requests: int) -> dict[str, Any]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    head = (f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Content-Type: application/json\r\nAuthorization: Bearer sk-bench\r\n"
            f"Accept: {'text/event-stream' if stream else 'application/json'}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    payload = head + body
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    ttfbs: list[float] = []
    events: list[int] = []
    errors = {"status": 0, "transport": 0, "timeout": 0, "bad_stream": 0}
    count = 0
    deadline = time.perf_counter() + duration
    clock = time.perf_counter

    async def worker() -> None:
        nonlocal count
        conn: _Conn | None = None
        while clock() < deadline and (not max_requests or count < max_requests):
            count += 1
            try:
                if conn is None or conn.closed or not conn.keep_alive:
                    if conn is not None and conn.transport is not None:
                        conn.transport.close()
                    _, conn = await loop.create_connection(_Conn, host, port)
                conn.parts, conn.first, conn.status = [], None, 0
                conn.waiter = loop.create_future()
                start = clock()
                assert conn.transport is not None
                conn.transport.write(payload)
                await asyncio.wait_for(conn.waiter, timeout)
                end = clock()
            except TimeoutError:
                errors["timeout"] += 1
                if conn is not None and conn.transport is not None:
                    conn.transport.close()
                conn = None
                continue
            except (OSError, ConnectionError, ValueError, RuntimeError):
                errors["transport"] += 1
                conn = None
                await asyncio.sleep(0.01)
                continue
            latencies.append((end - start) * 1000)
            if conn.status != 200:
                errors["status"] += 1
                continue
            if stream:
                data = b"".join(conn.parts)
                events.append(data.count(b"data: "))
                ttfbs.append(((conn.first or end) - start) * 1000)
                if not data.endswith(b"data: [DONE]\n\n"):
                    errors["bad_stream"] += 1
        if conn is not None and conn.transport is not None:
            conn.transport.close()

    started = clock()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = clock() - started
    return {"requests": len(latencies), "elapsed": elapsed, "errors": errors,
            "latency_ms": latencies, "ttfb_ms": ttfbs, "events": events}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="the benchmark's Python load client")
    sub = parser.add_subparsers(dest="command", required=True)
    client = sub.add_parser("client", help="run load against a URL and print one JSON line")
    client.add_argument("--url", required=True)
    client.add_argument("--body-file", required=True)
    client.add_argument("--concurrency", type=int, default=1)
    client.add_argument("--duration", type=float, default=5.0)
    client.add_argument("--timeout", type=float, default=30.0)
    client.add_argument("--max-requests", type=int, default=0)
    client.add_argument("--stream", action="store_true")
    args = parser.parse_args(argv)
    body = Path(args.body_file).read_bytes()
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    out = runner(_client(args.url, body, args.concurrency, args.duration, args.stream,
                         args.timeout, args.max_requests))
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
