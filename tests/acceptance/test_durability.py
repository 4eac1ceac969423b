"""An event answered as accepted survives a ``kill -9`` of the service right after the answer.

The real service runs as a subprocess (``tocsin serve`` on the embedded SQLite default) on a
timeline of alarm counts, two events per 5-minute bucket. The first three batches raise an
alert and leave a bucket half filled; the process is killed with SIGKILL as soon as the
last 202 arrives and restarted on the same data directory. A second service in a fresh data
directory takes the same stream without interruption, and both must end with the same
alerts.
"""
from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

TOCSIN = Path(sys.executable).parent / "tocsin"
T0 = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
# Series state is checkpointed hourly, so at the kill the journal holds the batches after
# the first (which created the series, and so was a checkpoint): the restart must replay it.
CONFIG = """
ingest_checkpoint_seconds = 3600
[signals.satisfaction]
detectors = [{kind = "threshold", limit = 50, direction = "below"}]
[signals.mentions]
detectors = [{kind = "threshold", limit = 100}]
[signals.alarms]
detectors = [{kind = "threshold", limit = 10, for_buckets = 2}]
"""
START_TIMEOUT = 30.0
REQUEST_TIMEOUT = 15.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Service:
    """``tocsin serve`` in a subprocess, on a data directory of its own."""

    def __init__(self, data_dir: Path, config: Path, log: Path) -> None:
        self.data_dir, self.config, self.log = data_dir, config, log
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> Service:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TOCSIN_")}
        env.update(TOCSIN_DATA_DIR=str(self.data_dir), TOCSIN_CONFIG=str(self.config))
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [str(TOCSIN), "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        return self

    def wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"tocsin serve exited with {self.process.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        pytest.fail(f"tocsin serve was not ready within {START_TIMEOUT} s:\n{self.log.read_text()}")

    @property
    def headers(self) -> dict[str, str]:
        """The first admin key, which ``tocsin serve`` writes to its data directory at first start."""
        return {"Authorization": f"Bearer {(self.data_dir / 'admin.key').read_text().strip()}"}

    def post(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        response = httpx.post(f"{self.url}/v1/events", json=events, headers=self.headers, timeout=REQUEST_TIMEOUT)
        assert response.status_code == 202, response.text
        return response.json()  # type: ignore[no-any-return]

    def alerts(self) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/v1/alerts", params={"limit": 500}, headers=self.headers,
                             timeout=REQUEST_TIMEOUT)
        assert response.status_code == 200, response.text
        assert response.json()["next_cursor"] is None
        return response.json()["items"]  # type: ignore[no-any-return]

    def kill_9(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """Always called: terminate, then kill if it does not go."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Any]:
    config = tmp_path / "tocsin.toml"
    config.write_text(CONFIG, encoding="utf-8")
    started: list[Service] = []

    def make(name: str) -> Service:
        service = Service(tmp_path / name, config, tmp_path / f"{name}.log")
        started.append(service)
        return service

    try:
        yield make
    finally:
        for service in started:
            service.stop()


def stream() -> list[dict[str, Any]]:
    """Three hours of alarm counts, two events per 5-minute bucket (at +0 and +2 min).

    ``policy-system`` is over the limit from 10:50 to 11:15 and from 12:00 to 12:15;
    ``claims`` from 11:40 to 11:55.
    """
    events = []
    for i in range(36):
        for entity, over in (("policy-system", 10 <= i <= 15 or 24 <= i <= 27), ("claims", 20 <= i <= 23)):
            for offset in (0, 2):
                minute = 5 * i + offset
                events.append({
                    "id": f"{entity}-{minute}", "signal": "alarms", "entity": entity, "value": 8 if over else 1,
                    "ts": (T0 + dt.timedelta(minutes=minute)).isoformat().replace("+00:00", "Z"),
                })
    return events


def test_accepted_events_survive_a_kill_9_right_after_the_answer(services: Any) -> None:
    assert TOCSIN.exists(), f"the tocsin command is not installed next to {sys.executable}"
    events = stream()
    # Up to 11:05 inclusive: the 10:55 bucket, the second over the limit, has closed (alert
    # raised at 11:00) and the 11:05 bucket holds one of its two events.
    cut = next(i for i, e in enumerate(events) if e["ts"] > "2026-11-20T11:05:00Z")
    first, rest = events[:cut], events[cut:]
    killed, reference = services("killed").start(), services("reference").start()
    killed.wait_ready()
    reference.wait_ready()

    receipts = [killed.post(first[:4]), killed.post(first[4:10]), killed.post(first[10:])]
    killed.kill_9()

    receipt = {"accepted": sum(r["accepted"] for r in receipts), "duplicates": [], "rejected": []}
    assert [r["accepted"] for r in receipts] == [4, 6, len(first) - 10]
    restarted = services("killed").start()
    restarted.wait_ready()
    retry = restarted.post(first)
    assert retry == {"accepted": 0, "duplicates": list(range(len(first))), "rejected": []}
    [raised] = restarted.alerts()
    assert (raised["entity"], raised["raised_at"], raised["status"]) == (
        "policy-system", "2026-11-20T11:00:00Z", "open")

    after_restart = restarted.post(rest)

    assert reference.post(first) == receipt
    assert reference.post(rest) == after_restart
    assert after_restart == {"accepted": len(rest), "duplicates": [], "rejected": []}
    alerts = restarted.alerts()
    assert alerts == reference.alerts()
    assert [(a["entity"], a["raised_at"]) for a in alerts] == [
        ("claims", "2026-11-20T11:50:00Z"), ("policy-system", "2026-11-20T11:00:00Z")]
    assert alerts[1]["version"] > raised["version"]
