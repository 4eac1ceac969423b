"""Webhooks never lose a notice: retries over hours of simulated time, restarts, 410, Retry-After,
dead-lettering, rotation, many subscribers. Real HTTP to a receiver on loopback; the service's
clock is a manual one the test moves, so an hour of downtime takes no hour."""
from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from detectors.base import Severity
from tests.api.webhook_support import RAISED, Hooks, Receiver, hook_settings, hooked, readme_verify, receiving
from warning.alerts import Alert, AlertChange, AlertStatus, ChangeReason
from warning.clock import HOUR, ManualClock
from warning.notify.log import NotificationLog
from warning.settings import Settings
from warning.storage.notices import scheduler


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with receiving() as r:
        yield r


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    return hook_settings(make_settings)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(RAISED)


@pytest.fixture
async def hooks(settings: Settings, clock: ManualClock, receiver: Receiver) -> AsyncIterator[Hooks]:
    async with hooked(settings, clock, receiver) as h:
        yield h


def sent_notice_ids(settings: Settings) -> list[str]:
    return [n["id"] for n in NotificationLog(settings.notifications_path).read()]


async def test_a_subscriber_down_for_an_hour_gets_every_notice_once_in_order(
        hooks: Hooks, settings: Settings) -> None:
    sub = await hooks.subscribe("a")
    hooks.receiver.answer("a", 503)
    alert_id = await hooks.raise_alert()
    await hooks.deliver()
    acknowledged = await hooks.client.post(f"/v1/alerts/{alert_id}/acknowledge", json={"comment": "seen"})
    await hooks.advance(HOUR)  # down all along: the acknowledgement waits behind the raised notice
    attempts_while_down = [r.event["type"] for r in hooks.receiver.requests("a")]

    hooks.receiver.answer("a", 200)
    resolved = await hooks.client.post(f"/v1/alerts/{alert_id}/resolve", json={})
    await hooks.advance(2 * HOUR)

    received = [e["data"]["notice_id"] for e in hooks.receiver.events("a")]
    assert (acknowledged.status_code, resolved.status_code) == (200, 200)
    assert set(attempts_while_down) == {"io.tocsin.alert.raised"}
    assert len(attempts_while_down) >= 5  # 5 s, 30 s, 2 min, 10 min, 30 min
    assert received == sent_notice_ids(settings)  # each once, in the order they were sent
    assert [n.rsplit("/", 1)[1] for n in received] == ["v1", "v3", "v4"]  # raised, acknowledged, resolved
    assert {d["state"] for d in await hooks.deliveries(sub["id"])} == {"delivered"}


async def test_other_alerts_and_subscribers_are_not_held_up_by_a_failing_delivery(hooks: Hooks) -> None:
    await hooks.subscribe("slow-alert")
    await hooks.subscribe("healthy")
    hooks.receiver.answer("slow-alert", 500)
    await hooks.raise_alert("first")
    await hooks.deliver()

    hooks.receiver.answer("slow-alert", 200)  # answers again, but its retry is not due yet
    await hooks.raise_alert("second")
    await hooks.deliver()

    assert [e["subject"] for e in hooks.receiver.events("slow-alert")] == [
        (await hooks.client.get("/v1/alerts", params={"entity": "second"})).json()["items"][0]["id"]]
    assert len(hooks.receiver.events("healthy")) == 2


async def test_a_slow_subscriber_times_out_without_holding_up_the_others(
        make_settings: Any, clock: ManualClock, receiver: Receiver) -> None:
    settings = hook_settings(make_settings, webhook_timeout_seconds=0.3)
    async with hooked(settings, clock, receiver) as hooks:
        slow = await hooks.subscribe("slow")
        await hooks.subscribe("fast")
        receiver.answer("slow", 200, after=30)
        await hooks.raise_alert()

        started = time.perf_counter()
        await hooks.deliver()
        elapsed = time.perf_counter() - started
        [delivery] = await hooks.deliveries(slow["id"])

    assert len(receiver.events("fast")) == 1
    assert elapsed < 5  # bounded by the timeout, not by the slow answer
    assert (delivery["state"], delivery["attempts"][0]["reason"]) == ("pending", "timeout")
    assert delivery["attempts"][0]["duration_seconds"] < 5


async def test_a_restart_in_the_middle_of_retries_loses_nothing_and_repeats_no_2xx(
        settings: Settings, clock: ManualClock, receiver: Receiver) -> None:
    receiver.answer("down", 503)
    async with hooked(settings, clock, receiver) as hooks:
        await hooks.subscribe("up")
        await hooks.subscribe("down")
        await hooks.raise_alert()
        await hooks.deliver()
        await hooks.advance(10 * 60)  # a few retries fail, then the service stops

    clock.advance(HOUR)
    receiver.answer("down", 204)
    async with hooked(settings, clock, receiver) as hooks:
        await hooks.deliver()
        await hooks.advance(2 * HOUR, step=10 * 60)

    up = [e["id"] for e in receiver.events("up")]
    down = [e["id"] for e in receiver.events("down")]
    notices = sent_notice_ids(settings)  # raised, and the 3-hour escalation after the restart
    assert len(notices) == 2
    assert len(up) == len(set(up)) == len(down) == len(set(down)) == 2
    assert len(receiver.requests("up")) == 2  # nothing answered 2xx was sent again


