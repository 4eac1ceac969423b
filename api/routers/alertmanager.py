"""``POST /v1/ingest/alertmanager``: Alertmanager's webhook receiver, as ``alarms`` events.

The mapping is :mod:`ingest.sources.alertmanager`; the events then take the same path as
``POST /v1/events`` (validation, idempotency, dead letters, detection, one commit).
"""
from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.auth import IngestAccess
from api.deps import IngestDep, SettingsDep
from api.errors import BadRequest, InvalidParameter
from api.routers.events import _read_body
from api.schemas import RejectedItem, error_response
from ingest.sources.alertmanager import PayloadError, map_payload
from warning.metrics import reject_reason

router = APIRouter(prefix="/v1/ingest", tags=["events"])


class AlertmanagerReceipt(BaseModel):
    """Every index is the alert's position in the payload's ``alerts``."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "accepted": 2, "duplicates": [1], "rejected": [
            {"index": 3, "kind": "invalid", "reason": "entity label missing: the alert has none of service "
                                                      "(setting alertmanager_entity_labels)"}],
        "resolved": [2],
    }]})

    accepted: int = Field(description="firing alerts counted as an alarms event")
    duplicates: list[int] = Field(description="firing alerts already counted (Alertmanager repeats notifications)")
    rejected: list[RejectedItem] = Field(description="firing alerts not counted, with the reason (dead-lettered)")
    resolved: list[int] = Field(description="resolved alerts, which are not counted")


@router.post(
    "/alertmanager",
    status_code=202,
    response_model=AlertmanagerReceipt,
    summary="Alertmanager webhook receiver",
    description=(
        "Takes Alertmanager's webhook payload (version 4). Each firing alert counts once as an `alarms` event "
        "(value 1, at its `startsAt`) of the entity named by the first of `alertmanager_entity_labels` it "
        "carries; repeats of the same firing are recognised and ignored. Resolved alerts are not counted."
    ),
    responses={400: error_response("the body is not JSON"),
               413: error_response("the body is larger than max_body_bytes"),
               422: error_response("the body is not an Alertmanager webhook payload (version 4)"),
               503: error_response("the database is unavailable; nothing was kept (Alertmanager retries)")},
)
async def post_alertmanager(request: Request, caller: IngestAccess, ingest: IngestDep,
                            settings: SettingsDep) -> AlertmanagerReceipt:
    body = await _read_body(request, settings.max_body_bytes)
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    client = request.client.host if request.client else "unknown"
    try:
        mapped = map_payload(payload, settings.alertmanager_entity_labels, f"alertmanager:{client}")
    except PayloadError as exc:
        raise InvalidParameter(exc.location, exc.message) from None
    receipt = await run_in_threadpool(ingest.submit, mapped.records, "alertmanager")
    if mapped.unmapped:  # after the batch: if this write fails, Alertmanager's retry finds the batch known
        await run_in_threadpool(ingest.database.record, rejected=[r for _, r in mapped.unmapped])
        ingest.metrics.events.labels("alertmanager", "invalid").inc(len(mapped.unmapped))
        for _, unmapped in mapped.unmapped:
            ingest.metrics.rejected.labels("alertmanager", reject_reason(unmapped.kind, unmapped.reason)).inc()
    rejected = [RejectedItem(index=mapped.indexes[i], kind=r.kind, reason=r.reason) for i, r in receipt.rejected]
    rejected += [RejectedItem(index=i, kind="invalid", reason=r.reason) for i, r in mapped.unmapped]
    return AlertmanagerReceipt(
        accepted=receipt.accepted,
        duplicates=[mapped.indexes[i] for i in receipt.duplicates],
        rejected=sorted(rejected, key=lambda item: item.index),
        resolved=mapped.resolved,
    )
