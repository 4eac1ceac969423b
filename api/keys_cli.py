"""``tocsin keys create|list|revoke``: API keys managed on the service's own database.

This is how the first keys of a deployment are made (and how an admin locked out of the
API gets back in). A key revoked here stops working in a running service within
:data:`warning.storage.keys.CACHE_SECONDS`; revoked over the API, at once.
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from warning.access import Scope
from warning.settings import Settings

CREATED_BY = "tocsin keys create"
REVOKED_BY = "tocsin keys revoke"


def register(commands: Any) -> None:
    """Adds ``keys`` and its actions to the ``tocsin`` command's subparsers."""
    keys = commands.add_parser("keys", help="API keys").add_subparsers(required=True, metavar="ACTION")
    create = keys.add_parser("create", help="create a key; prints it alone on the last line (shown once)")
    create.add_argument("--name", required=True, help="the owner: the actor of every change made with the key")
    create.add_argument("--scope", required=True, action="append", choices=[s.value for s in Scope],
                        help="repeat for several; admin implies every scope, operate implies read")
    create.set_defaults(run=_create)
    keys.add_parser("list", help="every key (never a secret)").set_defaults(run=_list)
    revoke = keys.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("id", type=int, help="the key's id, as listed")
    revoke.set_defaults(run=_revoke)


@contextmanager
def _store(settings: Settings) -> Iterator[Any]:
    """The key store on the service's database, for one command (its connections closed after)."""
    from warning.storage.database import make_engine
    from warning.storage.keys import KeyStore
    from warning.storage.migrations import upgrade

    upgrade(settings.sqlalchemy_url)  # keys may be made before the service's first start
    engine = make_engine(settings.sqlalchemy_url)
    try:
        yield KeyStore(engine)
    finally:
        engine.dispose()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _create(args: argparse.Namespace, settings: Settings) -> int:
    try:
        with _store(settings) as store:
            issued = store.create(name=args.name, scopes=[Scope(s) for s in args.scope], created_by=CREATED_BY,
                                  now=_now())
    except ValueError as exc:
        print(f"tocsin: {exc}", file=sys.stderr)
        return 2
    key = issued.key
    print(f"tocsin: key {key.id} ({key.prefix}...) for {key.name!r} with {', '.join(sorted(key.scopes))}; "
          "it is shown once:", file=sys.stderr, flush=True)
    print(issued.secret)
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    print("id\tname\tprefix\tscopes\tcreated_at\tlast_used_at\trevoked_at")
    with _store(settings) as store:
        keys = store.list()
    for k in keys:
        print("\t".join([str(k.id), k.name, k.prefix, ",".join(sorted(k.scopes)), _time(k.created_at),
                         _time(k.last_used_at), _time(k.revoked_at)]))
    return 0


def _revoke(args: argparse.Namespace, settings: Settings) -> int:
    with _store(settings) as store:
        key = store.revoke(args.id, by=REVOKED_BY, now=_now())
    print(f"tocsin: key {key.id} ({key.prefix}...) of {key.name!r} is revoked since {_time(key.revoked_at)}",
          file=sys.stderr)
    return 0


def _time(value: dt.datetime | None) -> str:
    return "-" if value is None else value.isoformat(timespec="seconds").replace("+00:00", "Z")
