"""The status HTTP API: jobs, their events, stats, starting and cancelling jobs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any
from uuid import UUID, uuid4

import asyncpg
import structlog
from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import ValidationError

from ferry.contracts import (
    CANCEL,
    CancelCommand,
    Command,
    CommandSpec,
    JobEvent,
    JobStatus,
    Options,
    command_spec,
    services,
)
from ferry.contracts.registry import COMMANDS, UnknownCommand
from ferry_status import store
from ferry_status.auth import require_token
from ferry_status.errors import PublishFailed
from ferry_status.metrics import Metrics
from ferry_status.models import CancelAccepted, Job, JobAccepted, JobPage, Readiness, StartJob, Stats
from ferry_status.resources import Resources
from ferry_status.settings import StatusSettings

log = structlog.get_logger(__name__)
PG_INT_MAX = 2**31 - 1
"""Largest Postgres `integer` (event seq): larger numbers are refused with 422, not sent to Postgres."""
PG_BIGINT_MAX = 2**63 - 1
"""Largest Postgres `bigint` (offsets)."""
EVENTS_PAGE_MAX = 1000
"""Most events one page of `/jobs/{id}/events` holds."""
_OUTAGES = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.CannotConnectNowError, OSError,
            TimeoutError)


def create_app(settings: StatusSettings | None = None) -> FastAPI:
    """The status service's ASGI app; its lifespan opens the pool, the broker and the ingester."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.resources = await Resources.open(app.state.settings, app.state.metrics)
        try:
            yield
        finally:
            await app.state.resources.close()

    app = FastAPI(
        title="ferry status", version="1", lifespan=lifespan,
        description="Every ferry job's progress in one place; start and cancel jobs.",
    )
    app.state.settings = settings or StatusSettings()
    app.state.metrics = Metrics()
    app.include_router(_routes())
    from ferry_status.schedules_api import router as schedules_router  # it imports validated_command

    app.include_router(schedules_router())
    from ferry_status.dashboard import mount  # here: the dashboard's actions import publish_job

    mount(app)

    @app.exception_handler(PublishFailed)
    async def _publish_failed(_request: Request, exc: PublishFailed) -> JSONResponse:
        log.warning("publish failed", error=str(exc))
        return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE)

    for kind in _OUTAGES:

        @app.exception_handler(kind)
        async def _outage(_request: Request, exc: Exception) -> JSONResponse:
            log.warning("database unavailable", error=repr(exc))
            return JSONResponse({"detail": "database unavailable"}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE)

    return app


def resources(request: Request) -> Resources:
    res: Resources = request.app.state.resources
    return res


Res = Annotated[Resources, Depends(resources)]


def _unprocessable(field: str, message: str, value: Any) -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail=[{"loc": ["body", field], "msg": message, "type": "value_error", "input": value}],
    )


async def _job_or_404(res: Resources, job_id: UUID) -> asyncpg.Record:
    row = await store.get_job(res.pool, job_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"job {job_id} not found")
    return row


def validated_command(service: str, command: str, raw: dict[str, Any]) -> tuple[CommandSpec, Options]:
    """The command's spec and its validated options, or a 422 naming what is wrong."""
    try:
        spec = command_spec(service, command)
    except UnknownCommand as exc:
        bad = "command" if service in services() else "service"
        known = sorted({c for s, c in COMMANDS if s == service}) if bad == "command" else services()
        given = command if bad == "command" else service
        raise _unprocessable(bad, f"{exc.args[0]}; allowed: {', '.join(known)}", given) from None
    try:
        return spec, spec.options.model_validate(raw)
    except ValidationError as exc:
        errors = json.loads(exc.json(include_url=False))
        for error in errors:
            error["loc"] = ["body", "options", *error["loc"]]
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=errors) from None


async def publish_job(res: Resources, body: StartJob, *, requested_by: str) -> JobAccepted:
    """Validate a start request, claim its job id and publish its command (the API's and any
    other in-process caller's way to start a job; `requested_by` is who is authenticated)."""
    spec, options = validated_command(body.service, body.command, body.options)
    envelope = Command[Any](job_id=body.job_id or uuid4(), requested_by=requested_by, options=options)
    # The id is claimed before publishing, so that a client-chosen id of another job is refused
    # instead of mixing two jobs' events in one row (and sending cancels to the wrong service).
    claimed, service, command = await store.claim_job_id(
        res.pool, envelope.job_id, spec.service, spec.command, options.model_dump(mode="json"), requested_by
    )
    if (service, command) != (spec.service, spec.command):
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"job {envelope.job_id} already exists for {service} {command}; choose another job_id",
        )
    try:
        await res.publisher.publish(spec.routing_key, envelope.model_dump_json().encode(),
                                    message_id=str(envelope.job_id))
    except PublishFailed:
        if claimed:
            try:
                await store.release_job_id(res.pool, envelope.job_id)
            except (asyncpg.PostgresError, *_OUTAGES) as exc:
                log.warning("unpublished job left pending", job_id=str(envelope.job_id), error=repr(exc))
        raise
    res.metrics.commands_published.labels(routing_key=spec.routing_key).inc()
    log.info("job requested", job_id=str(envelope.job_id), routing_key=spec.routing_key, requested_by=requested_by)
    return JobAccepted(job_id=envelope.job_id, routing_key=spec.routing_key)


