"""The crisis view in a real browser: an operator works a crisis on two signals from the
page (acknowledge, roles, respond, resolve), writes its post-mortem, and sees the API's
refusals as it said them; and a severe alert arriving live flashes the tab's title when
the operator has asked for it.

The tests share one service (module scope) and each works on an entity of its own.
"""
from __future__ import annotations

import math
from typing import Any

from tests.console.conftest import HOUR, MINUTE, Service, alarm_storm, rfc3339, screenshot


def crisis_on_two_signals(service: Service, entity: str) -> dict[str, Any]:
    """An alarm storm (a severe rate_surge alert) inside two hours of mentions above the
    threshold rule's 100 an hour: two alerts on two signals active at once, one crisis."""
    alarms, raised_at = alarm_storm(entity)
    hour = math.floor(raised_at / HOUR) * HOUR  # the storm fires within this hour
    mentions = [{"id": f"{entity}-m-{i}", "ts": rfc3339(hour + i * HOUR + MINUTE), "signal": "mentions",
                 "entity": entity, "value": value} for i, value in ((-1, 150), (0, 150), (1, 3))]
    closer = {"id": f"{entity}-m-close", "ts": rfc3339(hour + HOUR + 10 * MINUTE), "signal": "mentions",
              "entity": entity, "value": 1}  # past the hour's lateness: its bucket closes, still firing
    service.post_events(alarms + mentions + [closer])
    crises = service.call("GET", f"/v1/crises?entity={entity}").json()["items"]
    assert len(crises) == 1, crises
    crisis: dict[str, Any] = crises[0]
    assert (crisis["signals"], crisis["fused_signals"], len(crisis["alert_ids"])) == (["alarms", "mentions"], 2, 2)
    assert crisis["status"] == "open"
    return crisis


