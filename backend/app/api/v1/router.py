"""All /api/v1 routes."""

from fastapi import APIRouter

from app.api.v1.endpoints import auth, chat, config, onboarding, users
from app.schemas.errors import error_responses

# Every route of these routers takes a token (app/api/deps.py), so each may answer 401.
AUTHENTICATED = error_responses(401)

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(auth.router)
for module in (users, config, onboarding, chat):
    api_router.include_router(module.router, responses=AUTHENTICATED)
