"""Issue 9.4: retention deletes only what is old, in short batches; summary rows can outlive events;
the daily pass runs on one replica."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from ferry.contracts import EventType
from ferry_status import retention, store
from ferry_status.resources import Resources
from tests.status.conftest import Status, event, eventually

NOW = datetime.now(UTC)


async def seed_job(res: Resources, *, age_days: float, events: int, finish: bool = True) -> UUID:
    job_id = uuid4()
    at = NOW - timedelta(days=age_days)
    batch = [event(job_id, 0, EventType.STARTED, at=at)]
    batch += [event(job_id, i, EventType.PROGRESS, at=at, processed=i) for i in range(1, events - 1)]
    batch.append(event(job_id, events - 1, EventType.COMPLETED if finish else EventType.PROGRESS, at=at))
    await store.write_events(res.pool, [(e, e.model_dump_json()) for e in batch])
    return job_id


async def counts(res: Resources, job_id: UUID) -> tuple[int, bool]:
    events = await res.pool.fetchval(f"SELECT count(*) FROM {store.EVENTS} WHERE job_id = $1", job_id)
    return int(events), await store.get_job(res.pool, job_id) is not None


async def startup_pass_done(res: Resources) -> datetime:
    """When the app's own start-up pass (a task the lifespan started) has run: its next run, a day on.
    Waited for rather than raced: run late, under load, it would delete this test's old jobs."""
    async def moved_on() -> datetime | None:
        at: datetime = await res.pool.fetchval(f"SELECT next_run FROM {retention.MAINTENANCE} WHERE name = 'retention'")
        return at if at > datetime.now(UTC) + timedelta(hours=23) else None

    return await eventually(moved_on, what="the start-up retention pass")


async def test_retention_deletes_only_old_finished_jobs_in_batches(status: Status) -> None:
    res: Resources = status.app.state.resources
    await startup_pass_done(res)
    old = await seed_job(res, age_days=120, events=25)
    older_summary = await seed_job(res, age_days=200, events=5)
    recent = await seed_job(res, age_days=10, events=5)
    old_but_running = await seed_job(res, age_days=120, events=5, finish=False)

    purged = await retention.purge(res.pool, now=NOW, events_days=90, jobs_days=150, batch=10)

    assert await counts(res, old) == (0, True)  # events gone, the summary row kept until 150 days
    assert await counts(res, older_summary) == (0, False)
    assert await counts(res, recent) == (5, True)
    assert await counts(res, old_but_running) == (5, True)
    assert purged.events == 30
    assert purged.jobs == 1
    assert purged.batches >= 4  # 25 events of one job could not go in one batch of 10
    assert (await status.client.get(f"/jobs/{old}")).json()["status"] == "completed"


async def test_the_daily_pass_is_claimed_by_one_replica_a_day(status: Status) -> None:
    res: Resources = status.app.state.resources
    # The app's own start-up pass already ran today and set the next run; read it rather than work it
    # out from a clock taken at import time (a long test run starts this test many minutes later).
    next_run = await startup_pass_done(res)
    due = next_run + timedelta(minutes=5)
    claims = [await retention.claim_daily(res.pool, "retention", due) for _ in range(3)]
    assert claims == [True, False, False]
    assert await retention.claim_daily(res.pool, "retention", due + timedelta(days=1)) is True
