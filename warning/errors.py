"""Every failure Tocsin reports on purpose, as one tree::

    TocsinError
    ├── ConfigError          settings or rules file invalid (fails at start)
    ├── NotFound             a resource id that does not exist (404)
    ├── StorageError         the database refused or is unreachable (503)
    │   └── InvalidData          the database refused the request's values (422: NUL, too long)
    └── Conflict             valid, but the alert's state does not allow it (409)
        ├── InvalidTransition    a move the table of allowed moves has no entry for
        ├── MissingRole          ``respond`` without an incident commander
        └── RoleNotHeld          renouncing a role nobody holds

Rejected events are not exceptions: they are values (:class:`warning.events.Rejected`)
that are answered or dead-lettered, because one bad event must never stop a batch.
"""
from __future__ import annotations

from typing import Any


class TocsinError(Exception):
    """Base of every error Tocsin raises on purpose."""


class ConfigError(TocsinError):
    """The configuration is invalid; the message names the key path and the reason."""


class NotFound(TocsinError):
    """The requested resource does not exist."""


class StorageError(TocsinError):
    """The database could not complete the operation."""


class InvalidData(StorageError):
    """The database refused a value the request brought (PostgreSQL: a NUL character, a string
    over its column's length): the client's error, which retrying cannot fix. A
    :class:`StorageError` still, so code that rolls back or retries on those does the same."""


class Conflict(TocsinError):
    """The request is well-formed but the resource's state does not allow it.

    ``kind`` is the stable ``error.type`` of the answer and :meth:`details` its extra
    fields, so a client can act on the conflict without parsing the message.
    """

    kind = "conflict"

    def details(self) -> dict[str, Any]:
        return {}
