"""``GET /v1/entities``: the monitored entities, each signal with its recent buckets (a
sparkline) and its state (normal, watch, alert: :func:`warning.charts.series_state`)."""
from __future__ import annotations

from collections import defaultdict
from typing import Annotated

from fastapi import APIRouter, Query

from api.auth import ReadAccess
from api.console.schemas import EntityPage, EntityRead, SignalRead
from api.deps import DatabaseDep
from api.schemas import error_response
from warning.alerts import Alert
from warning.charts import series_state
from warning.storage import charts
from warning.timefmt import rfc3339

router = APIRouter(prefix="/v1/entities", tags=["entities"])
RANK = {"normal": 0, "watch": 1, "alert": 2}


@router.get("", response_model=EntityPage, summary="Monitored entities, by name, with their signals' state",
            responses={422: error_response("a parameter is invalid; the message names it")})
def list_entities(
    caller: ReadAccess,
    db: DatabaseDep,
    search: Annotated[str | None, Query(max_length=200, description="part of the name, any case")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    points: Annotated[int, Query(ge=2, le=500, description="buckets per sparkline")] = 48,
) -> EntityPage:
    names, total = charts.entities(db.engine, search=search or None, limit=limit, offset=offset)
    keys = charts.series_of(db.engine, names)
    db.write_staged()  # the latest closed buckets wait for the next checkpoint (warning/storage/database.py)
    recent = charts.last_buckets(db.engine, keys, points)
    alerts: dict[tuple[str, str], list[Alert]] = defaultdict(list)
    for alert in charts.unfinished_alerts(db.engine, names):
        alerts[(alert.signal, alert.entity)].append(alert)
    signals: dict[str, list[SignalRead]] = defaultdict(list)
    for key in keys:
        buckets = recent.get(key, [])
        signals[key[1]].append(SignalRead(
            signal=key[0], state=series_state(alerts[key]), recent=[b.value for b in buckets],
            last_bucket=rfc3339(buckets[-1].start) if buckets else None,
            alert_ids=sorted(a.id for a in alerts[key]),
        ))
    items = [EntityRead(entity=name, signals=signals[name],
                        state=max((s.state for s in signals[name]), key=RANK.__getitem__, default="normal"))
             for name in names]
    return EntityPage(items=items, total=total)
