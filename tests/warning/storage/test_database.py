"""Database: one atomic, idempotent write per batch, and the alert queries, on SQLite and PostgreSQL."""
from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError

from detectors.base import Bucket, Severity
from warning.alerts import Alert, AlertChange, AlertStatus, ChangeReason
from warning.errors import StorageError
from warning.events import Rejected
from warning.pipeline import ClosedBucket
from warning.storage.database import AlertFilter, Database

UTC = dt.UTC
T0 = dt.datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
HOUR = 3600.0
TABLES = ("alerts", "alert_history", "dead_letters", "buckets", "seen_event_ids", "series_snapshots")


def ts(hours: float = 0.0) -> float:
    return T0.timestamp() + hours * HOUR


def make_alert(
    alert_id: str = "alr_a",
    *,
    version: int = 1,
    raised_hours: float = 0.0,
    kind: str = "threshold",
    signal: str = "alarms",
    entity: str = "policy-system",
    severity: Severity = Severity.minor,
    status: AlertStatus = AlertStatus.open,
    message: str = "value 12 above the limit 10 for 2 buckets",
) -> Alert:
    raised = ts(raised_hours)
    return Alert(
        id=alert_id, kind=kind, rule=f"{signal}.{kind}", signal=signal, entity=entity, severity=severity,
        status=status, raised_at=raised, last_seen_at=raised + (version - 1) * 300,
        response_due_at=raised + 6 * HOUR, message=message,
        evidence={"limit": 10, "observed": [12.0, 11.0 + version]}, strength=float(version), version=version,
    )


def change(alert: Alert, reason: ChangeReason = ChangeReason.raised) -> AlertChange:
    return AlertChange(alert, reason, alert.last_seen_at)


def closed(start_hours: float, value: float | None = 3.0, *, signal: str = "alarms",
           entity: str = "policy-system", width: float = 300.0) -> ClosedBucket:
    start = ts(start_hours)
    return ClosedBucket(signal, entity, Bucket(start, start + width, value, 1.0 if value is not None else 0.0))


def counts(database: Database) -> dict[str, int]:
    with database.engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


def full_batch(version: int = 1) -> dict[str, Any]:
    """A batch that writes to every table."""
    return {
        "changes": [change(make_alert(version=version),
                           ChangeReason.raised if version == 1 else ChangeReason.updated)],
        "rejected": [Rejected('{"ts": "nope"}', "ts is not an RFC 3339 timestamp: 'nope'", "http:1.2.3.4[0]")],
        "closed": [closed(version * 0.25), closed(version * 0.25 + 1 / 12)],
        "snapshots": {("alarms", "policy-system"): [1, ["state", version]]},
        "seen_ids": [f"evt-{version}-a", f"evt-{version}-b"],
    }


def set_status(database: Database, alert_id: str, status: str) -> None:
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE alerts SET status = :s WHERE id = :i"), {"s": status, "i": alert_id})


# -- record: atomic ------------------------------------------------------------------------


@pytest.fixture
def fail_on(database: Database) -> Iterator[Any]:
    """``fail_on(table)``: the database refuses the next INSERT into ``table``."""
    failing: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if failing and statement.lstrip().upper().startswith(f"INSERT INTO {failing[0].upper()} "):
            raise OperationalError(statement, params, Exception("simulated: disk I/O error"))

    event.listen(database.engine, "before_cursor_execute", before)
    yield failing.append
    event.remove(database.engine, "before_cursor_execute", before)


@pytest.mark.parametrize("table", [pytest.param(t, id=f"fails writing {t}") for t in TABLES])
def test_record_writes_nothing_when_the_batch_fails_midway(database: Database, fail_on: Any, table: str) -> None:
    database.record(**full_batch(1))
    before = counts(database)
    fail_on(table)

    with pytest.raises(StorageError, match="simulated: disk I/O error"):
        database.record(**full_batch(2))

    assert counts(database) == before
    alert = database.get_alert("alr_a")
    assert alert is not None and alert.version == 1
    assert database.load_snapshots() == {("alarms", "policy-system"): [1, ["state", 1]]}
    assert database.known_ids(["evt-1-a", "evt-2-a"]) == {"evt-1-a"}


def test_a_refused_batch_is_reported_without_its_statement_or_values(database: Database, fail_on: Any) -> None:
    """The message is answered over HTTP (503): the driver's reason, not megabytes of SQL and data."""
    fail_on("alerts")

    with pytest.raises(StorageError) as caught:
        database.record(**full_batch(1))

    assert str(caught.value) == "could not store the batch: OperationalError: simulated: disk I/O error"


def test_record_of_an_empty_batch_writes_nothing(database: Database) -> None:
    database.record()

    assert counts(database) == dict.fromkeys(TABLES, 0)


def test_record_stores_every_part_of_a_batch(database: Database) -> None:
    now = T0 + dt.timedelta(days=1)
    database.record(**full_batch(1), now=now)

    assert counts(database) == {"alerts": 1, "alert_history": 1, "dead_letters": 1, "buckets": 2,
                                "seen_event_ids": 2, "series_snapshots": 1}
    assert database.get_alert("alr_a") == make_alert()
    [letter] = database.dead_letters()
    assert {k: letter[k] for k in ("kind", "reason", "source", "raw", "received_at")} == {
        "kind": "invalid", "reason": "ts is not an RFC 3339 timestamp: 'nope'", "source": "http:1.2.3.4[0]",
        "raw": '{"ts": "nope"}', "received_at": now,
    }
    assert database.buckets("alarms", "policy-system") == [closed(0.25).bucket, closed(0.25 + 1 / 12).bucket]


def test_a_missing_mean_bucket_is_stored_as_missing(database: Database) -> None:
    database.record(closed=[closed(0, None, signal="satisfaction", width=86400.0)])

    assert database.buckets("satisfaction", "policy-system") == [Bucket(ts(0), ts(24), None, 0.0, None)]


def test_a_late_event_is_dead_lettered_as_late(database: Database) -> None:
    late = Rejected('{"ts": "2026-11-20T09:00:00Z"}', "late: its bucket closed", "file:events.jsonl:7", kind="late")
    database.record(rejected=[late])

    [letter] = database.dead_letters()
    assert (letter["kind"], letter["source"]) == ("late", "file:events.jsonl:7")


# -- record: idempotent --------------------------------------------------------------------


def test_recording_the_same_changes_twice_changes_nothing(database: Database) -> None:
    batch = full_batch(1)
    batch["changes"] += [change(make_alert(version=2), ChangeReason.updated),
                         change(make_alert("alr_b", entity="claims"))]
    del batch["rejected"]  # a dead letter records a reception, not a state
    database.record(**batch)
    first = (counts(database), database.all_alerts(), database.alert_history("alr_a"),
             database.buckets("alarms", "policy-system"), database.load_snapshots())

    database.record(**batch)

    assert (counts(database), database.all_alerts(), database.alert_history("alr_a"),
            database.buckets("alarms", "policy-system"), database.load_snapshots()) == first
    assert counts(database)["alert_history"] == 3


def test_a_rewritten_bucket_or_snapshot_takes_the_new_value(database: Database) -> None:
    database.record(closed=[closed(0, 3.0)], snapshots={("alarms", "policy-system"): [1, "old"]})

    database.record(closed=[closed(0, 5.0)], snapshots={("alarms", "policy-system"): [1, "new"]})

    assert database.buckets("alarms", "policy-system") == [closed(0, 5.0).bucket]
    assert database.load_snapshots() == {("alarms", "policy-system"): [1, "new"]}


def test_an_older_version_never_overwrites_a_newer_one(database: Database) -> None:
    newer = make_alert(version=3, severity=Severity.severe, message="v3")
    database.record(changes=[change(newer, ChangeReason.severity_raised)])

    database.record(changes=[change(make_alert(version=2, severity=Severity.moderate, message="v2"),
                                    ChangeReason.severity_raised)])

    assert database.get_alert("alr_a") == newer
    assert [h["version"] for h in database.alert_history("alr_a")] == [2, 3]


def test_the_same_version_is_not_rewritten(database: Database) -> None:
    database.record(changes=[change(make_alert(message="first"))])

    database.record(changes=[change(make_alert(message="second"))])

    stored = database.get_alert("alr_a")
    assert stored is not None and stored.message == "first"


