"""The flags every job command takes, defined once: --wait, --json, --job-id, --schedule, --tz.

A job command is written with only its own flags and a `job: JobFlags` parameter, under
`@with_job_flags`; the decorator gives typer the common flags as well, hands them to the command
as one `JobFlags`, and exits with the code the command returns:

    @sub.command("pull-and-clean")
    @guard
    @with_job_flags
    def pull_and_clean(job: JobFlags, batch_size: ... = ...) -> int:
        return job.submit(deps, SERVICE, COMMAND, build_options(...))
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Annotated, Any
from uuid import UUID

import typer

from ferry.cli.context import Deps, Output
from ferry.cli.flags import JsonFlag, checked, zone
from ferry.cli.submit import submit
from ferry.contracts import Options
from ferry.contracts.content_fetch import check_daily_time

ScheduleFlag = Annotated[
    str | None,
    typer.Option(
        "--schedule", callback=checked(check_daily_time), metavar="HH:MM",
        help="Instead of running now, create a daily schedule at this time (see --tz) in the status service.",
    ),
]
TzFlag = Annotated[str, typer.Option("--tz", callback=checked(zone), help="The --schedule's IANA time zone.")]
WaitFlag = Annotated[
    bool, typer.Option("--wait", help="Follow the job with a progress bar; exit 1 unless it completes.")
]
JobIdOption = Annotated[
    UUID | None, typer.Option("--job-id", help="Choose the job id (publishing the same id twice runs the job once).")
]


@dataclass(frozen=True)
class JobFlags:
    """The common flags' values: how to publish the job (or schedule it) and how to print."""

    wait: bool = False
    json_output: bool = False
    job_id: UUID | None = None
    schedule: str | None = None
    tz: str = "UTC"

    @functools.cached_property
    def output(self) -> Output:
        return Output(json_mode=self.json_output)

    def submit(
        self, deps: Deps, service: str, command: str, options: Options,
        on_result: Callable[[Output, dict[str, Any]], None] | None = None,
    ) -> int:
        """Publish (or, with --schedule, schedule) the job with these flags; the exit code."""
        return submit(deps, self.output, deps.load_settings(), service=service, command=command, options=options,
                      job_id=self.job_id, wait=self.wait, on_result=on_result, schedule=self.schedule,
                      timezone=self.tz)


_ANNOTATIONS: dict[str, Any] = {
    "wait": WaitFlag, "json_output": JsonFlag, "job_id": JobIdOption, "schedule": ScheduleFlag, "tz": TzFlag,
}
_COMMON = [
    inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, annotation=_ANNOTATIONS[f.name], default=f.default)
    for f in fields(JobFlags)
]


def with_job_flags(command: Callable[..., int]) -> Callable[..., None]:
    """`command(job, **own_flags) -> exit code` as a typer command with its own flags and the common ones."""
    own = inspect.signature(command, eval_str=True)
    params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own.parameters.values() if p.name != "job"]

    @functools.wraps(command)
    def run(**values: Any) -> None:
        job = JobFlags(**{p.name: values.pop(p.name) for p in _COMMON})
        raise typer.Exit(command(job=job, **values))

    # typer reads a command's flags from its signature: the command's own, then the common ones.
    run.__signature__ = own.replace(parameters=[*params, *_COMMON], return_annotation=None)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in [*params, *_COMMON]}
    del run.__wrapped__  # so nothing reads the command's own signature instead
    return run
