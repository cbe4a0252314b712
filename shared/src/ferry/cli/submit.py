"""Validating a command's options, publishing it as a job, and optionally following it.

Service modules (e.g. `janitor.py`) parse their flags, then call `build_options` and `submit`;
everything here is the same for every service.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID, uuid4

import typer
from pydantic import ValidationError

from ferry.cli.context import Deps, Output, requested_by
from ferry.cli.errors import Refused
from ferry.cli.flags import flag
from ferry.cli.follow import exit_code, final_json, follow, report_end
from ferry.cli.publish import publish
from ferry.cli.schedules import create_schedule
from ferry.cli.status_client import Job
from ferry.contracts import Command, Options, command_spec
from ferry.settings import FerrySettings

OptionsT = TypeVar("OptionsT", bound=Options)


def build_options(model: type[OptionsT], **values: Any) -> OptionsT:
    """`model(**values)`, or a usage error (exit 2) naming the offending flag."""
    try:
        return model(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        if not first["loc"]:  # a rule across several flags: its message names them
            raise typer.BadParameter(str(first["msg"]).removeprefix("Value error, ")) from None
        field = str(first["loc"][0])
        given = values.get(field, first.get("input"))
        raise typer.BadParameter(f"{given!r}: {first['msg']}", param_hint=f"'{flag(field)}'") from None


def print_report(output: Output, result: dict[str, Any]) -> None:
    """A job's closing report, when its result carries one (`report`: a list of lines, as the old command printed)."""
    report = result.get("report")
    if isinstance(report, list):
        for line in report:
            output.say(str(line))


def submit(
    deps: Deps,
    output: Output,
    settings: FerrySettings,
    *,
    service: str,
    command: str,
    options: Options,
    job_id: UUID | None = None,
    wait: bool = False,
    on_result: Callable[[Output, dict[str, Any]], None] | None = None,
    schedule: str | None = None,
    timezone: str = "UTC",
) -> int:
    """Publish one job and print its id; with `wait`, follow it and return the exit code.

    With `schedule` (HH:MM), publish nothing: create a daily schedule of the same options instead."""
    if schedule is not None:
        if wait or job_id is not None:
            raise Refused("--schedule creates a schedule and runs nothing now: it takes neither --wait nor --job-id")
        return create_schedule(deps, output, settings, service=service, command=command, options=options,
                               schedule=schedule, timezone=timezone)
    spec = command_spec(service, command)
    envelope: Command[Any] = Command(job_id=job_id or uuid4(), requested_by=requested_by(), options=options)
    publish(settings.amqp_url, service, command, envelope)
    if not wait:
        if output.json_mode:
            output.emit_json(
                {
                    "job_id": str(envelope.job_id),
                    "service": service,
                    "command": command,
                    "routing_key": spec.routing_key,
                    "options": options.model_dump(mode="json"),
                }
            )
        else:
            output.say(f"Published job {envelope.job_id} ({spec.routing_key})")
        return 0
    output.say(f"Published job {envelope.job_id} ({spec.routing_key})")
    job = wait_for(deps, output, settings, envelope.job_id, label=spec.routing_key, published_to=service)
    return finish(output, job, on_result)


def wait_for(deps: Deps, output: Output, settings: FerrySettings, job_id: UUID, *, label: str, **kw: Any) -> Job:
    """Follow a job through the status service until it finishes."""
    with deps.status_client(settings) as client:
        return follow(client, job_id, output, label=label, poll_interval_s=deps.poll_interval_s, **kw)


def finish(output: Output, job: Job, on_result: Callable[[Output, dict[str, Any]], None] | None = None) -> int:
    """Print how a followed job ended (or its JSON) and return the CLI's exit code for it."""
    if output.json_mode:
        output.emit_json(final_json(job))
    else:
        if on_result is not None and isinstance(job.get("result"), dict):
            on_result(output, job["result"])
        report_end(output, job)
    return exit_code(job)
