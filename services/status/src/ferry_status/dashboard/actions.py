"""What staff do from the dashboard: start a job from its form, cancel, re-run, mark completed or
failed, clear an error. Each is CSRF-checked and recorded with the user who did it."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ferry.contracts import CANCEL, CancelCommand, EventType, JobEvent, JobStatus
from ferry.contracts.registry import UnknownCommand, command_spec
from ferry_status import store
from ferry_status.api import publish_job
from ferry_status.dashboard import queries
from ferry_status.dashboard.forms import all_forms, errors_by_field, options_from_form
from ferry_status.dashboard.pages import flash_and_go, render_overview
from ferry_status.dashboard.queries import JobFilter
from ferry_status.dashboard.security import Csrf, Staff
from ferry_status.errors import PublishFailed
from ferry_status.models import StartJob
from ferry_status.resources import Resources

router = APIRouter(include_in_schema=False, dependencies=[Csrf])


def _res(request: Request) -> Resources:
    res: Resources = request.app.state.resources
    return res


def who(user_name: str) -> str:
    """How a dashboard user is named in a job's `requested_by`."""
    return f"dashboard:{user_name}"


@router.post("/ui/start", response_class=HTMLResponse)
async def start(request: Request, user: Staff) -> Response:
    data = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    service, command = data.pop("_service", ""), data.pop("_command", "")
    try:
        spec = command_spec(service, command)
    except UnknownCommand as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None
    body = StartJob(service=service, command=command, options=options_from_form(spec, data))
    try:
        accepted = await publish_job(_res(request), body, requested_by=who(user.name))
    except HTTPException as exc:
        if exc.status_code != status.HTTP_422_UNPROCESSABLE_CONTENT:
            raise
        forms = [replace(f, errors=errors_by_field(exc.detail), values=data) if f.key == spec.routing_key else f
                 for f in all_forms()]
        return await render_overview(request, user, JobFilter(), forms=forms,
                                     status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    except PublishFailed as exc:
        return flash_and_go(request, f"Could not start {service} {command}: {exc}", "/", "error")
    await queries.record_action(_res(request).pool, accepted.job_id, "start", user.name)
    return flash_and_go(request, f"Started {service} {command}: job {accepted.job_id}", f"/ui/jobs/{accepted.job_id}")


@router.post("/ui/content-fetch/{fetch_type}")
async def content_fetch(request: Request, user: Staff, fetch_type: str) -> Response:
    """The seed's three buttons: Fetch both, MCQ only, Current affairs only."""
    body = StartJob(service="content-fetch", command="fetch", options={"type": fetch_type})
    accepted = await publish_job(_res(request), body, requested_by=who(user.name))
    await queries.record_action(_res(request).pool, accepted.job_id, "start", user.name)
    return flash_and_go(request, f"Started content-fetch ({fetch_type}): job {accepted.job_id}",
                        f"/ui/jobs/{accepted.job_id}")


async def _job(request: Request, job_id: UUID) -> dict[str, Any]:
    row = await store.get_job(_res(request).pool, job_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"job {job_id} not found")
    return dict(row)


@router.post("/ui/jobs/{job_id}/cancel")
async def cancel(request: Request, user: Staff, job_id: UUID) -> RedirectResponse:
    row = await _job(request, job_id)
    if JobStatus(row["status"]).finished:  # pending, running and stalled jobs can still be stopped
        return flash_and_go(request, f"Job {job_id} is {row['status']}: nothing to cancel", f"/ui/jobs/{job_id}",
                            "error")
    res = _res(request)
    routing_key = f"{row['service']}.{CANCEL}"
    command = CancelCommand(job_id=job_id, requested_by=who(user.name))
    await res.publisher.publish(routing_key, command.model_dump_json().encode(), message_id=f"cancel-{job_id}")
    await queries.record_action(res.pool, job_id, "cancel", user.name)
    return flash_and_go(request, "Cancel requested: the job stops after its current step", f"/ui/jobs/{job_id}")


@router.post("/ui/jobs/{job_id}/rerun")
async def rerun(request: Request, user: Staff, job_id: UUID) -> RedirectResponse:
    row = await _job(request, job_id)
    if row["options"] is None:
        return flash_and_go(request, "This job's options are not known (it was not started through ferry), so it "
                            "cannot be re-run from here", f"/ui/jobs/{job_id}", "error")
    body = StartJob(service=str(row["service"]), command=str(row["command"]), options=dict(row["options"]))
    accepted = await publish_job(_res(request), body, requested_by=who(user.name))
    await queries.record_action(_res(request).pool, job_id, "rerun", user.name, new_job_id=accepted.job_id)
    return flash_and_go(request, f"Re-run of {job_id} started", f"/ui/jobs/{accepted.job_id}")


async def _publish_event(request: Request, event: JobEvent) -> None:
    """Publish an operator's event to `ferry.events`, the way services do."""
    await _res(request).publisher.event(event)


@router.post("/ui/jobs/{job_id}/mark")
async def mark(
    request: Request, user: Staff, job_id: UUID, outcome: Annotated[Literal["completed", "failed"], Form()],
    reason: Annotated[str, Form(max_length=500)] = "",
) -> RedirectResponse:
    if not reason.strip():
        return flash_and_go(request, f"Say why the job is marked {outcome}", f"/ui/jobs/{job_id}", "error")
    row = await _job(request, job_id)
    kind = EventType.COMPLETED if outcome == "completed" else EventType.FAILED
    detail: dict[str, object] = {"operator": user.name, "reason": reason.strip()}
    if kind is EventType.FAILED:
        detail["error"] = f"marked failed by {user.name}: {reason.strip()}"
    counters = {k: row[k] for k in ("total", "processed", "succeeded", "failed", "skipped")}
    event = JobEvent(
        job_id=job_id, service=str(row["service"]), command=str(row["command"]), type=kind,
        seq=max(0, int(str(row["last_seq"])) + 1), message=f"Marked {outcome} by {user.name}: {reason.strip()}"[:2000],
        detail=detail, **counters,
    )
    await _publish_event(request, event)
    await queries.record_action(_res(request).pool, job_id, f"mark {outcome}", user.name, reason.strip())
    return flash_and_go(request, f"Job marked {outcome}", f"/ui/jobs/{job_id}")


@router.post("/ui/jobs/{job_id}/clear-error")
async def clear_error(request: Request, user: Staff, job_id: UUID) -> RedirectResponse:
    await _job(request, job_id)
    if not await queries.clear_error(_res(request).pool, job_id):
        return flash_and_go(request, "The job has no error message to clear", f"/ui/jobs/{job_id}", "error")
    await queries.record_action(_res(request).pool, job_id, "clear error", user.name)
    return flash_and_go(request, "Error message cleared", f"/ui/jobs/{job_id}")
