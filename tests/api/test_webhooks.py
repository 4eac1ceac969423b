"""Webhook subscriptions over HTTP, and what a subscriber receives: real requests to a
receiver on loopback, checked with the README's verification snippet."""
from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.api.support import client_for, running, sample
from tests.api.webhook_support import RAISED, Hooks, Receiver, hook_settings, hooked, readme_verify, receiving
from warning.clock import HOUR, ManualClock


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with receiving() as r:
        yield r


@pytest.fixture
async def hooks(make_settings: Any, receiver: Receiver) -> AsyncIterator[Hooks]:
    async with hooked(hook_settings(make_settings), ManualClock(RAISED), receiver) as h:
        yield h


async def test_a_new_subscription_shows_its_secret_once(hooks: Hooks) -> None:
    created = await hooks.subscribe("a", entities=["policy-system"], min_severity="moderate")

    listed = (await hooks.client.get("/v1/subscriptions")).json()["items"]
    one = (await hooks.client.get(f"/v1/subscriptions/{created['id']}")).json()

    assert created["secret"].startswith("whsec_")
    assert len(base64.b64decode(created["secret"].removeprefix("whsec_"))) == 32
    assert (created["entities"], created["min_severity"], created["enabled"]) == (["policy-system"], "moderate", True)
    assert [s["id"] for s in listed] == [created["id"]]
    assert "secret" not in one and "secret" not in listed[0]
    assert one["created_by"] == created["created_by"] != ""


async def test_patch_changes_what_is_given_and_delete_removes_it(hooks: Hooks) -> None:
    created = await hooks.subscribe("a", event_types=["alert.raised"], entities=["x"])

    patched = await hooks.client.patch(f"/v1/subscriptions/{created['id']}", json={"entities": ["y", "z"]})
    deleted = await hooks.client.delete(f"/v1/subscriptions/{created['id']}")
    after = await hooks.client.get(f"/v1/subscriptions/{created['id']}")

    assert (patched.json()["event_types"], patched.json()["entities"]) == (["alert.raised"], ["y", "z"])
    assert deleted.status_code == 204
    assert after.status_code == 404 and after.json()["error"]["type"] == "not_found"


@pytest.mark.parametrize(("body", "location"), [
    pytest.param({"url": "http://127.0.0.1/x", "event_types": ["alert.exploded"]}, "body.event_types.0",
                 id="unknown event type"),
    pytest.param({"url": "http://127.0.0.1/x", "min_severity": "huge"}, "body.min_severity", id="unknown severity"),
    pytest.param({"url": "http://127.0.0.1/x", "secret": "mine"}, "body.secret", id="secrets are Tocsin's to make"),
    pytest.param({"url": "ftp://example.com/x"}, "body.url", id="not http"),
    pytest.param({"url": "http://169.254.169.254/latest/meta-data"}, "body.url", id="cloud metadata"),
    pytest.param({"url": "http://[fe80::1]/x"}, "body.url", id="IPv6 link-local"),
    pytest.param({"url": "http://224.0.0.1/x"}, "body.url", id="multicast"),
    pytest.param({"url": "http://0.0.0.0/x"}, "body.url", id="unspecified"),
    pytest.param({"url": "http://user:pw@127.0.0.1/x"}, "body.url", id="credentials in the URL"),
    pytest.param({"url": "http://no-such-host.invalid/x"}, "body.url", id="does not resolve"),
])
async def test_a_bad_subscription_is_refused_with_the_reason(hooks: Hooks, body: dict[str, Any],
                                                             location: str) -> None:
    answer = await hooks.client.post("/v1/subscriptions", json=body)

    assert answer.status_code == 422
    assert answer.json()["error"]["type"] == "invalid_request"
    assert [p["location"] for p in answer.json()["error"]["problems"]] == [location]