async def test_a_410_disables_the_subscription_and_dead_letters_the_delivery(hooks: Hooks) -> None:
    sub = await hooks.subscribe("gone")
    hooks.receiver.answer("gone", 410)
    await hooks.raise_alert("first")
    await hooks.deliver()

    await hooks.raise_alert("second")
    await hooks.advance(HOUR)
    subscription = (await hooks.client.get(f"/v1/subscriptions/{sub['id']}")).json()
    [delivery] = await hooks.deliveries(sub["id"])

    assert len(hooks.receiver.requests("gone")) == 1
    assert (subscription["enabled"], "410" in subscription["disabled_reason"]) == (False, True)
    assert (delivery["state"], [a["outcome"] for a in delivery["attempts"]]) == ("dead", ["gone"])


async def test_retry_after_is_honoured(hooks: Hooks) -> None:
    sub = await hooks.subscribe("busy")
    hooks.receiver.answer("busy", 429, {"Retry-After": "600"})
    await hooks.raise_alert()
    await hooks.deliver()
    hooks.receiver.answer("busy", 200)

    await hooks.advance(590, step=10)
    before = len(hooks.receiver.requests("busy"))
    await hooks.advance(20, step=10)
    [delivery] = await hooks.deliveries(sub["id"])

    first = delivery["attempts"][0]
    assert (first["status_code"], first["reason"], first["next_attempt_at"]) == (429, "http_429", "2026-11-20T10:35:00Z")
    assert (before, len(hooks.receiver.requests("busy")), delivery["state"]) == (1, 2, "delivered")


async def test_after_the_last_retry_the_delivery_is_dead_and_listed(hooks: Hooks) -> None:
    sub = await hooks.subscribe("broken")
    hooks.receiver.answer("broken", 500)
    await hooks.raise_alert()
    await hooks.deliver()

    await hooks.advance(25 * HOUR, step=HOUR / 2)
    dead = await hooks.deliveries(sub["id"], state="dead")
    pending = await hooks.deliveries(sub["id"], state="pending")

    raised = next(d for d in dead if d["type"] == "alert.raised")
    outcomes = [a["outcome"] for a in raised["attempts"]]
    times = [a["at"] for a in raised["attempts"]]
    assert outcomes == ["retry"] * (len(outcomes) - 1) + ["dead"]
    assert 20 <= len(outcomes) <= 30  # 6 quick retries, then hourly up to 24 h
    assert times[-1] <= "2026-11-21T10:25:00Z"  # within 24 h of the first attempt
    assert raised["next_attempt_at"] is None and raised["last_error"] == "HTTP 500"
    assert {d["type"] for d in pending} == {"alert.escalation", "alert.overdue"}  # later notices: still trying


async def test_during_a_rotation_both_secrets_sign_then_only_the_new_one(hooks: Hooks) -> None:
    sub = await hooks.subscribe("a")
    old = sub["secret"]
    rotated = (await hooks.client.post(f"/v1/subscriptions/{sub['id']}/rotate-secret",
                                       json={"grace_hours": 1})).json()
    new = rotated["secret"]
    verify = readme_verify()

    await hooks.raise_alert()
    await hooks.deliver()  # within the grace hour
    await hooks.advance(3 * HOUR, step=HOUR)  # the 3-hour escalation, after it

    during, after = hooks.receiver.requests("a")
    assert new != old and rotated["previous_secret_expires_at"] == "2026-11-20T11:25:00Z"
    assert len(during.headers["webhook-signature"].split()) == 2
    assert verify(new, during.headers, during.body, now=hooks.clock.now() - 3 * HOUR)
    assert verify(old, during.headers, during.body, now=hooks.clock.now() - 3 * HOUR)
    assert len(after.headers["webhook-signature"].split()) == 1
    assert verify(new, after.headers, after.body, now=hooks.clock.now())
    assert not verify(old, after.headers, after.body, now=hooks.clock.now())


def many_raised(n: int) -> list[AlertChange]:
    """``n`` alerts raised at the clock's start, each with its own entity (so its own queue)."""
    base = Alert(id="", kind="threshold", rule="alarms.threshold", signal="alarms", entity="", severity=Severity.moderate,
                 status=AlertStatus.open, raised_at=RAISED, last_seen_at=RAISED, response_due_at=RAISED + 6 * HOUR,
                 message="over the limit", evidence={"limit": 10}, strength=1.0)
    return [AlertChange(dataclasses.replace(base, id=f"alr_bulk{i:05d}", entity=f"entity-{i}"), ChangeReason.raised,
                        RAISED) for i in range(n)]


async def test_1000_notices_reach_18_healthy_subscribers_while_two_fail(hooks: Hooks) -> None:
    names = [f"s{i:02d}" for i in range(20)]
    for name in names:
        await hooks.subscribe(name, event_types=["alert.raised"])
    hooks.receiver.answer("s00", 500)
    hooks.receiver.answer("s01", 410)
    changes = many_raised(1000)
    hooks.app.state.database.record(changes=changes, extra=scheduler(changes, (3.0, 5.0)))

    started = time.perf_counter()
    await asyncio.to_thread(hooks.app.state.outbox.tick)
    await hooks.app.state.dispatcher.settle()
    elapsed = time.perf_counter() - started

    expected = sorted(c.alert.id for c in changes)
    for name in names[2:]:
        subjects = [e["subject"] for e in hooks.receiver.events(name)]
        assert sorted(subjects) == expected, name
    assert hooks.receiver.events("s00") == hooks.receiver.events("s01") == []
    print(f"20 000 deliveries (18 000 delivered) in {elapsed:.1f} s")
