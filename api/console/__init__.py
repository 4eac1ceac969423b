"""The crisis-centre console: a static page (HTML, CSS, vanilla JS modules) served at
``/console/`` over the JSON API, with ``/`` redirecting to it. No build step, nothing
fetched from elsewhere, so it works air-gapped."""
from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    app.mount("/console", StaticFiles(directory=STATIC, html=True), name="console")

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/console/")
