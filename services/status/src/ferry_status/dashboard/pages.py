"""The dashboard's pages: login, the overview, a job's page, and the jobs table's exports."""

from __future__ import annotations

import csv
import io
import json
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ferry.contracts import EventType, services
from ferry.contracts.registry import COMMANDS
from ferry_status import store
from ferry_status.dashboard import queries
from ferry_status.dashboard.forms import CommandForm, all_forms
from ferry_status.dashboard.queries import JobFilter
from ferry_status.dashboard.render import flash, page
from ferry_status.dashboard.security import Csrf, Viewer
from ferry_status.dashboard.users import TooManyFailures, User, authenticate
from ferry_status.models import Job
from ferry_status.resources import Resources

PAGE_SIZE = 20
EXPORT_MAX = 10_000
EVENTS_SHOWN = 1000
CONTENT_FETCH = ("content-fetch", "fetch")
CONTENT_FETCH_BUTTONS = (("both", "Fetch both"), ("mcq", "MCQ only"), ("current_affairs", "Current affairs only"))

router = APIRouter(include_in_schema=False)


def _res(request: Request) -> Resources:
    res: Resources = request.app.state.resources
    return res


def _safe_next(target: str) -> str:
    """Only paths of this site (no `//host` or scheme): a login link cannot send users elsewhere."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


@router.get("/ui/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str = "/") -> HTMLResponse:
    return page(request, "login.html", None, next=_safe_next(next), error="", name="")


@router.post("/ui/login", response_class=HTMLResponse, dependencies=[Csrf])
async def login(
    request: Request, name: Annotated[str, Form()], password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    client = request.client.host if request.client else "unknown"
    try:
        user = await authenticate(_res(request).pool, name, password, client)
    except TooManyFailures as exc:
        return page(request, "login.html", None, status.HTTP_429_TOO_MANY_REQUESTS, next=_safe_next(next),
                    error=str(exc), name=name)
    if user is None:
        return page(request, "login.html", None, status.HTTP_401_UNAUTHORIZED, next=_safe_next(next),
                    error="Wrong user name or password.", name=name)
    request.session.clear()  # a new session (and CSRF token) for the new login
    request.session["user"] = user.name
    return RedirectResponse(_safe_next(next), status.HTTP_303_SEE_OTHER)


@router.post("/ui/logout", dependencies=[Csrf])
async def logout(request: Request) -> RedirectResponse:
    request.session.clear()
    return RedirectResponse("/ui/login", status.HTTP_303_SEE_OTHER)


def _filters(service: str, job_status: str, since: str, until: str, by: str, q: str) -> JobFilter:
    return JobFilter(service=service.strip(), status=job_status.strip(), since=since.strip(), until=until.strip(),
                     requested_by=by.strip(), q=q.strip())


FilterQuery = Annotated[str, Query()]


async def overview_context(request: Request, filters: JobFilter, page_no: int) -> dict[str, Any]:
    res = _res(request)
    problems = filters.problems()
    rows: list[Any] = []
    total = 0
    if not problems:
        rows, total = await queries.find_jobs(res.pool, filters, limit=PAGE_SIZE, offset=(page_no - 1) * PAGE_SIZE)
    by_status: dict[str, int] = {}
    by_service: dict[str, dict[str, int]] = {}
    for service, job_status, n in await store.counts(res.pool):
        by_status[job_status] = by_status.get(job_status, 0) + n
        by_service.setdefault(service, {})[job_status] = n
    latest, _ = await queries.find_jobs(res.pool, JobFilter(), limit=1, offset=0)
    pages = max(1, -(-total // PAGE_SIZE))
    query = filters.as_query()
    return {
        "jobs": [Job.from_row(r) for r in rows], "total_jobs": total, "page_no": page_no, "pages": pages,
        "filters": filters, "problems": problems, "query": urlencode(query),
        "page_link": lambda n: "/?" + urlencode({**query, "page": n}),
        "by_status": by_status, "by_service": dict(sorted(by_service.items())),
        "total": sum(by_status.values()), "latest": Job.from_row(latest[0]) if latest else None,
        "services": services(), "requesters": await queries.requesters(res.pool),
    }


@router.get("/", response_class=HTMLResponse)
async def overview(
    request: Request, user: Viewer, service: FilterQuery = "", job_status: Annotated[str, Query(alias="status")] = "",
    since: FilterQuery = "", until: FilterQuery = "", by: FilterQuery = "", q: FilterQuery = "",
    page_no: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
) -> HTMLResponse:
    return await render_overview(request, user, _filters(service, job_status, since, until, by, q), page_no)


async def render_overview(request: Request, user: User, filters: JobFilter, page_no: int = 1,
                          forms: list[CommandForm] | None = None, status_code: int = 200) -> HTMLResponse:
    context = await overview_context(request, filters, page_no)
    return page(request, "overview.html", user, status_code, forms=forms or all_forms(),
                content_fetch=CONTENT_FETCH in COMMANDS, content_fetch_buttons=CONTENT_FETCH_BUTTONS, **context)


@router.get("/ui/live/overview", response_class=HTMLResponse)
async def overview_live(
    request: Request, user: Viewer, service: FilterQuery = "", job_status: Annotated[str, Query(alias="status")] = "",
    since: FilterQuery = "", until: FilterQuery = "", by: FilterQuery = "", q: FilterQuery = "",
    page_no: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
) -> HTMLResponse:
    context = await overview_context(request, _filters(service, job_status, since, until, by, q), page_no)
    return page(request, "_live_overview.html", user, **context)


async def job_context(request: Request, job_id: UUID) -> dict[str, Any]:
    res = _res(request)
    row = await store.get_job(res.pool, job_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"job {job_id} not found")
    events = await store.job_events(res.pool, job_id, -1, EVENTS_SHOWN + 1)
    actions = await queries.actions_of(res.pool, job_id)
    return {
        "job": Job.from_row(row), "events": events[:EVENTS_SHOWN], "more_events": len(events) > EVENTS_SHOWN,
        "failures": [e for e in events if e.get("type") == EventType.ITEM_FAILED.value],
        "actions": [a for a in actions if a["job_id"] == job_id],
        "rerun_of": next((a["job_id"] for a in actions if a["new_job_id"] == job_id), None),
    }


@router.get("/ui/jobs/{job_id}", response_class=HTMLResponse)
async def job_page(request: Request, user: Viewer, job_id: UUID) -> HTMLResponse:
    return page(request, "job.html", user, **await job_context(request, job_id))


@router.get("/ui/live/jobs/{job_id}", response_class=HTMLResponse)
async def job_live(request: Request, user: Viewer, job_id: UUID) -> HTMLResponse:
    return page(request, "_live_job.html", user, **await job_context(request, job_id))


EXPORT_COLUMNS = ("job_id", "service", "command", "status", "progress", "total", "processed", "succeeded", "failed",
                  "skipped", "requested_by", "created_at", "started_at", "finished_at", "duration_s", "message",
                  "error")


async def _export_jobs(request: Request, filters: JobFilter) -> list[Job]:
    problems = filters.problems()
    if problems:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="; ".join(problems))
    rows, _ = await queries.find_jobs(_res(request).pool, filters, limit=EXPORT_MAX, offset=0)
    return [Job.from_row(r) for r in rows]


@router.get("/ui/export.csv")
async def export_csv(
    request: Request, user: Viewer, service: FilterQuery = "", job_status: Annotated[str, Query(alias="status")] = "",
    since: FilterQuery = "", until: FilterQuery = "", by: FilterQuery = "", q: FilterQuery = "",
) -> Response:
    jobs = await _export_jobs(request, _filters(service, job_status, since, until, by, q))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for job in jobs:
        data = job.model_dump(mode="json")
        writer.writerow(["" if data[c] is None else data[c] for c in EXPORT_COLUMNS])
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="ferry-jobs.csv"'})


@router.get("/ui/export.json")
async def export_json(
    request: Request, user: Viewer, service: FilterQuery = "", job_status: Annotated[str, Query(alias="status")] = "",
    since: FilterQuery = "", until: FilterQuery = "", by: FilterQuery = "", q: FilterQuery = "",
) -> Response:
    jobs = await _export_jobs(request, _filters(service, job_status, since, until, by, q))
    body = json.dumps([j.model_dump(mode="json") for j in jobs], indent=1)
    return Response(body, media_type="application/json",
                    headers={"Content-Disposition": 'attachment; filename="ferry-jobs.json"'})


def flash_and_go(request: Request, message: str, target: str, kind: str = "info") -> RedirectResponse:
    flash(request, message, kind)
    return RedirectResponse(target, status.HTTP_303_SEE_OTHER)
