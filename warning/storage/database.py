"""The database: one transaction per batch, idempotent writes, alert queries.

:meth:`Database.record` is the only writer of detection results. It stores a batch's
dead letters, alert versions, closed buckets and accepted events (the ingest journal),
or a checkpoint of series snapshots, in ONE transaction, so what is committed is always a
consistent state: an event answered as accepted is durable, and a restart resumes from
exactly that state (:mod:`ingest.live`).
Writes are upserts keyed by deterministic ids, so writing the same batch twice (a replay
after a crash) changes nothing.
"""
from __future__ import annotations

import base64
import datetime as dt
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

import orjson
from sqlalchemy import Engine, Select, Table, and_, create_engine, delete, event, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DataError, SQLAlchemyError

from detectors.base import Bucket, Severity
from warning.alerts import Alert, AlertChange, AlertStatus
from warning.errors import InvalidData, StorageError
from warning.events import Rejected
from warning.pipeline import ClosedBucket, SeriesKey
from warning.settings import Settings
from warning.storage.models import (
    AlertHistoryRow,
    AlertRow,
    Base,
    BucketRow,
    DeadLetterRow,
    IngestJournalRow,
    SeenEventIdRow,
    SeriesSnapshotRow,
)

UTC = dt.UTC


def _table(model: type[Base]) -> Table:
    """A model's table, typed as one (``__table__`` is declared as a plain FromClause)."""
    return cast(Table, model.__table__)


def utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, UTC)


@dataclass(slots=True, frozen=True)
class AlertFilter:
    status: str | None = None
    severity: str | None = None
    kind: str | None = None
    signal: str | None = None
    entity: str | None = None
    raised_since: dt.datetime | None = None
    raised_until: dt.datetime | None = None


