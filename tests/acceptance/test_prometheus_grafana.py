"""A real Prometheus scrapes a running Tocsin fed with scenario data, and every panel of the
Grafana dashboards (deploy/grafana/dashboards/*.json) returns data through its HTTP API.

The scenario slice: one brand's mentions up to its exponential surge, one service's alarms
up to its surge and one satisfaction series up to its step drop (shared/scenarios), cut at
the end of each detection window so the alerts are still open. Skips without Debian's
``prometheus`` except under ``CI=true``.
"""
from __future__ import annotations

import gzip
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from api.app import create_app
from tests.api.support import bearer
from tests.conftest import IN_CI, SHARED
from warning.access import Scope
from warning.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))
SCENARIO = SHARED / "scenarios" / "events.jsonl.gz"
# Each entity up to the end of its detection window (shared/scenarios/truth.json).
SLICE = {"brand-05": "2025-02-07T19:00:00Z", "svc-09": "2025-01-11T02:40:00Z", "sat-17": "2025-06-12T00:00:00Z"}
PROMETHEUS = shutil.which("prometheus")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scenario_slice() -> list[dict[str, Any]]:
    with gzip.open(SCENARIO, "rt") as lines:
        events = [json.loads(line) for line in lines]
    return [e for e in events if e["entity"] in SLICE and e["ts"] <= SLICE[e["entity"]]]


@pytest.fixture
def tocsin(make_settings: Any) -> Iterator[tuple[str, Any]]:
    """Tocsin on a loopback port (uvicorn in a thread: a real HTTP server), and its app."""
    settings: Settings = make_settings(metrics_refresh_seconds=0)  # every bucket explained: the gauges are exact
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "tocsin did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{server.config.port}", app
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def prometheus(tmp_path: Path, tocsin: tuple[str, Any]) -> Iterator[str]:
    if not PROMETHEUS:
        if IN_CI:
            pytest.fail("CI=true but prometheus is not installed (.ci/run installs Debian's prometheus)")
        pytest.skip("prometheus not installed (Debian package prometheus)")
    url, app = tocsin
    key = bearer(app, "prometheus", Scope.read)["Authorization"].removeprefix("Bearer ")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: tocsin\n"
        f"    authorization: {{credentials: {key}}}\n"
        f"    static_configs: [{{targets: ['{url.removeprefix('http://')}']}}]\n")
    port = free_port()
    process = subprocess.Popen(
        [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: httpx.get(f"{base}/-/ready", timeout=1).status_code == 200, "prometheus ready")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def wait_for(condition: Any, what: str, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if condition():
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def query(prometheus: str, expr: str) -> list[Any]:
    body = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=5).json()
    assert body["status"] == "success", (expr, body)
    return body["data"]["result"]  # type: ignore[no-any-return]


def panel_queries() -> list[tuple[str, str]]:
    found = []
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel["targets"]:
                found.append((f"{path.name}: {panel['title']}", target["expr"]))
    return found


def test_every_dashboard_panel_returns_data(tocsin: tuple[str, Any], prometheus: str) -> None:
    url, app = tocsin
    events = scenario_slice()
    with httpx.Client(base_url=url, headers=bearer(app), timeout=30) as c:
        for i in range(0, len(events), 1000):
            assert c.post("/v1/events", json=events[i:i + 1000]).status_code == 202
        c.post("/v1/events", json=[{"ts": "2025-01-01T00:00:00Z", "signal": "alarms", "entity": "x", "value": -1}])
        open_alerts = c.get("/v1/alerts", params={"status": "open"}).json()["items"]
    fed = time.time()
    # Two scrapes after the last event, so rates over a window have their two samples.
    wait_for(lambda: len(query(prometheus, "tocsin_ingest_lag_seconds")) == 3
             and float(query(prometheus, 'count_over_time(up{job="tocsin"}[1m])')[0]["value"][1]) >= 3
             and time.time() - fed > 2.5, "scrapes after the events")
    entities = "|".join(SLICE)

    empty = [(title, expr) for title, expr in panel_queries()
             if not query(prometheus, expr.replace("$entity", entities))]

    assert {a["entity"] for a in open_alerts} == set(SLICE)  # what the panels show is a real crisis
    assert len(panel_queries()) >= 12
    assert empty == []
