"""``/v1/keys`` (admins over the API) and ``tocsin keys`` (locally): a key is shown once, works
with its scopes, is listed without its secret, and stops working when revoked."""
from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.cli import main
from tests.api.support import OWNER, alarm, running
from warning.settings import Settings


def as_key(app: FastAPI, secret: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://tocsin.test",
                             headers={"Authorization": f"Bearer {secret}"})


async def test_a_created_key_is_shown_once_and_works_with_its_scopes(app: FastAPI, client: httpx.AsyncClient) -> None:
    created = await client.post("/v1/keys", json={"name": "producer-claims", "scopes": ["ingest"]})
    secret = created.json()["key"]
    async with as_key(app, secret) as producer:
        posted = await producer.post("/v1/events", json=alarm(0, 1))
        read = await producer.get("/v1/alerts")
    listed = (await client.get("/v1/keys")).json()["items"]

    assert created.status_code == 201
    assert {k: created.json()[k] for k in ("name", "scopes", "created_by", "revoked_at")} == {
        "name": "producer-claims", "scopes": ["ingest"], "created_by": OWNER, "revoked_at": None}
    assert (posted.status_code, read.status_code) == (202, 403)
    mine = [k for k in listed if k["name"] == "producer-claims"]
    assert len(mine) == 1 and "key" not in mine[0] and mine[0]["prefix"] == secret[:12]
    assert mine[0]["last_used_at"] is not None


async def test_a_revoked_key_answers_401_and_is_listed_as_revoked(app: FastAPI, client: httpx.AsyncClient) -> None:
    created = (await client.post("/v1/keys", json={"name": "dashboard", "scopes": ["read"]})).json()

    revoked = await client.delete(f"/v1/keys/{created['id']}")
    again = await client.delete(f"/v1/keys/{created['id']}")
    async with as_key(app, created["key"]) as dashboard:
        refused = await dashboard.get("/v1/alerts")

    assert revoked.status_code == 200 and revoked.json()["revoked_by"] == OWNER
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]
    assert (refused.status_code, refused.json()["error"]["type"]) == (401, "unauthenticated")


@pytest.mark.parametrize(("key_id", "status"), [
    pytest.param("999", 404, id="unknown"), pytest.param("abc", 422, id="not a number"),
    pytest.param("0", 422, id="zero"), pytest.param("99999999999999999999", 422, id="too large"),
])
async def test_revoking_a_bad_id_is_a_client_error(client: httpx.AsyncClient, key_id: str, status: int) -> None:
    assert (await client.delete(f"/v1/keys/{key_id}")).status_code == status


@pytest.mark.parametrize(("body", "location"), [
    pytest.param({"name": "x"}, "body.scopes", id="no scopes"),
    pytest.param({"name": "x", "scopes": []}, "body.scopes", id="empty scopes"),
    pytest.param({"name": "x", "scopes": ["root"]}, "body.scopes.0", id="unknown scope"),
    pytest.param({"name": "", "scopes": ["read"]}, "body.name", id="empty name"),
    pytest.param({"name": "a\nb", "scopes": ["read"]}, "body.name", id="control character"),
    pytest.param({"name": "x" * 201, "scopes": ["read"]}, "body.name", id="name too long"),
    pytest.param({"name": "x", "scopes": ["read"], "key": "tsn_mine"}, "body.key", id="own secret"),
])
async def test_an_invalid_key_request_answers_422(client: httpx.AsyncClient, body: dict[str, Any],
                                                  location: str) -> None:
    refused = await client.post("/v1/keys", json=body)

    assert refused.status_code == 422
    assert [p["location"] for p in refused.json()["error"]["problems"]] == [location]


# -- tocsin keys -----------------------------------------------------------------------------------


def tocsin(settings: Settings, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``tocsin keys ARGS`` on ``settings``' database (found through the environment: see ``env``)."""
    code = main(["keys", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def env(api_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """``tocsin`` finds the test's database through the environment, as ``--config`` would."""
    monkeypatch.setenv("TOCSIN_DATA_DIR", str(api_settings.data_dir))
    return api_settings


async def test_cli_creates_a_key_printed_alone_on_the_last_line(env: Settings,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = tocsin(env, capsys, "create", "--name", "Ana Ruiz", "--scope", "operate", "--scope", "ingest")
    secret = out.splitlines()[-1]

    async with running(env) as app, as_key(app, secret) as ana:
        me = await ana.get("/v1/alerts")
        keys = await ana.get("/v1/keys")

    assert code == 0 and out == f"{secret}\n" and secret.startswith("tsn_")
    assert "Ana Ruiz" in err and "ingest, operate" in err
    assert (me.status_code, keys.status_code) == (200, 403)


async def test_cli_lists_and_revokes(env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    tocsin(env, capsys, "create", "--name", "dashboard", "--scope", "read")
    secret = tocsin(env, capsys, "create", "--name", "producer", "--scope", "ingest")[1].strip()

    revoked = tocsin(env, capsys, "revoke", "2")
    listed = tocsin(env, capsys, "list")[1].splitlines()
    async with running(env) as app, as_key(app, secret) as producer:
        refused = await producer.post("/v1/events", json=alarm(0, 1))

    assert revoked[0] == 0 and "revoked" in revoked[2]
    assert [line.split("\t")[:4] for line in listed] == [
        ["id", "name", "prefix", "scopes"], ["1", "dashboard", listed[1].split("\t")[2], "read"],
        ["2", "producer", secret[:12], "ingest"]]
    assert listed[2].split("\t")[-1] != "-" and listed[1].split("\t")[-1] == "-"
    assert refused.status_code == 401


@pytest.mark.parametrize(("args", "message"), [
    pytest.param(["revoke", "7"], "no key with id 7", id="unknown id"),
    pytest.param(["create", "--name", " ", "--scope", "read"], "printable characters", id="blank name"),
])
def test_cli_refuses_with_a_message(env: Settings, capsys: pytest.CaptureFixture[str], args: list[str],
                                    message: str) -> None:
    code, out, err = tocsin(env, capsys, *args)

    assert (code, out) == (2, "") and message in err


def test_cli_refuses_an_unknown_scope(env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["keys", "create", "--name", "x", "--scope", "root"])

    assert exit_.value.code == 2 and "invalid choice: 'root'" in capsys.readouterr().err


def test_open_mode_is_refused_by_the_cli_off_loopback(capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOCSIN_AUTH", "open")
    monkeypatch.setenv("TOCSIN_HOST", "0.0.0.0")

    assert main(["check-config"]) == 2
    assert "loopback" in capsys.readouterr().err


