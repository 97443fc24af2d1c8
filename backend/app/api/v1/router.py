"""All /api/v1 routes."""

from fastapi import APIRouter

from app.api.v1.endpoints import auth, chat, config, onboarding, users

api_router = APIRouter(prefix="/api/v1")
for module in (auth, users, config, onboarding, chat):
    api_router.include_router(module.router)
