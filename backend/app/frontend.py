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


class SinglePageApp(StaticFiles):
    """Static files, with any unknown non-API path answered by index.html (client routing)."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory=directory, html=True, check_dir=True)
        self.index = directory / "index.html"

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            response = await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != 404 or path.startswith(("api/", "api")):
                raise
            response = FileResponse(self.index)
        if response.status_code == 404 and not path.startswith("api"):
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
