"""Scopes and what they imply, the key format, owners' names, and where open mode may listen."""
from __future__ import annotations

import pytest

from warning.access import (
    KEY_MARK,
    Principal,
    Scope,
    check_open_host,
    check_owner,
    effective,
    hash_secret,
    new_secret,
    prefix_of,
)
from warning.errors import ConfigError

A, O, R, I = Scope.admin, Scope.operate, Scope.read, Scope.ingest


@pytest.mark.parametrize(("held", "granted"), [
    pytest.param({A}, {A, O, R, I}, id="admin may do anything"),
    pytest.param({O}, {O, R}, id="an operator reads what they act on"),
    pytest.param({R}, {R}, id="read is read only"),
    pytest.param({I}, {I}, id="a producer's key reads nothing"),
    pytest.param({I, R}, {I, R}, id="scopes add up"),
    pytest.param(set(), set(), id="no scope, nothing"),
])
def test_scopes_grant_what_they_imply(held: set[Scope], granted: set[Scope]) -> None:
    principal = Principal("someone", frozenset(held))

    assert effective(held) == granted
    assert {s for s in Scope if principal.may(s)} == granted


def test_a_new_key_is_256_random_bits_with_a_recognisable_mark() -> None:
    keys = {new_secret() for _ in range(100)}

    assert len(keys) == 100
    assert all(k.startswith(KEY_MARK) and len(k) == len(KEY_MARK) + 43 for k in keys)


def test_only_a_hash_and_a_short_prefix_of_a_key_are_kept() -> None:
    secret = new_secret()

    assert hash_secret(secret) == hash_secret(secret) != hash_secret(new_secret())
    assert len(hash_secret(secret)) == 64 and secret not in hash_secret(secret)
    assert prefix_of(secret) == secret[:12]  # 8 of the 43 random characters: 208 secret bits remain


@pytest.mark.parametrize("name", ["", "   ", "x" * 201, "Ana\nRuiz", "tab\there"])
def test_an_owner_must_be_printable_text_of_1_to_200_characters(name: str) -> None:
    with pytest.raises(ValueError, match="1-200 printable characters"):
        check_owner(name)


def test_an_owners_name_is_trimmed() -> None:
    assert check_owner("  Ana Ruiz ") == "Ana Ruiz"


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_open_mode_is_allowed_on_loopback(host: str) -> None:
    check_open_host("open", host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "tocsin.example.org", ""])
def test_open_mode_is_refused_off_loopback(host: str) -> None:
    with pytest.raises(ConfigError, match="loopback"):
        check_open_host("open", host)


def test_keys_mode_listens_anywhere() -> None:
    check_open_host("keys", "0.0.0.0")
