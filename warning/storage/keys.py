"""API keys in the database, and the per-process cache that keeps verifying them cheap.

:meth:`KeyStore.verify` runs on every request. A verified key is remembered for
``cache_seconds`` (monotonic time), so a busy client costs one lookup (and one
``last_used_at`` write) per period rather than per request. Revoking through this store
drops the key from the cache at once; a key revoked by another process (``tocsin keys
revoke`` beside a running service) stops working here within ``cache_seconds``.
Unknown keys are not cached: a guess costs a lookup, but cannot fill the memory.

Requests verify on several threads. A verification caches what its lookup read only if no
revocation happened here since the lookup began: otherwise a key revoked between the lookup
and the caching would stay usable for another ``cache_seconds``.
"""
from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, cast

from sqlalchemy import Engine, Table, insert, select, update

from warning.access import ApiKey, IssuedKey, Scope, check_owner, hash_secret, new_secret, prefix_of
from warning.errors import NotFound
from warning.storage.database import translated
from warning.storage.models import ApiKeyRow

CACHE_SECONDS = 5.0
KEYS = cast(Table, ApiKeyRow.__table__)


class KeyStore:
    def __init__(self, engine: Engine, *, cache_seconds: float = CACHE_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.cache_seconds = cache_seconds
        self._monotonic = monotonic
        self._verified: dict[str, tuple[float, ApiKey]] = {}  # key hash -> (valid until, key)
        self._revocations = 0  # revocations through this store so far (see the module docstring)
        self._lock = threading.Lock()  # guards both

    def create(self, *, name: str, scopes: Iterable[Scope], created_by: str, now: dt.datetime) -> IssuedKey:
        """A new key; its secret is in the answer and nowhere else."""
        chosen = sorted(set(scopes))
        if not chosen:
            raise ValueError("a key needs at least one scope: " + ", ".join(Scope))
        secret, owner = new_secret(), check_owner(name)
        values = {"name": owner, "prefix": prefix_of(secret), "key_hash": hash_secret(secret),
                  "scopes": [s.value for s in chosen], "created_at": now, "created_by": created_by}
        with translated("store the key"), self.engine.begin() as conn:
            key_id = conn.execute(insert(KEYS).values(values).returning(KEYS.c.id)).scalar_one()
        return IssuedKey(ApiKey(id=key_id, name=owner, prefix=prefix_of(secret), scopes=frozenset(chosen),
                                created_at=now, created_by=created_by), secret)

    def list(self) -> list[ApiKey]:
        """Every key, revoked ones included, oldest first."""
        with translated("read the keys"), self.engine.connect() as conn:
            return [_key(row) for row in conn.execute(select(KEYS).order_by(KEYS.c.id))]

    def any_active(self) -> bool:
        with translated("read the keys"), self.engine.connect() as conn:
            return conn.execute(select(KEYS.c.id).where(KEYS.c.revoked_at.is_(None)).limit(1)).first() is not None

    def revoke(self, key_id: int, *, by: str, now: dt.datetime) -> ApiKey:
        """Revokes the key (a key already revoked keeps its first revocation) and forgets it here."""
        with translated("revoke the key"), self.engine.begin() as conn:
            conn.execute(update(KEYS).where(KEYS.c.id == key_id, KEYS.c.revoked_at.is_(None))
                         .values(revoked_at=now, revoked_by=by))
            row = conn.execute(select(KEYS).where(KEYS.c.id == key_id)).first()
        if row is None:
            raise NotFound(f"no key with id {key_id}")
        with self._lock:
            self._revocations += 1
            self._verified = {h: entry for h, entry in self._verified.items() if entry[1].id != key_id}
        return _key(row)

    def verify(self, secret: str, *, now: dt.datetime) -> ApiKey | None:
        """The active key ``secret`` belongs to, or None."""
        digest = hash_secret(secret)
        cached = self._verified.get(digest)
        if cached is not None and cached[0] > self._monotonic():
            return cached[1]
        revocations = self._revocations
        with translated("check the key"), self.engine.begin() as conn:
            row = conn.execute(select(KEYS).where(KEYS.c.key_hash == digest, KEYS.c.revoked_at.is_(None))).first()
            if row is None:
                with self._lock:
                    self._verified.pop(digest, None)
                return None
            conn.execute(update(KEYS).where(KEYS.c.id == row.id).values(last_used_at=now))
        key = _key(row)
        valid_until = self._monotonic() + self.cache_seconds
        with self._lock:
            if self._revocations == revocations:
                self._verified[digest] = (valid_until, key)
        return key


def _key(row: Any) -> ApiKey:
    return ApiKey(id=row.id, name=row.name, prefix=row.prefix, scopes=frozenset(Scope(s) for s in row.scopes),
                  created_at=row.created_at, created_by=row.created_by, last_used_at=row.last_used_at,
                  revoked_at=row.revoked_at, revoked_by=row.revoked_by)
