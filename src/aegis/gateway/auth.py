"""Who is calling: nobody in particular (open mode), a gateway key, or the master key.

Open mode -- no key ever created and no ``AEGIS_MASTER_KEY`` -- lets every ``/v1/*``
call through; the server binds 127.0.0.1 by default and says so at start. Once a key
exists or a master key is set, every ``/v1/*`` call needs ``Authorization: Bearer``
(or ``x-api-key``).

``/admin/*`` (spend, requests, budgets, stats: who spent what, on which model) needs
the master key when one is set. Without one it answers loopback clients only, and
only in open mode: binding 0.0.0.0 must not publish the ledger to the network.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from aegis.budget import BudgetManager
from aegis.errors import AuthenticationRequired, PermissionDenied
from aegis.keys import KeyStore, MasterKey, bearer_secret
from aegis.records import ANONYMOUS, Caller

MASTER = Caller(key_name="master")


class Authenticator:
    def __init__(self, keys: KeyStore, master: MasterKey | None,
                 budgets: BudgetManager) -> None:
        self.keys = keys
        self.master = master
        self.budgets = budgets

    def open(self) -> bool:
        return self.master is None and not self.keys.any_keys()

    def caller(self, headers: Mapping[str, str]) -> Caller:
        """The caller of a ``/v1/*`` request, or ``AuthenticationRequired`` (401)."""
        if self.master is None and not self.keys.any_keys():  # ``open()``, inlined: hot path
            return ANONYMOUS
        secret = bearer_secret(headers.get("authorization"), headers.get("x-api-key"))
        if self.master is not None and self.master.matches(secret):
            return MASTER
        record = self.keys.authenticate(secret)
        if (budget := record.budget) is not None:
            self.budgets.register(budget)  # idempotent; a new key's budget applies at once
        models = frozenset(record.models) if record.models is not None else None
        return Caller(key_id=record.id, key_name=record.name, team=record.team, models=models)

    def admin(self, headers: Mapping[str, str], client: Sequence[Any] | None) -> None:
        """Let an ``/admin/*`` request through, or raise: 403 for a client off this machine
        when no master key is set, 401 without the master key otherwise.

        ``client`` is the ASGI scope's ``(host, port)`` of the connection's peer."""
        if self.master is None:
            if not is_loopback(client):
                raise PermissionDenied(
                    "admin endpoints answer only loopback clients when no master key is set; "
                    "set AEGIS_MASTER_KEY and send it as a bearer token to use them remotely")
            if not self.keys.any_keys():
                return  # open mode, from this machine: zero-config local development
        secret = bearer_secret(headers.get("authorization"), headers.get("x-api-key"))
        if self.master is None or not self.master.matches(secret):
            raise AuthenticationRequired(
                "admin endpoints need the master key (AEGIS_MASTER_KEY) as a bearer token")


def is_loopback(client: Sequence[Any] | None) -> bool:
    """Whether the peer is this machine (127.0.0.0/8, ::1, or ::ffff:127.x). Unknown: no."""
    if not client:
        return False
    try:
        address = ipaddress.ip_address(str(client[0]).partition("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback
