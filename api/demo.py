"""``tocsin demo``: the service on a temporary data directory with a simulated feed on an
accelerated clock, so a newcomer watches a crisis unfold on the console within a minute.

Event time and the service's clock run together: the feed stamps its events with the
accelerated clock's time and the service counts its 6-hour deadlines on that same clock,
so at the default ``--rate 60`` (one wall second is one minute) an alert's countdown
loses a minute every second, turns amber after 3 wall minutes and is overdue after 6,
and the console shows it that way (``GET /v1/console/clock`` tells it the rate).

The feed goes through the service's own front door: it posts to ``POST /v1/events``
with an ingest key, first the weeks of history the detectors learn from (a few
thousand events), then each minute of event time as it passes.
"""
from __future__ import annotations

import datetime as dt
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from api.app import SHUTDOWN_GRACE_SECONDS, create_app
from api.demo_feed import CONFIG, Scenario, history, live, start_time
from warning.access import Scope
from warning.settings import Settings, load_settings
from warning.storage.database import make_engine
from warning.storage.keys import KeyStore
from warning.storage.migrations import upgrade

BATCH = 500


class AcceleratedClock:
    """A clock that starts at ``start`` and runs ``rate`` times as fast as the wall clock."""

    def __init__(self, start: float, rate: float) -> None:
        self.start = start
        self.rate = rate
        self._wall0 = time.monotonic()

    def now(self) -> float:
        return self.start + (time.monotonic() - self._wall0) * self.rate


@dataclass(slots=True, frozen=True)
class DemoKeys:
    operator: str
    viewer: str
    feed: str


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def prepare(settings: Settings, clock: AcceleratedClock) -> DemoKeys:
    """Migrate the fresh database and create the demo's keys (one per use)."""
    upgrade(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url)
    try:
        store, now = KeyStore(engine), dt.datetime.fromtimestamp(clock.now(), dt.UTC)

        def key(name: str, scope: Scope) -> str:
            return store.create(name=name, scopes=[scope], created_by="tocsin demo", now=now).secret

        return DemoKeys(key("demo operator", Scope.operate), key("demo viewer", Scope.read),
                        key("demo feed", Scope.ingest))
    finally:
        engine.dispose()


def feed(base_url: str, key: str, scenario: Scenario, clock: AcceleratedClock, stop: threading.Event) -> None:
    """Post the history, then each minute of event time as the clock passes it."""
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        while not stop.is_set():
            try:
                if client.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            stop.wait(0.2)
        events = list(history(scenario))
        for i in range(0, len(events), BATCH):
            _post(client, events[i:i + BATCH])
        sent_until = scenario.t0
        while not stop.wait(0.5):
            now = clock.now()
            if now - sent_until >= 60:
                _post(client, live(scenario, sent_until, now))
                sent_until = now


def _post(client: httpx.Client, events: list[dict[str, Any]]) -> None:
    if not events:
        return
    try:
        client.post("/v1/events", json=events).raise_for_status()
    except httpx.HTTPError as exc:  # the service is stopping: the demo ends with it
        print(f"tocsin demo: the feed could not post: {exc}", flush=True)


def run(config: str | None, *, host: str, port: int, rate: float, keep: bool) -> int:
    data_dir = Path(tempfile.mkdtemp(prefix="tocsin-demo-"))
    port = port or free_port(host)
    settings = load_settings(config, data_dir=data_dir, host=host, port=port, auth="keys", **CONFIG)
    scenario = Scenario(start_time(time.time()))
    clock = AcceleratedClock(scenario.t0, rate)
    keys = prepare(settings, clock)
    url = f"http://{host}:{port}"
    print(f"""Tocsin demo: a simulated feed on a clock running {rate:g}x (one wall second is {rate:g} s of event time).

  console        {url}/console/
  operator key   {keys.operator}
  read-only key  {keys.viewer}

Sign in with the operator key. brand-x heads into a crisis: a complaint surge, an alarm storm and a
satisfaction slide raise alerts within a minute; the 6-hour clocks run {rate:g}x too.
Data in {data_dir} ({'kept' if keep else 'removed'} on exit). Ctrl-C stops.""", flush=True)
    stop = threading.Event()
    feeder = threading.Thread(target=feed, args=(url, keys.feed, scenario, clock, stop), daemon=True)
    feeder.start()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, clock=clock), host=host, port=port,
                                           log_level="warning", timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS))
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled: the demo has stopped cleanly
        pass
    finally:
        stop.set()
        feeder.join(timeout=5)
        if not keep:
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0
