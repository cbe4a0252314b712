"""The dashboard: server-rendered pages on the status service's HTTP side (`GET /`, `/ui/...`).

`mount(app)` adds it to the status app: the session middleware, the pages, the staff actions, the
queue view and the static files. The JSON API and its bearer token are left as they are.
"""

from __future__ import annotations

import secrets

import structlog
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from ferry_status.dashboard import actions, pages, queues, schedules
from ferry_status.dashboard.render import HERE, page
from ferry_status.dashboard.security import LoginRequired
from ferry_status.dashboard.settings import DashboardSettings

log = structlog.get_logger(__name__)
SESSION_COOKIE = "ferry_session"


def is_dashboard_path(path: str) -> bool:
    return path == "/" or path.startswith("/ui/")


def mount(app: FastAPI, settings: DashboardSettings | None = None) -> None:
    settings = settings or DashboardSettings()
    app.state.dashboard_settings = settings
    key = settings.dashboard_secret_key.get_secret_value() if settings.dashboard_secret_key else ""
    if not key:
        log.warning("FERRY_DASHBOARD_SECRET_KEY is not set: dashboard logins last until this process stops")
        key = secrets.token_urlsafe(32)
    app.add_middleware(
        SessionMiddleware, secret_key=key, session_cookie=SESSION_COOKIE, same_site="lax",
        https_only=settings.dashboard_secure_cookie, max_age=int(settings.dashboard_session_hours * 3600),
    )
    app.include_router(pages.router)
    app.include_router(actions.router)
    app.include_router(queues.router)
    app.include_router(schedules.router)
    app.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="dashboard-static")

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, _exc: LoginRequired) -> Response:
        if request.url.path.startswith("/ui/live/") or request.method != "GET":
            return Response("log in again", status_code=401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/ui/login?next={target}" if target != "/" else "/ui/login", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if not is_dashboard_path(request.url.path) or request.url.path.startswith("/ui/static/"):
            return await http_exception_handler(request, exc)
        detail = exc.detail if isinstance(exc.detail, str) else "the request was refused"
        return page(request, "error.html", None, exc.status_code, code=exc.status_code, detail=detail)
