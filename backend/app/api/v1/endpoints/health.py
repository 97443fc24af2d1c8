"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses={503: {}})
async def readyz(request: Request) -> JSONResponse:
    try:
        async with asyncio.timeout(3):
            async with request.app.state.db.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except Exception as exc:
        return JSONResponse(
            {
                "status": "unavailable",
                "error": {"code": "database_unavailable", "message": type(exc).__name__},
            },
            status_code=503,
        )
    return JSONResponse({"status": "ready", "database": "ok"})