def make_engine(url: str) -> Engine:
    """An engine with SQLite tuned for a single durable writer (WAL, crash-safe commits)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            # WAL with synchronous=NORMAL survives a killed process (not a power cut).
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            # Checkpoint (copy the WAL into the database file, with two fsyncs) every 64 MB of
            # WAL rather than every 4 MB: each batch rewrites its series' snapshot rows, so a
            # longer WAL folds many versions of a page into one write (~15 % of ingest time).
            # Durability is unchanged: a committed transaction is in the WAL either way.
            cursor.execute("PRAGMA wal_autocheckpoint=16384")
            # Every batch inserts into the seen-id and bucket indexes at random places: with
            # SQLite's default 2 MB page cache most of those pages are read again from the OS.
            cursor.execute("PRAGMA cache_size=-65536")  # KiB: 64 MB per connection
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


class BulkWrite:
    """An INSERT compiled once for the dialect and run by the driver's own ``executemany``.

    SQLAlchemy's executemany passes every value of every row through the column types'
    bind processors, generic Python at about 3 us a row: most of the storage time of a
    batch, whose rows (remembered ids, snapshots, closed buckets) run to one or two per
    event. Here rows come as tuples in ``columns`` order with their values already in the
    driver's form: a caller converts with :meth:`processor`, once per batch for a value all
    rows share (``now``). What is stored is the same as through SQLAlchemy.
    """

    def __init__(self, stmt: Any, columns: tuple[str, ...], dialect: Any) -> None:
        compiled = stmt.compile(dialect=dialect, column_keys=list(columns))
        if compiled.positiontup is not None and tuple(compiled.positiontup) != columns:
            raise ValueError(f"columns {columns} are not in the order the statement binds them")
        self.sql = str(compiled)
        self.columns = columns
        self.named = compiled.positiontup is None  # e.g. psycopg's %(name)s parameters
        self._processors = {c: stmt.table.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in columns}

    def processor(self, column: str) -> Callable[[Any], Any]:
        """What turns a Python value of ``column`` into the driver's value."""
        process = self._processors[column]
        return _identity if process is None else process

    def execute(self, conn: Connection, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return  # drivers refuse an executemany without parameters
        params: Sequence[Any] = [dict(zip(self.columns, row)) for row in rows] if self.named else rows
        conn.exec_driver_sql(self.sql, params)


def _identity(value: Any) -> Any:
    return value


class Database:
    def __init__(self, settings: Settings, *, engine: Engine | None = None) -> None:
        self.settings = settings
        self.engine = engine or make_engine(settings.sqlalchemy_url)
        self._insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        # The write statements are built once and executed with a list of rows (executemany).
        # Their compiled form is then cached; a multi-row VALUES statement was compiled anew for
        # every batch, at about 10 us per bound value: more than all the rest of a batch.
        self._alert_upsert = self._alert_statement()
        self._history_insert = self._insert(_table(AlertHistoryRow)).on_conflict_do_nothing()
        # The three tables written for (nearly) every event bypass even that: see BulkWrite.
        dialect = self.engine.dialect
        self._buckets = BulkWrite(self._upsert_statement(BucketRow, ("signal", "entity", "start")),
                                  ("signal", "entity", "start", "end", "value", "weight", "total"), dialect)
        self._seen = BulkWrite(self._insert(_table(SeenEventIdRow)).on_conflict_do_nothing(),
                               ("id", "seen_at"), dialect)
        self._staging = threading.Lock()
        self._staged_closed: dict[tuple[str, str, float], ClosedBucket] = {}  # in staging order
        self._staged_ids: dict[str, None] = {}
        self._journal = BulkWrite(self._insert(_table(IngestJournalRow)), ("seq", "events", "recorded_at"), dialect)
        self._snapshots = BulkWrite(self._upsert_statement(SeriesSnapshotRow, ("signal", "entity")),
                                    ("signal", "entity", "state", "updated_at"), dialect)

    # -- writes -------------------------------------------------------------------------

    def record(
        self,
        *,
        changes: Sequence[AlertChange] = (),
        rejected: Sequence[Rejected] = (),
        closed: Sequence[ClosedBucket] = (),
        snapshots: Mapping[SeriesKey, list[Any] | bytes] | None = None,
        seen_ids: Sequence[str] = (),
        journal: tuple[int, bytes] | None = None,
        empty_journal: bool = False,
        now: dt.datetime | None = None,
        extra: Callable[[Connection], None] | None = None,
    ) -> None:
        """Store one batch's results atomically.

        ``journal`` is a batch of accepted events to append to the ingest journal as
        ``(seq, blob)``; its ``closed`` buckets and ``seen_ids`` are then staged (see
        :meth:`stage`) rather than written. ``empty_journal`` deletes the journal, for a
        checkpoint whose ``snapshots`` cover every batch in it (:mod:`ingest.live`), and
        writes what was staged. ``extra`` writes what else belongs to the same transaction,
        after the alerts: the notices the batch's alert changes schedule, or an operator's
        move of an alert (:mod:`warning.response`).
        """
        now = now or dt.datetime.now(UTC)
        if journal is not None:
            staged_closed, staged_ids, closed, seen_ids = closed, seen_ids, (), ()
        elif empty_journal:
            with self._staging:
                closed, seen_ids = [*self._staged_closed.values(), *closed], [*self._staged_ids, *seen_ids]
        try:
            with self.engine.begin() as conn:
                if rejected:
                    conn.execute(_table(DeadLetterRow).insert(), [
                        {"kind": r.kind, "reason": r.reason, "source": r.source, "raw": r.raw, "received_at": now}
                        for r in rejected
                    ])
                if changes:
                    self._write_alerts(conn, changes, now)
                if closed:
                    self._write_closed(conn, closed)
                if seen_ids:
                    self._write_seen(conn, seen_ids, now)
                if snapshots:
                    state, updated_at = self._snapshots.processor("state"), self._snapshots.processor("updated_at")(now)
                    self._snapshots.execute(conn, [
                        (s, e, state(snapshot if type(snapshot) is bytes else orjson.dumps(snapshot)), updated_at)
                        for (s, e), snapshot in snapshots.items()
                    ])
                if journal is not None:
                    self._journal.execute(conn, [(journal[0], self._journal.processor("events")(journal[1]),
                                                  self._journal.processor("recorded_at")(now))])
                if empty_journal:
                    conn.execute(delete(IngestJournalRow))
                if extra is not None:
                    extra(conn)
        except SQLAlchemyError as exc:
            # The driver's message, not SQLAlchemy's: that one carries the whole statement and
            # every bound value (megabytes for a big batch), and it is answered over HTTP.
            raise storage_error("store the batch", exc) from exc
        if journal is not None:
            self.stage(staged_closed, staged_ids)
        elif empty_journal:
            self._unstage(closed, seen_ids)

    # -- staged rows ----------------------------------------------------------------------
    # A journaled batch's closed buckets and accepted ids can be derived again from the
    # journal, so they wait in memory and are written together at the next checkpoint:
    # written per batch, their scattered index entries were most of a batch's page writes.
    # Readers see them all the same: :meth:`known_ids` looks in memory too, and a read of
    # buckets writes what is staged first (:meth:`write_staged`). Both writes are
    # idempotent, so staging again what a restart replays from the journal is harmless.

    def stage(self, closed: Iterable[ClosedBucket], seen_ids: Iterable[str]) -> None:
        with self._staging:
            self._staged_closed.update(((c.signal, c.entity, c.bucket.start), c) for c in closed)
            self._staged_ids.update(dict.fromkeys(seen_ids))

    def write_staged(self) -> None:
        """Write the staged buckets and ids now (before a read of buckets)."""
        with self._staging:
            if not self._staged_closed and not self._staged_ids:
                return
            closed, ids = list(self._staged_closed.values()), list(self._staged_ids)
        now = dt.datetime.now(UTC)
        with translated("store the staged buckets"), self.engine.begin() as conn:
            self._write_closed(conn, closed)
            self._write_seen(conn, ids, now)
        self._unstage(closed, ids)

    def _unstage(self, closed: Iterable[ClosedBucket], ids: Iterable[str]) -> None:
        """Forget staged rows that are written (a reader's write and a checkpoint may overlap)."""
        with self._staging:
            for c in closed:
                self._staged_closed.pop((c.signal, c.entity, c.bucket.start), None)
            for i in ids:
                self._staged_ids.pop(i, None)

    def _write_closed(self, conn: Connection, closed: Sequence[ClosedBucket]) -> None:
        # Buckets are aligned to the epoch, so a batch's buckets share a few start and end
        # times: each is converted (a datetime, then the driver's form) once.
        times: dict[float, Any] = {}
        to_db = self._buckets.processor("start")

        def at(ts: float) -> Any:
            value = times.get(ts)
            if value is None:
                value = times[ts] = to_db(utc(ts))
            return value

        self._buckets.execute(conn, [
            (c.signal, c.entity, at(c.bucket.start), at(c.bucket.end), c.bucket.value, c.bucket.weight, c.bucket.total)
            for c in closed
        ])

    def _write_seen(self, conn: Connection, seen_ids: Sequence[str], now: dt.datetime) -> None:
        seen_at = self._seen.processor("seen_at")(now)
        self._seen.execute(conn, [(i, seen_at) for i in seen_ids])

    def _write_alerts(self, conn: Connection, changes: Sequence[AlertChange], now: dt.datetime) -> None:
        latest: dict[str, Alert] = {}
        for change in changes:
            latest[change.alert.id] = change.alert
        conn.execute(self._alert_upsert, [_alert_row(a, now) for a in latest.values()])
        conn.execute(self._history_insert, [{
            "alert_id": c.alert.id, "version": c.alert.version, "reason": c.reason.value, "at": utc(c.at),
            "severity": c.alert.severity.name, "status": c.alert.status.value, "evidence": c.alert.evidence,
            "recorded_at": now,
        } for c in changes])

    def _alert_statement(self) -> Any:
        table = _table(AlertRow)
        stmt = self._insert(table)
        updated: dict[str, Any] = {c.name: stmt.excluded[c.name] for c in table.columns if c.name != "id"}
        # An operator's move (acknowledged, responding, ...) is never undone by detection;
        # detection may only resolve an alert nobody has touched.
        updated["status"] = func.coalesce(func.nullif(table.c.status, "open"), stmt.excluded.status)
        # Stale versions (a replay after a crash) must not overwrite newer ones.
        return stmt.on_conflict_do_update(
            index_elements=["id"], set_=updated, where=table.c.version < stmt.excluded.version,
        )

    def _upsert_statement(self, model: Any, keys: tuple[str, ...]) -> Any:
        table = model.__table__
        stmt = self._insert(table)
        return stmt.on_conflict_do_update(
            index_elements=list(keys), set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys},
        )

    def prune(self, now: dt.datetime | None = None) -> tuple[int, int]:
        """Apply the retentions; returns how many buckets and remembered ids went.

        Bucket retention counts back from the newest stored bucket (event time), not from
        the wall clock, so a replay of last year's history keeps its charts.
        """
        now = now or dt.datetime.now(UTC)
        id_cutoff = now - dt.timedelta(days=self.settings.seen_ids_retention_days)
        with translated("apply the retention"), self.engine.begin() as conn:
            newest = conn.execute(select(func.max(BucketRow.start))).scalar()
            buckets = 0
            if newest is not None:
                if newest.tzinfo is None:
                    newest = newest.replace(tzinfo=UTC)
                bucket_cutoff = newest - dt.timedelta(days=self.settings.bucket_retention_days)
                buckets = conn.execute(delete(BucketRow).where(BucketRow.start < bucket_cutoff)).rowcount or 0
            ids = conn.execute(delete(SeenEventIdRow).where(SeenEventIdRow.seen_at < id_cutoff)).rowcount
        return buckets, ids or 0

    def known_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` were already accepted."""
        with self._staging:
            known = {i for i in ids if i in self._staged_ids}
        # One parameter holding every id (a JSON array on SQLite, an array on PostgreSQL):
        # SQLAlchemy's IN (...) binds and processes each id in Python, 4x the cost here.
        query = "SELECT seen_event_ids.id FROM seen_event_ids WHERE seen_event_ids.id"
        with translated("look up event ids"), self.engine.connect() as conn:
            for i in range(0, len(ids), 5000):
                chunk = list(ids[i:i + 5000])
                if self.engine.dialect.name == "postgresql":
                    rows = conn.exec_driver_sql(f"{query} = ANY(%(ids)s)", {"ids": chunk})
                else:
                    rows = conn.exec_driver_sql(f"{query} IN (SELECT value FROM json_each(?))",
                                                (orjson.dumps(chunk).decode(),))
                known.update(r[0] for r in rows)
        return known

    # -- reads --------------------------------------------------------------------------

    def load_snapshots(self, keys: Iterable[SeriesKey] | None = None) -> dict[SeriesKey, list[Any]]:
        """Committed series state: all of it, or the given series (those that have any)."""
        query = select(SeriesSnapshotRow.signal, SeriesSnapshotRow.entity, SeriesSnapshotRow.state)
        wanted = None if keys is None else set(keys)
        with translated("load series snapshots"), self.engine.connect() as conn:
            if wanted is not None:
                entities = {e for _, e in wanted}
                query = query.where(SeriesSnapshotRow.entity.in_(entities)) if len(entities) < 1000 else query
            rows = conn.execute(query)
            snapshots = {(r.signal, r.entity): orjson.loads(r.state) for r in rows}
        return snapshots if wanted is None else {k: v for k, v in snapshots.items() if k in wanted}

    def load_journal(self) -> list[tuple[int, bytes]]:
        """The ingest journal's batches, ``(seq, blob)`` in order."""
        query = select(IngestJournalRow.seq, IngestJournalRow.events).order_by(IngestJournalRow.seq)
        with translated("load the ingest journal"), self.engine.connect() as conn:
            return [(seq, bytes(blob)) for seq, blob in conn.execute(query)]

    def get_alert(self, alert_id: str) -> Alert | None:
        with translated("read the alert"), self.engine.connect() as conn:
            row = conn.execute(select(AlertRow).where(AlertRow.id == alert_id)).mappings().first()
            return None if row is None else _alert(row)

    def list_alerts(self, filters: AlertFilter, *, limit: int = 100, cursor: str | None = None) -> tuple[list[Alert], str | None]:
        """Alerts newest first, ``limit`` at a time; pass the returned cursor for the next page."""
        query: Select[Any] = select(AlertRow)
        for column in ("status", "severity", "kind", "signal", "entity"):
            value = getattr(filters, column)
            if value is not None:
                query = query.where(getattr(AlertRow, column) == value)
        if filters.raised_since is not None:
            query = query.where(AlertRow.raised_at >= filters.raised_since)
        if filters.raised_until is not None:
            query = query.where(AlertRow.raised_at < filters.raised_until)
        if cursor is not None:
            raised_at, alert_id = decode_cursor(cursor)
            query = query.where(or_(AlertRow.raised_at < raised_at,
                                    and_(AlertRow.raised_at == raised_at, AlertRow.id < alert_id)))
        query = query.order_by(AlertRow.raised_at.desc(), AlertRow.id.desc()).limit(limit + 1)
        with translated("list alerts"), self.engine.connect() as conn:
            alerts = [_alert(r) for r in conn.execute(query).mappings()]
        if len(alerts) <= limit:
            return alerts, None
        last = alerts[limit - 1]
        return alerts[:limit], encode_cursor(utc(last.raised_at), last.id)

    def all_alerts(self) -> list[Alert]:
        with translated("read the alerts"), self.engine.connect() as conn:
            rows = conn.execute(select(AlertRow).order_by(AlertRow.raised_at, AlertRow.id)).mappings()
            return [_alert(r) for r in rows]

    def alert_history(self, alert_id: str) -> list[dict[str, Any]]:
        query = select(AlertHistoryRow).where(AlertHistoryRow.alert_id == alert_id).order_by(AlertHistoryRow.version)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def dead_letters(self, *, limit: int = 100) -> list[dict[str, Any]]:
        query = select(DeadLetterRow).order_by(DeadLetterRow.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def buckets(self, signal: str, entity: str, since: dt.datetime | None = None) -> list[Bucket]:
        self.write_staged()
        query = select(BucketRow).where(BucketRow.signal == signal, BucketRow.entity == entity)
        if since is not None:
            query = query.where(BucketRow.start >= since)
        with self.engine.connect() as conn:
            return [Bucket(r.start.timestamp(), r.end.timestamp(), r.value, r.weight, r.total)
                    for r in conn.execute(query.order_by(BucketRow.start))]

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(select(1))


@contextmanager
def translated(what: str) -> Iterator[None]:
    """SQLAlchemy's errors as :class:`StorageError` (503 over HTTP), with the driver's message only."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise storage_error(what, exc) from exc


def storage_error(what: str, exc: SQLAlchemyError) -> StorageError:
    """``exc`` with the driver's message only; :class:`InvalidData` when the database refused
    a value (a ``DataError``: the request's fault, 422 over HTTP), else a :class:`StorageError`."""
    reason = getattr(exc, "orig", None) or exc
    refused = InvalidData if isinstance(exc, DataError) else StorageError
    return refused(f"could not {what}: {exc.__class__.__name__}: {reason}")


def encode_cursor(raised_at: dt.datetime, alert_id: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([raised_at.isoformat(), alert_id])).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, str]:
    try:
        raised_at, alert_id = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return dt.datetime.fromisoformat(raised_at), str(alert_id)
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise ValueError(f"invalid cursor {cursor!r}; pass back the next_cursor of the previous page") from None


def _alert_row(a: Alert, now: dt.datetime) -> dict[str, Any]:
    return {
        "id": a.id, "kind": a.kind, "rule": a.rule, "signal": a.signal, "entity": a.entity,
        "severity": a.severity.name, "status": a.status.value, "raised_at": utc(a.raised_at),
        "last_seen_at": utc(a.last_seen_at), "response_due_at": utc(a.response_due_at),
        "cleared_at": None if a.cleared_at is None else utc(a.cleared_at),
        "resolved_at": None if a.resolved_at is None else utc(a.resolved_at),
        "crisis_type": a.crisis_type, "message": a.message, "evidence": a.evidence,
        "strength": a.strength, "version": a.version, "updated_at": now,
    }


def _alert(row: Any) -> Alert:
    def ts(value: dt.datetime | None) -> float | None:
        return None if value is None else value.timestamp()

    return Alert(
        id=row["id"], kind=row["kind"], rule=row["rule"], signal=row["signal"], entity=row["entity"],
        severity=Severity[row["severity"]], status=AlertStatus(row["status"]),
        raised_at=row["raised_at"].timestamp(), last_seen_at=row["last_seen_at"].timestamp(),
        response_due_at=row["response_due_at"].timestamp(), message=row["message"],
        evidence=row["evidence"], strength=row["strength"], crisis_type=row["crisis_type"],
        cleared_at=ts(row["cleared_at"]), resolved_at=ts(row["resolved_at"]), version=row["version"],
    )
