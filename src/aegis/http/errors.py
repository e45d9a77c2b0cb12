"""Transport-level failures, before any provider semantics are applied.

Adapters turn these into ``aegis.errors.ProviderError`` subclasses (naming the
provider); clients raise only these, whatever library sits underneath.

    TransportError
    ├── ConnectError       could not connect (refused, DNS, TLS handshake)
    ├── TransportTimeout   connect / read (first byte or idle) / total
    └── ProtocolError      connection closed mid-response, malformed HTTP
"""

from __future__ import annotations


class TransportError(Exception):
    pass


class ConnectError(TransportError):
    pass


class TransportTimeout(TransportError):
    def __init__(self, message: str, *, phase: str) -> None:
        super().__init__(message)
        self.phase = phase  # "connect" | "read" | "total"


class ProtocolError(TransportError):
    pass
