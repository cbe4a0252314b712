"""`ferry content-fetch fetch ...`: fetch MCQs and current affairs (replaces `fetch_all_content`).

`--type both|mcq|current_affairs` as the command had it (a bad type is refused before anything is
published, naming the allowed ones); `--timeout` fails a job that runs longer. With `--wait` the
result's ProcessingLog fields are printed (per-type statuses, counts, one line per source).

`--schedule HH:MM` asked the old command to run itself daily. ferry keeps schedules in the status
service instead: the flag creates a daily schedule there (UTC, or `--tz ZONE`) for the same options, and publishes
no job now; `ferry schedules list|pause|delete` manage it.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ferry.cli.context import Deps, Output, guard
from ferry.cli.flags import ModelFlags
from ferry.cli.job_flags import JobFlags, with_job_flags
from ferry.cli.submit import build_options
from ferry.contracts.content_fetch import FetchOptions

SERVICE = "content-fetch"
COMMAND = "fetch"
_F = ModelFlags(FetchOptions)


def print_processing_log(output: Output, result: dict[str, Any]) -> None:
    """The ProcessingLog of a finished job: per-type statuses, counts, and one line per source."""
    if "mcq_status" not in result:
        return
    output.say(f"MCQ: {result.get('mcq_status')}")
    output.say(f"Current affairs: {result.get('current_affairs_status')}")
    output.say(
        f"Items: {int(result.get('total_items') or 0):,} fetched, {int(result.get('processed_items') or 0):,} "
        f"processed, {int(result.get('success_count') or 0):,} succeeded ({int(result.get('new_items') or 0):,} "
        f"new), {int(result.get('error_count') or 0):,} errors"
    )
    for entry in result.get("log_details") or []:
        if not isinstance(entry, dict):
            continue
        if entry.get("error"):
            what = f"ERROR {entry['error']}"
        elif entry.get("unchanged"):
            what = "unchanged since the last fetch"
        else:
            what = f"{entry.get('fetched', 0)} fetched, {entry.get('new', 0)} new, {entry.get('duplicates', 0)} dup"
        took = float(entry.get("duration_s") or 0)
        output.say(f"  {entry.get('source')} ({entry.get('type')}): {what} [{took:.2f}s]")


def register(app: typer.Typer, deps: Deps) -> None:
    """Add `ferry content-fetch fetch` to `app`."""
    sub = typer.Typer(help="Fetch MCQ and current-affairs content.", no_args_is_help=True)
    app.add_typer(sub, name=SERVICE)

    @sub.command(COMMAND)
    @guard
    @with_job_flags
    def fetch(
        job: JobFlags,
        type: Annotated[str, _F.option("type")] = _F.default("type"),
        timeout_s: Annotated[int | None, _F.option("timeout_s", "--timeout")] = _F.default("timeout_s"),
        dry_run: Annotated[bool, _F.option("dry_run")] = _F.default("dry_run"),
    ) -> int:
        """Fetch MCQ and/or current-affairs content from the configured sources (replaces fetch_all_content)."""
        options = build_options(FetchOptions, type=type, timeout_s=timeout_s, dry_run=dry_run)
        return job.submit(deps, SERVICE, COMMAND, options, on_result=print_processing_log)
