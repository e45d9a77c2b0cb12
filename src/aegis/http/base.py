"""The client protocol adapters are written against."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds. ``read`` bounds the wait for the first byte *and* each later gap
    (an idle stream); ``total`` bounds the whole exchange including the body."""

    connect: float = 10.0
    read: float = 120.0
    total: float = 600.0


class HttpResponse(Protocol):
    """A response whose headers have arrived; the body is read on demand.

    ``headers`` keys are lower-case. Reading the body may raise
    ``aegis.http.errors.TransportError`` subclasses.
    """

    status: int
    headers: Mapping[str, str]

    async def aread(self) -> bytes: ...

    def aiter_bytes(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


class HttpClient(Protocol):
    """One pooled, keep-alive client per provider, shared by all its requests."""

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeouts: Timeouts | None = None,
    ) -> HttpResponse:
        """Send the request and return once the status line and headers are in.

        The caller must ``aclose()`` the response (or read it to the end) so the
        connection returns to the pool; cancelling the calling task aborts it.
        """
        ...

    async def aclose(self) -> None: ...
