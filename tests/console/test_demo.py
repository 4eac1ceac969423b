"""``tocsin demo``: from a fresh start, the simulated feed turns brand-x's complaint surge,
alarm storm and satisfaction slide into alerts and a crisis within a minute (at a faster
clock than the default, to keep the suite quick), and the demo cleans up after itself."""
from __future__ import annotations

import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.console.conftest import TOCSIN, free_port, screenshot


@dataclass
class Demo:
    url: str
    operator: str
    viewer: str
    data_dir: Path
    started: float
    process: subprocess.Popen[str]

    def get(self, path: str) -> Any:
        answer = httpx.get(f"{self.url}{path}", headers={"Authorization": f"Bearer {self.operator}"}, timeout=10)
        answer.raise_for_status()
        return answer.json()


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    started = time.monotonic()
    process = subprocess.Popen([str(TOCSIN), "demo", "--port", str(free_port()), "--rate", "300"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    banner = ""
    try:
        while "Ctrl-C" not in banner:
            line = process.stdout.readline()
            assert line, f"tocsin demo ended early:\n{banner}"
            banner += line
        fields = dict(re.findall(r"^  (console|operator key|read-only key)\s+(\S+)$", banner, re.MULTILINE))
        data_dir = Path(re.search(r"Data in (\S+) ", banner).group(1))  # type: ignore[union-attr]
        url = fields["console"].removesuffix("/console/")
        yield Demo(url, fields["operator key"], fields["read-only key"], data_dir, started, process)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()


def test_the_demo_raises_the_crisis_within_a_minute(demo: Demo) -> None:
    wanted = {"mentions", "alarms", "satisfaction"}
    signals: set[str] = set()
    while time.monotonic() - demo.started < 60 and signals != wanted:
        try:
            signals = {a["signal"] for a in demo.get("/v1/alerts?entity=brand-x")["items"]}
        except httpx.TransportError:
            pass  # still starting
        time.sleep(0.5)
    assert signals == wanted, f"after 60 s only {signals}"
    crises = demo.get("/v1/crises?entity=brand-x")["items"]
    assert [(c["fused_signals"], c["severity"]) for c in crises] == [(3, "severe")]
    clock = demo.get("/v1/console/clock")
    assert clock["rate"] == 300.0  # the page counts down as fast as the demo's clock runs
    assert demo.get("/v1/me")["name"] == "demo operator"


def test_the_demo_shows_on_the_console(demo: Demo, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(f"{demo.url}/")
        page.fill("#key-input", demo.operator)
        page.click("#sign-in-form button[type=submit]")
        page.wait_for_selector("#now-table tr:has-text('crisis')")
        screenshot(page, "demo-now")
        page.click("#now-table tr:has-text('crisis') a")
        page.wait_for_selector("#crisis-alerts")
        # The charts come with their own requests: wait for them rather than a fixed time.
        page.wait_for_function("document.querySelectorAll('svg.chart').length >= 3")
        page.wait_for_timeout(300)  # none more on its way
        assert page.locator("svg.chart").count() == 3  # one chart per signal of the crisis
        screenshot(page, "crisis")
    finally:
        context.close()


def test_the_demo_removes_its_data_when_it_stops(demo: Demo) -> None:
    demo.process.send_signal(signal.SIGINT)
    assert demo.process.wait(timeout=20) == 0
    assert not demo.data_dir.exists()
