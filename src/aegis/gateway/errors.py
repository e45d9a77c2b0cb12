"""Aegis errors → OpenAI-shaped HTTP error responses, in one place."""

from __future__ import annotations

from typing import Any

import orjson

from aegis.errors import AegisError, BudgetExceeded, PolicyRefusal, RateLimited
from aegis.records import Served

Headers = list[tuple[bytes, bytes]]


def route_headers(served: Served) -> Headers:
    """Who served (or, on an error, was tried last) and why."""
    return [
        (b"x-aegis-provider", served.provider.encode()),
        (b"x-aegis-model", served.model.encode()),
        (b"x-aegis-route", served.route.encode()),
        (b"x-aegis-route-reason", served.reason.encode("latin-1", "replace")),
    ]


def error_body(exc: AegisError) -> dict[str, Any]:
    error: dict[str, Any] = {
        "message": exc.message,
        "type": exc.type,
        "code": exc.code,
        "param": exc.param,
    }
    if isinstance(exc, PolicyRefusal):
        error["rule"] = exc.rule
    return {"error": error}


def error_response(exc: AegisError) -> tuple[int, Headers, bytes]:
    headers: Headers = [(b"content-type", b"application/json")]
    if isinstance(exc, RateLimited) and exc.retry_after is not None:
        headers.append((b"retry-after", str(max(1, round(exc.retry_after))).encode()))
    elif isinstance(exc, BudgetExceeded):  # the OpenAI and Anthropic SDKs retry a 429 unless
        headers.append((b"x-should-retry", b"false"))  # told not to; the limit will not move
    if exc.served is not None:  # an upstream was tried: name the last one
        headers += route_headers(exc.served)
    elif exc.decision is not None:
        headers.append((b"x-aegis-route", str(exc.decision.get("route", "")).encode()))
        rule = getattr(exc, "rule", None) or exc.code
        headers.append((b"x-aegis-route-reason", f"refused by {rule}".encode()))
    return exc.status, headers, orjson.dumps(error_body(exc))


def sse_error(exc: AegisError) -> bytes:
    """The event OpenAI sends when a stream fails after it started."""
    return b"data: " + orjson.dumps(error_body(exc)) + b"\n\n"
