"""Framing for streamed bodies: Server-Sent Events and NDJSON.

Both work on any async byte iterator, split on newlines across chunk
boundaries, and never buffer more than one incomplete line.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import NamedTuple

import orjson


async def iter_line_batches(chunks: AsyncIterator[bytes]) -> AsyncIterator[list[bytes]]:
    """The lines each chunk completes, as one list per chunk, without their terminators
    (``\\n``, ``\\r\\n`` or ``\\r``; a ``\\r\\n`` split across two chunks is one).

    A list per chunk rather than a line at a time: the parsers above resume once per
    network read, not once per line (an SSE event is two lines).
    """
    pending = b""
    async for chunk in chunks:
        if not chunk:
            continue
        data = pending + chunk if pending else chunk
        held = b""
        if b"\r" in data:
            if data.endswith(b"\r"):  # maybe the first half of a \r\n: decide with the next
                data, held = data[:-1], b"\r"
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = data.split(b"\n")
        pending = lines.pop() + held
        if lines:
            yield lines
    if pending:
        yield [pending.removesuffix(b"\r")]


async def iter_lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Yield lines without their terminator (``\\n``, ``\\r\\n`` or ``\\r``)."""
    async for lines in iter_line_batches(chunks):
        for line in lines:
            yield line


class SSEEvent(NamedTuple):
    event: str  # "message" when the server named none
    data: bytes


async def iter_sse(chunks: AsyncIterator[bytes]) -> AsyncIterator[SSEEvent]:
    """Parse ``text/event-stream`` per the WHATWG spec (blank line dispatches an event)."""
    event = b""
    data: list[bytes] = []
    async for lines in iter_line_batches(chunks):
        for line in lines:
            if not line:
                if data:
                    yield SSEEvent(event.decode() if event else "message", b"\n".join(data))
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
        yield SSEEvent(event.decode() if event else "message", b"\n".join(data))


async def iter_ndjson(chunks: AsyncIterator[bytes]) -> AsyncIterator[object]:
    """Parse newline-delimited JSON; raises ``orjson.JSONDecodeError`` on a bad line."""
    async for lines in iter_line_batches(chunks):
        for line in lines:
            if line.strip():
                yield orjson.loads(line)
