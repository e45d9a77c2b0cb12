"""``Request.body``: a body in one ASGI message is returned as it came (no list, no join);
any other shape is still joined, bounded and typed as before."""

from __future__ import annotations

from typing import Any

import pytest

from aegis import errors
from aegis.gateway.app import ClientGone, Request


def request(*messages: dict[str, Any], length: str | None = None) -> Request:
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        return queue.pop(0)

    headers = [(b"content-length", length.encode())] if length is not None else []
    return Request({"headers": headers}, receive, "req_test")


async def test_one_message_body_is_returned_as_it_came() -> None:
    body = b'{"model": "m"}'
    got = await request({"type": "http.request", "body": body, "more_body": False}).body(100)
    assert got is body


@pytest.mark.parametrize("chunks", [
    [b"ab", b"cd", b""], [b"", b"abcd"], [bytearray(b"abcd")], [b"a", bytearray(b"bcd")]])
async def test_other_bodies_are_joined_into_bytes(chunks: list[bytes]) -> None:
    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
                for i, c in enumerate(chunks)]
    got = await request(*messages).body(100)
    assert got == b"abcd" and type(got) is bytes


async def test_missing_body_and_limits() -> None:
    assert await request({"type": "http.request"}).body(10) == b""
    with pytest.raises(errors.PayloadTooLarge):
        await request({"type": "http.request", "body": b"x" * 11}).body(10)
    with pytest.raises(errors.PayloadTooLarge):
        await request({"type": "http.request", "body": b"x" * 6, "more_body": True},
                      {"type": "http.request", "body": b"x" * 6}).body(10)
    with pytest.raises(errors.PayloadTooLarge):
        await request({"type": "http.request", "body": b""}, length="11").body(10)
    with pytest.raises(ClientGone):
        await request({"type": "http.disconnect"}).body(10)
