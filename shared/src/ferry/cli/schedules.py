"""`ferry schedules add|list|pause|resume|delete`: the status service's schedules (its `/schedules` API).

Changes need FERRY_API_TOKEN (the status service's bearer token). Options are validated here with
the command's own model, so a bad value is refused before anything is sent. `create_schedule` is
also what a job command's `--schedule HH:MM [--tz ZONE]` (cli/job_flags.py) calls instead of publishing.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID
from zoneinfo import ZoneInfo

import httpx
import typer
from rich.table import Table

from ferry.cli.context import Deps, Output, guard
from ferry.cli.errors import Refused, StatusApiError, StatusUnreachable
from ferry.cli.flags import ApiJsonFlag, checked, metavar, one_of, zone
from ferry.cli.publish import safe_url
from ferry.contracts import FINISHED_STATUSES, Options, UnknownCommand, command_spec
from ferry.settings import FerrySettings, valid_webhook_url

OVERLAP = ("skip", "allow")
NOTIFY_ON = (*sorted(status.value for status in FINISHED_STATUSES), "none")


def _notify_on(values: list[str] | None) -> list[str] | None:
    """`--notify-on`'s values, each checked and in its canonical spelling; `none` only alone."""
    if not values:
        return values
    values = list(dict.fromkeys(str(one_of(NOTIFY_ON)(value)) for value in values))
    if "none" in values and len(values) > 1:
        raise typer.BadParameter("'none' cannot be combined with statuses")
    return values


def _notify_statuses(values: list[str] | None) -> list[str] | None:
    """What the API takes: None (the global setting decides), [] for `none`, else the statuses."""
    if not values:
        return None
    return [] if values == ["none"] else values


def _webhook_url(value: str) -> str:
    if not valid_webhook_url(value):
        raise ValueError("not an absolute http(s) URL with a host")
    return value


def _request(deps: Deps, settings: FerrySettings, method: str, path: str, *, token: bool, **kw: Any) -> Any:
    headers = {}
    if token:
        if settings.api_token is None or not settings.api_token.get_secret_value():
            raise Refused("FERRY_API_TOKEN is not set: it is needed to change schedules")
        headers["Authorization"] = f"Bearer {settings.api_token.get_secret_value()}"
    base = settings.status_url.rstrip("/")
    try:
        with httpx.Client(base_url=base, transport=deps.status_transport, timeout=10) as http:
            response = http.request(method, path, headers=headers, **kw)
    except httpx.HTTPError as exc:
        raise StatusUnreachable(
            f"cannot reach the status service at {safe_url(base)} (set FERRY_STATUS_URL): {type(exc).__name__}"
        ) from None
    if response.status_code >= 500:
        raise StatusUnreachable(f"the status service at {safe_url(base)} answered {response.status_code}")
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = response.text[:300]
        if isinstance(detail, list):
            detail = "; ".join(f"{'.'.join(map(str, d.get('loc', [])[1:]))}: {d.get('msg')}" for d in detail)
        raise StatusApiError(f"the status service refused the request ({response.status_code}): {detail}")
    return response.json() if response.content else None


def create_schedule(
    deps: Deps, output: Output, settings: FerrySettings, *, service: str, command: str, options: Options,
    schedule: str, timezone: str = "UTC", catch_up: bool = False, overlap: str = "skip", paused: bool = False,
    notify_on: list[str] | None = None, notify_url: str | None = None,
) -> int:
    """Create a schedule for a command with validated options, and print it; the exit code.

    `notify_on`/`notify_url` None leave the status service's global notification settings in force."""
    body = {"service": service, "command": command, "options": options.model_dump(mode="json"),
            "schedule": schedule, "timezone": timezone, "catch_up": catch_up, "overlap": overlap, "paused": paused,
            "notify_on": notify_on, "notify_url": notify_url}
    created = _request(deps, settings, "POST", "/schedules", token=True, json=body)
    if output.json_mode:
        output.emit_json(created)
    else:
        output.say(f"Scheduled {service} {command} ({schedule} {timezone}) as {created['schedule_id']}; "
                   f"next run {_local(created)}")
    return 0


def _local(schedule: dict[str, Any]) -> str:
    """The next run in the schedule's own time zone, for people."""
    local = schedule.get("next_run_local")
    if not local:
        return "paused"
    when = datetime.fromisoformat(local).astimezone(ZoneInfo(schedule["timezone"]))
    return when.strftime(f"%Y-%m-%d %H:%M:%S %Z ({schedule['timezone']})")


def _parse_options(values: list[str]) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="'--option'")
        try:
            parsed[key.replace("-", "_")] = json.loads(raw)
        except ValueError:
            parsed[key.replace("-", "_")] = raw
    return parsed


