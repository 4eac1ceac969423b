"""One mapping from Tocsin's errors to HTTP statuses and a stable body:
``{"error": {"type": "not_found", "message": "..."}}``."""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from warning.errors import ConfigError, Conflict, InvalidData, NotFound, StorageError, TocsinError


class PayloadTooLarge(TocsinError):
    """The request body is over ``max_body_bytes``."""


class BadRequest(TocsinError):
    """The request body cannot be read at all (not JSON, wrong top-level shape)."""


class InvalidParameter(TocsinError):
    """A parameter is well-formed but unusable (a foreign cursor, a time without offset)."""

    def __init__(self, location: str, message: str) -> None:
        super().__init__(f"{location}: {message}")
        self.problems = [{"location": location, "message": message}]


STATUS: dict[type[TocsinError], tuple[int, str]] = {
    NotFound: (404, "not_found"),
    Conflict: (409, "conflict"),
    BadRequest: (400, "bad_request"),
    InvalidParameter: (422, "invalid_request"),
    PayloadTooLarge: (413, "payload_too_large"),
    InvalidData: (422, "invalid_request"),  # before StorageError, which it is
    StorageError: (503, "storage_unavailable"),
    ConfigError: (500, "config_error"),
}


def error_body(kind: str, message: str, **extra: Any) -> dict[str, dict[str, Any]]:
    return {"error": {"type": kind, "message": message, **extra}}


def install(app: FastAPI) -> None:
    @app.exception_handler(TocsinError)
    async def _tocsin_error(request: Request, exc: TocsinError) -> JSONResponse:
        status, kind = next((v for k, v in STATUS.items() if isinstance(exc, k)), (500, "internal"))
        extra = {"problems": exc.problems} if isinstance(exc, InvalidParameter) else {}
        if isinstance(exc, Conflict):  # its own type, and what the client needs to act on it
            kind, extra = exc.kind, exc.details()
        return JSONResponse(error_body(kind, str(exc), **extra), status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Starlette's own answers (an unknown route, a method the route does not take).
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(error_body(kind, f"{request.method} {request.url.path}: {exc.detail}"),
                            status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        if any(err["type"] == "json_invalid" for err in exc.errors()):  # as POST /v1/events answers it
            return JSONResponse(error_body("bad_request", "the body is not valid JSON (send "
                                           "'content-type: application/json' and a JSON object)"), status_code=400)
        # FastAPI's own 422s, in the same shape as every other error, one line per problem.
        problems = [
            {"location": ".".join(str(p) for p in err["loc"]), "message": err["msg"]} for err in exc.errors()
        ]
        message = "; ".join(f"{p['location']}: {p['message']}" for p in problems)
        return JSONResponse(error_body("invalid_request", message, problems=problems), status_code=422)
