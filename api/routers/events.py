"""``POST /v1/events``: one canonical event or an array of them."""
from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from api.auth import IngestAccess
from api.deps import IngestDep, SettingsDep
from api.errors import BadRequest, PayloadTooLarge
from api.schemas import EVENT_EXAMPLE, EventsReceipt, RejectedItem, error_response

router = APIRouter(prefix="/v1", tags=["events"])

BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {
            "schema": {"oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}],
                       "description": "a canonical event (SPEC) or an array of them"},
            "examples": {
                "one": {"summary": "one event", "value": EVENT_EXAMPLE},
                "batch": {"summary": "a batch", "value": [EVENT_EXAMPLE, {**EVENT_EXAMPLE, "id": "evt-81f3",
                                                                           "ts": "2026-11-20T10:05:00Z"}]},
            },
        }},
    }
}


@router.post(
    "/events",
    status_code=202,
    response_model=EventsReceipt,
    summary="Ingest events",
    description=(
        "Validates each event, merges the valid ones into their series on event time and runs detection. "
        "The answer comes after everything is stored: an accepted event is durable. Invalid and late events "
        "are answered by index with their reason and kept as dead letters; the rest of the batch is processed. "
        "Events whose id was already accepted are ignored and listed under `duplicates`."
    ),
    responses={400: error_response("the body is not JSON, or not an object or array"),
               413: error_response("the body is larger than max_body_bytes"),
               503: error_response("the database is unavailable; nothing of the batch was kept, retry it")},
    openapi_extra=BODY_DOC,
)
async def post_events(request: Request, caller: IngestAccess, ingest: IngestDep, settings: SettingsDep) -> EventsReceipt:
    body = await _read_body(request, settings.max_body_bytes)
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    if isinstance(payload, dict):
        items = [payload]
    elif isinstance(payload, list):
        items = payload
    else:
        raise BadRequest("the body must be an event object or an array of events")
    client = request.client.host if request.client else "unknown"
    records = [(f"http:{client}[{i}]", item) for i, item in enumerate(items)]
    sink = request.app.state.publisher or ingest  # ingest_mode = "kafka": published for the workers
    receipt = await run_in_threadpool(sink.submit, records, "http")
    return EventsReceipt(
        accepted=receipt.accepted,
        duplicates=receipt.duplicates,
        rejected=[RejectedItem(index=i, kind=r.kind, reason=r.reason) for i, r in receipt.rejected],
    )


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is {declared} bytes; the limit is {limit} (send smaller batches)")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is over the limit of {limit} bytes (send smaller batches)")
        chunks.append(chunk)
    return b"".join(chunks)
