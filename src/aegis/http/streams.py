"""Framing for streamed bodies: Server-Sent Events and NDJSON.

Both work on any async byte iterator, split on newlines across chunk
boundaries, and never buffer more than one incomplete line.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import orjson


async def iter_lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Yield lines without their terminator (``\\n``, ``\\r\\n`` or ``\\r``)."""
    pending = b""
    async for chunk in chunks:
        if not chunk:
            continue
        data = pending + chunk if pending else chunk
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = data.split(b"\n")
        pending = lines.pop()
        for line in lines:
            yield line
    if pending:
        yield pending


@dataclass(frozen=True, slots=True)
class SSEEvent:
    event: str  # "message" when the server named none
    data: bytes


async def iter_sse(chunks: AsyncIterator[bytes]) -> AsyncIterator[SSEEvent]:
    """Parse ``text/event-stream`` per the WHATWG spec (blank line dispatches an event)."""
    event = b""
    data: list[bytes] = []
    async for line in iter_lines(chunks):
        if not line:
            if data:
                yield SSEEvent((event or b"message").decode(), b"\n".join(data))
            event, data = b"", []
            continue
        if line.startswith(b":"):
            continue
        name, _, value = line.partition(b":")
        if value.startswith(b" "):
            value = value[1:]
        if name == b"data":
            data.append(value)
        elif name == b"event":
            event = value
    if data:  # a stream that ended without the final blank line
        yield SSEEvent((event or b"message").decode(), b"\n".join(data))


async def iter_ndjson(chunks: AsyncIterator[bytes]) -> AsyncIterator[object]:
    """Parse newline-delimited JSON; raises ``orjson.JSONDecodeError`` on a bad line."""
    async for line in iter_lines(chunks):
        if line.strip():
            yield orjson.loads(line)
