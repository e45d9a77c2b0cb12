"""``HttpClient`` on top of ``httpx``: the portable choice.

It honours ``HTTPS_PROXY`` / ``NO_PROXY`` and any TLS set-up httpx supports, and
takes an ``httpx.AsyncBaseTransport`` (``httpx.MockTransport`` in unit tests).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping

import httpx

from aegis.http.base import Timeouts
from aegis.http.errors import ConnectError, ProtocolError, TransportError, TransportTimeout


def _translate(exc: httpx.HTTPError) -> TransportError:
    if isinstance(exc, httpx.ConnectTimeout):
        return TransportTimeout("timed out connecting", phase="connect")
    if isinstance(exc, httpx.TimeoutException):
        return TransportTimeout("timed out waiting for the upstream", phase="read")
    if isinstance(exc, httpx.ConnectError):
        return ConnectError("could not connect")
    return ProtocolError(f"connection failed: {type(exc).__name__}")


class _Response:
    __slots__ = ("_deadline", "_resp", "headers", "status")

    def __init__(self, resp: httpx.Response, deadline: float) -> None:
        self._resp = resp
        self._deadline = deadline
        self.status = resp.status_code
        self.headers: Mapping[str, str] = {k.lower(): v for k, v in resp.headers.items()}

    async def aread(self) -> bytes:
        return b"".join([chunk async for chunk in self.aiter_bytes()])

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        # decoded bytes: httpx negotiates gzip, and mock bodies arrive already read
        stream = self._resp.aiter_bytes()
        try:
            while True:
                remaining = self._deadline - time.monotonic()
                if remaining <= 0:
                    raise TransportTimeout("total timeout exceeded", phase="total")
                try:
                    async with asyncio.timeout(remaining):
                        chunk = await anext(stream)
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    raise TransportTimeout("total timeout exceeded", phase="total") from None
                except httpx.HTTPError as exc:
                    raise _translate(exc) from exc
                yield chunk
        finally:
            await self._resp.aclose()

    async def aclose(self) -> None:
        await self._resp.aclose()


class HttpxClient:
    def __init__(
        self,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 200,
        verify: bool = True,
    ) -> None:
        self._client = httpx.AsyncClient(
            transport=transport,
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            verify=verify,
            trust_env=transport is None,
            follow_redirects=False,
        )

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeouts: Timeouts | None = None,
    ) -> _Response:
        t = timeouts or Timeouts()
        deadline = time.monotonic() + t.total
        req = self._client.build_request(
            method,
            url,
            headers=headers,
            content=body,
            timeout=httpx.Timeout(t.read, connect=t.connect, pool=t.connect),
        )
        try:
            async with asyncio.timeout(t.total):
                resp = await self._client.send(req, stream=True)
        except TimeoutError:
            raise TransportTimeout("total timeout exceeded", phase="total") from None
        except httpx.HTTPError as exc:
            raise _translate(exc) from exc
        return _Response(resp, deadline)

    async def aclose(self) -> None:
        await self._client.aclose()
