"""The ASGI application: OpenAI-compatible endpoints over the ``Engine``.

Raw ASGI rather than a framework: the hot path is one dict lookup, one body
read, one validation and one upstream call, and every millisecond here is
overhead users compare against calling the provider directly.
"""

from __future__ import annotations

import array
import asyncio
import base64
import contextlib
import dataclasses
import logging
import os
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from aegis import errors, validation
from aegis.config import Settings
from aegis.config import load as load_settings
from aegis.engine import Call, ChatStream, Engine, RequestIds, Served
from aegis.gateway.auth import Authenticator
from aegis.gateway.errors import Headers, error_response, route_headers, sse_error
from aegis.keys import MasterKey
from aegis.ledger import Filters
from aegis.ledger.reports import recent_rows, spend_report
from aegis.observability import Observability
from aegis.observability.logs import configure_logging
from aegis.observability.tracing import configure_tracing
from aegis.records import ANONYMOUS, Caller
from aegis.routing.metadata import task_from_http
from aegis.types import ChatRequest

log = logging.getLogger("aegis.gateway")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_JSON = (b"content-type", b"application/json")
_SSE = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache"),
        (b"x-accel-buffering", b"no")]
_DONE = b"data: [DONE]\n\n"


class Request:
    __slots__ = ("caller", "headers", "id", "receive", "scope", "streaming")

    def __init__(self, scope: Scope, receive: Receive, request_id: str) -> None:
        self.scope = scope
        self.receive = receive
        self.id = request_id
        self.caller: Caller = ANONYMOUS
        self.streaming = False  # a stream's status line went out: errors become SSE events
        headers: dict[str, str] = {}
        for k, v in scope["headers"]:  # a loop, not a comprehension: one call less
            headers[k.decode("latin-1").lower()] = v.decode("latin-1")
        self.headers = headers

    async def body(self, limit: int) -> bytes:
        declared = self.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise errors.PayloadTooLarge(f"request body exceeds {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise errors.PayloadTooLarge(f"request body exceeds {limit} bytes")
            if not message.get("more_body"):
                if not chunks and type(chunk) is bytes:  # the usual: one message, no list
                    return chunk
                chunks.append(chunk)
                return b"".join(chunks)
            chunks.append(chunk)

    def query(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(self.scope.get("query_string", b"").decode()))

    async def json(self, limit: int) -> Any:
        raw = await self.body(limit)
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise errors.InvalidRequest(f"request body is not valid JSON: {exc}") from None


class ClientGone(Exception):
    """The client disconnected before we answered."""


def served_headers(served: Served) -> Headers:
    return [(b"x-aegis-request-id", served.request_id.encode()), *route_headers(served)]


class GatewayApp:
    def __init__(self, engine: Engine, *, master: MasterKey | None = None,
                 observability: Observability | None = None) -> None:
        self.engine = engine
        self.observability = observability
        self._entry: Callable[[Scope, Receive, Send], Awaitable[None]] = (
            observability.wrap(self._dispatch, metrics_path=engine.settings.raw.metrics.path)
            if observability is not None else self._dispatch)
        self.settings: Settings = engine.settings
        self.auth = Authenticator(engine.keys, master, engine.budgets)
        self.request_ids = RequestIds()
        self.body_limit = int(self.settings.server.max_body_mb * 1024 * 1024)
        self.default_model = self.settings.defaults.model
        self.routes: dict[tuple[str, str], Callable[[Request, Send], Awaitable[None]]] = {
            ("POST", "/v1/chat/completions"): self.chat_completions,
            ("POST", "/v1/embeddings"): self.embeddings,
            ("GET", "/v1/models"): self.models,
            ("POST", "/v1/route"): self.route,
            ("GET", "/health/live"): self.live,
            ("GET", "/health/ready"): self.ready,
            ("GET", "/admin/stats"): self.admin_stats,
            ("GET", "/admin/spend"): self.admin_spend,
            ("GET", "/admin/budgets"): self.admin_budgets,
            ("GET", "/admin/requests"): self.admin_requests,
        }
        for (method, path), handler in list(self.routes.items()):
            if method == "GET":  # HEAD: the same headers, no body (RFC 9110 9.3.2)
                self.routes[("HEAD", path)] = handler
        methods: dict[str, list[str]] = {}
        for method, path in self.routes:
            methods.setdefault(path, []).append(method)
        self.allowed = {path: ", ".join(names) for path, names in methods.items()}  # Allow

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._entry(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.handle(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self.lifespan(receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, self.request_ids())
        handler = self.routes.get((scope["method"], scope["path"]))
        try:
            if handler is None:
                allow = self.allowed.get(scope["path"])
                if allow is not None:
                    raise _MethodNotAllowed(
                        f"{scope['method']} is not allowed on {scope['path']} (allowed: {allow})",
                        allow=allow)
                raise _NotFound(f"no route for {scope['method']} {scope['path']}")
            path: str = scope["path"]
            if path.startswith("/v1/"):
                request.caller = self.auth.caller(request.headers)
            elif path.startswith("/admin/"):
                self.auth.admin(request.headers, scope.get("client"))
            await handler(request, _without_body(send) if scope["method"] == "HEAD" else send)
        except errors.AegisError as exc:
            self._identify(request)
            status, headers, body = error_response(exc)
            headers.append((b"x-aegis-request-id", request.id.encode()))
            if isinstance(exc, _MethodNotAllowed):
                headers.append((b"allow", exc.allow.encode()))
            await _send(send, status, headers, body)
        except ClientGone:
            return
        except Exception:
            # A bug, not a request error: the traceback goes to the log, never to the client.
            log.exception("unhandled error serving %s %s (%s)", scope["method"], scope["path"],
                          request.id)
            self._identify(request)
            if request.streaming:
                return  # _stream already ended the stream with an error event
            status, headers, body = error_response(_internal_error(request.id))
            headers.append((b"x-aegis-request-id", request.id.encode()))
            await _send(send, status, headers, body)

    def _identify(self, request: Request) -> None:
        """A request refused before routing (bad body, unknown model) is still logged
        under the key that sent it; routing records the caller otherwise."""
        summary = self.observability.current if self.observability is not None else None
        if summary is not None and summary.caller is ANONYMOUS:
            summary.caller = request.caller

    # -- endpoints ---------------------------------------------------------------

    async def _json(self, request: Request) -> Any:
        """The JSON body; a request that names no model gets ``defaults.model``."""
        data = await request.json(self.body_limit)
        if isinstance(data, dict) and "model" not in data:
            data["model"] = self.default_model
        return data

    async def chat_completions(self, request: Request, send: Send) -> None:
        data = await self._json(request)
        chat = validation.chat_request(data)
        call = Call(request.id, task_from_http(data.get("aegis"), request.headers),
                    request.caller)
        if chat.stream:
            await self._stream(request, send, chat, call)
            return
        outcome = await self.engine.complete(chat, call)
        await _send(send, 200, [_JSON, *served_headers(outcome.served)],
                    outcome.completion.encoded())

    async def _stream(self, request: Request, send: Send, chat: ChatRequest, call: Call) -> None:
        """Open the stream and forward chunks as they arrive. A client that disconnects
        cancels the upstream call -- also while the stream is still being opened (routing,
        retries, fallbacks before the first chunk), so nobody pays for a reader who left."""
        task = asyncio.current_task()
        assert task is not None
        watcher = asyncio.create_task(_cancel_on_disconnect(request.receive, task))
        usage_sent = False
        stream: ChatStream | None = None
        try:
            stream = await self.engine.stream(chat, call)
            request.streaming = True
            await send({"type": "http.response.start", "status": 200,
                        "headers": [*_SSE, *served_headers(stream.served)]})
            try:
                async for chunk in stream:
                    data = chunk.data
                    if not data.get("choices"):  # usage-only chunk
                        if not chat.include_usage or usage_sent:
                            continue
                        usage_sent = True
                    elif data.get("usage"):  # usage riding on a content or finish chunk
                        usage_sent = True
                    await send({"type": "http.response.body",
                                "body": b"data: " + chunk.encoded() + b"\n\n",
                                "more_body": True})
            except errors.AegisError as exc:
                await send({"type": "http.response.body", "body": sse_error(exc),
                            "more_body": False})
                return
            except Exception:
                await send({"type": "http.response.body",
                            "body": sse_error(_internal_error(request.id)), "more_body": False})
                raise  # handle() logs it
            tail = b""
            if chat.include_usage and not usage_sent and stream.usage is not None:
                tail = b"data: " + orjson.dumps(_usage_chunk(stream)) + b"\n\n"
            await send({"type": "http.response.body", "body": tail + _DONE, "more_body": False})
        except asyncio.CancelledError:
            if not watcher.done() or watcher.cancelled():
                raise
            # the watcher cancelled us: the client left; the stream records itself on close
            task.uncancel()
        finally:
            watcher.cancel()
            if stream is not None:
                await stream.aclose()

    async def route(self, request: Request, send: Send) -> None:
        """The decision for a chat-completions body, without calling any model."""
        data = await self._json(request)
        chat = self.engine.prepare(validation.chat_request(data))
        call = Call(request.id, task_from_http(data.get("aegis"), request.headers),
                    request.caller)
        try:
            decision = self.engine.route(chat, call, dry_run=True)
        except errors.AegisError as exc:
            if exc.decision is None:
                raise
            status, headers, encoded = error_response(exc)
            payload = orjson.loads(encoded)
            payload["decision"] = dict(exc.decision)
            await _send(send, status, headers, orjson.dumps(payload))
            return
        answer = {"route": decision.route, "reason": decision.reason,
                  "candidates": [c.label for c in decision.candidates],
                  "decision": dict(decision.record)}
        await _send(send, 200, [_JSON, (b"x-aegis-request-id", request.id.encode())],
                    orjson.dumps(answer))

    async def embeddings(self, request: Request, send: Send) -> None:
        data = await self._json(request)
        embed = validation.embedding_request(data)
        task = task_from_http(data.get("aegis"), request.headers)
        result, served = await self.engine.embed(embed, Call(request.id, task, request.caller))
        body = {
            "object": "list",
            "data": [{"object": "embedding", "index": i,
                      "embedding": _b64_floats(vector) if embed.encoding == "base64" else vector}
                     for i, vector in enumerate(result.vectors)],
            "model": result.model,
            "usage": {"prompt_tokens": result.usage.prompt_tokens,
                      "total_tokens": result.usage.prompt_tokens},
        }
        await _send(send, 200, [_JSON, *served_headers(served)], orjson.dumps(body))

    async def models(self, request: Request, send: Send) -> None:
        """The servable models -- only those the caller's key may use."""
        allowed = request.caller.models
        rows = []
        for info in self.settings.catalog:
            if info.provider not in self.settings.providers:
                continue
            if allowed is not None and info.name not in allowed:
                continue
            rows.append({
                "id": info.name, "object": "model", "created": 0, "owned_by": info.provider,
                "context_window": info.context_window,
                "capabilities": sorted(info.capabilities),
            })
        await _send(send, 200, [_JSON, (b"x-aegis-request-id", request.id.encode())],
                    orjson.dumps({"object": "list", "data": rows}))

    async def admin_spend(self, request: Request, send: Send) -> None:
        """``?by=provider|model|key|team|workspace|day&period=2026-11`` or ``since``/``until``."""
        q = request.query()
        try:
            rows = await asyncio.to_thread(
                spend_report, self.engine.store, q.get("by", "provider"),
                period=q.get("period"), since=q.get("since"), until=q.get("until"),
                filters=Filters(provider=q.get("provider"), model=q.get("model"),
                                key=q.get("key"), team=q.get("team"),
                                workspace=q.get("workspace")))
        except ValueError as exc:
            raise errors.InvalidRequest(str(exc)) from None
        await _send(send, 200, [_JSON], orjson.dumps({"data": [r.to_dict() for r in rows]}))

    async def admin_budgets(self, request: Request, send: Send) -> None:
        rows = await self.engine.budgets.astatus()
        await _send(send, 200, [_JSON], orjson.dumps({"data": [r.to_dict() for r in rows]}))

    async def admin_requests(self, request: Request, send: Send) -> None:
        raw = request.query().get("limit", "100")
        # ASCII only: isdigit() also takes "²" (int() refuses it) and "٣" (int() reads 3)
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 10_000:
            raise errors.InvalidRequest("limit: must be an integer from 1 to 10000",
                                        param="limit")
        rows = await asyncio.to_thread(recent_rows, self.engine.store, int(raw))
        await _send(send, 200, [_JSON], orjson.dumps({"data": rows}))

    async def live(self, request: Request, send: Send) -> None:
        await _send(send, 200, [_JSON], b'{"status":"ok"}')

    async def ready(self, request: Request, send: Send) -> None:
        """200 while at least one provider can serve; each provider's state either way."""
        health = self.engine.resilience.health
        ready = bool(self.settings.providers) and health.ready()
        body = health.snapshot()
        for name, info in body.get("providers", {}).items():
            provider = self.settings.providers.get(name)
            if provider is not None and isinstance(info, dict):
                info.update(kind=provider.kind, locality=provider.locality)
        # a failing ledger does not stop serving (rows wait in memory), but must be seen
        body["ledger"] = self.engine.ledger.health()
        await _send(send, 200 if ready else 503, [_JSON], orjson.dumps(body))

    async def admin_stats(self, request: Request, send: Send) -> None:
        res = self.engine.resilience
        body = {"stats": res.stats.snapshot(), "breakers": res.breaker.snapshot(),
                "health": res.health.status()}
        await _send(send, 200, [_JSON], orjson.dumps(body))

    # -- lifecycle ---------------------------------------------------------------

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.engine.start()
                except errors.AegisError as exc:
                    await send({"type": "lifespan.startup.failed", "message": exc.message})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                with contextlib.suppress(Exception):
                    await self.engine.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


class _NotFound(errors.InvalidRequest):
    status = 404
    code = "not_found"


class _MethodNotAllowed(errors.InvalidRequest):
    status = 405
    code = "method_not_allowed"

    def __init__(self, message: str, *, allow: str) -> None:
        super().__init__(message)
        self.allow = allow  # the Allow header a 405 must carry


def _without_body(send: Send) -> Send:
    """For HEAD: the GET handler's response start as it is, its body bytes dropped."""

    async def head_send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return head_send


def _internal_error(request_id: str) -> errors.AegisError:
    """What a client learns of a bug: that it happened, and the id to find it in the log."""
    return errors.AegisError(f"internal error in the gateway; see its log for request {request_id}")


async def _send(send: Send, status: int, headers: Headers, body: bytes) -> None:
    """A whole response: with its length, so the server need not chunk it."""
    headers.append((b"content-length", b"%d" % len(body)))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _cancel_on_disconnect(receive: Receive, task: asyncio.Task[Any]) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            task.cancel()
            return


def _b64_floats(vector: list[float]) -> str:
    """OpenAI's ``encoding_format=base64``: little-endian float32, base64-encoded."""
    return base64.b64encode(array.array("f", vector).tobytes()).decode()


def _usage_chunk(stream: ChatStream) -> dict[str, Any]:
    assert stream.usage is not None
    return {
        "id": stream.builder.id or stream.served.request_id,
        "object": "chat.completion.chunk",
        "created": stream.builder.created or int(time.time()),
        "model": stream.builder.model or stream.served.upstream_model,
        "choices": [],
        "usage": stream.usage.to_openai(),
    }


def create_app(settings: Settings | None = None) -> GatewayApp:
    """App factory; with no settings it loads ``$AEGIS_CONFIG`` (how workers find it)."""
    if settings is None:
        settings = load_settings(os.environ.get("AEGIS_CONFIG") or None)
    if workers := os.environ.get("AEGIS_WORKERS"):
        # `aegis serve --workers N`: each worker must know budgets are shared across processes
        server = settings.server.model_copy(update={"workers": int(workers)})
        settings = dataclasses.replace(settings, server=server)
    raw = settings.raw
    handler = configure_logging(raw.logging.format, raw.logging.level,
                                flush_interval_s=raw.logging.flush_ms / 1000)
    tracing = configure_tracing(raw.tracing.enabled, raw.tracing.exporter, settings=settings,
                                service_name=raw.tracing.service_name)
    obs = Observability.from_settings(settings, metrics=raw.metrics.enabled, tracing=tracing,
                                      log_handler=handler)
    engine = Engine(settings, observability=obs)
    return GatewayApp(engine, master=MasterKey.from_env(), observability=obs)
