"""A fast fake OpenAI-compatible upstream for the benchmark, run in its own process.

    python bench/mock_upstream.py --port 18000 [--chunks 50] [--delay-ms 1]
                                  [--impl raw|uvicorn|aiohttp]

Endpoints: ``POST /v1/chat/completions`` (fixed JSON, or SSE when the body has
``"stream": true``: ``--chunks`` content deltas ``--delay-ms`` apart, a final
``finish_reason`` chunk, a usage chunk when ``stream_options.include_usage``,
then ``[DONE]``), ``GET /v1/models``, ``GET /health``. Everything else is 404.

``--impl raw`` (default) is an ``asyncio.Protocol`` on uvloop with httptools'
parser and pre-encoded responses; ``--impl uvicorn`` is the same logic as a raw
ASGI app under uvicorn (uvloop + httptools), kept to show the raw server is the
faster of the two (see bench/README.md). ``--impl aiohttp`` is the same logic as a
plain aiohttp app on asyncio's own loop: the kind of mock issue 7 calibrated its
targets on (its "direct path" served 8,200-12,400 req/s at c=32; ours serves ~7x
that). The benchmark runs it from bench/.tools-venv, so aiohttp never becomes a
project dependency. Prints ``READY <port>`` once listening; exits on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from typing import Any

import orjson

try:
    import httptools
    import uvloop
except ImportError:  # bench/.tools-venv, which runs only the aiohttp variant
    httptools = uvloop = None

MODEL = "gpt-4o-mini"
CREATED = 1700000000
COMPLETION = orjson.dumps({
    "id": "chatcmpl-mock", "object": "chat.completion", "created": CREATED, "model": MODEL,
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there!"},
                 "logprobs": None, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12},
    "system_fingerprint": "fp_mock",
})
MODELS = orjson.dumps({"object": "list", "data": [
    {"id": name, "object": "model", "created": CREATED, "owned_by": "mock"}
    for name in (MODEL, "gpt-4o", "gpt-4.1-mini", "gpt-4.1-nano")
]})
NOT_FOUND = orjson.dumps({"error": {"message": "not found", "type": "invalid_request_error",
                                    "code": "not_found", "param": None}})
BAD_REQUEST = orjson.dumps({"error": {"message": "body is not valid JSON",
                                      "type": "invalid_request_error", "code": None,
                                      "param": None}})


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": CREATED,
            "model": MODEL, "system_fingerprint": "fp_mock",
            "choices": [{"index": 0, "delta": delta, "logprobs": None,
                         "finish_reason": finish}]}


def sse_events(chunks: int) -> tuple[list[bytes], bytes, bytes]:
    """(content events, usage event, done event), each one complete ``data: …\\n\\n``."""
    events = []
    for i in range(chunks):
        delta: dict[str, Any] = {"content": f" tok{i}"}
        if i == 0:
            delta = {"role": "assistant", "content": "tok0"}
        events.append(b"data: " + orjson.dumps(_chunk(delta)) + b"\n\n")
    events.append(b"data: " + orjson.dumps(_chunk({}, "stop")) + b"\n\n")
    usage = {"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": CREATED,
             "model": MODEL, "choices": [],
             "usage": {"prompt_tokens": 9, "completion_tokens": chunks,
                       "total_tokens": 9 + chunks}}
    return events, b"data: " + orjson.dumps(usage) + b"\n\n", b"data: [DONE]\n\n"


def _wants_stream(body: bytes) -> tuple[bool, bool] | None:
    """(stream, include_usage) from a chat request body; None if it is not JSON."""
    if b'"stream"' not in body:  # the common case: skip parsing a possibly 100 KB body
        return False, False
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not data.get("stream"):
        return False, False
    options = data.get("stream_options") or {}
    return True, bool(isinstance(options, dict) and options.get("include_usage"))


# -- raw asyncio server --------------------------------------------------------------


def _response(status: bytes, body: bytes, keep_alive: bool) -> bytes:
    return (b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\ncontent-length: "
            + str(len(body)).encode() + (b"\r\n\r\n" if keep_alive
                                         else b"\r\nconnection: close\r\n\r\n") + body)


_CANNED = {
    (name, keep): _response(status, body, keep)
    for name, status, body in (("completion", b"200 OK", COMPLETION),
                               ("models", b"200 OK", MODELS),
                               ("health", b"200 OK", b'{"status":"ok"}'),
                               ("notfound", b"404 Not Found", NOT_FOUND),
                               ("bad", b"400 Bad Request", BAD_REQUEST))
    for keep in (True, False)
}
_SSE_HEAD = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache"
             b"\r\ntransfer-encoding: chunked\r\n\r\n")


def _http_chunk(data: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(data), data)


class RawMock(asyncio.Protocol):
    """One connection; requests are answered in order (pipelining-safe)."""

    events: list[bytes] = []
    usage_event = b""
    done_event = b""
    delay = 0.0

    def __init__(self) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.body: list[bytes] = []
        self.busy: asyncio.Task[None] | None = None  # a stream being written
        self.queue: list[tuple[bytes, bytes, bytes, bool]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.busy is not None:
            self.busy.cancel()

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            assert self.transport is not None
            self.transport.close()

    def on_message_begin(self) -> None:
        self.url = b""
        self.body = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        request = (self.parser.get_method(), self.url, b"".join(self.body),
                   self.parser.should_keep_alive())
        if self.busy is not None:
            self.queue.append(request)
        else:
            self.answer(*request)

    def answer(self, method: bytes, url: bytes, body: bytes, keep: bool) -> None:
        transport = self.transport
        assert transport is not None
        path = url.split(b"?", 1)[0]
        if path == b"/v1/chat/completions" and method == b"POST":
            wants = _wants_stream(body)
            if wants is None:
                transport.write(_CANNED[("bad", keep)])
            elif wants[0]:
                self.busy = asyncio.ensure_future(self.stream(wants[1], keep))
                return
            else:
                transport.write(_CANNED[("completion", keep)])
        elif path == b"/v1/models" and method == b"GET":
            transport.write(_CANNED[("models", keep)])
        elif path in (b"/health", b"/v1/health") and method == b"GET":
            transport.write(_CANNED[("health", keep)])
        else:
            transport.write(_CANNED[("notfound", keep)])
        if not keep:
            transport.close()

    async def stream(self, include_usage: bool, keep: bool) -> None:
        transport = self.transport
        assert transport is not None
        try:
            transport.write(_SSE_HEAD + _http_chunk(self.events[0]))
            delay = self.delay
            for event in self.events[1:]:
                if delay:
                    await asyncio.sleep(delay)
                if transport.is_closing():
                    return
                transport.write(_http_chunk(event))
            tail = (self.usage_event if include_usage else b"") + self.done_event
            transport.write(_http_chunk(tail) + b"0\r\n\r\n")
        except asyncio.CancelledError:
            return
        self.busy = None
        if not keep:
            transport.close()
            return
        while self.queue and self.busy is None and not transport.is_closing():
            self.answer(*self.queue.pop(0))


async def serve_raw(host: str, port: int, ready: Any) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(RawMock, host, port, backlog=4096, reuse_address=True)
    ready(server.sockets[0].getsockname()[1])
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()


# -- the same logic as an ASGI app under uvicorn (for comparison) ---------------------


class AsgiMock:
    def __init__(self) -> None:
        self.events, self.usage_event, self.done_event = RawMock.events, RawMock.usage_event, \
            RawMock.done_event
        self.delay = RawMock.delay

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                while True:
                    message = await receive()
                    if message["type"] == "lifespan.startup":
                        await send({"type": "lifespan.startup.complete"})
                    elif message["type"] == "lifespan.shutdown":
                        await send({"type": "lifespan.shutdown.complete"})
                        return
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        path, method = scope["path"], scope["method"]
        json_head = [(b"content-type", b"application/json")]
        if path == "/v1/chat/completions" and method == "POST":
            wants = _wants_stream(b"".join(chunks))
            if wants is None:
                status, body = 400, BAD_REQUEST
            elif wants[0]:
                await send({"type": "http.response.start", "status": 200,
                            "headers": [(b"content-type", b"text/event-stream"),
                                        (b"cache-control", b"no-cache")]})
                for i, event in enumerate(self.events):
                    if i and self.delay:
                        await asyncio.sleep(self.delay)
                    await send({"type": "http.response.body", "body": event, "more_body": True})
                tail = (self.usage_event if wants[1] else b"") + self.done_event
                await send({"type": "http.response.body", "body": tail})
                return
            else:
                status, body = 200, COMPLETION
        elif path == "/v1/models" and method == "GET":
            status, body = 200, MODELS
        elif path in ("/health", "/v1/health"):
            status, body = 200, b'{"status":"ok"}'
        else:
            status, body = 404, NOT_FOUND
        await send({"type": "http.response.start", "status": status, "headers": json_head})
        await send({"type": "http.response.body", "body": body})


# -- the same logic as a plain aiohttp app (the kind of mock) ------------------


async def serve_aiohttp(sock: Any, ready: Any) -> None:
    from aiohttp import web

    json_type = "application/json"

    async def chat(request: web.Request) -> web.StreamResponse:
        wants = _wants_stream(await request.read())
        if wants is None:
            return web.Response(status=400, body=BAD_REQUEST, content_type=json_type)
        if not wants[0]:
            return web.Response(body=COMPLETION, content_type=json_type)
        response = web.StreamResponse(headers={"content-type": "text/event-stream",
                                               "cache-control": "no-cache"})
        await response.prepare(request)
        for i, event in enumerate(RawMock.events):
            if i and RawMock.delay:
                await asyncio.sleep(RawMock.delay)
            await response.write(event)
        await response.write((RawMock.usage_event if wants[1] else b"") + RawMock.done_event)
        await response.write_eof()
        return response

    async def canned(body: bytes, status: int = 200) -> web.Response:
        return web.Response(status=status, body=body, content_type=json_type)

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/v1/models", lambda _: canned(MODELS))
    for path in ("/health", "/v1/health"):
        app.router.add_get(path, lambda _: canned(b'{"status":"ok"}'))
    app.router.add_route("*", "/{tail:.*}", lambda _: canned(NOT_FOUND, 404))
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.SockSite(runner, sock, backlog=4096).start()
    ready(sock.getsockname()[1])
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--chunks", type=int, default=50, help="content chunks per stream")
    parser.add_argument("--delay-ms", type=float, default=1.0, help="gap between chunks")
    parser.add_argument("--impl", choices=("raw", "uvicorn", "aiohttp"), default="raw")
    args = parser.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the mock binds loopback only")
    RawMock.events, RawMock.usage_event, RawMock.done_event = sse_events(max(1, args.chunks))
    RawMock.delay = max(0.0, args.delay_ms) / 1000

    def ready(port: int) -> None:
        print(f"READY {port} pid={os.getpid()} impl={args.impl}", flush=True)

    if args.impl == "raw":
        uvloop.run(serve_raw(args.host, args.port, ready))
        return
    import socket

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    if args.impl == "aiohttp":
        asyncio.run(serve_aiohttp(sock, ready))
        return
    import uvicorn

    config = uvicorn.Config(AsgiMock(), loop="uvloop", http="httptools", log_level="warning",
                            access_log=False, lifespan="off", backlog=4096)
    server = uvicorn.Server(config)
    ready(sock.getsockname()[1])
    server.run(sockets=[sock])


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