def test_the_last_change_of_an_alert_in_a_batch_is_stored(database: Database) -> None:
    versions = [make_alert(version=v, severity=s) for v, s in
                [(1, Severity.minor), (2, Severity.moderate), (3, Severity.severe)]]

    database.record(changes=[change(a, ChangeReason.severity_raised) for a in versions])

    assert database.get_alert("alr_a") == versions[-1]


# -- record: operators' status --------------------------------------------------------------


@pytest.mark.parametrize("status", [
    pytest.param("acknowledged", id="acknowledged stays acknowledged"),
    pytest.param("responding", id="responding stays responding"),
    pytest.param("resolved", id="resolved by an operator stays resolved"),
    pytest.param("reviewed", id="reviewed stays reviewed"),
])
def test_detection_never_overwrites_an_operators_status(database: Database, status: str) -> None:
    database.record(changes=[change(make_alert())])
    set_status(database, "alr_a", status)

    update = make_alert(version=2, severity=Severity.severe, message="worse")
    database.record(changes=[change(update, ChangeReason.severity_raised)])

    stored = database.get_alert("alr_a")
    assert stored == dataclasses.replace(update, status=AlertStatus(status))


def test_detection_does_not_reopen_or_resolve_an_acknowledged_alert(database: Database) -> None:
    database.record(changes=[change(make_alert())])
    set_status(database, "alr_a", "acknowledged")

    database.record(changes=[change(make_alert(version=2, status=AlertStatus.resolved), ChangeReason.resolved)])

    stored = database.get_alert("alr_a")
    assert stored is not None and (stored.status, stored.version) == (AlertStatus.acknowledged, 2)


def test_detection_resolves_an_alert_nobody_touched(database: Database) -> None:
    database.record(changes=[change(make_alert())])

    database.record(changes=[change(make_alert(version=2, status=AlertStatus.resolved), ChangeReason.resolved)])

    stored = database.get_alert("alr_a")
    assert stored is not None and stored.status == AlertStatus.resolved


def test_alert_history_keeps_every_version_with_its_reason(database: Database) -> None:
    reasons = [ChangeReason.raised, ChangeReason.updated, ChangeReason.severity_raised, ChangeReason.cleared]
    for version, reason in enumerate(reasons, start=1):
        database.record(changes=[change(make_alert(version=version), reason)])

    history = database.alert_history("alr_a")

    assert [(h["version"], h["reason"]) for h in history] == [
        (1, "raised"), (2, "updated"), (3, "severity_raised"), (4, "cleared")]
    assert [h["at"] for h in history] == [T0 + dt.timedelta(seconds=300 * i) for i in range(4)]
    assert history[-1]["evidence"] == {"limit": 10, "observed": [12.0, 15.0]}


def test_a_batch_with_thousands_of_alert_changes_is_stored(database: Database) -> None:
    """A big HTTP batch over many entities; the row count must not hit a bound-parameter limit."""
    changes = [change(make_alert(f"alr_{i:05d}", entity=f"e{i}")) for i in range(4000)]

    database.record(changes=changes)

    assert counts(database)["alerts"] == 4000
    assert counts(database)["alert_history"] == 4000


# -- list_alerts -----------------------------------------------------------------------------


@pytest.fixture
def varied(database: Database) -> Database:
    """Five alerts that differ in one attribute each from the first."""
    alerts = [
        make_alert("alr_1", raised_hours=0),
        make_alert("alr_2", raised_hours=1, severity=Severity.severe),
        make_alert("alr_3", raised_hours=2, kind="rate_surge"),
        make_alert("alr_4", raised_hours=3, signal="mentions", kind="exponential_growth"),
        make_alert("alr_5", raised_hours=4, entity="claims"),
    ]
    database.record(changes=[change(a) for a in alerts])
    set_status(database, "alr_3", "acknowledged")
    return database


