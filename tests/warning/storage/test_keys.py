"""The key store on SQLite and PostgreSQL: secrets never stored, verification cached briefly,
revocation at once in this process and within the cache period in another."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from warning.access import Scope
from warning.errors import NotFound
from warning.storage.database import Database
from warning.storage.keys import KEYS, KeyStore

T = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)


class Monotonic:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ticks() -> Monotonic:
    return Monotonic()


@pytest.fixture
def store(database: Database, ticks: Monotonic) -> KeyStore:
    return KeyStore(database.engine, cache_seconds=5, monotonic=ticks)


def test_a_created_key_verifies_as_its_owner_with_its_scopes(store: KeyStore) -> None:
    issued = store.create(name="Ana Ruiz", scopes=[Scope.operate, Scope.ingest], created_by="admin", now=T)

    key = store.verify(issued.secret, now=T)

    assert key is not None
    assert (key.id, key.name, key.scopes, key.created_by) == (
        issued.key.id, "Ana Ruiz", frozenset({Scope.operate, Scope.ingest}), "admin")
    assert store.verify(issued.secret + "x", now=T) is None
    assert store.verify("tsn_unknown", now=T) is None


def test_the_secret_is_not_stored(store: KeyStore, database: Database) -> None:
    issued = store.create(name="Ana Ruiz", scopes=[Scope.read], created_by="admin", now=T)

    with database.engine.connect() as conn:
        row = conn.execute(select(KEYS)).one()

    assert issued.secret not in [str(v) for v in row]
    assert row.prefix == issued.secret[:12] and row.key_hash != issued.secret


def test_a_key_needs_a_scope_and_a_valid_owner(store: KeyStore) -> None:
    with pytest.raises(ValueError, match="at least one scope"):
        store.create(name="Ana", scopes=[], created_by="admin", now=T)
    with pytest.raises(ValueError, match="printable"):
        store.create(name="", scopes=[Scope.read], created_by="admin", now=T)
    assert store.list() == []


def test_use_is_recorded_once_per_cache_period(store: KeyStore, ticks: Monotonic) -> None:
    issued = store.create(name="Ana", scopes=[Scope.read], created_by="admin", now=T)

    store.verify(issued.secret, now=T + dt.timedelta(minutes=1))
    store.verify(issued.secret, now=T + dt.timedelta(minutes=2))  # cached: not written
    first = store.list()[0].last_used_at
    ticks.now += 6
    store.verify(issued.secret, now=T + dt.timedelta(minutes=3))

    assert first == T + dt.timedelta(minutes=1)
    assert store.list()[0].last_used_at == T + dt.timedelta(minutes=3)


def test_revoking_here_takes_effect_at_once(store: KeyStore) -> None:
    issued = store.create(name="Ana", scopes=[Scope.read], created_by="admin", now=T)
    assert store.verify(issued.secret, now=T) is not None  # now cached

    revoked = store.revoke(issued.key.id, by="Omar", now=T + dt.timedelta(hours=1))

    assert store.verify(issued.secret, now=T) is None
    assert (revoked.revoked_at, revoked.revoked_by, revoked.active) == (T + dt.timedelta(hours=1), "Omar", False)
    assert not store.any_active()


def test_revoking_in_another_process_takes_effect_within_the_cache_period(
    store: KeyStore, database: Database, ticks: Monotonic,
) -> None:
    issued = store.create(name="Ana", scopes=[Scope.read], created_by="admin", now=T)
    store.verify(issued.secret, now=T)

    KeyStore(database.engine).revoke(issued.key.id, by="cli", now=T)

    assert store.verify(issued.secret, now=T) is not None  # still cached
    ticks.now += 5.01
    assert store.verify(issued.secret, now=T) is None


def test_revoking_twice_keeps_the_first_revocation(store: KeyStore) -> None:
    issued = store.create(name="Ana", scopes=[Scope.read], created_by="admin", now=T)
    store.revoke(issued.key.id, by="Omar", now=T)

    again = store.revoke(issued.key.id, by="Li", now=T + dt.timedelta(hours=1))

    assert (again.revoked_at, again.revoked_by) == (T, "Omar")


def test_revoking_an_unknown_key_is_not_found(store: KeyStore) -> None:
    with pytest.raises(NotFound, match="no key with id 42"):
        store.revoke(42, by="Omar", now=T)


def test_keys_are_listed_oldest_first_revoked_ones_included(store: KeyStore) -> None:
    first = store.create(name="producer", scopes=[Scope.ingest], created_by="admin", now=T)
    store.create(name="desk", scopes=[Scope.operate], created_by="admin", now=T)
    store.revoke(first.key.id, by="admin", now=T)

    assert [(k.name, k.active) for k in store.list()] == [("producer", False), ("desk", True)]
    assert store.any_active()
