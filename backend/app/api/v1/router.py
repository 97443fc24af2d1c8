"""All /api/v1 routes."""

from typing import Any

from fastapi import APIRouter

from app.api.v1.endpoints import auth, chat, config, onboarding, users

# Every route of these routers takes a token (app/api/deps.py), so each may answer 401.
AUTHENTICATED: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing, malformed or expired token, or its account is gone."}
}

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(auth.router)
for module in (users, config, onboarding, chat):
    api_router.include_router(module.router, responses=AUTHENTICATED)