async def test_loopback_and_private_targets_need_the_setting(make_settings: Any) -> None:
    settings = make_settings(webhook_allow_private=False)
    async with running(settings) as app, client_for(app) as client:
        loopback = await client.post("/v1/subscriptions", json={"url": "http://127.0.0.1:9/x"})
        private = await client.post("/v1/subscriptions", json={"url": "http://10.1.2.3/x"})

    assert (loopback.status_code, private.status_code) == (422, 422)
    assert "TOCSIN_WEBHOOK_ALLOW_PRIVATE=true" in loopback.json()["error"]["message"]
    assert "10.1.2.3" in private.json()["error"]["message"]


async def test_a_subscriber_gets_a_signed_cloudevent_per_notice(hooks: Hooks) -> None:
    secret = (await hooks.subscribe("a"))["secret"]
    alert_id = await hooks.raise_alert()

    await hooks.deliver()

    [request] = hooks.receiver.requests("a")
    event = request.event
    alert = (await hooks.client.get(f"/v1/alerts/{alert_id}")).json()
    assert readme_verify()(secret, request.headers, request.body, now=hooks.clock.now())
    assert request.headers["content-type"].startswith("application/cloudevents+json")
    assert request.headers["webhook-id"] == event["id"]
    assert request.headers["webhook-timestamp"] == str(int(hooks.clock.now()))
    assert {k: event[k] for k in ("specversion", "source", "type", "subject", "time", "datacontenttype")} == {
        "specversion": "1.0", "source": "/tocsin", "type": "io.tocsin.alert.raised", "subject": alert_id,
        "time": "2026-11-20T10:25:00Z", "datacontenttype": "application/json"}
    assert event["data"]["alert"]["version"] == 1  # the alert as raised (it was updated since)
    assert event["data"]["alert"]["evidence"].keys() == alert["evidence"].keys() != set()
    assert event["data"]["alert"]["response_due_at"] == alert["response_due_at"]
    assert event["data"]["reason"] == "new alert"


async def test_the_readme_snippet_refuses_a_forged_or_stale_request(hooks: Hooks) -> None:
    secret = (await hooks.subscribe("a"))["secret"]
    await hooks.raise_alert()
    await hooks.deliver()
    [request] = hooks.receiver.requests("a")
    verify = readme_verify()

    tampered = request.body.replace(b"new alert", b"old alert")
    other_secret = "whsec_" + base64.b64encode(b"x" * 32).decode()

    assert verify(secret, request.headers, request.body, now=hooks.clock.now())
    assert not verify(secret, request.headers, tampered, now=hooks.clock.now())
    assert not verify(other_secret, request.headers, request.body, now=hooks.clock.now())
    assert not verify(secret, request.headers, request.body, now=hooks.clock.now() + 301)


async def test_filters_choose_what_each_subscriber_gets(hooks: Hooks) -> None:
    await hooks.subscribe("everything")
    await hooks.subscribe("one-entity", entities=["billing"])
    await hooks.subscribe("escalations", event_types=["alert.escalation"])
    await hooks.subscribe("severe-only", min_severity="severe")  # the threshold rule raises moderate alerts
    await hooks.subscribe("other-signal", signals=["mentions"])
    await hooks.raise_alert("policy-system")
    await hooks.raise_alert("billing")

    await hooks.deliver()
    await hooks.advance(3 * HOUR, step=HOUR)

    def got(name: str) -> list[tuple[str, str]]:
        return [(e["type"], e["data"]["alert"]["entity"]) for e in hooks.receiver.events(name)]

    assert sorted(got("everything")) == sorted([
        ("io.tocsin.alert.raised", "policy-system"), ("io.tocsin.alert.raised", "billing"),
        ("io.tocsin.alert.escalation", "policy-system"), ("io.tocsin.alert.escalation", "billing")])
    assert got("one-entity") == [("io.tocsin.alert.raised", "billing"), ("io.tocsin.alert.escalation", "billing")]
    assert sorted(got("escalations")) == [("io.tocsin.alert.escalation", "billing"),
                                          ("io.tocsin.alert.escalation", "policy-system")]
    assert got("severe-only") == got("other-signal") == []


