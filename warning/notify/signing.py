"""Webhook secrets and signatures, as Standard Webhooks defines them.

A secret is ``whsec_`` + base64 of 32 random bytes; the signing key is those bytes. A
request is signed as ``v1,`` + base64(HMAC-SHA256(key, f"{webhook_id}.{timestamp}.{body}")),
and the ``webhook-signature`` header carries one such entry per secret that currently signs,
space-separated, so a receiver that knows either secret accepts it during a rotation.

Secrets are stored as given out, not hashed, and that is unavoidable: an HMAC is computed
with the key itself on every delivery, so Tocsin must be able to read it back (unlike an
API key, which is only compared and can be stored as a hash). What protects the secrets is
access to the database (and its backups): they are shown once over the API, on creation and
rotation, never listed, and never logged.

>>> key = secret_key("whsec_" + base64.b64encode(b"k" * 32).decode())
>>> sign(key, "msg_1", 1795170300, b'{"a":1}')
'v1,UlKeExVCeQJ7gEmuz3rHIHFMFobKM5zRk7W/DIIlcfo='
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable

PREFIX = "whsec_"
KEY_BYTES = 32


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))


def sign(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def signature_header(secrets_now: Iterable[str], webhook_id: str, timestamp: int, body: bytes) -> str:
    """``webhook-signature``: one ``v1,<sig>`` per secret that signs now, newest first."""
    return " ".join(sign(secret_key(s), webhook_id, timestamp, body) for s in secrets_now)
