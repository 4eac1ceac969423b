"""``GET /healthz`` (readiness: the database answers) and ``GET /metrics`` (Prometheus).

``/healthz`` needs no key (:data:`api.auth.PUBLIC_PATHS`): orchestrators probe it without
credentials and it reveals nothing. ``/metrics`` needs ``read``; Prometheus sends the key
as a bearer token (``authorization: {credentials_file: ...}`` in its scrape config).
"""
from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from api.auth import ReadAccess
from api.deps import DatabaseDep, IngestDep, MetricsDep
from api.schemas import Health

router = APIRouter(tags=["health"])

METRICS_EXAMPLE = (
    "# HELP tocsin_ingest_events_total Events received, by outcome.\n"
    "# TYPE tocsin_ingest_events_total counter\n"
    'tocsin_ingest_events_total{outcome="accepted",source="http"} 48213.0\n'
)


@router.get("/healthz", response_model=Health, summary="Readiness",
            responses={503: {"model": Health, "description": "the database does not answer"}})
def healthz(db: DatabaseDep, ingest: IngestDep) -> Health | JSONResponse:
    series = len(ingest.pipeline.series)
    try:
        db.ping()
    except SQLAlchemyError as exc:
        body = Health(status="unavailable", database=f"{exc.__class__.__name__}", series=series)
        return JSONResponse(body.model_dump(), status_code=503)
    return Health(status="ok", database="ok", series=series)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {"example": METRICS_EXAMPLE}}}})
def metrics(caller: ReadAccess, m: MetricsDep) -> Response:
    return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)
