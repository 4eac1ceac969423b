"""Who may do what: API keys, their scopes, and the principal a request acts as.

Scopes are hierarchical where one job contains another, and separate where it does not::

    admin    -> admin, operate, read, ingest   (manages keys; may do anything)
    operate  -> operate, read                   (an operator must see what they act on)
    read     -> read                            (dashboards, Prometheus)
    ingest   -> ingest                          (producers: write events, read nothing)

``ingest`` is kept apart from ``read`` so that a key living on a producer's host (the
most exposed place) discloses no alerts if it leaks.

Keys look like ``tsn_<43 urlsafe characters>``: 32 random bytes (256 bits) from
:mod:`secrets`. Only their SHA-256 is stored. A slow password KDF (bcrypt, argon2) exists
to make guessing a *low-entropy* secret expensive; a 256-bit random key cannot be guessed
whatever the hash costs, so a fast hash loses nothing and keeps verification at about a
microsecond, which matters on the ingest path. ``prefix`` (the first 12 characters) is
not secret and lets a list tell keys apart.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from warning.errors import ConfigError

KEY_MARK = "tsn_"
PREFIX_LENGTH = len(KEY_MARK) + 8
MAX_NAME_LENGTH = 200


class Scope(StrEnum):
    ingest = "ingest"
    read = "read"
    operate = "operate"
    admin = "admin"


IMPLIED: dict[Scope, frozenset[Scope]] = {
    Scope.admin: frozenset(Scope),
    Scope.operate: frozenset({Scope.operate, Scope.read}),
    Scope.read: frozenset({Scope.read}),
    Scope.ingest: frozenset({Scope.ingest}),
}


def effective(scopes: Iterable[Scope]) -> frozenset[Scope]:
    """The scopes granted by ``scopes``, the implied ones included."""
    return frozenset().union(*(IMPLIED[s] for s in scopes))


@dataclass(slots=True, frozen=True)
class Principal:
    """Who a request acts as: ``name`` is recorded as the actor of every change it makes."""

    name: str
    scopes: frozenset[Scope]

    def may(self, scope: Scope) -> bool:
        return scope in effective(self.scopes)


LOCAL = Principal("local", frozenset(Scope))
"""Everyone, when ``auth = "open"`` (allowed on a loopback address only)."""


@dataclass(slots=True, frozen=True)
class ApiKey:
    """A stored key, without its secret."""

    id: int
    name: str
    prefix: str
    scopes: frozenset[Scope]
    created_at: dt.datetime
    created_by: str
    last_used_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None
    revoked_by: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def principal(self) -> Principal:
        return Principal(self.name, self.scopes)


@dataclass(slots=True, frozen=True)
class IssuedKey:
    """A key just created: the only moment its ``secret`` is known."""

    key: ApiKey
    secret: str


def new_secret() -> str:
    return KEY_MARK + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """The stored form of a key (see the module docstring for why SHA-256 suffices)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def prefix_of(secret: str) -> str:
    return secret[:PREFIX_LENGTH]


def check_owner(name: str) -> str:
    """A key's owner as it will appear in timelines: 1-200 printable characters, trimmed."""
    name = name.strip()
    if not 1 <= len(name) <= MAX_NAME_LENGTH or not name.isprintable():
        raise ValueError(f"a key's name must be 1-{MAX_NAME_LENGTH} printable characters, got {name!r}")
    return name


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve to anything


def check_open_host(auth: str, host: str) -> None:
    """``auth = "open"`` lets anyone who reaches the port do anything: loopback only."""
    if auth == "open" and not is_loopback(host):
        raise ConfigError(f"auth = 'open' is allowed only on a loopback host (127.0.0.1, ::1, localhost), "
                          f"not {host!r}; use auth = 'keys' to listen there")
