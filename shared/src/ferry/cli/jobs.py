"""`ferry jobs`, `ferry job`, `ferry watch`, `ferry cancel`: any service's jobs."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import typer

from ferry.cli.context import Deps, Output, guard, is_prompt_count, requested_by
from ferry.cli.errors import JobEnded, JobNotFound
from ferry.cli.flags import ApiJsonFlag
from ferry.cli.follow import not_found
from ferry.cli.job_ids import check_prefix, full_id, resolve
from ferry.cli.publish import publish
from ferry.cli.render import job_card, jobs_table
from ferry.cli.submit import finish, wait_for
from ferry.contracts import CANCEL, FINISHED_STATUSES, CancelCommand, JobStatus, services

StatusFilter = typer.Option("--status", help="Only jobs with this status.", case_sensitive=False)
JobIdArg = Annotated[
    str,
    typer.Argument(metavar="JOB_ID", callback=check_prefix, help="The job's id, or enough of its start to name one."),
]


def register(app: typer.Typer, deps: Deps) -> None:
    """Add the job commands to `app`."""

    def _resolved(job_ref: str) -> UUID:
        """A whole id as given (the job may not have reached the status service yet), else its lookup."""
        whole = full_id(job_ref)
        if whole is not None:
            return whole
        with deps.status_client(deps.load_settings()) as client:
            return resolve(client, job_ref)

    @app.command("jobs")
    @guard
    def list_jobs(
        service: Annotated[str | None, typer.Option("--service", help="Only this service's jobs.")] = None,
        status: Annotated[JobStatus | None, StatusFilter] = None,
        limit: Annotated[int, typer.Option("--limit", min=1, max=500, help="How many jobs to show.")] = 50,
        json_output: ApiJsonFlag = False,
        show_all: Annotated[
            bool, typer.Option("--all", help="Also the dry-run jobs confirmation prompts published to count rows.")
        ] = False,
    ) -> None:
        """Recent jobs, newest first."""
        output = Output(json_mode=json_output)
        with deps.status_client(deps.load_settings()) as client:
            page = client.jobs(service=service, status=status.value if status else None, limit=limit)
        if not show_all:
            shown = [j for j in page.get("items", []) if not is_prompt_count(j)]
            page = {**page, "items": shown, "hidden": len(page.get("items", [])) - len(shown)}
        if json_output:
            output.emit_json(page)
        else:
            jobs_table(output.out, page)

    @app.command("job")
    @guard
    def show_job(
        job_ref: JobIdArg,
        json_output: ApiJsonFlag = False,
    ) -> None:
        """One job: status, progress, counters, timings, duration, error and result."""
        output = Output(json_mode=json_output)
        with deps.status_client(deps.load_settings()) as client:
            job_id = resolve(client, job_ref)
            job = client.job(job_id)
        if job is None:
            raise not_found(job_id)
        if json_output:
            output.emit_json(job)
        else:
            job_card(output.out, job)

    @app.command("watch")
    @guard
    def watch(
        job_ref: JobIdArg,
        json_output: Annotated[bool, typer.Option("--json", help="Print only the finished job as JSON.")] = False,
    ) -> None:
        """Follow a job live until it finishes; exit 1 unless it completes."""
        output = Output(json_mode=json_output)
        job_id = _resolved(job_ref)
        job = wait_for(
            deps, output, deps.load_settings(), job_id, label=f"job {job_id}", give_up_after_s=deps.unknown_job_grace_s
        )
        raise typer.Exit(finish(output, job))

    @app.command("cancel")
    @guard
    def cancel(
        job_ref: JobIdArg,
        service: Annotated[
            str | None,
            typer.Option("--service", help="The job's service (otherwise looked up in the status service)."),
        ] = None,
        json_output: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
    ) -> None:
        """Ask a job's service to stop it between items."""
        output = Output(json_mode=json_output)
        if service is not None and service not in services():
            allowed = ", ".join(repr(s) for s in services())
            raise typer.BadParameter(f"{service!r} is not one of {allowed}.", param_hint="'--service'")
        settings = deps.load_settings()
        job_id = _resolved(job_ref)
        if service is None:
            with deps.status_client(settings) as client:
                job = client.job(job_id)
            if job is None:
                raise JobNotFound(f"job {job_id} not found in the status service; pass --service to cancel it anyway")
            service = str(job["service"])
            status_now = str(job.get("status", ""))
            if status_now in {s.value for s in FINISHED_STATUSES}:
                # Publishing would be a no-op the service ignores; say so instead of claiming success.
                raise JobEnded(f"job {job_id} already ended: {status_now}; nothing to cancel")
        publish(settings.amqp_url, service, CANCEL, CancelCommand(job_id=job_id, requested_by=requested_by()))
        if json_output:
            output.emit_json({"job_id": str(job_id), "service": service, "routing_key": f"{service}.{CANCEL}"})
        else:
            output.say(f"Asked {service} to cancel job {job_id} ({service}.{CANCEL})")
