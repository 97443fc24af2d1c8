"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from app.api.deps import DatabaseDep
from app.core.config import Settings
from app.core.metrics import render_latest
from app.schemas.errors import error_responses

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response, include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus exposition; with METRICS_PORT set it is served there instead, not here, and
    in production only when EXPOSE_METRICS is set."""
    settings: Settings = request.app.state.settings
    if not settings.metrics_on_api_port:
        where = (
            "Metrics are on METRICS_PORT."
            if settings.metrics_port is not None
            else "Metrics are not served on this port (set METRICS_PORT or EXPOSE_METRICS)."
        )
        return JSONResponse({"error": {"code": "not_found", "message": where}}, status_code=404)
    body, content_type = render_latest()
    return Response(body, media_type=content_type)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses=error_responses(
        503, descriptions={503: "Not ready: `database_unavailable` or `database_not_migrated`."}
    ),
)
async def readyz(db: DatabaseDep) -> JSONResponse:
    """Ready when the database answers within 3 s and holds the migrated schema."""
    try:
        async with asyncio.timeout(3):
            migrated = await db.is_migrated()
    except Exception as exc:
        return _unavailable(
            "database_unavailable", f"The database is unreachable ({type(exc).__name__})."
        )
    if not migrated:
        # Every API call would fail: an empty database (e.g. a new SQLite file) is not ready.
        return _unavailable(
            "database_not_migrated",
            "The database has no ChatStream schema; run `chatstream migrate`.",
        )
    return JSONResponse({"status": "ready", "database": "ok"})


def _unavailable(code: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"status": "unavailable", "error": {"code": code, "message": message}}, status_code=503
    )
