"""Every failure Tocsin reports on purpose, as one tree::

    TocsinError
    ├── ConfigError          settings or rules file invalid (fails at start)
    ├── NotFound             a resource id that does not exist (404)
    └── StorageError         the database refused or is unreachable (503)

Rejected events are not exceptions: they are values (:class:`warning.events.Rejected`)
that are answered or dead-lettered, because one bad event must never stop a batch.
"""
from __future__ import annotations


class TocsinError(Exception):
    """Base of every error Tocsin raises on purpose."""


class ConfigError(TocsinError):
    """The configuration is invalid; the message names the key path and the reason."""


class NotFound(TocsinError):
    """The requested resource does not exist."""


class StorageError(TocsinError):
    """The database could not complete the operation."""
