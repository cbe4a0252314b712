"""Issue 9.1-9.2, 9.5: schedules through the API, fired exactly once by racing replicas, across DST
changes (a fixed clock handed to `tick`, no sleeping until 2 a.m.), catch-up on and off, overlap skip."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import aio_pika
import pytest

from ferry import topology
from ferry.contracts import EventType
from ferry.db import create_pool
from ferry_status import scheduler, timing
from ferry_status.resources import Resources
from tests.status.conftest import Events, Status, event, eventually, job_when, running_status
from tests.support.infra import Infra

MADRID = "Europe/Madrid"


class Commands:
    """Every `telemetry-janitor.clear` command published, read from a queue of the test's own."""

    def __init__(self, queue: aio_pika.abc.AbstractQueue) -> None:
        self.queue = queue
        self.bodies: list[dict[str, Any]] = []

    async def drain(self) -> list[dict[str, Any]]:
        while (message := await self.queue.get(fail=False, timeout=5)) is not None:
            self.bodies.append(json.loads(message.body))
            await message.ack()
        return self.bodies


@pytest.fixture
async def commands(infra: Infra) -> AsyncIterator[Commands]:
    connection = await aio_pika.connect(infra.amqp_url)
    channel = await connection.channel()
    await topology.declare_base(channel)
    exchange = await topology.declare_exchange(channel, topology.COMMANDS)
    queue = await channel.declare_queue("test.clear-commands", exclusive=True)
    await queue.bind(exchange, routing_key="telemetry-janitor.clear")
    try:
        yield Commands(queue)
    finally:
        await connection.close()


def resources(status: Status) -> Resources:
    res: Resources = status.app.state.resources
    return res


async def new_schedule(res: Resources, spec: str, now: datetime, **kw: Any) -> UUID:
    defaults: dict[str, Any] = {"timezone": "UTC", "catch_up": False, "overlap": "allow", "paused": False}
    row = await scheduler.create(
        res.pool, schedule_id=uuid4(), service="telemetry-janitor", command="clear", options={"status": "DONE"},
        spec=spec, created_by="test", now=now, **{**defaults, **kw},
    )
    return UUID(str(row["schedule_id"]))


async def outcomes(res: Resources, schedule_id: UUID) -> list[tuple[datetime, str]]:
    return [(r["due_at"], r["outcome"]) for r in await scheduler.fires(res.pool, schedule_id)]


async def test_schedules_api_create_list_pause_resume_delete(status: Status) -> None:
    body = {"service": "telemetry-janitor", "command": "clear", "options": {"status": "DONE"},
            "schedule": "14:30", "timezone": MADRID}
    assert (await status.client.post("/schedules", json=body)).status_code == 401
    created = await status.client.post("/schedules", json=body, headers=status.auth)
    assert created.status_code == 201, created.text
    schedule = created.json()
    assert schedule["cron"] == "30 14 * * *"
    assert schedule["next_run_local"].startswith(schedule["next_run_local"][:10])
    assert "T14:30:00+01:00" in schedule["next_run_local"] or "T14:30:00+02:00" in schedule["next_run_local"]
    assert schedule["created_by"] == "api"

    listed = (await status.client.get("/schedules")).json()
    assert [s["schedule_id"] for s in listed] == [schedule["schedule_id"]]
    sid = schedule["schedule_id"]
    paused = (await status.client.post(f"/schedules/{sid}/pause", headers=status.auth)).json()
    assert paused["paused"] is True
    assert paused["next_run_at"] is None
    resumed = (await status.client.post(f"/schedules/{sid}/resume", headers=status.auth)).json()
    assert resumed["paused"] is False
    assert resumed["next_run_local"] == schedule["next_run_local"]
    assert (await status.client.delete(f"/schedules/{sid}", headers=status.auth)).status_code == 204
    assert (await status.client.get(f"/schedules/{sid}")).status_code == 404
    assert (await status.client.delete(f"/schedules/{sid}", headers=status.auth)).status_code == 404


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"schedule": "25:00"}, "schedule", "neither HH:MM nor a cron"),
        ({"schedule": "61 * * * *"}, "schedule", "not a valid cron"),
        ({"timezone": "Mars/Olympus"}, "timezone", "not an IANA time zone"),
        ({"options": {"status": "SOMETIMES"}}, "status", "DONE"),
        ({"service": "nope"}, "service", "allowed"),
    ],
)
async def test_a_bad_schedule_is_refused_naming_the_field(
    status: Status, change: dict[str, Any], field: str, words: str
) -> None:
    body = {"service": "telemetry-janitor", "command": "clear", "schedule": "14:30", **change}
    answer = await status.client.post("/schedules", json=body, headers=status.auth)
    assert answer.status_code == 422
    detail = answer.json()["detail"][0]
    assert field in detail["loc"]
    assert words in json.dumps(answer.json())
    assert (await status.client.get("/schedules")).json() == []


