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

from pydantic import TypeAdapter

from ferry.contracts import JobStatus
from ferry.db import Conn
from ferry.jobs import PLAN, FinishedJob, JobFailed, JobHandler, RetryLater, Step

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



async def run_job(
    conn: Conn, handler: JobHandler[Any, Any, Any], options: Any, *, hook: Hook | None = None, max_steps: int = 10_000,
) -> JobRun:
    """Run one job of `handler` to its end on `conn`; the run's counters, data and messages."""
    run = JobRun()
    job_id = uuid4()
    payloads = TypeAdapter(handler.step_model)
    queue: list[tuple[int, dict[str, Any]]] = [(0, PLAN.model_dump())]
    next_no, attempt = 1, 1
    while queue:
        if len(run.payloads) >= max_steps:
            raise AssertionError(f"job did not finish within {max_steps} steps")
        step_no, payload = queue[0]
        started = time.monotonic()
        async with conn.transaction():
            if hook is not None:
                await hook(conn, step_no, payload, attempt)
            typed = PLAN if step_no == 0 else payloads.validate_python(payload)
            data = handler.data_model.model_validate(run.data)
            step = Step(job_id=job_id, command=handler.command, options=options, step_no=step_no, payload=typed,
                        attempt=attempt, data=data, total=run.total, conn=conn)
            try:
                async with conn.transaction():
                    result = await (handler.plan(step) if step_no == 0 else handler.run_step(step))
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
        if result.data is not None:  # only the fields the step changed, as the runtime stores them
            old, new = data.model_dump(mode="json"), result.data.model_dump(mode="json")
            run.data.update({k: v for k, v in new.items() if old.get(k, object()) != v or (k not in run.data
                             and k not in old)})
        run.messages.append(result.message)
        for child in result.children:
            queue.append((next_no, child.model_dump(mode="json")))
            next_no += 1
    finished = FinishedJob(
        job_id=job_id, command=handler.command, state=JobStatus.COMPLETED, options=options,
        data=handler.data_model.model_validate(run.data), total=run.total, processed=run.processed,
        succeeded=run.succeeded, failed=run.failed, skipped=run.skipped, error=None, conn=conn,
    )
    run.summary = (await handler.on_job_end(finished)).message
    return run
