"""The console against a running service: alerts arrive live, the countdown agrees with the
API's deadline, the buttons change the API's state and show its refusals, the chart shows
the evidence, a read-only key cannot act, and the page reconnects after a restart.

The tests share one service (module scope) and each works on an entity of its own; the
restart test runs last.
"""
from __future__ import annotations

import calendar
import re
import time
from typing import Any

from tests.console.conftest import HOUR, Service, alarm_storm, rfc3339, screenshot


def left_seconds(text: str) -> float:
    match = re.fullmatch(r"(\d+):(\d\d):(\d\d) left", text.strip())
    assert match, f"not a countdown: {text!r}"
    h, m, s = map(int, match.groups())
    return h * 3600 + m * 60 + s


def only_alert(service: Service, entity: str) -> dict[str, Any]:
    items = service.call("GET", f"/v1/alerts?entity={entity}").json()["items"]
    assert len(items) == 1, items
    return items[0]  # type: ignore[no-any-return]


def test_an_alert_appears_live_with_the_time_left_on_its_clock(service: Service, open_console: Any) -> None:
    page = open_console(service.operator)
    page.evaluate("window.__notReloaded = true")
    events, raised_at = alarm_storm("policy-system")
    service.post_events(events)

    page.wait_for_selector("#now-table tr:has-text('policy-system')")
    row = page.locator("#now-table tr:has-text('policy-system')")
    assert page.evaluate("window.__notReloaded") is True  # it came over the stream, not a reload
    alert = only_alert(service, "policy-system")
    assert alert["raised_at"] == rfc3339(raised_at)
    countdown = row.locator(".countdown")
    shown = left_seconds(countdown.inner_text())
    expected = calendar.timegm(time.strptime(alert["response_due_at"], "%Y-%m-%dT%H:%M:%SZ")) - time.time()
    assert abs(shown - expected) <= 3
    assert "clock-amber" in (countdown.get_attribute("class") or "")  # 3 h 45 min and more since it was raised
    assert alert["message"] in row.inner_text()  # the one-line why
    screenshot(page, "now")


def test_an_operator_works_an_alert_from_the_page(service: Service, open_console: Any) -> None:
    events, _ = alarm_storm("claims-portal")
    service.post_events(events)
    alert = only_alert(service, "claims-portal")
    page = open_console(service.operator)
    page.click("#now-table a:has-text('claims-portal')")
    page.wait_for_selector("#alert-status")

    page.fill("#comment", "bridge open")
    page.click("button:has-text('Acknowledge')")
    page.wait_for_selector("#alert-status:has-text('acknowledged')")
    workflow = service.call("GET", f"/v1/alerts/{alert['id']}/workflow").json()
    assert workflow["alert"]["status"] == "acknowledged"
    assert workflow["stages"][0] == {**workflow["stages"][0], "stage": "alert_response", "owner": "Ana Ruiz"}
    timeline = service.call("GET", f"/v1/alerts/{alert['id']}/timeline").json()["entries"]
    moved = [(e["actor"], e["comment"]) for e in timeline if e["event"] == "status.acknowledged"]
    assert moved == [("Ana Ruiz", "bridge open")]  # the key's owner, and the comment typed on the page
    assert page.inner_text("#action-result") == "Acknowledge: done"
    assert page.input_value("#comment") == ""  # sent, so cleared

    page.click("button:has-text('Acknowledge')")  # not allowed any more: the API's refusal, as it said it
    refusal = page.wait_for_selector("#action-result.error").inner_text()
    assert "Refused (409): cannot acknowledge" in refusal
    assert "Allowed from acknowledged: respond, resolve" in refusal

    page.click("button:has-text('Start response')")  # no incident commander yet
    assert "incident commander" in page.wait_for_selector("#action-result.error").inner_text()

    page.select_option("#role-select", "incident_commander")
    page.fill("#role-name", "Li Wei")
    page.click("button:has-text('Assign')")
    page.wait_for_selector("#roles-table tr[data-role=incident_commander]:has-text('Li Wei')")
    page.click("button:has-text('Start response')")
    page.wait_for_selector("#alert-status:has-text('responding')")
    page.wait_for_selector("#alert-countdown:has-text('clock stopped')")

    workflow = service.call("GET", f"/v1/alerts/{alert['id']}/workflow").json()
    assert workflow["alert"]["status"] == "responding"
    assert [(r["role"], r["name"], r["assumed_by"]) for r in workflow["roles"]] == [
        ("incident_commander", "Li Wei", "Ana Ruiz")]
    reached = [s["stage"] for s in workflow["stages"]]
    assert reached == ["alert_response", "assessment", "action"]
    shown = page.eval_on_selector_all("#stages li.reached", "els => els.map(e => e.dataset.stage)")
    assert shown == reached