def _routes() -> Any:
    from fastapi import APIRouter

    router = APIRouter()

    @router.get("/jobs", response_model=JobPage, summary="Recent jobs, newest first")
    async def list_jobs(
        res: Res,
        service: Annotated[str | None, Query(description="Only this service's jobs.")] = None,
        job_status: Annotated[JobStatus | None, Query(alias="status", description="Only jobs in this status.")] = None,
        limit: Annotated[int, Query(ge=1, le=500, description="Page size.")] = 50,
        offset: Annotated[int, Query(ge=0, le=PG_BIGINT_MAX, description="Jobs to skip.")] = 0,
        id_prefix: Annotated[str | None, Query(
            pattern=r"^[0-9a-fA-F-]{1,36}$",
            description="Only jobs whose id starts with this (as `ferry job <prefix>` resolves a short id).",
        )] = None,
    ) -> JobPage:
        rows, total = await store.list_jobs(
            res.pool, service=service, status=job_status, limit=limit, offset=offset, id_prefix=id_prefix
        )
        return JobPage(items=[Job.from_row(r) for r in rows], total=total, limit=limit, offset=offset)

    @router.get("/jobs/{job_id}", response_model=Job, summary="One job", responses={404: {"description": "Unknown"}})
    async def get_job(res: Res, job_id: UUID) -> Job:
        return Job.from_row(await _job_or_404(res, job_id))

    @router.get(
        "/jobs/{job_id}/events", response_model=list[JobEvent], summary="A job's events in order, a page at a time",
        description="At most `limit` events with `seq > after_seq`, in seq order. When more remain, the "
        '`Link` header names the next page (`<url>; rel="next"`).',
    )
    async def job_events(
        request: Request, response: Response, res: Res, job_id: UUID,
        after_seq: Annotated[int, Query(ge=-1, le=PG_INT_MAX, description="Only events with a higher seq "
                                        "(-1, the default: from the first).")] = -1,
        limit: Annotated[int, Query(ge=1, le=EVENTS_PAGE_MAX, description="Most events on this page.")] = 500,
    ) -> list[JobEvent]:
        await _job_or_404(res, job_id)
        bodies = await store.job_events(res.pool, job_id, after_seq, limit + 1)
        page = [JobEvent.model_validate(b) for b in bodies[:limit]]
        if len(bodies) > limit:
            following = request.url.include_query_params(after_seq=page[-1].seq, limit=limit)
            response.headers["Link"] = f'<{following}>; rel="next"'
        return page

    @router.get("/stats", response_model=Stats, summary="Jobs by status and by service")
    async def stats(res: Res) -> Stats:
        by_status: dict[str, int] = {}
        by_service: dict[str, dict[str, int]] = {}
        for service, job_status, n in await store.counts(res.pool):
            by_status[job_status] = by_status.get(job_status, 0) + n
            by_service.setdefault(service, {})[job_status] = n
        return Stats(by_status=by_status, by_service=by_service, total=sum(by_status.values()))

    @router.post(
        "/jobs", response_model=JobAccepted, status_code=status.HTTP_202_ACCEPTED, summary="Start a job",
        responses={409: {"description": "The job id belongs to a job of another service or command"}},
    )
    async def start_job(res: Res, body: StartJob, caller: Annotated[str, Depends(require_token)]) -> JobAccepted:
        return await publish_job(res, body, requested_by=caller)

    @router.post(
        "/jobs/{job_id}/cancel", response_model=CancelAccepted, status_code=status.HTTP_202_ACCEPTED,
        summary="Ask a job's service to stop it",
    )
    async def cancel_job(res: Res, job_id: UUID, caller: Annotated[str, Depends(require_token)]) -> CancelAccepted:
        row = await _job_or_404(res, job_id)
        command = CancelCommand(job_id=job_id, requested_by=caller)
        routing_key = f"{row['service']}.{CANCEL}"
        await res.publisher.publish(routing_key, command.model_dump_json().encode(), message_id=f"cancel-{job_id}")
        res.metrics.commands_published.labels(routing_key=routing_key).inc()
        log.info("cancel requested", job_id=str(job_id), routing_key=routing_key)
        return CancelAccepted(job_id=job_id, service=row["service"])

    @router.get("/healthz", summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", response_model=Readiness, summary="Readiness: broker, events consumer, database",
                responses={503: {"model": Readiness}})
    async def readyz(res: Res) -> JSONResponse:
        checks = await res.readiness()
        ready = all(v == "ok" for v in checks.values())
        body = Readiness(ready=ready, checks=checks).model_dump()
        return JSONResponse(body, status_code=status.HTTP_200_OK if ready else status.HTTP_503_SERVICE_UNAVAILABLE)

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics(res: Res) -> Response:
        m: Metrics = res.metrics
        try:
            by_status: dict[str, int] = {}
            for _service, job_status, n in await store.counts(res.pool):
                by_status[job_status] = by_status.get(job_status, 0) + n
            m.set_job_counts(by_status)
        except (asyncpg.PostgresError, *_OUTAGES):
            pass  # the gauges keep their last values while Postgres is away
        return Response(m.render(), media_type=CONTENT_TYPE_LATEST)

    return router
