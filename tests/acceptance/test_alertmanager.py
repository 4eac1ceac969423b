"""Tocsin and a real Prometheus Alertmanager (Debian's ``prometheus-alertmanager``), both ways.

One Alertmanager and one Tocsin (uvicorn in a thread, forwarding every ``RESEND`` seconds)
serve the module; each test works on entities of its own. Alertmanager's only receiver
besides a null one is Tocsin's webhook, for alerts that are not Tocsin's own (no
``alert_id`` label), which closes the loop: alerts posted to Alertmanager as Prometheus
would come back as ``alarms`` events.

Without the binary the module is skipped with the reason, except under ``CI=true``,
where that is a failure.
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson
import pytest
import uvicorn
from fastapi import FastAPI

from api.app import create_app
from tests.acceptance.test_durability import free_port
from tests.api.support import SIGNALS, sample, surge
from warning.settings import Settings, load_settings

IN_CI = os.environ.get("CI", "").lower() == "true"
BINARY = "prometheus-alertmanager"
RESEND = 0.5  # Tocsin's forwarding interval: alerts are sent with endsAt 1.5 s ahead
START_TIMEOUT = 15.0
WAIT = 10.0

CONFIG = """
route:
  receiver: "null"
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1s
  routes:
    - receiver: tocsin
      matchers: ['alert_id=""']  # Tocsin's own alerts are not alarms of the entity they are about
      group_by: [service]
receivers:
  - name: "null"
  - name: tocsin
    webhook_configs:
      - url: "{webhook}"
        send_resolved: false
