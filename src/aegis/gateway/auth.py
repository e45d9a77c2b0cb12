"""Who is calling: nobody in particular (open mode), a gateway key, or the master key.

Open mode -- no key ever created and no ``AEGIS_MASTER_KEY`` -- lets everything
through; the server binds 127.0.0.1 by default and says so at start. Once a key
exists or a master key is set, every ``/v1/*`` call needs ``Authorization: Bearer``
(or ``x-api-key``), and ``/admin/*`` needs the master key.
"""

from __future__ import annotations

from collections.abc import Mapping

from aegis.budget import BudgetManager
from aegis.errors import AuthenticationRequired
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

    def admin(self, headers: Mapping[str, str]) -> None:
        if self.open():
            return
        secret = bearer_secret(headers.get("authorization"), headers.get("x-api-key"))
        if self.master is None or not self.master.matches(secret):
            raise AuthenticationRequired(
                "admin endpoints need the master key (AEGIS_MASTER_KEY) as a bearer token")