def crisis(service: Service, crisis_id: str) -> dict[str, Any]:
    answer = service.call("GET", f"/v1/crises/{crisis_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def open_crisis(page: Any, service: Service, crisis_id: str) -> None:
    page.goto(f"{service.url}/console/#/crisis/{crisis_id}")
    page.wait_for_selector("#view[data-loaded=crisis] #review-form")


def test_an_operator_works_a_crisis_from_the_now_view(service: Service, open_console: Any) -> None:
    created = crisis_on_two_signals(service, "brand-q")
    page = open_console(service.operator)
    row = page.locator(f"#now-table tr[data-id={created['id']}]")
    row.wait_for()
    assert row.locator(".badge.crisis").count() == 1 and "2 alerts, 2 signals at once" in row.inner_text()
    row.locator("a:has-text('brand-q')").click()
    page.wait_for_selector("h1:has-text('Crisis on brand-q')")
    assert page.locator("#crisis-alerts tbody tr").count() == 2
    assert page.locator("svg.chart").count() == 2  # the evidence of each signal

    page.fill("#comment", "one incident: bridge open")
    page.click("button:has-text('Acknowledge all')")
    page.wait_for_selector("#alert-status:has-text('acknowledged')")
    assert page.inner_text("#action-result") == "Acknowledge all: done"
    after = crisis(service, created["id"])
    assert after["status"] == "acknowledged"
    assert {a["status"] for a in after["alerts"]} == {"acknowledged"}
    for alert_id in created["alert_ids"]:  # each alert's timeline has the move, by the key's owner
        timeline = service.call("GET", f"/v1/alerts/{alert_id}/timeline").json()["entries"]
        assert [(e["actor"], e["comment"]) for e in timeline if e["event"] == "status.acknowledged"] == [
            ("Ana Ruiz", "one incident: bridge open")]

    page.click("button:has-text('Start response')")  # no incident commander yet: the API's refusal
    refusal = page.wait_for_selector("#action-result.error").inner_text()
    assert refusal.startswith("Refused (409): ") and "incident commander" in refusal
    assert crisis(service, created["id"])["status"] == "acknowledged"

    page.select_option("#role-select", "incident_commander")
    page.fill("#role-name", "Li Wei")
    page.click("button:has-text('Assign')")
    page.wait_for_selector("#roles-table tr[data-role=incident_commander]:has-text('Li Wei')")
    assert "2 alert(s)" in page.inner_text("#roles-table tr[data-role=incident_commander]")
    assert [(r["role"], r["name"], sorted(r["alert_ids"])) for r in crisis(service, created["id"])["roles"]] == [
        ("incident_commander", "Li Wei", sorted(created["alert_ids"]))]

    page.click("button:has-text('Start response')")
    page.wait_for_selector("#alert-status:has-text('responding')")
    assert crisis(service, created["id"])["status"] == "responding"

    page.select_option("#role-select", "information_officer")  # the name field offers the operator's own
    page.click("button:has-text('Assign')")
    page.wait_for_selector("#roles-table tr[data-role=information_officer]:has-text('Ana Ruiz')")
    page.click("#roles-table tr[data-role=incident_commander] button:has-text('Release')")
    refusal = page.wait_for_selector("#role-result.error").inner_text()  # a response needs its commander
    assert refusal.startswith("Refused (409): ") and "needs its incident commander" in refusal
    page.click("#roles-table tr[data-role=information_officer] button:has-text('Release')")
    page.wait_for_selector("#roles-table:not(:has(tr[data-role=information_officer]))")
    assert [(r["role"], r["name"]) for r in crisis(service, created["id"])["roles"]] == [
        ("incident_commander", "Li Wei")]

    page.click("button:has-text('Resolve all')")
    page.wait_for_selector("#alert-status:has-text('resolved')")
    after = crisis(service, created["id"])
    assert after["status"] == "resolved" and after["allowed"] == ["review"]
    page.click("button:has-text('Acknowledge all')")  # nothing left to acknowledge: said plainly
    refusal = page.wait_for_selector("#action-result.error").inner_text()
    assert refusal == ("Refused (409): cannot acknowledge any of the alerts (states: resolved); "
                       "allowed on some of them: review")


def test_the_post_mortem_is_written_on_the_page_once_the_crisis_is_resolved(
        service: Service, open_console: Any) -> None:
    created = crisis_on_two_signals(service, "brand-r")
    page = open_console(service.operator, width=1920, height=1080)
    open_crisis(page, service, created["id"])

    page.click("button:has-text('Record post-mortem')")  # nothing typed: the API's validation, as it said it
    invalid = page.wait_for_selector("#review-result.error").inner_text()
    assert invalid.startswith("Invalid (422): ") and "body.summary" in invalid and "body.root_cause" in invalid

    page.fill("#pm-summary", "A gateway outage left claims unanswered; complaints spread.")
    page.fill("#pm-cause", "An expired TLS certificate on the claims gateway.")
    page.select_option("#pm-type", "service_outage")
    page.fill("#pm-amount", "12000")
    page.select_option("#pm-brand", "moderate")
    page.fill("#pm-brand-note", "two news articles")
    page.select_option("#pm-operational", "severe")
    page.fill("#pm-lost", "40")
    page.check("#review-form input[value=apology]")
    page.check("#review-form input[value=process_change]")
    page.fill("#pm-lessons", "Monitor certificate expiry\n\nName a spokesperson within the first hour\n")

    page.click("button:has-text('Record post-mortem')")  # before the crisis is resolved
    refusal = page.wait_for_selector("#review-result.error:has-text('409')").inner_text()
    assert refusal.startswith("Refused (409): ") and "resolve them first" in refusal
    assert service.call("GET", f"/v1/crises/{created['id']}/review").status_code == 404

    page.click("button:has-text('Resolve all')")  # the page redraws: what was typed in the form stays
    page.wait_for_selector("#alert-status:has-text('resolved')")
    assert page.input_value("#pm-cause") == "An expired TLS certificate on the claims gateway."
    assert page.input_value("#pm-operational") == "severe"
    assert page.is_checked("#review-form input[value=process_change]")
    page.eval_on_selector("#review-form", "form => form.scrollIntoView({ block: 'center' })")
    screenshot(page, "postmortem")

    page.click("button:has-text('Record post-mortem')")
    page.wait_for_selector("#review:has-text('An expired TLS certificate')")
    assert page.locator("#review-form").count() == 0
    review = service.call("GET", f"/v1/crises/{created['id']}/review").json()
    assert {k: review[k] for k in ("summary", "root_cause", "crisis_type", "impact", "remedies", "lessons",
                                   "reviewed_by")} == {
        "summary": "A gateway outage left claims unanswered; complaints spread.",
        "root_cause": "An expired TLS certificate on the claims gateway.",
        "crisis_type": "service_outage",
        "impact": {"financial": {"amount": 12000.0, "currency": "EUR"},
                   "brand": {"level": "moderate", "description": "two news articles"},
                   "operational": {"level": "severe", "description": None}, "customers_lost": 40},
        "remedies": ["apology", "process_change"],
        "lessons": ["Monitor certificate expiry", "Name a spokesperson within the first hour"],
        "reviewed_by": "Ana Ruiz",
    }
    assert sorted(review["alert_ids"]) == sorted(created["alert_ids"])
    assert sorted(m["signal"] for m in review["movement"]) == ["alarms", "mentions"]  # Tocsin's verdict per signal
    after = crisis(service, created["id"])
    assert (after["status"], after["reviewed"], after["crisis_type"]) == ("reviewed", True, "service_outage")
    shown = page.inner_text("#review")
    assert "recorded by Ana Ruiz" in shown and "alarms: " in shown and "mentions: " in shown
    assert page.inner_text("#review-impact") == (
        "Impact: 12,000 EUR; brand moderate (two news articles); operational severe; 40 customers lost")
    assert page.locator("#review-lessons li").all_inner_texts() == review["lessons"]


def test_a_severe_alert_arriving_live_beeps_and_flashes_the_title_when_asked(
        service: Service, open_console: Any) -> None:
    page = open_console(service.operator)
    page.wait_for_selector("#live.up")
    page.check("#alarm-toggle")  # "sound on severe", turned on as an operator would
    # Count the beeps: the page makes one AudioContext per alarm.
    page.evaluate("""() => { window.__beeps = 0; const Audio = window.AudioContext;
        window.AudioContext = class extends Audio { constructor() { window.__beeps += 1; super(); } }; }""")
    assert page.title() == "Tocsin console"
    events, _ = alarm_storm("brand-s")
    service.post_events(events)
    alert = service.call("GET", "/v1/alerts?entity=brand-s").json()["items"][0]
    assert alert["severity"] == "severe"

    page.wait_for_function("document.title === '(!) SEVERE brand-s'")  # though the page has the focus
    page.wait_for_function("document.title === 'Tocsin console'")  # on and off
    page.wait_for_function("document.title === '(!) SEVERE brand-s'")
    assert page.evaluate("window.__beeps") == 1
    page.keyboard.press("Shift")  # the operator is back: the flashing stops at once, and stays stopped
    assert page.title() == "Tocsin console"
    titles = page.evaluate("""() => new Promise((done) => {
        const seen = [], watch = new MutationObserver(() => seen.push(document.title));
        watch.observe(document.querySelector("title"), { childList: true, characterData: true, subtree: true });
        setTimeout(() => { watch.disconnect(); done(seen); }, 1500); })""")  # two flashes' time
    assert titles == []


def test_without_the_option_a_severe_alert_leaves_the_title_alone(service: Service, open_console: Any) -> None:
    page = open_console(service.operator)
    page.wait_for_selector("#live.up")
    assert not page.is_checked("#alarm-toggle")  # off unless asked for
    events, _ = alarm_storm("brand-t")
    service.post_events(events)
    page.wait_for_selector("#now-table tr:has-text('brand-t')")  # it arrived live
    titles = page.evaluate("""() => new Promise((done) => {
        const seen = [], watch = new MutationObserver(() => seen.push(document.title));
        watch.observe(document.querySelector("title"), { childList: true, characterData: true, subtree: true });
        setTimeout(() => { watch.disconnect(); done(seen); }, 1500); })""")
    assert titles == []
