"""Gateway API keys: who is calling, what they may use, what they may spend.

Secrets look like ``sk-aegis-<12 hex id><43 random url-safe chars>`` (256
random bits). The first 12 characters after the prefix are the key's public id
(``key_<hex>``), so a lookup is one primary-key read; the store keeps only
``HMAC-SHA256(salt, secret)`` with a random 16-byte salt per key, compared in
constant time. The secret is returned once by ``create`` and never stored or
logged.

Hot path: ``authenticate`` caches each key's row in memory for
``cache_ttl_s`` (default 5 s), so a request costs one HMAC (~1 us) and no
database query. A revoke made in this process takes effect immediately; one
made elsewhere (the CLI, another worker) takes effect within ``cache_ttl_s``.
Unknown ids are cached as well, so guessing costs no query either.

Once any key has ever been created (even if all are now revoked) or a master
key is set, authentication is required: revoking the last key never reopens
the gateway.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from aegis.budget.model import PERIODS, BudgetDef, Period
from aegis.errors import AuthenticationRequired, ConfigError
from aegis.ledger.reports import parse_time
from aegis.ledger.store import KeyRow, LedgerStore, Scope, nusd_to_usd, usd_to_nusd

SECRET_PREFIX = "sk-aegis-"
_ID_LEN = 12
_CACHE_MAX = 10_000
Reason = Literal["missing", "unknown", "revoked", "expired"]


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A key as callers see it: never its secret, never its digest."""

    id: str
    name: str
    created_at: float
    team: str | None = None
    expires_at: float | None = None
    revoked_at: float | None = None
    budget_usd: float | None = None
    period: Period | None = None
    models: tuple[str, ...] | None = None  # None: every model

    def allows(self, model: str) -> bool:
        """The allow-list, a hard constraint for the router."""
        return self.models is None or model in self.models

    def status(self, now: float) -> Literal["active", "revoked", "expired"]:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and now >= self.expires_at:
            return "expired"
        return "active"

    @property
    def budget(self) -> BudgetDef | None:
        """The key's own budget as a ``key:<id>`` budget (on_exceed: reject)."""
        if self.budget_usd is None:
            return None
        return BudgetDef(name=f"key:{self.name}", scope=Scope("key", self.id),
                         limit_usd=self.budget_usd, period=self.period or "monthly",
                         on_exceed="reject")

    def to_dict(self, now: float | None = None) -> dict[str, Any]:
        def iso(t: float | None) -> str | None:
            return None if t is None else datetime.fromtimestamp(t, UTC).isoformat()

        return {"id": self.id, "name": self.name, "team": self.team,
                "status": self.status(time.time() if now is None else now),
                "created_at": iso(self.created_at), "expires_at": iso(self.expires_at),
                "revoked_at": iso(self.revoked_at), "budget_usd": self.budget_usd,
                "period": self.period if self.budget_usd is not None else None,
                "models": list(self.models) if self.models is not None else None}

    @classmethod
    def from_row(cls, row: KeyRow) -> KeyRecord:
        return cls(
            id=row.id, name=row.name, created_at=row.created_at, team=row.team,
            expires_at=row.expires_at, revoked_at=row.revoked_at,
            budget_usd=nusd_to_usd(row.budget_nusd) if row.budget_nusd is not None else None,
            period=row.period if row.period in PERIODS else None,  # type: ignore[arg-type]
            models=row.models,
        )


