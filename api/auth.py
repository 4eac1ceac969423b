"""Who is calling: the principal behind a request and the scope each route requires.

Routes declare their scope with exactly one of the ``Annotated`` aliases below and use the
principal's ``name`` (the key's owner) as the actor of any change they make::

    def acknowledge(alert_id: str, caller: OperateAccess, ...) -> ...:
        response.move(..., actor=caller.name, ...)

Clients send ``Authorization: Bearer tsn_...``. No key, a malformed, unknown or revoked one
answers 401 with ``WWW-Authenticate: Bearer``; a valid key without the scope answers 403.
With ``auth = "open"`` (loopback only, see :mod:`warning.access`) every request is
:data:`~warning.access.LOCAL`. The only routes without a scope are in :data:`PUBLIC_PATHS`.
"""
from __future__ import annotations

import datetime as dt
import os
import sys
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Security
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine

from api.deps import ClockDep, KeysDep, SettingsDep
from api.errors import error_body
from warning.access import LOCAL, Principal, Scope
from warning.errors import TocsinError
from warning.settings import Settings
from warning.storage.keys import KeyStore

__all__ = [
    "PUBLIC_PATHS",
    "AdminAccess",
    "IngestAccess",
    "OperateAccess",
    "Principal",
    "ReadAccess",
    "Requirement",
    "Scope",
    "install",
    "require",
    "start",
]

FIRST_ADMIN = "admin"
PUBLIC_PATHS = frozenset({"/healthz", "/"})
"""Routes anyone may call, because they reveal nothing: ``/healthz`` (orchestrators probe readiness
without credentials) and ``/`` (a redirect to the console's static pages, which ask for a key)."""

bearer = HTTPBearer(auto_error=False, description="an API key: `Authorization: Bearer tsn_...`")


class Unauthenticated(TocsinError):
    """No valid API key (401)."""


class Forbidden(TocsinError):
    """A valid key without the scope the route requires (403)."""

    def __init__(self, caller: Principal, scope: Scope) -> None:
        held = ", ".join(sorted(caller.scopes)) or "none"
        super().__init__(f"this route needs the {scope.value!r} scope; the key of {caller.name!r} has {held}")
        self.scope = scope


class Requirement:
    """The dependency that lets a request through as its principal if it may use ``scope``.

    A class rather than a closure so the scope a route requires can be read back from the
    route (tests check that every route declares exactly one).
    """

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def __call__(self, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
                 settings: SettingsDep, keys: KeysDep, clock: ClockDep) -> Principal:
        if settings.auth == "open":
            return LOCAL
        if credentials is None:
            raise Unauthenticated("this route needs an API key: send 'Authorization: Bearer <key>'")
        key = keys.verify(credentials.credentials, now=dt.datetime.fromtimestamp(clock.now(), dt.UTC))
        if key is None:
            raise Unauthenticated("the API key is not valid (unknown or revoked)")
        if not key.principal.may(self.scope):
            raise Forbidden(key.principal, self.scope)
        return key.principal


def require(scope: Scope) -> Requirement:
    return Requirement(scope)


IngestAccess = Annotated[Principal, Depends(require(Scope.ingest))]
ReadAccess = Annotated[Principal, Depends(require(Scope.read))]
OperateAccess = Annotated[Principal, Depends(require(Scope.operate))]
AdminAccess = Annotated[Principal, Depends(require(Scope.admin))]

def _documented(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}


AUTH_RESPONSES: dict[str, dict[str, Any]] = {
    "401": _documented("no valid API key (missing, unknown or revoked)"),
    "403": _documented("the key lacks the scope this route needs"),
}


def install(app: FastAPI) -> None:
    """Answers 401/403 in the error shape of :mod:`api.errors`, and documents them on every
    route that needs a key (FastAPI marks those with the bearer security scheme)."""

    @app.exception_handler(Unauthenticated)
    async def _unauthenticated(request: Request, exc: Unauthenticated) -> JSONResponse:
        return JSONResponse(error_body("unauthenticated", str(exc)), status_code=401,
                            headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> JSONResponse:
        return JSONResponse(error_body("forbidden", str(exc), required_scope=exc.scope.value), status_code=403,
                            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{exc.scope}"'})

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    if operation.get("security"):
                        operation.setdefault("responses", {}).update(AUTH_RESPONSES)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def start(app: FastAPI, engine: Engine) -> None:
    """At start-up: the key store, and with ``auth = "keys"`` a first admin key if no key is active.

    The first key is printed once and written to ``<data_dir>/admin.key`` (mode 0600), so
    whoever started the service can find it; later starts find an active key and do nothing.
    """
    settings: Settings = app.state.settings
    keys = app.state.keys = KeyStore(engine)
    if settings.auth != "keys" or keys.any_active():
        return
    issued = keys.create(name=FIRST_ADMIN, scopes=[Scope.admin], created_by="tocsin serve (first start)",
                         now=dt.datetime.fromtimestamp(app.state.clock.now(), dt.UTC))
    path = settings.data_dir / "admin.key"
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        os.fchmod(out.fileno(), 0o600)  # an older file keeps its mode through O_CREAT
        out.write(issued.secret + "\n")
    print(f"tocsin: no API key was active, so an admin key named {FIRST_ADMIN!r} was created (shown once, "
          f"also in {path}):\n{issued.secret}", file=sys.stderr, flush=True)
