"""Serve any ASGI app on 127.0.0.1 (a free port) from a background thread.

Tests drive these servers with real clients over real sockets; each server has
its own event loop so a blocking client in the test thread is fine.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

import uvicorn


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
