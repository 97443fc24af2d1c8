"""The refresh token's cookie: its attributes in one place, and the header refresh and sign-out
require against cross-site requests.

HttpOnly: no script reads it, so a script injected into the page cannot carry it away.
SameSite=Strict: no other site's page makes the browser send it. Path: only the auth routes
receive it (refresh and logout; login and register only set it). Secure: sent over HTTPS only,
except that browsers treat http://localhost and http://127.0.0.1 as secure (Chromium, Firefox),
so `make run` works as it is; `REFRESH_COOKIE_SECURE=false` serves plain-http deployments
reached by another name (see docs/deployment.md).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Cookie, Depends, Header, Response

from app.core.config import Settings
from app.core.errors import CsrfHeaderMissing
from app.services.sign_ins import IssuedRefreshToken

REFRESH_COOKIE_NAME = "chatstream_refresh"
REFRESH_COOKIE_PATH = "/api/v1/auth"


def set_refresh_cookie(response: Response, settings: Settings, issued: IssuedRefreshToken) -> None:
    response.set_cookie(
        REFRESH_COOKIE_NAME,
        issued.token,
        max_age=issued.expires_in,
        path=REFRESH_COOKIE_PATH,
        secure=settings.refresh_cookie_secure,
        httponly=True,
        samesite="strict",
    )


def clear_refresh_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        REFRESH_COOKIE_NAME,
        path=REFRESH_COOKIE_PATH,
        secure=settings.refresh_cookie_secure,
        httponly=True,
        samesite="strict",
    )


def cleared_refresh_cookie_header(settings: Settings) -> str:
    """The Set-Cookie value that removes the cookie, for an error answer (built by the error
    handler, not by the route's Response)."""
    response = Response()
    clear_refresh_cookie(response, settings)
    return response.headers["set-cookie"]


async def _refresh_cookie(
    chatstream_refresh: Annotated[
        str | None,
        Cookie(description="The refresh token, set by login, register and refresh (HttpOnly)."),
    ] = None,
) -> str | None:
    return chatstream_refresh


async def _require_csrf_header(
    x_requested_with: Annotated[
        str | None,
        Header(description="Required, any value: proves the call is not a cross-site form."),
    ] = None,
) -> None:
    # A cross-site page can make the browser POST a form, but not add a header (that needs a
    # CORS preflight this server never grants); SameSite=Strict is the first line, this the second.
    if not x_requested_with:
        raise CsrfHeaderMissing()


RefreshCookie = Annotated[str | None, Depends(_refresh_cookie)]
CsrfChecked = Depends(_require_csrf_header)
