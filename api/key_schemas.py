"""Schemas of the API keys admin routes: a new key's request, a key as listed, a key just issued."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from warning.access import ApiKey, IssuedKey, Scope, check_owner
from warning.timefmt import rfc3339

Owner = Annotated[str, AfterValidator(check_owner)]


class KeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"name": "Duty desk", "scopes": ["operate"]},
    ]})

    name: Owner = Field(description="the owner (1-200 printable characters): the actor of every change made "
                                    "with the key")
    scopes: list[Scope] = Field(min_length=1, description="admin implies every scope, operate implies read; "
                                                          "ingest is separate")


KEY_EXAMPLE: dict[str, Any] = {
    "id": 3, "name": "Duty desk", "prefix": "tsn_q7Xb2LwE", "scopes": ["operate"],
    "created_at": "2026-11-20T09:00:00Z", "created_by": "admin", "last_used_at": "2026-11-20T10:25:04Z",
}
SECRET_EXAMPLE = "tsn_q7Xb2LwE0pZrVd5k1NcHs8yTgUo3Jf6AeMi9RbW4xQl"


class KeyRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        KEY_EXAMPLE,
        {**KEY_EXAMPLE, "id": 1, "name": "producer-claims", "scopes": ["ingest"], "prefix": "tsn_Pk3vA0sD",
         "revoked_at": "2026-11-20T11:00:00Z", "revoked_by": "admin"},
    ]})

    id: int
    name: str
    prefix: str = Field(description="the key's first characters, not secret, to tell keys apart")
    scopes: list[Scope]
    created_at: str
    created_by: str
    last_used_at: str | None = Field(None, description="updated at most every few seconds")
    revoked_at: str | None = Field(None, description="null while the key is active")
    revoked_by: str | None = None

    @classmethod
    def of(cls, key: ApiKey) -> KeyRead:
        return cls(id=key.id, name=key.name, prefix=key.prefix, scopes=sorted(key.scopes),
                   created_at=_time(key.created_at), created_by=key.created_by,
                   last_used_at=_time(key.last_used_at), revoked_at=_time(key.revoked_at), revoked_by=key.revoked_by)


class IssuedKeyRead(KeyRead):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {**{k: v for k, v in KEY_EXAMPLE.items() if k != "last_used_at"}, "key": SECRET_EXAMPLE},
    ]})

    key: str = Field(description="the secret: shown in this answer only, store it now")

    @classmethod
    def issued(cls, issued: IssuedKey) -> IssuedKeyRead:
        return cls(**KeyRead.of(issued.key).model_dump(), key=issued.secret)


class KeyList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [KEY_EXAMPLE]}]})

    items: list[KeyRead]


def _time(value: dt.datetime | None) -> str | None:
    return None if value is None else rfc3339(value.timestamp())
