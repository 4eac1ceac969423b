"""``/v1/keys``: admins create, list and revoke API keys (``tocsin keys`` does the same locally)."""
from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path

from api.auth import AdminAccess
from api.deps import ClockDep, KeysDep
from api.key_schemas import IssuedKeyRead, KeyList, KeyRead, KeyRequest
from api.schemas import error_response
from warning.clock import Clock

router = APIRouter(prefix="/v1/keys", tags=["keys"], responses={
    422: error_response("the body or a parameter is invalid; the message names it"),
    503: error_response("the database is unavailable; nothing was changed, retry"),
})


KeyId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the key's id, as listed")]


def _utc(clock: Clock) -> dt.datetime:
    return dt.datetime.fromtimestamp(clock.now(), dt.UTC)


@router.post("", status_code=201, response_model=IssuedKeyRead,
             summary="Create a key; its secret is in this answer only")
def create_key(body: KeyRequest, caller: AdminAccess, keys: KeysDep, clock: ClockDep) -> IssuedKeyRead:
    issued = keys.create(name=body.name, scopes=body.scopes, created_by=caller.name, now=_utc(clock))
    return IssuedKeyRead.issued(issued)


@router.get("", response_model=KeyList, summary="Every key, revoked ones included (never a secret)")
def list_keys(caller: AdminAccess, keys: KeysDep) -> KeyList:
    return KeyList(items=[KeyRead.of(k) for k in keys.list()])


@router.delete("/{key_id}", response_model=KeyRead, responses={404: error_response("no key with this id")},
               summary="Revoke a key: it stops working at once (revoking it again changes nothing)")
def revoke_key(key_id: KeyId, caller: AdminAccess, keys: KeysDep, clock: ClockDep) -> KeyRead:
    return KeyRead.of(keys.revoke(key_id, by=caller.name, now=_utc(clock)))
