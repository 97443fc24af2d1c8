"""Serving the built front end: hashed assets cached long, SPA routes falling back to index.html."""

from __future__ import annotations

from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def default_dist_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "frontend" / "dist"


# Paths the server answers itself, never with index.html: an unknown API path, or the API docs
# and metrics where they are turned off (production), are a JSON 404.
SERVER_PATHS = frozenset({"api", "docs", "redoc", "openapi.json", "metrics", "healthz", "readyz"})


def is_server_path(path: str) -> bool:
    """`path` relative to the root, e.g. `api/v1/users/me`."""
    return path.lstrip("/").split("/", 1)[0] in SERVER_PATHS


class SinglePageApp(StaticFiles):
    """Static files, with any unknown non-API path answered by index.html (client routing).

    It is the router's fallback (`app.router.default`), not a mount at `/`: a mount there
    matches every path before the router can tell a wrong method on an API route (a 405 with
    `Allow`) from an unknown path.
    """

    def __init__(self, directory: Path) -> None:
        super().__init__(directory=directory, html=True, check_dir=True)
        self.index = directory / "index.html"

    async def get_response(self, path: str, scope: Scope) -> Response:
        if is_server_path(path):
            raise HTTPException(status_code=404)
        try:
            response = await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != 404:
                raise
            response = FileResponse(self.index)
        if response.status_code == 404:
            response = FileResponse(self.index)
        if path.startswith("assets/"):
            # File names carry a content hash, so they never change.
            response.headers["cache-control"] = "public, max-age=31536000, immutable"
        elif (
            response.media_type == "text/html"
            or isinstance(response, FileResponse)
            and str(getattr(response, "path", "")).endswith(".html")
        ):
            response.headers["cache-control"] = "no-cache"
            response.headers["content-security-policy"] = CONTENT_SECURITY_POLICY
        return response
