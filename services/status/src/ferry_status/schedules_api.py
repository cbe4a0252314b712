"""`/schedules`: create, list, pause, resume and delete schedules (mutations need the bearer token)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Response, status
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from ferry.settings import valid_webhook_url
from ferry_status import scheduler, timing
from ferry_status.api import Res, validated_command
from ferry_status.auth import require_token
from ferry_status.notifications import masked
from ferry_status.settings import FinishedStatus


class NewSchedule(BaseModel):
    """A command to run on a schedule."""

    model_config = ConfigDict(extra="forbid")

    service: str = Field(description="The service to run it, e.g. `telemetry-janitor`.")
    command: str = Field(description="The command, e.g. `clear`.")
    options: dict[str, Any] = Field(default_factory=dict, description="The command's options (validated now).")
    schedule: str = Field(description="`HH:MM` (daily) or a cron expression (5 fields, or 6 with seconds first).")
    timezone: str = Field("UTC", description="IANA time zone the schedule is read in, e.g. `Europe/Madrid`.")
    catch_up: bool = Field(
        False, description="After every replica was down past a due time: fire the latest missed one once "
        "(true) or skip it (false)."
    )
    overlap: Literal["skip", "allow"] = Field(
        "skip", description="`skip`: do not fire while the schedule's previous job is still unfinished."
    )
    paused: bool = Field(False, description="Create it paused.")
    notify_on: list[FinishedStatus] | None = Field(
        None, description="Finished statuses of its jobs that send a webhook notification (`[]`: none); "
        "null: FERRY_STATUS_NOTIFY_ON decides."
    )
    notify_url: SecretStr | None = Field(
        None, description="Webhook for its jobs' notifications (a secret: only ever shown masked); "
        "null: FERRY_STATUS_NOTIFY_URL."
    )


class Schedule(BaseModel):
    """A schedule, its next due time and its last run."""

    schedule_id: UUID = Field(description="The schedule's id.")
    service: str = Field(description="The service its jobs run on.")
    command: str = Field(description="The command.")
    options: dict[str, Any] = Field(description="The command's options.")
    schedule: str = Field(description="As given: `HH:MM` or a cron expression.")
    cron: str = Field(description="The cron expression evaluated.")
    timezone: str = Field(description="The IANA time zone it is read in.")
    catch_up: bool = Field(description="Whether a due time missed while every replica was down fires once.")
    overlap: str = Field(description="`skip` or `allow` a run while the previous one is unfinished.")
    paused: bool = Field(description="Paused schedules fire nothing.")
    next_run_at: datetime | None = Field(description="Next due time (UTC); null while paused.")
    next_run_local: str | None = Field(description="Next due time in the schedule's time zone (ISO 8601).")
    last_run_at: datetime | None = Field(description="The last due time handled (fired or skipped).")
    last_job_id: UUID | None = Field(description="The job the schedule last started.")
    created_by: str | None = Field(description="Who created it.")
    created_at: datetime = Field(description="When it was created.")
    notify_on: list[str] | None = Field(description="Finished statuses that notify; null: the global setting.")
    notify_url: str | None = Field(description="Its own webhook, masked (scheme and host only); null: the global one.")

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Schedule:
        upcoming = None if row["paused"] else row["next_due"]
        local = upcoming.astimezone(timing.zone(row["timezone"])).isoformat() if upcoming else None
        return cls(
            schedule_id=row["schedule_id"], service=row["service"], command=row["command"], options=row["options"],
            schedule=row["spec"], cron=row["cron"], timezone=row["timezone"], catch_up=row["catch_up"],
            overlap=row["overlap"], paused=row["paused"], next_run_at=upcoming, next_run_local=local,
            last_run_at=row["last_due"], last_job_id=row["last_job_id"], created_by=row["created_by"],
            created_at=row["created_at"], notify_on=row["notify_on"], notify_url=masked(row["notify_url"]),
        )


Caller = Annotated[str, Depends(require_token)]
"""Who is authenticated (mutations need the bearer token)."""


def _bad(field: str, message: str, value: Any) -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail=[{"loc": ["body", field], "msg": message, "type": "value_error", "input": value}],
    )


def router() -> APIRouter:
    routes = APIRouter(tags=["schedules"])

    async def _or_404(res: Res, schedule_id: UUID) -> asyncpg.Record:
        row = await scheduler.get(res.pool, schedule_id)
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"schedule {schedule_id} not found")
        return row

    @routes.get("/schedules", response_model=list[Schedule], summary="Every schedule")
    async def list_schedules(res: Res) -> list[Schedule]:
        return [Schedule.from_row(r) for r in await scheduler.list_all(res.pool)]

    @routes.get("/schedules/{schedule_id}", response_model=Schedule, summary="One schedule")
    async def get_schedule(res: Res, schedule_id: UUID) -> Schedule:
        return Schedule.from_row(await _or_404(res, schedule_id))

    @routes.post("/schedules", response_model=Schedule, status_code=status.HTTP_201_CREATED,
                 summary="Create a schedule")
    async def create_schedule(res: Res, body: NewSchedule, caller: Caller) -> Schedule:
        spec, options = validated_command(body.service, body.command, body.options)
        try:
            timing.to_cron(body.schedule)
        except timing.BadSchedule as exc:
            raise _bad("schedule", str(exc), body.schedule) from None
        try:
            timing.zone(body.timezone)
        except timing.BadSchedule as exc:
            raise _bad("timezone", str(exc), body.timezone) from None
        url = body.notify_url.get_secret_value() if body.notify_url else None
        if url is not None and not valid_webhook_url(url):
            raise _bad("notify_url", "not an absolute http(s) URL with a host", "**********")
        row = await scheduler.create(
            res.pool, schedule_id=uuid4(), service=spec.service, command=spec.command,
            options=options.model_dump(mode="json"), spec=body.schedule.strip(), timezone=body.timezone,
            catch_up=body.catch_up, overlap=body.overlap, paused=body.paused, created_by=caller,
            now=datetime.now(UTC), notify_on=None if body.notify_on is None else list(body.notify_on), notify_url=url,
        )
        return Schedule.from_row(row)

    @routes.post("/schedules/{schedule_id}/pause", response_model=Schedule, summary="Stop firing it")
    async def pause(res: Res, schedule_id: UUID, caller: Caller) -> Schedule:
        row = await scheduler.set_paused(res.pool, schedule_id, True, datetime.now(UTC))
        return Schedule.from_row(row or await _or_404(res, schedule_id))

    @routes.post("/schedules/{schedule_id}/resume", response_model=Schedule,
                 summary="Fire it again, from the next due time after now")
    async def resume(res: Res, schedule_id: UUID, caller: Caller) -> Schedule:
        row = await scheduler.set_paused(res.pool, schedule_id, False, datetime.now(UTC))
        return Schedule.from_row(row or await _or_404(res, schedule_id))

    @routes.delete("/schedules/{schedule_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete it",
                   response_class=Response)
    async def delete(res: Res, schedule_id: UUID, caller: Caller) -> Response:
        if not await scheduler.delete(res.pool, schedule_id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"schedule {schedule_id} not found")
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return routes
