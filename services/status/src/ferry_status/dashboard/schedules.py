"""Schedules on the dashboard: every schedule with its next run in its own time zone; staff add,
pause, resume and delete them.

The schedules themselves are the status service's (`ferry_status.scheduler`, `ferry_status.timing`):
this module validates a form the way `POST /schedules` validates its body and calls the same
functions, so a schedule made here is the one `ferry schedules list` and the API show.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from functools import cache
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import available_timezones

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ferry.contracts.registry import UnknownCommand, command_spec
from ferry_status import scheduler, timing
from ferry_status.api import validated_command
from ferry_status.dashboard import queries
from ferry_status.dashboard.actions import who
from ferry_status.dashboard.forms import CommandForm, all_forms, errors_by_field, options_from_form
from ferry_status.dashboard.pages import flash_and_go
from ferry_status.dashboard.render import page
from ferry_status.dashboard.security import Csrf, Staff, Viewer
from ferry_status.dashboard.users import User
from ferry_status.resources import Resources
from ferry_status.schedules_api import Schedule

router = APIRouter(include_in_schema=False)
# The schedule's own fields; the underscore keeps them apart from any option of the same name.
WHEN, ZONE, CATCH_UP, OVERLAP = "_schedule", "_timezone", "_catch_up", "_overlap"


def _res(request: Request) -> Resources:
    res: Resources = request.app.state.resources
    return res


@cache
def zone_names() -> list[str]:
    """IANA zone names offered as suggestions in the time zone field."""
    return sorted(available_timezones())


def local_time(when: datetime | None, zone_name: str) -> str:
    """`when` as the schedule's zone reads it, with the zone's abbreviation (CET, CEST...)."""
    if when is None:
        return ""
    return when.astimezone(timing.zone(zone_name)).strftime("%Y-%m-%d %H:%M %Z")


async def render_schedules(request: Request, user: User, forms: list[CommandForm] | None = None,
                           status_code: int = 200) -> HTMLResponse:
    rows = await scheduler.list_all(_res(request).pool)
    return page(request, "schedules.html", user, status_code, schedules=[Schedule.from_row(r) for r in rows],
                local_time=local_time, forms=forms or all_forms(), zones=zone_names(),
                fields={"when": WHEN, "zone": ZONE, "catch_up": CATCH_UP, "overlap": OVERLAP})


@router.get("/ui/schedules", response_class=HTMLResponse)
async def schedules_page(request: Request, user: Viewer) -> HTMLResponse:
    return await render_schedules(request, user)


def _problems(spec_text: str, zone_name: str) -> dict[str, str]:
    problems = {}
    try:
        timing.to_cron(spec_text)
    except timing.BadSchedule as exc:
        problems[WHEN] = str(exc)
    try:
        timing.zone(zone_name)
    except timing.BadSchedule as exc:
        problems[ZONE] = str(exc)
    return problems


@router.post("/ui/schedules", response_class=HTMLResponse, dependencies=[Csrf])
async def add(request: Request, user: Staff) -> Response:
    data = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    service, command = data.pop("_service", ""), data.pop("_command", "")
    when, zone_name = data.get(WHEN, "").strip(), data.get(ZONE, "").strip() or "UTC"
    try:
        spec = command_spec(service, command)
    except UnknownCommand as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None
    errors = _problems(when, zone_name)
    options: dict[str, Any] = {}
    try:
        _, validated = validated_command(service, command, options_from_form(spec, data))
        options = validated.model_dump(mode="json")
    except HTTPException as exc:
        errors.update(errors_by_field(exc.detail))
    if errors:
        forms = [replace(f, errors=errors, values=data) if f.key == spec.routing_key else f for f in all_forms()]
        return await render_schedules(request, user, forms, status.HTTP_422_UNPROCESSABLE_CONTENT)
    row = await scheduler.create(
        _res(request).pool, schedule_id=uuid4(), service=spec.service, command=spec.command, options=options,
        spec=when, timezone=zone_name, catch_up=data.get(CATCH_UP) == "on",
        overlap="allow" if data.get(OVERLAP) == "allow" else "skip", paused=False, created_by=who(user.name),
        now=datetime.now(UTC),
    )
    await queries.record_action(_res(request).pool, None, "schedule add", user.name, str(row["schedule_id"]))
    return flash_and_go(request, f"Schedule added: {service} {command} at {when} ({zone_name}), next run "
                        f"{local_time(row['next_due'], zone_name)}", "/ui/schedules")


@router.post("/ui/schedules/{schedule_id}/{do}", dependencies=[Csrf])
async def change(request: Request, user: Staff, schedule_id: UUID, do: str) -> RedirectResponse:
    pool = _res(request).pool
    if do not in ("pause", "resume", "delete"):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no schedule action {do!r}")
    if do == "delete":
        found = await scheduler.delete(pool, schedule_id)
    else:
        found = await scheduler.set_paused(pool, schedule_id, do == "pause", datetime.now(UTC)) is not None
    if not found:
        return flash_and_go(request, f"Schedule {schedule_id} no longer exists", "/ui/schedules", "error")
    await queries.record_action(pool, None, f"schedule {do}", user.name, str(schedule_id))
    done = {"pause": "paused", "resume": "resumed", "delete": "deleted"}[do]
    return flash_and_go(request, f"Schedule {done}", "/ui/schedules")