def register(app: typer.Typer, deps: Deps) -> None:
    """Add `ferry schedules ...` to `app`."""
    group = typer.Typer(help="Schedules kept by the status service: each due time fires one job.",
                        no_args_is_help=True)
    app.add_typer(group, name="schedules")

    @group.command("add")
    @guard
    def add(
        service: Annotated[str, typer.Argument(help="The service, e.g. telemetry-janitor.")],
        command: Annotated[str, typer.Argument(help="The command, e.g. clear.")],
        at: Annotated[str, typer.Option("--schedule", "--at", help="HH:MM (daily) or a cron expression.")],
        tz: Annotated[
            str, typer.Option("--tz", callback=checked(zone), help="IANA time zone, e.g. Europe/Madrid.")
        ] = "UTC",
        option: Annotated[list[str] | None, typer.Option("--option", "-o", help="KEY=VALUE, repeatable.")] = None,
        catch_up: Annotated[bool, typer.Option("--catch-up", help="Fire a missed due time once.")] = False,
        overlap: Annotated[str, typer.Option(
            "--overlap", callback=one_of(OVERLAP), metavar=metavar(OVERLAP),
            help="skip or allow a run while one is going.")] = "skip",
        paused: Annotated[bool, typer.Option("--paused", help="Create it paused.")] = False,
        notify_on: Annotated[list[str] | None, typer.Option(
            "--notify-on", callback=_notify_on, metavar=metavar(NOTIFY_ON),
            help="A finished status of its jobs that sends a webhook notification; repeatable; `none` for no "
            "notifications. Not given: FERRY_STATUS_NOTIFY_ON decides.")] = None,
        notify_url: Annotated[str | None, typer.Option(
            "--notify-url", callback=checked(_webhook_url),
            help="Webhook for its jobs' notifications (kept secret: shown masked). Not given: "
            "FERRY_STATUS_NOTIFY_URL.")] = None,
        json_output: ApiJsonFlag = False,
    ) -> None:
        """Run SERVICE COMMAND on a schedule, e.g. `ferry schedules add telemetry-janitor clear
        --schedule 03:00 --tz Europe/Madrid -o status=DONE`."""
        from ferry.cli.submit import build_options

        try:
            spec = command_spec(service, command)
        except UnknownCommand as exc:
            raise Refused(str(exc)) from None
        options = build_options(spec.options, **_parse_options(option or []))
        raise typer.Exit(create_schedule(
            deps, Output(json_mode=json_output), deps.load_settings(), service=service, command=command,
            options=options, schedule=at, timezone=tz, catch_up=catch_up, overlap=overlap, paused=paused,
            notify_on=_notify_statuses(notify_on), notify_url=notify_url,
        ))

    @group.command("list")
    @guard
    def list_schedules(json_output: ApiJsonFlag = False) -> None:
        """Every schedule with its next run in its own time zone."""
        output = Output(json_mode=json_output)
        rows = _request(deps, deps.load_settings(), "GET", "/schedules", token=False)
        if json_output:
            output.emit_json(rows)
            return
        table = Table(box=None)
        for column in ("id", "command", "schedule", "next run (local)", "last job"):
            table.add_column(column, no_wrap=True)
        for s in rows:  # options: see --json
            table.add_row(s["schedule_id"], f"{s['service']} {s['command']}", f"{s['schedule']} {s['timezone']}",
                          _local(s), s.get("last_job_id") or "-")
        output.out.print(table)

    def _change(schedule_id: UUID, action: str, json_output: bool) -> None:
        output = Output(json_mode=json_output)
        method, path = ("DELETE", f"/schedules/{schedule_id}") if action == "delete" else \
            ("POST", f"/schedules/{schedule_id}/{action}")
        result = _request(deps, deps.load_settings(), method, path, token=True)
        if json_output:
            output.emit_json(result or {"schedule_id": str(schedule_id), "deleted": True})
        elif action == "delete":
            output.say(f"Deleted schedule {schedule_id}")
        else:
            output.say(f"Schedule {schedule_id} {action}d; next run {_local(result)}")

    @group.command("pause")
    @guard
    def pause(schedule_id: Annotated[UUID, typer.Argument()], json_output: ApiJsonFlag = False) -> None:
        """Stop firing a schedule."""
        _change(schedule_id, "pause", json_output)

    @group.command("resume")
    @guard
    def resume(schedule_id: Annotated[UUID, typer.Argument()], json_output: ApiJsonFlag = False) -> None:
        """Fire it again, from its next due time after now."""
        _change(schedule_id, "resume", json_output)

    @group.command("delete")
    @guard
    def delete(schedule_id: Annotated[UUID, typer.Argument()], json_output: ApiJsonFlag = False) -> None:
        """Delete a schedule (its past jobs stay)."""
        _change(schedule_id, "delete", json_output)
