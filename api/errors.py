"""One mapping from Tocsin's errors to HTTP statuses and a stable body:
``{"error": {"type": "not_found", "message": "..."}}``."""
from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from warning.errors import ConfigError, NotFound, StorageError, TocsinError


class PayloadTooLarge(TocsinError):
    """The request body is over ``max_body_bytes``."""


class BadRequest(TocsinError):
    """The request body cannot be read at all (not JSON, wrong top-level shape)."""


STATUS: dict[type[TocsinError], tuple[int, str]] = {
    NotFound: (404, "not_found"),
    BadRequest: (400, "bad_request"),
    PayloadTooLarge: (413, "payload_too_large"),
    StorageError: (503, "storage_unavailable"),
    ConfigError: (500, "config_error"),
}


def error_body(kind: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"type": kind, "message": message}}


def install(app: FastAPI) -> None:
    @app.exception_handler(TocsinError)
    async def _tocsin_error(request: Request, exc: TocsinError) -> JSONResponse:
        status, kind = next((v for k, v in STATUS.items() if isinstance(exc, k)), (500, "internal"))
        return JSONResponse(error_body(kind, str(exc)), status_code=status)