"""

T = TypeVar("T")


def alertmanager_binary() -> str:
    found = shutil.which(BINARY) or shutil.which(BINARY, path="/usr/bin")
    if found is None:
        reason = f"{BINARY} not found (Debian package prometheus-alertmanager)"
        if IN_CI:
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    return found


@contextmanager
def alertmanager(binary: str, workdir: Path, port: int, config: str) -> Iterator[str]:
    """Alertmanager on ``port`` of the loopback interface, clustering off, state in ``workdir``."""
    (workdir / "alertmanager.yml").write_text(config)
    url = f"http://127.0.0.1:{port}"
    log = workdir / "alertmanager.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [binary, f"--config.file={workdir / 'alertmanager.yml'}", f"--web.listen-address=127.0.0.1:{port}",
             "--cluster.listen-address=", f"--storage.path={workdir / 'am-data'}"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        eventually(lambda: _ready(f"{url}/-/ready", process, log), timeout=START_TIMEOUT)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _ready(url: str, process: subprocess.Popen[bytes], log: Path) -> bool:
    if process.poll() is not None:
        pytest.fail(f"alertmanager exited with {process.returncode}:\n{log.read_text()}")
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def serving(settings: Settings) -> Iterator[FastAPI]:
    """Tocsin over real HTTP (Alertmanager's webhook must reach it), lifespan included."""
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning",
                                           ws="none", lifespan="on"))
    thread = threading.Thread(target=server.run, name="tocsin", daemon=True)
    thread.start()
    try:
        eventually(lambda: server.started, timeout=START_TIMEOUT)
        yield app
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def eventually(probe: Callable[[], T | None], *, timeout: float = WAIT, every: float = 0.05) -> T:
    """The first truthy answer of ``probe``, polled until ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        answer = probe()
        if answer:
            return answer
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout} s: {probe}")
        time.sleep(every)


@dataclass
class Stack:
    am: httpx.Client
    tocsin: httpx.Client
    tocsin_url: str

    def raise_alert(self, entity: str) -> dict[str, Any]:
        """A Tocsin alert on ``entity`` (an alarm surge on event time), as the API shows it."""
        assert self.tocsin.post("/v1/events", json=surge(entity, prefix=entity)).status_code == 202
        [alert] = self.tocsin.get("/v1/alerts", params={"entity": entity}).json()["items"]
        return alert  # type: ignore[no-any-return]

    def in_alertmanager(self, alert_id: str) -> dict[str, Any] | None:
        """The alert as Alertmanager lists it (active ones only: resolved alerts are not listed)."""
        found = self.am.get("/api/v2/alerts", params={"filter": f'alert_id="{alert_id}"'}).json()
        return found[0] if found else None

    def alertmanager_counts(self, outcome: str) -> float:
        return sample(self.tocsin.get("/metrics").text, "tocsin_ingest_events_total",
                      source="alertmanager", outcome=outcome)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    binary = alertmanager_binary()
    workdir = tmp_path_factory.mktemp("alertmanager")
    am_port, tocsin_port = free_port(), free_port()
    tocsin_url = f"http://127.0.0.1:{tocsin_port}"
    with alertmanager(binary, workdir, am_port, CONFIG.format(webhook=f"{tocsin_url}/v1/ingest/alertmanager")) as am:
        settings = load_settings(None, data_dir=workdir / "data", signals=SIGNALS, auth="open", port=tocsin_port,
                                 alertmanager_url=am, alertmanager_resend_seconds=RESEND, public_url=tocsin_url)
        with serving(settings), httpx.Client(base_url=am, timeout=5) as am_client, \
                httpx.Client(base_url=tocsin_url, timeout=5) as tocsin_client:
            yield Stack(am_client, tocsin_client, tocsin_url)


def instant(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


def test_an_alert_raised_in_tocsin_fires_in_alertmanager_with_its_labels_and_annotations(stack: Stack) -> None:
    alert = stack.raise_alert("am-forwarded")

    forwarded = eventually(lambda: stack.in_alertmanager(alert["id"]))

    assert forwarded["labels"] == {"alertname": "threshold", "entity": "am-forwarded", "signal": "alarms",
                                   "severity": alert["severity"], "rule": "alarms.threshold", "alert_id": alert["id"]}
    assert forwarded["annotations"]["summary"] == alert["message"]
    assert forwarded["annotations"]["response_due_at"] == alert["response_due_at"]
    assert forwarded["annotations"]["status"] == "open"
    assert forwarded["generatorURL"] == f"{stack.tocsin_url}/v1/alerts/{alert['id']}"
    assert forwarded["status"]["state"] == "active"
    assert instant(forwarded["startsAt"]) == instant(alert["raised_at"])
    assert orjson.loads(forwarded["annotations"]["evidence"]) == alert["evidence"]


def test_resending_keeps_an_open_alert_firing_past_its_first_ends_at(stack: Stack) -> None:
    alert = stack.raise_alert("am-resent")
    first_ends_at = instant(eventually(lambda: stack.in_alertmanager(alert["id"]))["endsAt"])

    eventually(lambda: time.time() > first_ends_at + RESEND, timeout=3 * RESEND + 2)

    still = stack.in_alertmanager(alert["id"])
    assert still is not None and still["status"]["state"] == "active"
    assert instant(still["endsAt"]) > first_ends_at


def test_resolving_in_tocsin_resolves_it_in_alertmanager_before_it_would_expire(stack: Stack) -> None:
    alert = stack.raise_alert("am-resolved")
    eventually(lambda: stack.in_alertmanager(alert["id"]))

    assert stack.tocsin.post(f"/v1/alerts/{alert['id']}/resolve", json={"comment": "fixed"}).status_code == 200
    latest_ends_at = 0.0

    def gone() -> bool:
        nonlocal latest_ends_at
        listed = stack.in_alertmanager(alert["id"])
        if listed is not None:
            latest_ends_at = max(latest_ends_at, instant(listed["endsAt"]))
        return listed is None

    eventually(gone)
    assert time.time() < latest_ends_at  # resolved by Tocsin's post, not by running out of endsAt
    time.sleep(2 * RESEND)
    assert stack.in_alertmanager(alert["id"]) is None  # and no longer re-sent as firing


def test_alertmanagers_firing_alerts_count_once_each_into_alarms_and_raise_an_alert(stack: Stack) -> None:
    entity = "am-loop-checkout"
    start = (time.time() // 300 - 8) * 300 + 10  # 10 s into a 5-minute bucket 40 minutes ago

    def fire(at: float, hosts: range) -> None:
        alerts = [{"labels": {"alertname": "HighErrorRate", "service": entity, "instance": f"10.0.0.{i}:9100"},
                   "startsAt": dt.datetime.fromtimestamp(at, dt.UTC).isoformat()} for i in hosts]
        assert stack.am.post("/api/v2/alerts", json=alerts).status_code == 200

    accepted_before = stack.alertmanager_counts("accepted")
    fire(start, range(12))
    fire(start + 300, range(12, 24))  # two buckets over the threshold rule's limit of 10
    eventually(lambda: stack.alertmanager_counts("accepted") == accepted_before + 24)
    # Alertmanager notifies again every second (repeat_interval): repeats are recognised and not counted.
    eventually(lambda: stack.alertmanager_counts("duplicate") >= 24)
    assert stack.alertmanager_counts("accepted") == accepted_before + 24

    fire(start + 16 * 60, range(24, 25))  # moves the series past the second bucket's lateness: both buckets close
    raised = eventually(lambda: stack.tocsin.get("/v1/alerts", params={"entity": entity}).json()["items"])

    assert [(a["rule"], a["status"]) for a in raised] == [("alarms.threshold", "open")]
    assert raised[0]["evidence"]["observed"] == [12.0, 12.0]
    assert raised[0]["evidence"]["contributors"][0]["label"] == "alertname=HighErrorRate"  # labels carried over