@pytest.mark.parametrize(("filters", "expected"), [
    pytest.param(AlertFilter(), ["alr_5", "alr_4", "alr_3", "alr_2", "alr_1"], id="no filter, newest first"),
    pytest.param(AlertFilter(status="acknowledged"), ["alr_3"], id="status"),
    pytest.param(AlertFilter(status="open"), ["alr_5", "alr_4", "alr_2", "alr_1"], id="status open"),
    pytest.param(AlertFilter(severity="severe"), ["alr_2"], id="severity"),
    pytest.param(AlertFilter(kind="rate_surge"), ["alr_3"], id="kind"),
    pytest.param(AlertFilter(signal="mentions"), ["alr_4"], id="signal"),
    pytest.param(AlertFilter(entity="claims"), ["alr_5"], id="entity"),
    pytest.param(AlertFilter(raised_since=T0 + dt.timedelta(hours=3)), ["alr_5", "alr_4"],
                 id="raised_since is inclusive"),
    pytest.param(AlertFilter(raised_until=T0 + dt.timedelta(hours=1)), ["alr_1"], id="raised_until is exclusive"),
    pytest.param(AlertFilter(raised_since=T0 + dt.timedelta(hours=1), raised_until=T0 + dt.timedelta(hours=3)),
                 ["alr_3", "alr_2"], id="a raised window"),
    pytest.param(AlertFilter(raised_since=T0.astimezone(dt.timezone(dt.timedelta(hours=2)))
                             + dt.timedelta(hours=3)),
                 ["alr_5", "alr_4"], id="raised_since with a non-UTC offset"),
    pytest.param(AlertFilter(raised_until=T0.astimezone(dt.timezone(dt.timedelta(hours=-5)))
                             + dt.timedelta(hours=1)),
                 ["alr_1"], id="raised_until with a negative offset"),
    pytest.param(AlertFilter(status="open", signal="alarms", entity="policy-system", severity="minor"),
                 ["alr_1"], id="filters combine"),
    pytest.param(AlertFilter(entity="nobody"), [], id="no match"),
])
def test_list_alerts_filters(varied: Database, filters: AlertFilter, expected: list[str]) -> None:
    alerts, cursor = varied.list_alerts(filters)

    assert [a.id for a in alerts] == expected
    assert cursor is None


def test_listed_alerts_carry_the_operators_status(varied: Database) -> None:
    alert = varied.get_alert("alr_3")

    assert alert is not None and alert.status == AlertStatus.acknowledged


def walk(database: Database, filters: AlertFilter, limit: int) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        alerts, cursor = database.list_alerts(filters, limit=limit, cursor=cursor)
        pages.append([a.id for a in alerts])
        if cursor is None:
            return pages


