"""All /api/v1 routes."""

from fastapi import APIRouter

from app.api.v1.endpoints import auth, chat, config, onboarding, users
from app.schemas.errors import error_responses

# Every route of these routers takes a token (app/api/deps.py), so each may answer 401.
AUTHENTICATED = error_responses(401)

api_router = APIRouter(prefix="/api/v1")
# Chat's first: a request is matched against the routes in order, and the stream routes, every
# answer's request, then match among the first instead of after all the others (the prefixes
# do not overlap, so the order changes nothing else).
api_router.include_router(chat.router, responses=AUTHENTICATED)
api_router.include_router(auth.router)
for module in (users, config, onboarding):
    api_router.include_router(module.router, responses=AUTHENTICATED)
