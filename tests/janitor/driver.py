"""A tiny stand-in for the job runtime, to drive the janitor's handlers step by step in tests.

Like `ferry.jobs.runtime`: the plan step first, then children in order, each step in its own
transaction with the handler inside a savepoint; counters summed, `total`/`add_total` applied,
`data` merged shallowly, RetryLater runs the step again, JobFailed ends the job. It also times
every step's whole transaction (from BEGIN to COMMIT), which is how long its row locks were held.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

from ferry.db import Conn
from ferry.jobs.errors import JobFailed, RetryLater
from ferry.jobs.model import PLAN, JobHandler, Step

Hook = Callable[[Conn, int, dict[str, Any], int], Awaitable[None]]
"""Called inside each step's transaction before the handler: (conn, step_no, payload, attempt)."""


@dataclass
class JobRun:
    total: int | None = None
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    data: dict[str, Any] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    payloads: list[dict[str, Any]] = field(default_factory=list)
    transaction_ms: list[float] = field(default_factory=list)
    retries: int = 0
    error: str | None = None
    summary: str = ""

    @property
    def processed(self) -> int:
        return self.succeeded + self.failed + self.skipped

    def job(self) -> dict[str, Any]:
        """The job as the runtime hands it to `summary_line`."""
        return {"data": self.data, "total": self.total, "processed": self.processed,
                "succeeded": self.succeeded, "failed": self.failed, "skipped": self.skipped}


async def run_job(
    conn: Conn, handler: JobHandler[Any], options: Any, *, hook: Hook | None = None, max_steps: int = 10_000,
) -> JobRun:
    """Run one job of `handler` to its end on `conn`; the run's counters, data and messages."""
    run = JobRun()
    job_id = uuid4()
    queue: list[tuple[int, dict[str, Any]]] = [(0, dict(PLAN))]
    next_no, attempt = 1, 1
    while queue:
        if len(run.payloads) >= max_steps:
            raise AssertionError(f"job did not finish within {max_steps} steps")
        step_no, payload = queue[0]
        started = time.monotonic()
        async with conn.transaction():
            if hook is not None:
                await hook(conn, step_no, payload, attempt)
            step = Step(job_id=job_id, command=handler.command, options=options, step_no=step_no, payload=payload,
                        attempt=attempt, data=dict(run.data), total=run.total, conn=conn)
            try:
                async with conn.transaction():
                    result = await handler.run_step(step)
            except RetryLater:
                run.retries += 1
                attempt += 1
                continue
            except JobFailed as exc:
                run.error = str(exc)
                return run
        run.transaction_ms.append((time.monotonic() - started) * 1000)
        queue.pop(0)
        attempt = 1
        run.payloads.append(payload)
        run.succeeded += result.succeeded
        run.failed += result.failed
        run.skipped += result.skipped
        if result.total is not None:
            run.total = result.total
        if result.add_total:
            run.total = (run.total or 0) + result.add_total
        run.data.update(result.data)
        run.messages.append(result.message)
        for child in result.children:
            queue.append((next_no, child))
            next_no += 1
    run.summary = handler.summary_line(run.job())
    return run