@pytest.fixture
def many(database: Database) -> Database:
    """25 alerts in groups of 3-4 that share a raised_at."""
    alerts = [make_alert(f"alr_{i:02d}", raised_hours=i // 4, entity=f"e{i % 2}") for i in range(25)]
    database.record(changes=[change(a) for a in alerts])
    return database


def test_cursor_pagination_walks_every_alert_once_in_order(many: Database) -> None:
    pages = walk(many, AlertFilter(), limit=7)

    assert [len(p) for p in pages] == [7, 7, 7, 4]
    listed = [i for page in pages for i in page]
    expected = [a.id for a in sorted(many.all_alerts(), key=lambda a: (a.raised_at, a.id), reverse=True)]
    assert listed == expected
    assert len(set(listed)) == 25


def test_cursor_pagination_respects_filters(many: Database) -> None:
    pages = walk(many, AlertFilter(entity="e1"), limit=5)

    listed = [i for page in pages for i in page]
    assert [len(p) for p in pages] == [5, 5, 2]
    assert listed == [f"alr_{i:02d}" for i in range(23, 0, -2)]


def test_a_page_that_ends_exactly_at_the_last_alert_has_no_cursor(many: Database) -> None:
    pages = walk(many, AlertFilter(), limit=25)

    assert [len(p) for p in pages] == [25]


def test_an_alert_raised_after_the_first_page_does_not_shift_later_pages(many: Database) -> None:
    first, cursor = many.list_alerts(AlertFilter(), limit=7)
    many.record(changes=[change(make_alert("alr_new", raised_hours=100))])

    rest = []
    while cursor is not None:
        page, cursor = many.list_alerts(AlertFilter(), limit=7, cursor=cursor)
        rest += [a.id for a in page]

    assert len({a.id for a in first} | set(rest)) == 25
    assert "alr_new" not in rest


@pytest.mark.parametrize("cursor", [
    pytest.param("not-a-cursor", id="garbage"),
    pytest.param("", id="empty"),
    pytest.param("WyJ4Il0", id="valid base64, wrong shape"),
])
def test_a_bad_cursor_is_a_value_error(database: Database, cursor: str) -> None:
    with pytest.raises(ValueError, match="invalid cursor"):
        database.list_alerts(AlertFilter(), cursor=cursor)


# -- prune, known ids, snapshots --------------------------------------------------------------


def test_prune_removes_buckets_and_ids_past_retention_only(database: Database, make_settings: Any) -> None:
    db = Database(make_settings(bucket_retention_days=1, seen_ids_retention_days=2), engine=database.engine)
    db.record(closed=[closed(-48), closed(-24 - 1 / 12), closed(-24), closed(0)])
    db.record(seen_ids=["old"], now=T0 - dt.timedelta(days=2, seconds=1))
    db.record(seen_ids=["edge"], now=T0 - dt.timedelta(days=2))
    db.record(seen_ids=["new"], now=T0)

    assert db.prune(now=T0) == (2, 1)

    assert [b.start for b in db.buckets("alarms", "policy-system")] == [ts(-24), ts(0)]
    assert db.known_ids(["old", "edge", "new"]) == {"edge", "new"}


def test_prune_keeps_the_buckets_of_a_replayed_past(database: Database) -> None:
    """Bucket retention counts back from the newest bucket, not from the wall clock."""
    database.record(closed=[closed(-24 * 30), closed(0)])

    pruned_buckets, _ = database.prune(now=T0 + dt.timedelta(days=365))

    assert pruned_buckets == 0
    assert len(database.buckets("alarms", "policy-system")) == 2


def test_prune_of_an_empty_database_removes_nothing(database: Database) -> None:
    assert database.prune() == (0, 0)


def test_known_ids_are_the_accepted_ones(database: Database) -> None:
    database.record(seen_ids=["a", "b"])

    assert database.known_ids(["a", "c", "b", "d"]) == {"a", "b"}
    assert database.known_ids([]) == set()


def test_known_ids_answers_for_more_ids_than_one_query_takes(database: Database) -> None:
    ids = [f"evt-{i}" for i in range(1300)]
    database.record(seen_ids=ids[::2])

    assert database.known_ids(ids) == set(ids[::2])


def test_recording_a_known_id_again_keeps_one(database: Database) -> None:
    database.record(seen_ids=["a"])
    database.record(seen_ids=["a", "b"])

    assert counts(database)["seen_event_ids"] == 2


@pytest.fixture
def snapshots(database: Database) -> Database:
    database.record(snapshots={
        ("alarms", "e1"): [1, "alarms e1"],
        ("mentions", "e1"): [1, {"nested": [1.5, None]}],
        ("alarms", "e2"): [1, "alarms e2"],
    })
    return database


@pytest.mark.parametrize(("keys", "expected"), [
    pytest.param(None, {("alarms", "e1"), ("mentions", "e1"), ("alarms", "e2")}, id="all"),
    pytest.param([("alarms", "e1")], {("alarms", "e1")}, id="one series, not its entity's other signals"),
    pytest.param([("mentions", "e1"), ("alarms", "e2")], {("mentions", "e1"), ("alarms", "e2")}, id="several"),
    pytest.param([("alarms", "e9")], set(), id="a series without a snapshot is absent"),
    pytest.param([], set(), id="no keys"),
])
def test_load_snapshots_of_given_series(snapshots: Database, keys: Any, expected: set[tuple[str, str]]) -> None:
    loaded = snapshots.load_snapshots(keys)

    assert set(loaded) == expected
    assert loaded.get(("mentions", "e1"), [1, {"nested": [1.5, None]}]) == [1, {"nested": [1.5, None]}]


@pytest.mark.parametrize("wanted", [
    pytest.param(400, id="a few hundred entities"),
    pytest.param(1100, id="over a thousand entities"),
])
def test_load_snapshots_of_many_series(database: Database, wanted: int) -> None:
    states = {(signal, f"e{i}"): [1, signal, i] for i in range(1200) for signal in ("alarms", "mentions")}
    database.record(snapshots=states)

    keys = [("alarms", f"e{i}") for i in range(wanted)] + [("satisfaction", "e0")]

    assert database.load_snapshots(keys) == {k: states[k] for k in keys[:-1]}
