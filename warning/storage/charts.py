"""Reads for people looking at series: recent buckets, the monitored entities and their
unfinished alerts (the console's charts and entity list).

Plain SQLAlchemy Core over the ``buckets``, ``series_snapshots`` and ``alerts`` tables;
nothing dialect-specific, so SQLite and PostgreSQL answer alike.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Engine, func, select

from detectors.base import Bucket
from warning.alerts import Alert
from warning.storage.database import _alert, translated
from warning.storage.models import AlertRow, BucketRow, SeriesSnapshotRow

UNFINISHED = ("open", "acknowledged", "responding")


def buckets_between(engine: Engine, signal: str, entity: str, since: dt.datetime, until: dt.datetime,
                    *, limit: int = 2000) -> list[Bucket]:
    """Closed buckets starting in ``[since, until)``, oldest first, at most the newest ``limit``."""
    query = (select(BucketRow.start, BucketRow.end, BucketRow.value, BucketRow.weight, BucketRow.total)
             .where(BucketRow.signal == signal, BucketRow.entity == entity,
                    BucketRow.start >= since, BucketRow.start < until)
             .order_by(BucketRow.start.desc()).limit(limit))
    with translated("read the buckets"), engine.connect() as conn:
        rows = conn.execute(query).all()
    return [Bucket(r.start.timestamp(), r.end.timestamp(), r.value, r.weight, r.total) for r in reversed(rows)]


def last_buckets(engine: Engine, keys: Sequence[tuple[str, str]], count: int) -> dict[tuple[str, str], list[Bucket]]:
    """The newest ``count`` closed buckets of each (signal, entity), oldest first."""
    out: dict[tuple[str, str], list[Bucket]] = {}
    with translated("read the buckets"), engine.connect() as conn:
        for signal, entity in keys:  # one indexed range scan per series: a page holds a few hundred at most
            query = (select(BucketRow.start, BucketRow.end, BucketRow.value, BucketRow.weight, BucketRow.total)
                     .where(BucketRow.signal == signal, BucketRow.entity == entity)
                     .order_by(BucketRow.start.desc()).limit(count))
            rows = conn.execute(query).all()
            out[(signal, entity)] = [Bucket(r.start.timestamp(), r.end.timestamp(), r.value, r.weight, r.total)
                                     for r in reversed(rows)]
    return out


def entities(engine: Engine, *, search: str | None, limit: int, offset: int) -> tuple[list[str], int]:
    """Monitored entities (those with series state), by name, matching ``search`` anywhere
    in the name (case-insensitive); the page and how many match in all."""
    matching = select(SeriesSnapshotRow.entity).distinct()
    if search:
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        matching = matching.where(SeriesSnapshotRow.entity.ilike(f"%{escaped}%", escape="\\"))
    page = matching.order_by(SeriesSnapshotRow.entity).limit(limit).offset(offset)
    with translated("list the entities"), engine.connect() as conn:
        names = [r[0] for r in conn.execute(page)]
        total = conn.execute(select(func.count()).select_from(matching.subquery())).scalar_one()
    return names, int(total)


def series_of(engine: Engine, names: Sequence[str]) -> list[tuple[str, str]]:
    """The (signal, entity) series of the given entities."""
    query = (select(SeriesSnapshotRow.signal, SeriesSnapshotRow.entity)
             .where(SeriesSnapshotRow.entity.in_(list(names))))
    with translated("list the series"), engine.connect() as conn:
        return sorted((r.signal, r.entity) for r in conn.execute(query))


def unfinished_alerts(engine: Engine, names: Sequence[str]) -> list[Alert]:
    """Alerts of the given entities that are open, acknowledged or responding."""
    query = select(AlertRow).where(AlertRow.entity.in_(list(names)), AlertRow.status.in_(UNFINISHED))
    with translated("read the alerts"), engine.connect() as conn:
        return [_alert(r) for r in conn.execute(query).mappings()]
