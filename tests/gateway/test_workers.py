"""`aegis serve --workers 2`: budgets, the ledger and metrics stay correct across processes."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from aegis.ledger import open_store
from tests.fakes.openai import FakeOpenAI
from tests.servers import aegis_serve

LIMIT = 0.03


async def _flood(url: str, n: int) -> list[httpx.Response]:
    sem = asyncio.Semaphore(48)
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        async def one(i: int) -> httpx.Response:
            async with sem:
                return await client.post("/v1/chat/completions", json={
                    "model": "cloud-chat", "max_tokens": 40,
                    "messages": [{"role": "user", "content": f"request {i} please"}]})
        return list(await asyncio.gather(*(one(i) for i in range(n))))


@pytest.fixture
def served(tmp_path: Path):
    fake = FakeOpenAI().start()
    db = tmp_path / "aegis.db"
    config = tmp_path / "aegis.yaml"
    config.write_text(yaml.safe_dump({
        "storage": {"url": f"sqlite:///{db}"},
        "logging": {"level": "warning"},
        "providers": {"cloud": {"kind": "openai", "base_url": fake.base_url,
                                "api_key": "sk-test-openai"}},
        "models": [{"name": "cloud-chat", "provider": "cloud", "model": "gpt-4o-mini",
                    "input_per_mtok": 50.0, "output_per_mtok": 200.0,
                    "context_window": 32000, "max_output": 4096}],
        "budgets": [{"name": "cap", "scope": "provider:cloud", "limit_usd": LIMIT,
                     "period": "monthly", "on_exceed": "reject"}],
    }))
    url, proc = aegis_serve(config, "--workers", "2")
    yield url, proc, fake, db
    if proc.poll() is None:
        proc.kill()
    fake.stop()


def test_two_workers_share_budgets_ledger_and_metrics(served) -> None:
    url, proc, fake, db = served
    responses = asyncio.run(_flood(url, 200))
    ok = sum(r.status_code == 200 for r in responses)
    rejected = sum(r.status_code == 429 for r in responses)
    assert ok + rejected == 200 and ok > 0 and rejected > 0

    # Each worker writes its per-request counts to the shared files every 0.5 s (and the
    # one answering a scrape, its own at once): the sum is complete within a sync.
    deadline = time.monotonic() + 5.0
    while True:
        metrics = httpx.get(url + "/metrics").text
        served_total = sum(float(m) for m in re.findall(
            r'^aegis_requests_total\{[^}]*status="ok"[^}]*\} ([0-9.e+]+)$', metrics, re.M))
        if served_total == ok or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert served_total == ok, "metrics from both workers must be summed"

    proc.send_signal(signal.SIGTERM)  # graceful: both workers flush their ledgers
    proc.wait(timeout=60)
    store = open_store(f"sqlite:///{db}")
    rows = store.recent(10_000)
    store.close()
    assert len(rows) == len(fake.requests) == ok
    assert sum(r.cost_usd for r in rows) <= LIMIT


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(entry.name))
    return kids


def _sockets_on(port: int, pids: list[int], state: str) -> dict[int, int]:
    """How many TCP sockets in ``state`` (LISTEN 0A, ESTABLISHED 01) on local ``port``
    each process holds, from /proc (Linux)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == state:
            inodes.add(fields[9])
    held = {}
    for pid in pids:
        count = 0
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                count += 1
        held[pid] = count
    return held


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT balancing: Linux")
def test_each_worker_listens_on_its_own_socket_and_bursts_are_spread(served) -> None:
    """One worker must not take a whole burst of new connections (it did with one
    shared listening socket): each worker has its own SO_REUSEPORT listener."""
    url, proc, _, _ = served
    port = int(url.rsplit(":", 1)[1])
    workers = [p for p in _children(proc.pid)
               if "spawn_main" in Path(f"/proc/{p}/cmdline").read_text()]
    assert len(workers) == 2
    deadline = time.monotonic() + 30  # the first worker answered; the other may still start
    while _sockets_on(port, workers, "0A") != {w: 1 for w in workers}:
        assert time.monotonic() < deadline, _sockets_on(port, workers, "0A")
        time.sleep(0.05)
    assert _sockets_on(port, [proc.pid], "0A") == {proc.pid: 0}  # the supervisor never listens
    burst = [socket.create_connection(("127.0.0.1", port)) for _ in range(64)]
    try:
        deadline = time.monotonic() + 10
        while True:
            held = _sockets_on(port, workers, "01")
            if sum(held.values()) == len(burst) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert sum(held.values()) == len(burst)
        assert all(n > 0 for n in held.values()), held
    finally:
        for s in burst:
            s.close()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_port_held_by_another_program_is_a_clear_error(tmp_path: Path, workers: str) -> None:
    config = tmp_path / "aegis.yaml"
    config.write_text(yaml.safe_dump({"storage": {"url": f"sqlite:///{tmp_path / 'a.db'}"}}))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AEGIS_", "PROMETHEUS_"))}
        done = subprocess.run(
            [sys.executable, "-m", "aegis.cli", "serve", "--config", str(config), "--port",
             str(port), "--workers", workers], env=env, cwd=tmp_path, capture_output=True,
            text=True, timeout=60)
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "listening on" not in done.stderr
