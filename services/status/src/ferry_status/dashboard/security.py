"""Who is asking: the signed session cookie, roles, and CSRF tokens for every state change.

The session (Starlette's SessionMiddleware: an itsdangerous-signed, HttpOnly, SameSite=Lax cookie)
holds the user's name and the session's CSRF token, nothing else; the role is read from Postgres
on every request, so removing a user or changing their role takes effect at once.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from ferry_status.dashboard.users import Role, User, get_user
from ferry_status.resources import Resources

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class LoginRequired(Exception):
    """Nobody is logged in: the handler sends the browser to the login page."""


def csrf_token(request: Request) -> str:
    """This session's CSRF token (made on first use)."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def check_csrf(request: Request) -> None:
    """FastAPI dependency for every state-changing dashboard request: the session's token must come
    back in the form field or the header (a page of another site cannot read it)."""
    expected = request.session.get("csrf")
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not isinstance(expected, str) or not given or not hmac.compare_digest(given, expected):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="CSRF token missing or wrong: reload the page and "
                            "try again")


def _resources(request: Request) -> Resources:
    res: Resources = request.app.state.resources
    return res


async def current_user(request: Request) -> User:
    """The logged-in user; LoginRequired when there is none (or they were removed)."""
    name = request.session.get("user")
    if not isinstance(name, str):
        raise LoginRequired
    user = await get_user(_resources(request).pool, name)
    if user is None:
        request.session.pop("user", None)
        raise LoginRequired
    return user


async def viewer(user: Annotated[User, Depends(current_user)]) -> User:
    """Staff or viewer: may see everything."""
    if user.role not in (Role.STAFF, Role.VIEWER):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"{user.name} has no access to the dashboard; "
                            "ask an administrator (ferry users add --staff or --viewer)")
    return user


async def staff(user: Annotated[User, Depends(current_user)]) -> User:
    """Staff only: may start, cancel and change jobs and dead letters."""
    if user.role is not Role.STAFF:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"only staff may do this; {user.name} is "
                            f"{'a viewer' if user.role is Role.VIEWER else 'not allowed in'}")
    return user


Viewer = Annotated[User, Depends(viewer)]
Staff = Annotated[User, Depends(staff)]
Csrf = Depends(check_csrf)