async def test_two_replicas_fire_each_due_time_exactly_once(infra: Infra, commands: Commands) -> None:
    # Due every second (the "every few seconds for a minute", compressed): 15 due times in
    # ~15 s, each raced for by both replicas' ticks (every 0.05 s).
    async with running_status(infra, status_scheduler_tick_s=0.05) as one, \
            running_status(infra, status_scheduler_tick_s=0.05) as two:
        created = await one.client.post("/schedules", headers=one.auth, json={
            "service": "telemetry-janitor", "command": "clear", "schedule": "* * * * * *", "overlap": "allow"})
        sid = created.json()["schedule_id"]
        res = resources(two)
        await eventually(lambda: _fired_at_least(res, UUID(sid), 15), timeout=40, what="fifteen due times")
        await two.client.post(f"/schedules/{sid}/pause", headers=two.auth)
        fires = await outcomes(res, UUID(sid))
        fired_jobs = {str(r["job_id"]) for r in await scheduler.fires(res.pool, UUID(sid))}
        by_replica = [_published(resources(replica)) for replica in (one, two)]
    assert {outcome for _, outcome in fires} == {"fired"}
    dues = [due for due, _ in fires]
    assert all(b - a == timedelta(seconds=1) for a, b in itertools.pairwise(dues)), dues  # none missed
    published = await commands.drain()
    assert sorted(b["job_id"] for b in published) == sorted(fired_jobs)  # one command per due time
    assert len(fired_jobs) == len(fires)
    assert sum(by_replica) == len(fires), by_replica  # neither replica published a due time the other did
    assert {b["requested_by"] for b in published} == {f"schedule:{sid}"}


def _published(res: Resources) -> float:
    value = res.metrics.registry.get_sample_value(
        "ferry_status_commands_published_total", {"routing_key": "telemetry-janitor.clear"})
    return value or 0.0


@pytest.mark.parametrize("published", [False, True], ids=["before-publishing", "after-publishing"])
async def test_a_replica_killed_mid_tick_leaves_the_due_time_to_another_that_fires_it_once(
    infra: Infra, status: Status, commands: Commands, published: bool
) -> None:
    survivor = resources(status)
    assert survivor.scheduler is not None
    fire = survivor.scheduler
    sid = await new_schedule(survivor, "0 11 * * *", datetime(2027, 8, 1, 10, tzinfo=UTC))
    due = datetime(2027, 8, 1, 11, tzinfo=UTC)
    # The replica to be killed: its own Postgres sessions, and a publish it never returns from (it
    # dies there), having sent the command or not yet.
    doomed_pool = await create_pool(infra.database_url, max_size=2)
    inside = asyncio.Event()

    async def publish_then_die(routing_key: str, body: bytes, message_id: str) -> None:
        if published:
            await survivor.publisher.publish(routing_key, body, message_id=message_id)
        inside.set()
        await asyncio.Event().wait()

    tick = asyncio.create_task(scheduler.Scheduler(doomed_pool, publish_then_die, grace_s=60).tick(due))
    await asyncio.wait_for(inside.wait(), 10)
    assert await fire.tick(due) == 0  # the claimed schedule is skipped, not fired twice
    # Killed: its sessions drop without a commit or a rollback (Postgres rolls back and unlocks).
    doomed_pool.terminate()
    tick.cancel()
    with contextlib.suppress(Exception, asyncio.CancelledError):
        await tick

    await eventually(lambda: fire.tick(due + timedelta(seconds=1)), what="the survivor's fire")
    assert await fire.tick(due + timedelta(seconds=2)) == 0
    assert await outcomes(survivor, sid) == [(due, "fired")]
    job_id = str(timing.fired_job_id(sid, due))
    bodies = await commands.drain()
    # Sent before the kill too: the same job id twice, which its service runs once.
    assert [b["job_id"] for b in bodies] == [job_id] * (2 if published else 1)
    job = (await status.client.get(f"/jobs/{job_id}")).json()
    assert (job["status"], job["schedule_id"]) == ("pending", str(sid))
    assert job["scheduled_time"].startswith("2027-08-01T11:00:00")


async def _fired_at_least(res: Resources, schedule_id: UUID, n: int) -> bool:
    return len(await scheduler.fires(res.pool, schedule_id)) >= n


async def tick_through(res: Resources, start: datetime, end: datetime, step: timedelta) -> None:
    assert res.scheduler is not None
    now = start
    while now <= end:
        await res.scheduler.tick(now)
        now += step