async def test_a_ping_and_a_redelivery_go_out_and_are_listed(hooks: Hooks) -> None:
    sub = await hooks.subscribe("a")
    await hooks.raise_alert()
    await hooks.deliver()

    ping = await hooks.client.post(f"/v1/subscriptions/{sub['id']}/test")
    await hooks.deliver()
    raised = next(d for d in await hooks.deliveries(sub["id"]) if d["type"] == "alert.raised")
    again = await hooks.client.post(f"/v1/subscriptions/{sub['id']}/deliveries/{raised['id']}/redeliver")
    await hooks.deliver()
    listed = {d["id"]: d for d in await hooks.deliveries(sub["id"])}

    types = [e["type"] for e in hooks.receiver.events("a")]
    ids = [r.headers["webhook-id"] for r in hooks.receiver.requests("a")]
    assert (ping.status_code, again.status_code) == (202, 202)
    assert types == ["io.tocsin.alert.raised", "io.tocsin.ping", "io.tocsin.alert.raised"]
    assert ids[0] == ids[2] == raised["webhook_id"]  # a redelivery keeps its webhook-id
    assert [(a["outcome"], a["status_code"]) for a in listed[raised["id"]]["attempts"]] == [
        ("delivered", 202), ("delivered", 202)]
    assert listed[ping.json()["id"]]["state"] == "delivered"
    assert all(a["duration_seconds"] > 0 for d in listed.values() for a in d["attempts"])


async def test_unknown_deliveries_and_subscriptions_answer_404(hooks: Hooks) -> None:
    sub = await hooks.subscribe("a")

    missing_delivery = await hooks.client.post(f"/v1/subscriptions/{sub['id']}/deliveries/999/redeliver")
    missing_subscription = await hooks.client.get("/v1/subscriptions/sub_nope/deliveries")

    assert (missing_delivery.status_code, missing_subscription.status_code) == (404, 404)


async def test_delivery_metrics_count_attempts_failures_and_the_backlog(hooks: Hooks) -> None:
    await hooks.subscribe("up")
    await hooks.subscribe("down")
    hooks.receiver.answer("down", 503)
    await hooks.raise_alert()

    await hooks.deliver()
    hooks.clock.advance(60)
    await hooks.app.state.dispatcher.measure()
    exposition = (await hooks.client.get("/metrics")).text

    assert sample(exposition, "tocsin_webhook_attempts_total", outcome="delivered") == 1
    assert sample(exposition, "tocsin_webhook_attempts_total", outcome="retry") == 1
    assert sample(exposition, "tocsin_webhook_failures_total", reason="http_5xx") == 1
    assert sample(exposition, "tocsin_webhook_failures_total", reason="timeout") == 0
    assert sample(exposition, "tocsin_webhook_pending_deliveries") == 1
    assert sample(exposition, "tocsin_webhook_oldest_pending_age_seconds") == 60


async def test_an_unexpected_failure_of_an_attempt_is_retried_not_lost(
    hooks: Hooks, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from warning.notify import dispatcher

    sub = await hooks.subscribe("a")
    real = dispatcher.signature_header
    failures = iter([RuntimeError("a bug in signing")])

    def flaky(*args: Any) -> str:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real(*args)

    monkeypatch.setattr(dispatcher, "signature_header", flaky)
    await hooks.raise_alert()
    await hooks.deliver()
    await hooks.advance(60)

    [delivery] = await hooks.deliveries(sub["id"])
    assert [(a["outcome"], a["reason"]) for a in delivery["attempts"]] == [("retry", "internal"), ("delivered", None)]
    assert [e["type"] for e in hooks.receiver.events("a")] == ["io.tocsin.alert.raised"]
