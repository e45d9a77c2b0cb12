"""Picks the client implementation for a provider's base URL.

``FastClient`` is the default: the upstream client is the largest cost a
gateway controls, and on our hardware the lean ``asyncio.Protocol`` client
forwards ~2.3x the requests of aiohttp and more than httpx
(``/work/shared/notes/performance.md``, ``bench/http_clients.py``).

It speaks plain HTTP/1.1 to the origin and knows nothing of proxies, so
``HttpxClient`` is returned instead when an environment proxy applies to the
URL (``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY`` not bypassed by
``NO_PROXY``, as ``urllib.request`` reads them): in a locked-down network the
proxy is often the only way out, and silently bypassing it would either fail
or leak traffic around an egress control.

``AEGIS_HTTP_CLIENT=httpx`` forces ``HttpxClient`` (e.g. to rule the fast
client out when debugging), ``AEGIS_HTTP_CLIENT=fast`` forces ``FastClient``.
"""

from __future__ import annotations

import os
import urllib.request
from urllib.parse import urlsplit

from aegis.http.base import HttpClient
from aegis.http.fast import FastClient
from aegis.http.httpx_client import HttpxClient

ENV_VAR = "AEGIS_HTTP_CLIENT"


def proxy_for(base_url: str) -> str | None:
    """The environment proxy that applies to ``base_url``, if any."""
    parts = urlsplit(base_url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme.lower()) or proxies.get("all")
    if not proxy:
        return None
    if parts.hostname and urllib.request.proxy_bypass(parts.netloc.rpartition("@")[2]):
        return None
    return proxy


def build_client(base_url: str, *, max_connections: int = 200) -> HttpClient:
    """One pooled client for one provider; callers keep it for the process lifetime."""
    choice = os.environ.get(ENV_VAR, "").strip().lower()
    if choice not in ("", "fast", "httpx"):
        raise ValueError(f"{ENV_VAR} must be 'fast' or 'httpx', not {choice!r}")
    if choice == "httpx" or (choice == "" and proxy_for(base_url) is not None):
        return HttpxClient(max_connections=max_connections)
    return FastClient(max_connections=max_connections)