def test_the_chart_shows_the_baseline_the_threshold_and_the_firing(service: Service, open_console: Any) -> None:
    events, raised_at = alarm_storm("motor-claims")
    service.post_events(events)
    alert = only_alert(service, "motor-claims")
    series = service.call("GET", f"/v1/alerts/{alert['id']}/series").json()
    assert series["baseline"] == alert["evidence"]["expected_rate"]
    assert series["threshold"] == series["baseline"] * 3.0  # rate_surge's min_multiple
    assert series["fired_at"] == rfc3339(raised_at)
    assert [b["value"] for b in series["buckets"]].count(40) == 2

    page = open_console(service.operator, width=1920, height=1080)
    page.goto(f"{service.url}/console/#/alert/{alert['id']}")
    page.wait_for_selector("svg.chart [data-role=fired]", state="attached")
    page.wait_for_timeout(600)  # let the burst of live updates that followed the events redraw once
    for role in ("series", "baseline", "threshold", "threshold-band", "fired"):
        assert page.locator(f"svg.chart [data-role={role}]").count() == 1, role

    def attr(role: str, name: str) -> float:
        return float(page.locator(f"svg.chart [data-role={role}]").get_attribute(name) or "nan")

    # In viewBox units: the plot spans x 52..746; SVG's y grows downwards.
    series_xs = [float(p.split(",")[0]) for p in (page.locator("svg.chart [data-role=series]")
                                                  .get_attribute("points") or "").split()]
    assert min(series_xs) < attr("fired", "x1") <= max(series_xs)  # the firing moment, inside the drawn history
    assert attr("threshold", "y1") < attr("baseline", "y1")  # drawn above it: the rule fires above the threshold
    assert page.inner_text("#evidence").count("expected rate") == 1
    screenshot(page, "alert")


def test_a_read_key_gets_a_read_only_page_and_a_bad_key_a_plain_refusal(
        service: Service, open_console: Any, browser: Any) -> None:
    events, _ = alarm_storm("wall-screen-demo")
    service.post_events(events)
    alert = only_alert(service, "wall-screen-demo")
    page = open_console(service.viewer)
    assert "read-only" in page.inner_text("#whoami")
    page.goto(f"{service.url}/console/#/alert/{alert['id']}")
    page.wait_for_selector("#readonly-note")
    disabled = page.eval_on_selector_all("main button", "buttons => buttons.map(b => b.disabled)")
    assert disabled and all(disabled)

    context = browser.new_context()
    try:
        stranger = context.new_page()
        stranger.goto(f"{service.url}/console/")
        stranger.fill("#key-input", "tsn_not_a_key")
        stranger.click("#sign-in-form button[type=submit]")
        assert "401" in stranger.wait_for_selector("#sign-in-error:has-text('401')").inner_text()
    finally:
        context.close()


def test_entities_show_their_state_and_sparklines_and_can_be_searched(service: Service, open_console: Any) -> None:
    service.post_events([{"ts": rfc3339(time.time() - 2 * HOUR + 60 * i), "signal": "mentions",
                          "entity": "quiet-brand", "value": 5} for i in range(0, 120, 10)])
    events, _ = alarm_storm("storm-brand")
    service.post_events(events)
    page = open_console(service.operator)
    page.click("nav a:has-text('Entities')")
    page.wait_for_selector("#entities-table tr[data-entity=quiet-brand]")
    storm = page.locator("#entities-table tr[data-entity=storm-brand]")
    assert storm.locator(".badge").inner_text() == "ALERT"  # shown upper-case by the style
    assert storm.locator("svg.spark polyline").count() == 1
    assert page.locator("#entities-table tr[data-entity=quiet-brand] .badge").inner_text() == "NORMAL"
    screenshot(page, "entities")

    page.fill("#entity-search", "quiet")
    page.wait_for_function("document.querySelectorAll('#entities-table tbody tr').length === 1")
    assert page.query_selector("#entities-table tr[data-entity=quiet-brand]") is not None


def tab_to(page: Any, target: Any, *, presses: int = 80) -> None:
    """Press Tab until ``target`` has the focus, as someone without a mouse would."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            return
    raise AssertionError(f"not reachable with Tab in {presses} presses")


def test_an_alert_can_be_worked_with_the_keyboard_alone(service: Service, open_console: Any) -> None:
    events, _ = alarm_storm("billing-api")
    service.post_events(events)
    alert = only_alert(service, "billing-api")
    page = open_console(service.operator)
    link = page.locator("#now-table a:has-text('billing-api')")
    link.wait_for()

    tab_to(page, link)
    outline = link.evaluate("el => getComputedStyle(el).outlineStyle")
    page.keyboard.press("Enter")
    page.wait_for_selector("#alert-status")
    acknowledge = page.locator("button:has-text('Acknowledge')")
    tab_to(page, acknowledge)
    page.keyboard.press("Enter")
    page.wait_for_selector("#alert-status:has-text('acknowledged')")

    assert outline != "none"  # the focus is visible where it is
    assert service.call("GET", f"/v1/alerts/{alert['id']}").json()["status"] == "acknowledged"


def test_a_live_redraw_keeps_the_keyboard_focus_where_it_was(service: Service, open_console: Any) -> None:
    events, _ = alarm_storm("ledger-api")
    service.post_events(events)
    alert = only_alert(service, "ledger-api")
    page = open_console(service.operator)
    page.goto(f"{service.url}/console/#/alert/{alert['id']}")
    page.wait_for_selector("#alert-status")
    acknowledge = page.locator("button:has-text('Acknowledge')")
    tab_to(page, acknowledge)
    page.evaluate("document.getElementById('view').dataset.loaded = 'before'")

    service.post_events(alarm_storm("other-api")[0])  # a live update: the view is drawn again
    page.wait_for_function("document.getElementById('view').dataset.loaded === 'alert'")

    assert page.evaluate("document.activeElement.textContent") == "Acknowledge"


def test_the_page_reconnects_after_a_restart_and_keeps_receiving(service: Service, open_console: Any) -> None:
    page = open_console(service.operator)
    page.wait_for_selector("#live.up")
    page.evaluate("window.__notReloaded = true")
    service.stop()
    page.wait_for_selector("#live.down")
    service.start()
    page.wait_for_selector("#live.up", timeout=45_000)
    events, _ = alarm_storm("after-restart")
    service.post_events(events)
    page.wait_for_selector("#now-table tr:has-text('after-restart')")
    assert page.evaluate("window.__notReloaded") is True