async def test_dst_a_missing_time_fires_once_at_the_next_valid_time_and_a_repeated_one_once(
    status: Status, commands: Commands
) -> None:
    res = resources(status)
    # 2027-03-28: Madrid's clocks jump from 02:00 to 03:00; 2027-10-31: they go back from 03:00 to 02:00.
    spring = await new_schedule(res, "02:30", datetime(2027, 3, 27, 12, tzinfo=UTC), timezone=MADRID)
    autumn = await new_schedule(res, "02:30", datetime(2027, 10, 30, 12, tzinfo=UTC), timezone=MADRID)
    every_20 = await new_schedule(res, "*/20 2 * * *", datetime(2027, 10, 30, 12, tzinfo=UTC), timezone=MADRID)
    minute = timedelta(minutes=1)
    await tick_through(res, datetime(2027, 3, 27, 23, tzinfo=UTC), datetime(2027, 3, 29, 2, tzinfo=UTC), minute)
    await tick_through(res, datetime(2027, 10, 30, 23, tzinfo=UTC), datetime(2027, 11, 1, 3, tzinfo=UTC), minute)

    # (Ticking through October later also finds spring's due times since March missed: skipped.)
    assert (await outcomes(res, spring))[:2] == [
        (datetime(2027, 3, 28, 1, 0, tzinfo=UTC), "fired"),  # 03:00 CEST, the first valid time after 02:30
        (datetime(2027, 3, 29, 0, 30, tzinfo=UTC), "fired"),  # 02:30 CEST
    ]
    assert await outcomes(res, autumn) == [
        (datetime(2027, 10, 31, 0, 30, tzinfo=UTC), "fired"),  # the first 02:30 (CEST) only
        (datetime(2027, 11, 1, 1, 30, tzinfo=UTC), "fired"),  # 02:30 CET
    ]
    # A pattern over the hour fires by the clock through both 02:xx hours of the long night.
    dues = [due for due, _ in await outcomes(res, every_20)]
    assert dues[:6] == [datetime(2027, 10, 31, h, m, tzinfo=UTC) for h in (0, 1) for m in (0, 20, 40)]
    published = await commands.drain()
    fired = [o for sid in (spring, autumn, every_20) for _, o in await outcomes(res, sid) if o == "fired"]
    assert len(published) == len(fired)
    assert len({b["job_id"] for b in published}) == len(published)


@pytest.mark.parametrize("catch_up", [False, True])
async def test_a_due_time_missed_by_every_replica_fires_once_or_not_at_all(
    status: Status, commands: Commands, catch_up: bool
) -> None:
    res = resources(status)
    start = datetime(2027, 5, 1, 10, tzinfo=UTC)
    sid = await new_schedule(res, "*/5 * * * *", start, catch_up=catch_up)
    assert res.scheduler is not None
    await res.scheduler.tick(start + timedelta(minutes=5))  # on time
    back = start + timedelta(hours=2, minutes=2)  # every replica was down for two hours
    await res.scheduler.tick(back)
    await res.scheduler.tick(back + timedelta(seconds=30))
    await res.scheduler.tick(start + timedelta(hours=2, minutes=5))  # on time again
    late = datetime(2027, 5, 1, 12, 0, tzinfo=UTC)
    assert await outcomes(res, sid) == [
        (start + timedelta(minutes=5), "fired"),
        (late, "fired" if catch_up else "skipped_missed"),
        (start + timedelta(hours=2, minutes=5), "fired"),
    ]
    assert len(await commands.drain()) == (3 if catch_up else 2)


async def test_overlap_skip_waits_for_the_previous_run_to_finish(
    status: Status, commands: Commands, events: Events
) -> None:
    res = resources(status)
    assert res.scheduler is not None
    start = datetime(2027, 6, 1, 10, tzinfo=UTC)
    sid = await new_schedule(res, "* * * * *", start, overlap="skip")
    await res.scheduler.tick(start + timedelta(minutes=1))
    first = await job_when(status.client, scheduler_job(await scheduler.fires(res.pool, sid), 0),
                           lambda j: j["status"] == "pending")
    assert first["schedule_id"] == str(sid)
    assert first["scheduled_time"].startswith("2027-06-01T10:01:00")
    await res.scheduler.tick(start + timedelta(minutes=2))  # the first is still pending: skipped
    await events.publish(event(UUID(first["job_id"]), 0, EventType.STARTED))
    await events.publish(event(UUID(first["job_id"]), 1, EventType.COMPLETED))
    await job_when(status.client, UUID(first["job_id"]), lambda j: j["status"] == "completed")
    await res.scheduler.tick(start + timedelta(minutes=3))
    assert [o for _, o in await outcomes(res, sid)] == ["fired", "skipped_overlap", "fired"]
    assert len(await commands.drain()) == 2


def scheduler_job(fires: list[Any], index: int) -> UUID:
    return UUID(str(fires[index]["job_id"]))


async def test_a_fired_job_is_pending_with_its_schedule_even_before_its_service_runs(
    status: Status, commands: Commands
) -> None:
    res = resources(status)
    assert res.scheduler is not None
    start = datetime(2027, 7, 1, 10, tzinfo=UTC)
    sid = await new_schedule(res, "0 11 * * *", start)
    await res.scheduler.tick(datetime(2027, 7, 1, 11, tzinfo=UTC))
    await asyncio.sleep(0)
    [body] = await commands.drain()
    job = await job_when(status.client, UUID(body["job_id"]), lambda j: True)
    assert (job["status"], job["requested_by"], job["schedule_id"]) == ("pending", f"schedule:{sid}", str(sid))
    assert job["is_scheduled"] is True
    assert job["scheduled_time"].startswith("2027-07-01T11:00:00")
    assert body["options"]["status"] == "DONE"
