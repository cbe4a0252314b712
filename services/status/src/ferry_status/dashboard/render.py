"""Rendering dashboard pages with Jinja2 (autoescaped), and the values every page shares."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from ferry.contracts import JobStatus
from ferry_status.dashboard.security import csrf_token
from ferry_status.dashboard.users import Role, User

HERE = Path(__file__).parent
NOTHING = "\u2013"
"""Shown where a value is absent (an en dash)."""
templates = Jinja2Templates(directory=HERE / "templates")

BADGE_ICONS = {
    JobStatus.PENDING.value: "…", JobStatus.RUNNING.value: "▶", JobStatus.STALLED.value: "⚠",
    JobStatus.COMPLETED.value: "✓",
    JobStatus.FAILED.value: "✕", JobStatus.CANCELLED.value: "■", JobStatus.REJECTED.value: "⊘",
}


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return NOTHING
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def _when(value: datetime | str | None) -> str:
    if value is None:
        return NOTHING
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _as_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


templates.env.filters["duration"] = _duration
templates.env.filters["when"] = _when
templates.env.filters["as_json"] = _as_json
templates.env.globals["badge_icons"] = BADGE_ICONS
templates.env.globals["statuses"] = [s.value for s in JobStatus]


def flash(request: Request, message: str, kind: str = "info") -> None:
    """A message shown once, on the next page the user sees."""
    request.session.setdefault("flash", []).append({"kind": kind, "text": message})


def page(request: Request, template: str, user: User | None, status_code: int = 200, **context: Any) -> HTMLResponse:
    messages = [] if template.startswith("_live") else request.session.pop("flash", [])
    response = templates.TemplateResponse(
        request, template, status_code=status_code,
        context={"user": user, "is_staff": user is not None and user.role is Role.STAFF,
                 "csrf": csrf_token(request), "messages": messages, **context},
    )
    # Nothing but this site's own files runs or loads here, and no other site may frame the page.
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response
