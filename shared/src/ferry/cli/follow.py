"""Following a job through the status service until it finishes (`--wait`, `ferry watch`).

Polls `GET /jobs/{id}` and `GET /jobs/{id}/events?after_seq=`, prints each event's message as
it arrives, and draws a progress bar (on stderr) from `processed` / `total`.

A job the status service has not heard of yet is waited for in two ways. One the CLI has just
published (`--wait`) is waited for as long as it takes: its command stays in its service's queue
until the service takes it, and the CLI says so. An id given to `ferry watch` may be a typo or a
job of another installation, so that wait is bounded (`Deps.unknown_job_grace_s`, long enough for a job
published a moment ago to be accepted): then it fails with `ferry job`'s "not found".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

from rich.progress import BarColumn, Progress, ProgressColumn, SpinnerColumn, Task, TextColumn, TimeElapsedColumn
from rich.text import Text

from ferry.cli.context import Output
from ferry.cli.errors import Interrupted, JobNotFound
from ferry.cli.render import count, dry_run_found, duration
from ferry.cli.status_client import Job, StatusClient
from ferry.contracts import FINISHED_STATUSES, JobStatus

EXIT_CODES = {JobStatus.COMPLETED: 0, JobStatus.FAILED: 1, JobStatus.CANCELLED: 1, JobStatus.REJECTED: 1}
"""The CLI's exit code for a finished job: 0 only when it completed."""

FINISHED = frozenset(status.value for status in FINISHED_STATUSES)


def not_found(job_id: UUID) -> JobNotFound:
    """The one "not found" of `ferry job`, `ferry watch` and `ferry cancel`."""
    return JobNotFound(f"job {job_id} not found in the status service")


class CountColumn(ProgressColumn):
    """'5,000/5,432': the bar's counts in the one number format of every other line (thousands with commas)."""

    def render(self, task: Task) -> Text:
        done = count(int(task.completed))
        return Text(done if task.total is None else f"{done}/{count(int(task.total))}", style="progress.download")


def is_heartbeat(event: dict[str, Any]) -> bool:
    """A runtime heartbeat ('step 3: waiting for the rate limiter (12s so far)'): shown on the bar, not as a line."""
    detail = event.get("detail")
    return isinstance(detail, dict) and bool(detail.get("heartbeat"))


def exit_code(job: Job) -> int:
    """0 when the job completed; 1 when it failed, was cancelled or rejected."""
    return EXIT_CODES.get(JobStatus(job["status"]), 1)


def follow(
    client: StatusClient,
    job_id: UUID,
    output: Output,
    *,
    label: str = "",
    show_events: bool = True,
    show_progress: bool = True,
    poll_interval_s: float = 0.5,
    published_to: str | None = None,
    give_up_after_s: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Job:
    """Wait until the job finishes; return it as the status service last showed it.

    `published_to` names the service a job was just published to: it is waited for without a
    bound. Otherwise, with `give_up_after_s`, a job still unknown after that long is `not_found`.
    """
    last_seq = -1
    show_events = show_events and not output.json_mode
    if published_to is not None:
        waiting = (
            f"Waiting for job {job_id}, just published, to be taken by {published_to} "
            f"(its command waits in its queue until {published_to} runs)"
        )
    else:
        waiting = f"Waiting for job {job_id} to reach the status service"
    started = clock()
    seen = told = False
    now = ""  # the latest heartbeat: what a long step is doing
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        CountColumn(),
        TimeElapsedColumn(),
        console=output.err,
        transient=True,
        redirect_stdout=False,
        redirect_stderr=False,
        disable=not show_progress or output.json_mode,
    )
    # Messages belong on stdout; when stdout and the bar share a terminal, print them through
    # the bar's console so they land above it instead of on its line.
    printer = output.err if output.out.is_terminal and output.err.is_terminal else output.out
    try:
        with progress:
            task = progress.add_task(waiting, total=None)
            while True:
                job = client.job(job_id)
                if job is None and not seen:
                    if give_up_after_s is not None and published_to is None and clock() - started >= give_up_after_s:
                        raise not_found(job_id)
                    if not told:
                        output.warn(waiting)
                        told = True
                if job is not None:
                    seen = True
                    if show_events and _behind(job, last_seq):
                        for event in client.events(job_id, after_seq=last_seq):
                            last_seq = max(last_seq, int(event.get("seq", last_seq)))
                            if is_heartbeat(event):
                                # What a long step waits for belongs on the bar, which it replaces
                                # when the step moves on, not in the job's lines.
                                now = str(event.get("message") or "")
                            else:
                                now = ""
                                if event.get("message"):
                                    printer.print(event["message"], markup=False, highlight=False, soft_wrap=True)
                    progress.update(
                        task,
                        description=" ".join(x for x in (label, str(job["status"]), now) if x),
                        total=job.get("total"),
                        completed=job.get("processed") or 0,
                    )
                    if job["status"] in FINISHED:
                        return job
                sleep(poll_interval_s)
    except KeyboardInterrupt:
        if not seen:
            raise Interrupted(f"stopped waiting for job {job_id}; the status service had not heard of it") from None
        raise Interrupted(
            f"stopped following job {job_id}; it keeps running (follow it again with `ferry watch {job_id}`, "
            f"stop it with `ferry cancel {job_id}`)"
        ) from None


def _behind(job: Job, last_seq: int) -> bool:
    seq = job.get("last_seq")
    return seq is None or int(seq) > last_seq


def report_end(output: Output, job: Job) -> None:
    """One closing line: how the job ended, how long it took, and its error if any."""
    status = job.get("status")
    took = duration(job.get("duration_s"))
    line = f"Job {job.get('job_id')} {status} in {took}"
    dry = dry_run_found(job)
    if dry and status == JobStatus.COMPLETED.value:
        line += f" ({dry}; nothing changed)"
    if status != JobStatus.COMPLETED.value:
        output.warn(f"{line}: {job.get('error') or job.get('message') or 'no reason given'}")
    else:
        output.say(line)


def final_json(job: Job) -> Job:
    """What `--json --wait` and `ferry watch --json` print: the finished job, as `ferry job --json` prints it."""
    return job
