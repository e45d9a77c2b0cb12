"""The server protocol: each answer leaves in one write, streams are not held back."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import uvicorn
from uvicorn.server import ServerState

from aegis.gateway.server import HeadWithBodyProtocol

BODY = b'{"ok":true}'


class Transport(asyncio.Transport):
    """Records what the protocol writes, one entry per ``write`` call."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 4000), "peername": ("127.0.0.1", 5555)}.get(
            name, default)


async def whole(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", b"%d" % len(BODY))]})
    await send({"type": "http.response.body", "body": BODY})


async def streamed(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/event-stream")]})
    await asyncio.sleep(0.05)  # a slow first chunk
    for i in range(3):
        await send({"type": "http.response.body", "body": b"data: %d\n\n" % i,
                    "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def serve(app: Any, request: bytes, wait: float = 0.2) -> Transport:
    config = uvicorn.Config(app, lifespan="off", log_config=None, access_log=False)
    protocol = HeadWithBodyProtocol(config=config, server_state=ServerState(), app_state={})
    transport = Transport()
    protocol.connection_made(transport)
    protocol.data_received(request)
    await asyncio.sleep(wait)
    return transport


GET = b"GET / HTTP/1.1\r\nhost: x\r\n\r\n"


async def test_a_whole_answer_is_one_write() -> None:
    transport = await serve(whole, GET + GET)  # two requests, pipelined
    assert len(transport.writes) == 2
    for write in transport.writes:
        assert write.startswith(b"HTTP/1.1 200 OK\r\n") and write.endswith(b"\r\n\r\n" + BODY)


async def test_a_streams_headers_leave_before_its_first_chunk() -> None:
    transport = await serve(streamed, GET, wait=0.02)
    assert len(transport.writes) == 1 and transport.writes[0].startswith(b"HTTP/1.1 200")
    await asyncio.sleep(0.2)
    body = b"".join(transport.writes[1:])
    assert b"data: 0\n\n" in body and body.endswith(b"0\r\n\r\n")  # chunked, complete


async def test_closing_sends_what_was_held() -> None:
    config = uvicorn.Config(whole, lifespan="off", log_config=None)
    protocol = HeadWithBodyProtocol(config=config, server_state=ServerState(), app_state={})
    transport = Transport()
    protocol.connection_made(transport)
    protocol.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    protocol.transport.close()
    assert transport.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"] and transport.closed


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_real_sockets_on_either_loop(loop: str) -> None:
    """Through a real listening socket: keep-alive, two answers, bytes intact."""
    async def main() -> bytes:
        config = uvicorn.Config(whole, lifespan="off", log_config=None)
        server = await asyncio.get_running_loop().create_server(
            lambda: HeadWithBodyProtocol(config=config, server_state=ServerState(),
                                         app_state={}), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(GET + GET)
        data = b""
        while data.count(BODY) < 2:
            data += await asyncio.wait_for(reader.read(65536), 5)
        writer.close()
        server.close()
        return data

    if loop == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        data = uvloop.run(main())
    else:
        data = asyncio.run(main())
    assert data.count(b"HTTP/1.1 200 OK") == 2 and data.count(BODY) == 2
