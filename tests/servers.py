"""Serve any ASGI app on 127.0.0.1 (a free port) from a background thread, or
run ``aegis serve`` itself as a subprocess.

Tests drive these servers with real clients over real sockets; each server has
its own event loop so a blocking client in the test thread is fine.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` for a child run from another directory: a relative ``PYTHONPATH``
    (``PYTHONPATH=src pytest``) made absolute, so the child imports these sources."""
    if env.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.pathsep.join(
            os.path.abspath(p) for p in env["PYTHONPATH"].split(os.pathsep))
    return env


def aegis_serve(
    config: Path, *args: str, cwd: Path | None = None
) -> tuple[str, subprocess.Popen[bytes]]:
    """``aegis serve --config config`` on a free port, once ``/health/live`` answers.

    Output (stdout and stderr) goes to the process's ``stdout`` pipe; the caller
    stops the process. The environment's ``AEGIS_*``/``PROMETHEUS_*`` are left out.
    It runs in the config's directory unless ``cwd`` says otherwise.
    """
    port = free_port()
    env = child_env({k: v for k, v in os.environ.items()
                     if not k.startswith(("AEGIS_", "PROMETHEUS_"))})
    proc = subprocess.Popen(
        [sys.executable, "-m", "aegis.cli", "serve", "--config", str(config), "--port",
         str(port), *args], env=env, cwd=cwd or config.parent,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(url + "/health/live", timeout=1).status_code == 200:
                return url, proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    out = proc.stdout.read().decode() if proc.stdout else ""
    pytest.fail(f"gateway did not start: {out}")


class ServerThread:
    def __init__(self, app: Any, *, lifespan: str = "off") -> None:
        self.app = app
        self.lifespan = lifespan
        self.port = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> ServerThread:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", lifespan=self.lifespan,
                                access_log=False, http="httptools", loop="asyncio")
        server = self._server = uvicorn.Server(config)
        started = threading.Event()
        failed: list[BaseException] = []

        def run() -> None:
            loop = self.loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)

            async def serve() -> None:
                task = asyncio.ensure_future(server.serve(sockets=[sock]))
                while not server.started and not task.done():
                    await asyncio.sleep(0.005)
                started.set()
                await task

            try:
                loop.run_until_complete(serve())
            except BaseException as exc:  # surfaced to start()
                failed.append(exc)
                started.set()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, daemon=True, name=f"server-{self.port}")
        self._thread.start()
        if not started.wait(15) or failed:
            raise RuntimeError(f"server did not start: {failed}")
        return self

    def call(self, coro: Any, timeout: float = 30) -> Any:
        """Run a coroutine on the server's loop (e.g. to inspect state safely)."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(15)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
