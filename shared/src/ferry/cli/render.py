"""How jobs look at a terminal: one job's card, a table of jobs, numbers and durations."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

STATUS_STYLE = {
    "pending": "yellow",
    "running": "cyan",
    "completed": "green",
    "failed": "red",
    "cancelled": "magenta",
    "rejected": "red",
}


def count(value: Any) -> str:
    """1234 -> '1,234'; None -> '-'."""
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def duration(seconds: Any) -> str:
    """3.25 -> '3.2s', 65 -> '1m 05s', 3720 -> '1h 02m'; None -> '-'."""
    if not isinstance(seconds, int | float):
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def when(value: Any) -> str:
    """An ISO timestamp as 'YYYY-MM-DD HH:MM:SS' (UTC as given); None -> '-'."""
    if not value:
        return "-"
    try:
        return datetime.fromisoformat(str(value)).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return str(value)


def progress(job: dict[str, Any]) -> str:
    """'42.0% (420 / 1,000)', or the processed count when the total is unknown."""
    processed, total, pct = job.get("processed"), job.get("total"), job.get("progress")
    if total is None:
        return f"{count(processed)} processed (total not known yet)"
    shown = f"{pct:.1f}%" if isinstance(pct, int | float) else "-"
    return f"{shown} ({count(processed)} / {count(total)})"


def dry_run_found(job: dict[str, Any]) -> str | None:
    """'dry run: 1,234 found' for a dry run (whose 0% processed is by design), else None."""
    raw = job.get("result")
    result: dict[str, Any] = raw if isinstance(raw, dict) else {}
    if not ((job.get("options") or {}).get("dry_run") or result.get("dry_run")):
        return None
    found = result.get("found", job.get("total"))
    return "dry run" if found is None else f"dry run: {count(found)} found"


def status_text(status: Any) -> Text:
    return Text(str(status or "-"), style=STATUS_STYLE.get(str(status), ""))


def job_card(console: Console, job: dict[str, Any]) -> None:
    """Everything `GET /jobs/{id}` says about one job, as a two-column card."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")

    def row(label: str, value: str | Text) -> None:
        grid.add_row(label, value if isinstance(value, Text) else Text(value))

    row("Job", str(job.get("job_id", "-")))
    row("Command", f"{job.get('service', '-')} {job.get('command', '-')}")
    row("Status", status_text(job.get("status")))
    row("Progress", dry_run_found(job) or progress(job))
    row(
        "Counters",
        f"succeeded {count(job.get('succeeded'))}, failed {count(job.get('failed'))}, "
        f"skipped {count(job.get('skipped'))}",
    )
    row("Requested by", str(job.get("requested_by") or "-"))
    row("Created", when(job.get("created_at")))
    row("Started", when(job.get("started_at")))
    row("Finished", when(job.get("finished_at")))
    row("Duration", duration(job.get("duration_s")))
    if job.get("message"):
        row("Message", str(job["message"]))
    if job.get("error"):
        row("Error", Text(str(job["error"]), style="red"))
    if job.get("options"):
        row("Options", json.dumps(job["options"], sort_keys=True))
    if job.get("result"):
        row("Result", json.dumps(job["result"], indent=2, sort_keys=True, default=str))
    console.print(grid)


MIN_MESSAGE = 20
"""The narrowest message column `ferry jobs` shows."""


def jobs_table(console: Console, page: dict[str, Any]) -> None:
    """A page of `GET /jobs` as a table, newest first."""
    items: list[dict[str, Any]] = page.get("items", [])
    title = f"{len(items)} of {count(page.get('total', len(items)))} jobs"
    if page.get("hidden"):
        title += f" ({page['hidden']} confirmation prompts' counting jobs hidden; --all shows them)"
    rows = []
    for job in items:
        pct = job.get("progress")
        share = f"{pct:.1f}%" if isinstance(pct, int | float) else count(job.get("processed"))
        progress = dry_run_found(job) or share
        rows.append((
            Text(str(job.get("job_id", "-"))),
            Text(str(job.get("service", "-"))),
            Text(str(job.get("command", "-"))),
            status_text(job.get("status")),
            Text(progress),
            Text(when(job.get("created_at"))),
            Text(duration(job.get("duration_s"))),
            Text(" ".join(str(job.get("message") or "").split())),
        ))
    headers = ("Job ID", "Service", "Command", "Status", "Progress", "Created", "Duration", "Message")
    # One line a job: every column but the message keeps its whole (short) value, and the message
    # gets the width that is left, cut with an ellipsis (`ferry job` shows it whole).
    def widths() -> list[int]:
        return [max([len(h), *(r[n].cell_len for r in rows)]) for n, h in enumerate(headers[:-1])]

    if sum(widths()) + 3 * len(headers) + 1 + MIN_MESSAGE > console.width:
        # A narrow terminal: ids shown as their first 8 characters (any unique start names a job).
        rows = [(Text(row[0].plain[:8]), *row[1:]) for row in rows]
    message_width = max(MIN_MESSAGE, console.width - sum(widths()) - 3 * len(headers) - 1)
    table = Table(title=title, title_justify="left")
    for name in headers[:-1]:
        table.add_column(name, no_wrap=True, justify="right" if name in {"Progress", "Duration"} else "left")
    table.add_column("Message", overflow="ellipsis", no_wrap=True, max_width=message_width)
    for row in rows:
        table.add_row(*row)
    console.print(table)
