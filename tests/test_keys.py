"""Gateway keys: create / list / revoke / expire / authenticate, hashed at rest."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aegis.budget import BudgetManager
from aegis.errors import AuthenticationRequired, ConfigError
from aegis.keys import KeyRejected, KeyStore, MasterKey, bearer_secret, parse_expiry
from aegis.ledger import Scope
from aegis.ledger.sqlite import SqliteLedgerStore

NOW = datetime(2026, 11, 6, 12, tzinfo=UTC).timestamp()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "keys.db"


@pytest.fixture
def store(db: Path) -> Iterator[SqliteLedgerStore]:
    s = SqliteLedgerStore(db)
    yield s
    s.close()


@pytest.fixture
def keys(store: SqliteLedgerStore) -> KeyStore:
    return KeyStore(store, clock=lambda: NOW)


def test_create_and_authenticate(keys: KeyStore) -> None:
    key_id, secret = keys.create("alice", team="research", budget_usd=25, period="weekly",
                                 models=["gpt-x", "local"], expires_at=NOW + 3600)
    assert secret.startswith("sk-aegis-") and len(secret) > 60
    assert key_id.startswith("key_") and key_id[4:] in secret
    record = keys.authenticate(secret)
    assert (record.id, record.name, record.team) == (key_id, "alice", "research")
    assert record.models == ("gpt-x", "local")
    assert record.allows("gpt-x") and not record.allows("gpt-y")
    assert record.budget_usd == 25 and record.period == "weekly"
    b = record.budget
    assert b is not None and b.scope == Scope("key", key_id) and b.on_exceed == "reject"
    assert (b.limit_usd, b.period) == (25, "weekly")
    open_key = keys.authenticate(keys.create("bob")[1])
    assert open_key.models is None and open_key.allows("anything") and open_key.budget is None


def test_failures_say_why(keys: KeyStore) -> None:
    _, secret = keys.create("carol", expires_at=NOW + 60)
    for presented, reason in [(None, "missing"), ("", "missing"), ("sk-other", "unknown"),
                              (secret[:-1] + ("A" if secret[-1] != "A" else "B"), "unknown"),
                              ("sk-aegis-" + "0" * 60, "unknown")]:
        with pytest.raises(KeyRejected) as err:
            keys.authenticate(presented)
        assert err.value.reason == reason
        assert isinstance(err.value, AuthenticationRequired) and err.value.status == 401
    with pytest.raises(KeyRejected, match="expired") as err:
        keys.authenticate(secret, now=NOW + 61)
    assert err.value.reason == "expired"
    keys.revoke("carol")
    with pytest.raises(KeyRejected, match="revoked") as err:
        keys.authenticate(secret)
    assert err.value.reason == "revoked"


def test_list_never_shows_secrets_and_revoke_by_id_or_name(keys: KeyStore) -> None:
    a_id, _ = keys.create("a")
    keys.create("b", team="ops")
    listed = keys.list()
    assert [k.name for k in listed] == ["a", "b"]
    for k in listed:
        d = k.to_dict(NOW)
        assert d["status"] == "active" and not any("secret" in f or "digest" in f for f in d)
    assert keys.revoke(a_id).revoked_at == NOW
    assert keys.revoke("b").status(NOW) == "revoked"
    assert [k.status(NOW) for k in keys.list()] == ["revoked", "revoked"]
    with pytest.raises(ConfigError, match="no key"):
        keys.revoke("nobody")
    # a revoked name can be reused; an active one cannot
    keys.create("a")
    with pytest.raises(ConfigError, match="already exists"):
        keys.create("a")
    assert keys.get("a") is not None and keys.get("a").revoked_at is None  # type: ignore[union-attr]


def test_secret_is_never_stored(db: Path, store: SqliteLedgerStore, keys: KeyStore) -> None:
    secrets_ = [keys.create(f"k{i}")[1] for i in range(5)]
    store.close()
    blob = b"".join(p.read_bytes() for p in db.parent.glob("keys.db*"))  # db + WAL
    assert blob  # the rows are there...
    for secret in secrets_:
        assert secret.encode() not in blob  # ...but no secret, whole or in its random part
        assert secret[9 + 12:].encode() not in blob
    reopened = KeyStore(SqliteLedgerStore(db), clock=lambda: NOW)
    assert reopened.authenticate(secrets_[0]).name == "k0"


def test_validation(keys: KeyStore) -> None:
    for kwargs, message in [
        ({"name": ""}, "name is required"), ({"name": "two words"}, "without spaces"),
        ({"name": "key_x"}, "key_"), ({"name": "x", "budget_usd": -1}, "budget"),
        ({"name": "x", "budget_usd": 1, "period": "yearly"}, "period"),
        ({"name": "x", "period": "daily"}, "needs --budget"),
        ({"name": "x", "models": [" "]}, "at least one model"),
        ({"name": "x", "expires_at": NOW - 1}, "past"),
    ]:
        with pytest.raises(ConfigError, match=message):
            keys.create(**kwargs)  # type: ignore[arg-type]
    key_id, _ = keys.create("x", budget_usd=5)
    assert keys.get(key_id).period == "monthly"  # type: ignore[union-attr]


def test_cache_avoids_queries_and_revocation_latency(store: SqliteLedgerStore) -> None:
    writer = KeyStore(store, clock=lambda: NOW)  # e.g. the CLI
    gateway = KeyStore(store, cache_ttl_s=0.2, clock=lambda: NOW)  # another process
    _, secret = writer.create("dave")
    assert gateway.authenticate(secret).name == "dave"
    calls = 0
    real = store.get_key

    def counting(key_id: str):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        return real(key_id)

    store.get_key = counting  # type: ignore[method-assign]
    for _ in range(1000):
        gateway.authenticate(secret)
    assert calls == 0  # the hot path does no query
    writer.revoke("dave")
    gateway.authenticate(secret)  # still cached: another process's revoke lags...
    time.sleep(0.25)
    with pytest.raises(KeyRejected, match="revoked"):  # ...by at most cache_ttl_s
        gateway.authenticate(secret)
    _, other = gateway.create("erin")
    gateway.revoke("erin")  # a revoke in the same process is immediate
    with pytest.raises(KeyRejected, match="revoked"):
        gateway.authenticate(other)


def test_auth_required_once_any_key_existed(keys: KeyStore) -> None:
    assert not keys.any_keys()
    keys.create("f")
    assert keys.any_keys()
    keys.revoke("f")
    assert keys.any_keys()  # revoking the last key does not reopen the gateway


def test_key_budgets_register_with_the_manager(keys: KeyStore) -> None:
    kid, _ = keys.create("g", budget_usd=2, period="daily")
    keys.create("h")
    manager = BudgetManager()
    for b in keys.budgets():
        manager.register(b)
    (b,) = manager.applicable("openai", "m", key_id=kid)
    assert b.name == "key:g" and b.limit_usd == 2 and b.period == "daily"


def test_master_key() -> None:
    assert MasterKey.from_env({}) is None
    assert MasterKey.from_env({"AEGIS_MASTER_KEY": "  "}) is None
    master = MasterKey.from_env({"AEGIS_MASTER_KEY": "s3cret-master"})
    assert master is not None
    assert master.matches("s3cret-master")
    assert not master.matches("s3cret-maste") and not master.matches(None)
    assert not master.matches("s3cret-master" * 100)
    assert "s3cret" not in repr(master)


def test_header_parsing_and_expiry_text() -> None:
    assert bearer_secret("Bearer sk-aegis-abc") == "sk-aegis-abc"
    assert bearer_secret("bearer  sk-aegis-abc ") == "sk-aegis-abc"
    assert bearer_secret(None, "sk-ant") == "sk-ant"
    assert bearer_secret("Basic xyz", None) is None
    assert bearer_secret(None, None) is None
    assert parse_expiry("30d", NOW) == NOW + 30 * 86400
    assert parse_expiry("12h", NOW) == NOW + 12 * 3600
    assert parse_expiry("2026-12-31", NOW) == datetime(2026, 12, 31, tzinfo=UTC).timestamp()
    with pytest.raises(ConfigError, match="--expires"):
        parse_expiry("soon", NOW)
