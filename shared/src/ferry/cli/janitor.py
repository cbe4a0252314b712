"""`ferry telemetry-janitor ...`: the janitor's commands (services/telemetry-janitor/README.md).

`clear` mirrors `clear_learnpack_telemetry_queue`: the same flags, defaults and lines. The
confirmation prompt lives here, at the terminal: unless `--force` or `--dry-run`, a dry-run
job counts the rows first, the user confirms that number, and the real job is pinned to the
highest id counted (`up_to_id`) so rows arriving meanwhile are not deleted unseen.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any
from uuid import UUID, uuid4

import typer

from ferry.cli.context import Deps, Output, guard, requested_by
from ferry.cli.errors import Refused
from ferry.cli.flags import ModelFlags
from ferry.cli.job_flags import JobFlags, with_job_flags
from ferry.cli.publish import publish
from ferry.cli.submit import build_options, submit, wait_for
from ferry.contracts import ClearOptions, Command, SeedDemoOptions
from ferry.settings import FerrySettings

SERVICE = "telemetry-janitor"
MODEL = "LearnPackWebhook"
YES = frozenset({"yes", "y"})
# Each flag of an options field takes its default, help and limits from the model (one definition of each).
_C = ModelFlags(ClearOptions)
_S = ModelFlags(SeedDemoOptions)


def print_status_summary(output: Output, result: dict[str, Any]) -> None:
    """The seed's status table, when the result carries `status_summary`."""
    summary = result.get("status_summary")
    if not isinstance(summary, dict) or not summary:
        return
    output.say("")
    output.say(f"Current {MODEL} status summary:")
    output.say("-" * 40)
    for status in sorted(summary):
        output.say(f"{status}: {int(summary[status]):,} records")
    output.say("-" * 40)
    output.say(f"Total: {sum(int(n) for n in summary.values()):,} records")


def _ask(output: Output, question: str) -> str:
    typer.echo(question, nl=False, err=output.json_mode)
    try:
        return sys.stdin.readline().strip().lower()
    except KeyboardInterrupt:
        return ""


def confirm_and_clear(
    deps: Deps, output: Output, settings: FerrySettings, options: ClearOptions, *, job_id: UUID | None, wait: bool
) -> int:
    """Count with a dry-run job, ask, then publish the real job pinned to what was counted."""
    if not deps.stdin_is_terminal():
        raise Refused(
            "stdin is not a terminal, so the deletion cannot be confirmed: pass --force to delete "
            "without confirmation (or --dry-run to only count)"
        )
    status = options.status.value
    counting: Command[ClearOptions] = Command(
        job_id=uuid4(),
        requested_by=requested_by(prompt_count=True),
        options=ClearOptions.model_validate({**options.model_dump(), "dry_run": True}),
    )
    publish(settings.amqp_url, SERVICE, "clear", counting)
    output.say(f"Counting {MODEL} records with status '{status}' (dry-run job {counting.job_id})...")
    job = wait_for(deps, output, settings, counting.job_id, label="counting", show_events=False,
                   published_to=SERVICE)
    if job["status"] != "completed":
        output.warn(
            f"The counting job {counting.job_id} {job['status']}: {job.get('error') or job.get('message') or ''}"
        )
        return 1
    result: dict[str, Any] = job.get("result") or {}
    found = int(result.get("found") or 0)
    if found == 0:
        output.say(f"No {MODEL} records found with status '{status}'")
        print_status_summary(output, result)
        if output.json_mode:
            output.emit_json({"job_id": None, "counting_job_id": str(counting.job_id), "found": 0})
        return 0
    question = f"Are you sure you want to delete {found:,} {MODEL} records with status '{status}'? (yes/no): "
    answer = _ask(output, question)
    if answer not in YES:
        output.say("Operation cancelled.")
        if output.json_mode:
            output.emit_json(
                {"job_id": None, "counting_job_id": str(counting.job_id), "found": found, "confirmed": False}
            )
        return 1
    pinned = ClearOptions.model_validate({**options.model_dump(), "up_to_id": result.get("up_to_id")})
    return submit(
        deps,
        output,
        settings,
        service=SERVICE,
        command="clear",
        options=pinned,
        job_id=job_id,
        wait=wait,
        on_result=print_status_summary,
    )


def register(app: typer.Typer, deps: Deps) -> None:
    """Add `ferry telemetry-janitor` and its commands to `app`."""
    sub = typer.Typer(help="Delete LearnPack webhook rows fast and safely.", no_args_is_help=True)
    app.add_typer(sub, name=SERVICE)

    @sub.command("clear")
    @guard
    @with_job_flags
    def clear(
        job: JobFlags,
        status: Annotated[str, _C.option("status")] = _C.default("status"),
        batch_size: Annotated[int, _C.option("batch_size")] = _C.default("batch_size"),
        use_cursor: Annotated[bool, _C.option("use_cursor")] = _C.default("use_cursor"),
        dry_run: Annotated[bool, _C.option("dry_run")] = _C.default("dry_run"),
        force: Annotated[bool, typer.Option("--force", help="Skip the confirmation prompt.")] = False,
        show_summary: Annotated[bool, _C.option("show_summary")] = _C.default("show_summary"),
    ) -> int:
        """Delete LearnPackWebhook records by status (replaces clear_learnpack_telemetry_queue)."""
        options = build_options(
            ClearOptions,
            status=status,
            batch_size=batch_size,
            use_cursor=use_cursor,
            dry_run=dry_run,
            show_summary=show_summary,
        )
        if job.schedule is not None and not (force or dry_run):
            raise Refused("a scheduled clear has nobody to confirm it: give --force (or --dry-run) with --schedule")
        if force or dry_run:
            return job.submit(deps, SERVICE, "clear", options, on_result=print_status_summary)
        return confirm_and_clear(deps, job.output, deps.load_settings(), options, job_id=job.job_id, wait=job.wait)

    @sub.command("seed-demo")
    @guard
    @with_job_flags
    def seed_demo(
        job: JobFlags,
        rows: Annotated[int, _S.option("rows")] = _S.default("rows"),
        pending: Annotated[float, _S.option("pending")] = _S.default("pending"),
        done: Annotated[float, _S.option("done")] = _S.default("done"),
        ignored: Annotated[float, _S.option("ignored")] = _S.default("ignored"),
        dry_run: Annotated[bool, _S.option("dry_run")] = _S.default("dry_run"),
    ) -> int:
        """Fill the webhook table with realistic demo rows (the rest of the shares are ERROR)."""
        options = build_options(
            SeedDemoOptions, rows=rows, pending=pending, done=done, ignored=ignored, dry_run=dry_run
        )
        return job.submit(deps, SERVICE, "seed-demo", options)
