"""The console in a real browser: Debian's Chromium driven by Playwright against a running
``tocsin serve`` (a subprocess on a free port, with its own data directory).

Without ``/usr/bin/chromium`` or the ``playwright`` package the browser tests skip with the
reason, except under ``CI=true``, where that is a failure. Playwright's own browser
download is never used (it cannot reach its servers here).
"""
from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import IN_CI

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
TOCSIN = Path(sys.executable).with_name("tocsin")
# Alarms watched by the real rate_surge rule, warmed up in 2 hours so a test's history is short.
CONFIG = """
clock_tick_seconds = 1

[signals.alarms]
detectors = [{kind = "rate_surge", warmup_hours = 2}]

[signals.mentions]
lateness = "5m"
detectors = [{kind = "threshold", limit = 100}]
"""

MINUTE, HOUR = 60.0, 3600.0


def unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Service:
    """A ``tocsin serve`` process and the keys to talk to it."""

    url: str
    data_dir: Path
    config: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    admin: str = ""
    operator: str = ""
    viewer: str = ""

    def start(self) -> None:
        env = {**os.environ, "TOCSIN_CONFIG": str(self.config), "TOCSIN_DATA_DIR": str(self.data_dir)}
        self.process = subprocess.Popen([str(TOCSIN), "serve", "--port", str(self.port)], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"tocsin serve exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError("tocsin serve did not answer /healthz within 60 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def call(self, method: str, path: str, *, key: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key or self.admin}"}
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kwargs)

    def post_events(self, events: list[dict[str, Any]]) -> None:
        answer = self.call("POST", "/v1/events", json=events)
        assert answer.status_code == 202 and answer.json()["accepted"] == len(events), answer.text


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    root = tmp_path_factory.mktemp("console")
    config = root / "tocsin.toml"
    config.write_text(CONFIG)
    port = free_port()
    svc = Service(f"http://127.0.0.1:{port}", root / "data", config, port)
    svc.start()
    try:
        svc.admin = (svc.data_dir / "admin.key").read_text().strip()
        for attr, name, scope in (("operator", "Ana Ruiz", "operate"), ("viewer", "Wall screen", "read")):
            answer = svc.call("POST", "/v1/keys", json={"name": name, "scopes": [scope]})
            assert answer.status_code == 201, answer.text
            setattr(svc, attr, answer.json()["key"])
        yield svc
    finally:
        svc.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is missing: install Debian's chromium to run the console's browser tests")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed: pip install -e '.[test]'")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_console(browser: Any, service: Service) -> Iterator[Any]:
    """``open_console(key, width=1366, height=768)``: a fresh tab signed in with ``key``."""
    contexts = []

    def open_(key: str, width: int = 1366, height: int = 768) -> Any:
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{service.url}/")
        page.fill("#key-input", key)
        page.click("#sign-in-form button[type=submit]")
        page.wait_for_selector("#view[data-loaded]")
        return page

    yield open_
    for context in contexts:
        context.close()


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def rfc3339(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def alarm_storm(entity: str) -> tuple[list[dict[str, Any]], float]:
    """Calm alarms for 3 h, two 5-minute buckets of a storm, calm again: the rate_surge rule
    fires when the second storm bucket closes. Returns the events and the alert's raised_at,
    3 h 45 min before the current 5-minute bucket (past the first escalation point: amber)."""
    base = math.floor(time.time() / 300) * 300
    raised_at = base - 3 * HOUR - 45 * MINUTE
    events = []
    for i in range(-36, 4):  # buckets from raised_at - 3 h 10 min to raised_at + 15 min
        start = raised_at - 10 * MINUTE + i * 300 + 300
        value = 40 if start in (raised_at - 10 * MINUTE, raised_at - 5 * MINUTE) else 2 + (i % 3)
        events.append({"id": f"{entity}-{int(start)}", "ts": rfc3339(start + 60), "signal": "alarms",
                       "entity": entity, "value": value})
    return events, raised_at