class KeyRejected(AuthenticationRequired):
    """401: why the presented key was refused (``reason``), for the error message."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _digest(salt: bytes, secret: str) -> bytes:
    return hmac.new(salt, secret.encode("utf-8"), hashlib.sha256).digest()


def _key_id(secret: str) -> str | None:
    if not secret.startswith(SECRET_PREFIX):
        return None
    ident = secret[len(SECRET_PREFIX):len(SECRET_PREFIX) + _ID_LEN]
    if len(secret) < len(SECRET_PREFIX) + _ID_LEN + 20 or not re.fullmatch("[0-9a-f]+", ident):
        return None
    return "key_" + ident


class KeyStore:
    def __init__(
        self, store: LedgerStore, *, cache_ttl_s: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.cache_ttl_s = cache_ttl_s
        self.clock = clock
        self._cache: dict[str, tuple[float, KeyRow | None, KeyRecord | None]] = {}
        self._any: tuple[float, bool] = (-1.0, False)
        self._lock = threading.Lock()

    # -- admin -------------------------------------------------------------------

    def create(
        self, name: str, team: str | None = None, budget_usd: float | None = None,
        period: str | None = None, models: Sequence[str] | None = None,
        expires_at: float | datetime | None = None,
    ) -> tuple[str, str]:
        """A new key: returns ``(key_id, secret)``. Show the secret once; it is not stored."""
        now = self.clock()
        name = (name or "").strip()
        if not name or name.startswith("key_") or any(c.isspace() for c in name):
            raise ConfigError("keys: a name is required, without spaces, not starting "
                              "with 'key_'")
        if budget_usd is not None and (isinstance(budget_usd, bool) or
                                       not isinstance(budget_usd, int | float) or
                                       not 0 <= budget_usd < float("inf")):
            raise ConfigError("keys: --budget must be a number of USD >= 0")
        if period is not None and period not in PERIODS:
            raise ConfigError(f"keys: --period must be one of {', '.join(PERIODS)}")
        if period is not None and budget_usd is None:
            raise ConfigError("keys: --period needs --budget")
        if models is not None:
            models = tuple(dict.fromkeys(m.strip() for m in models if m.strip()))
            if not models:
                raise ConfigError("keys: --models needs at least one model name")
        if isinstance(expires_at, datetime):
            expires_at = (expires_at if expires_at.tzinfo else
                          expires_at.replace(tzinfo=UTC)).timestamp()
        if expires_at is not None and expires_at <= now:
            raise ConfigError("keys: the expiry is in the past")
        ident = secrets.token_hex(_ID_LEN // 2)
        secret = SECRET_PREFIX + ident + secrets.token_urlsafe(32)
        salt = os.urandom(16)
        self.store.insert_key(KeyRow(
            id="key_" + ident, name=name, salt=salt, digest=_digest(salt, secret),
            created_at=now, team=team or None, expires_at=expires_at,
            budget_nusd=usd_to_nusd(budget_usd) if budget_usd is not None else None,
            period=(period or "monthly") if budget_usd is not None else None,
            models=tuple(models) if models is not None else None,
        ))
        with self._lock:
            self._cache.pop("key_" + ident, None)
            self._any = (-1.0, True)
        return "key_" + ident, secret

    def list(self) -> builtins.list[KeyRecord]:
        return [KeyRecord.from_row(r) for r in self.store.list_keys()]

    def get(self, id_or_name: str) -> KeyRecord | None:
        row = self.store.find_key(id_or_name)
        return KeyRecord.from_row(row) if row else None

    def revoke(self, id_or_name: str) -> KeyRecord:
        """Revoke now (this process at once; other processes within ``cache_ttl_s``)."""
        row = self.store.find_key(id_or_name)
        if row is None:
            raise ConfigError(f"keys: no key with id or name {id_or_name!r}")
        self.store.revoke_key(row.id, self.clock())
        with self._lock:
            self._cache.pop(row.id, None)
        updated = self.store.get_key(row.id)
        return KeyRecord.from_row(updated or row)

    def budgets(self) -> builtins.list[BudgetDef]:
        """The own budgets of active keys, to register with the ``BudgetManager``."""
        now = self.clock()
        return [b for r in self.list() if r.status(now) == "active"
                for b in [r.budget] if b is not None]

    # -- the request path ----------------------------------------------------------

    def any_keys(self) -> bool:
        """Whether any key was ever created (cached ``cache_ttl_s``)."""
        at, value = self._any
        if time.monotonic() - at < self.cache_ttl_s:
            return value
        value = bool(self.store.list_keys())
        self._any = (time.monotonic(), value)
        return value

    def authenticate(self, secret: str | None, now: float | None = None) -> KeyRecord:
        """The caller's key, or ``KeyRejected`` (401) saying missing/unknown/revoked/expired."""
        if not secret:
            raise KeyRejected("missing", "missing API key: send 'Authorization: Bearer <key>'")
        key_id = _key_id(secret)
        found = self._lookup(key_id) if key_id else None
        if found is None or not hmac.compare_digest(_digest(found[0].salt, secret),
                                                    found[0].digest):
            raise KeyRejected("unknown", "invalid API key")
        record = found[1]
        now = self.clock() if now is None else now
        status = record.status(now)
        if status == "revoked":
            raise KeyRejected("revoked", f"API key {record.name!r} has been revoked")
        if status == "expired":
            raise KeyRejected("expired", f"API key {record.name!r} has expired")
        return record

    def _lookup(self, key_id: str) -> tuple[KeyRow, KeyRecord] | None:
        tick = time.monotonic()
        hit = self._cache.get(key_id)
        if hit is not None and hit[0] > tick:
            return (hit[1], hit[2]) if hit[1] is not None and hit[2] is not None else None
        row = self.store.get_key(key_id)
        record = KeyRecord.from_row(row) if row else None
        with self._lock:
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[key_id] = (tick + self.cache_ttl_s, row, record)
        return (row, record) if row is not None and record is not None else None


@dataclass(frozen=True, slots=True)
class MasterKey:
    """The admin key from ``AEGIS_MASTER_KEY``; only its SHA-256 is kept in memory."""

    digest: bytes

    @classmethod
    def of(cls, secret: str) -> MasterKey:
        return cls(hashlib.sha256(secret.encode("utf-8")).digest())

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> MasterKey | None:
        value = (os.environ if env is None else env).get("AEGIS_MASTER_KEY", "").strip()
        return cls.of(value) if value else None

    def matches(self, secret: str | None) -> bool:
        """Constant time (digests of equal length are compared, whatever was sent)."""
        if not secret:
            return False
        return hmac.compare_digest(hashlib.sha256(secret.encode("utf-8")).digest(), self.digest)


def bearer_secret(authorization: str | None, x_api_key: str | None = None) -> str | None:
    """The presented secret: ``Authorization: Bearer <key>``, else ``x-api-key``."""
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return x_api_key.strip() if x_api_key and x_api_key.strip() else None


_RELATIVE = re.compile(r"^(\d+)\s*([mhdw])$")
_UNIT = {"m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}


def parse_expiry(text: str, now: float | None = None) -> float:
    """``--expires``: ``30d``, ``12h``, ``90m``, ``2w``, or an ISO date / date-time (UTC)."""
    match = _RELATIVE.match(text.strip().lower())
    if match:
        return (time.time() if now is None else now) + int(match[1]) * _UNIT[match[2]]
    try:
        return parse_time(text)
    except ValueError:
        raise ConfigError(f"keys: --expires {text!r}: expected 30d, 12h, 90m, 2w or "
                          "YYYY-MM-DD[THH:MM]") from None


__all__ = [
    "SECRET_PREFIX", "KeyRecord", "KeyRejected", "KeyStore", "MasterKey", "bearer_secret",
    "parse_expiry",
]
