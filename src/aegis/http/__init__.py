"""The outbound HTTP seam: every upstream call goes through an ``HttpClient``.

Adapters never import an HTTP library; they receive a client built by
``aegis.http.build_client`` (one long-lived, pooled client per provider), and
unit tests hand them one wrapping ``httpx.MockTransport`` instead.
"""

from aegis.http.base import HttpClient, HttpResponse, Timeouts
from aegis.http.factory import build_client
from aegis.http.httpx_client import HttpxClient
from aegis.http.streams import iter_lines, iter_ndjson, iter_sse

__all__ = [
    "HttpClient",
    "HttpResponse",
    "HttpxClient",
    "Timeouts",
    "build_client",
    "iter_lines",
    "iter_ndjson",
    "iter_sse",
]
