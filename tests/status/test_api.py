"""Starting and cancelling jobs through the API, listing them, and the token that guards it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import aio_pika
import pytest

from ferry import topology
from ferry.contracts import EventType
from tests.status.conftest import Events, Status, event, eventually, job_when, running_status
from tests.support.infra import Infra


class Commands:
    """A queue of our own bound to `telemetry-janitor.*` on ferry.commands: what the janitor would get."""

    def __init__(self, queue: aio_pika.abc.AbstractQueue) -> None:
        self.queue = queue

    async def next(self) -> aio_pika.abc.AbstractIncomingMessage:
        async def get() -> aio_pika.abc.AbstractIncomingMessage | None:
            return await self.queue.get(no_ack=True, fail=False)

        return await eventually(get, timeout=5, what="a command")

    async def empty_after(self, seconds: float) -> bool:
        await asyncio.sleep(seconds)
        return await self.queue.get(no_ack=True, fail=False) is None


@pytest.fixture
async def commands(infra: Infra) -> AsyncIterator[Commands]:
    connection = await aio_pika.connect(infra.amqp_url)
    channel = await connection.channel()
    exchange = await topology.declare_exchange(channel, topology.COMMANDS)
    queue = await channel.declare_queue("", exclusive=True)
    await queue.bind(exchange, routing_key="telemetry-janitor.*")
    try:
        yield Commands(queue)
    finally:
        await connection.close()


async def test_post_jobs_publishes_the_command_and_shows_it_pending(status: Status, commands: Commands) -> None:
    response = await status.client.post(
        "/jobs", headers=status.auth,
        json={"service": "telemetry-janitor", "command": "clear", "options": {"status": "DONE", "batch_size": 500}},
    )
    assert response.status_code == 202, response.text
    accepted = response.json()
    job_id = UUID(accepted["job_id"])
    assert accepted["routing_key"] == "telemetry-janitor.clear"

    message = await commands.next()
    assert message.routing_key == "telemetry-janitor.clear"
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    envelope = json.loads(message.body)
    assert envelope["job_id"] == str(job_id)
    assert envelope["requested_by"] == "api"
    assert envelope["options"]["status"] == "DONE"
    assert envelope["options"]["batch_size"] == 500
    assert envelope["options"]["dry_run"] is False

    job = (await status.client.get(f"/jobs/{job_id}")).json()
    assert (job["status"], job["service"], job["command"], job["requested_by"]) == (
        "pending", "telemetry-janitor", "clear", "api")
    assert job["options"]["status"] == "DONE"
    assert job["last_seq"] == -1
    assert (job["is_scheduled"], job["schedule_id"], job["scheduled_time"]) == (False, None, None)

    # A job id chosen by the caller is kept.
    chosen = uuid4()
    again = await status.client.post("/jobs", headers=status.auth, json={
        "service": "telemetry-janitor", "command": "seed-demo", "options": {"rows": 10}, "job_id": str(chosen)})
    assert again.status_code == 202
    assert again.json()["job_id"] == str(chosen)
    assert json.loads((await commands.next()).body)["job_id"] == str(chosen)


async def test_post_jobs_needs_the_right_token(status: Status, commands: Commands, infra: Infra) -> None:
    body = {"service": "telemetry-janitor", "command": "clear", "options": {}}
    assert (await status.client.post("/jobs", json=body)).status_code == 401
    wrong = await status.client.post("/jobs", json=body, headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"] == "Bearer"
    assert await commands.empty_after(0.3)

    async with running_status(infra, token=None) as unset:
        refused = await unset.client.post("/jobs", json=body, headers={"Authorization": "Bearer anything"})
        assert refused.status_code == 503
        assert refused.json() == {"detail": "FERRY_API_TOKEN is not set: mutating endpoints are disabled"}
        cancel = await unset.client.post(f"/jobs/{uuid4()}/cancel")
        assert cancel.status_code == 503
        assert (await unset.client.get("/jobs")).status_code == 200  # reading needs no token
    assert await commands.empty_after(0.3)


async def test_a_bad_option_is_refused_naming_it_and_nothing_is_published(
    status: Status, commands: Commands
) -> None:
    response = await status.client.post("/jobs", headers=status.auth, json={
        "service": "telemetry-janitor", "command": "clear", "options": {"status": "BOGUS"}})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "options", "status"]
    assert "'PENDING', 'DONE', 'IGNORED', 'ERROR' or 'ALL'" in error["msg"]

    unknown_flag = await status.client.post("/jobs", headers=status.auth, json={
        "service": "telemetry-janitor", "command": "clear", "options": {"batch_sise": 5}})
    assert unknown_flag.status_code == 422
    assert unknown_flag.json()["detail"][0]["loc"] == ["body", "options", "batch_sise"]

    for bad, field in (({"service": "nope", "command": "clear"}, "service"),
                       ({"service": "telemetry-janitor", "command": "explode"}, "command")):
        refused = await status.client.post("/jobs", headers=status.auth, json={**bad, "options": {}})
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["loc"] == ["body", field]
        assert "allowed:" in refused.json()["detail"][0]["msg"]

    assert await commands.empty_after(0.5)
    assert (await status.client.get("/jobs")).json()["total"] == 0


async def test_cancel_publishes_to_the_jobs_service(status: Status, commands: Commands, events: Events) -> None:
    job = uuid4()
    await events.publish(event(job, 1, EventType.STARTED))
    await job_when(status.client, job, lambda j: j["status"] == "running")

    response = await status.client.post(f"/jobs/{job}/cancel", headers=status.auth)
    assert response.status_code == 202
    assert response.json() == {"job_id": str(job), "service": "telemetry-janitor"}
    message = await commands.next()
    assert message.routing_key == "telemetry-janitor.cancel"
    assert json.loads(message.body)["job_id"] == str(job)

    missing = await status.client.post(f"/jobs/{uuid4()}/cancel", headers=status.auth)
    assert missing.status_code == 404


async def test_listing_filters_paginates_and_counts(status: Status, events: Events) -> None:
    base = datetime.now(UTC) - timedelta(hours=1)
    plan = [("telemetry-janitor", EventType.COMPLETED)] * 3 + [("telemetry-janitor", EventType.FAILED)] * 2
    plan += [("asset-sync", EventType.PROGRESS)] * 2 + [("asset-sync", EventType.COMPLETED)]
    created: list[UUID] = []
    for minute, (service, kind) in enumerate(plan):
        job = uuid4()
        created.append(job)
        await events.publish(event(job, 0, kind, service=service, command="x", at=base + timedelta(minutes=minute)))

    async def all_in() -> int | None:
        total: int = (await status.client.get("/jobs")).json()["total"]
        return total if total == len(plan) else None

    await eventually(all_in, what="every job listed")
    newest_first = [UUID(j["job_id"]) for j in (await status.client.get("/jobs")).json()["items"]]
    assert newest_first == created[::-1]

    page = (await status.client.get("/jobs", params={"limit": 3, "offset": 3})).json()
    assert (page["total"], page["limit"], page["offset"]) == (8, 3, 3)
    assert [UUID(j["job_id"]) for j in page["items"]] == created[::-1][3:6]

    janitor_done = (await status.client.get("/jobs", params={"service": "telemetry-janitor", "status": "completed"}))
    assert janitor_done.json()["total"] == 3
    assert {j["service"] for j in janitor_done.json()["items"]} == {"telemetry-janitor"}
    running = (await status.client.get("/jobs", params={"status": "running"})).json()
    assert [UUID(j["job_id"]) for j in running["items"]] == [created[6], created[5]]
    assert (await status.client.get("/jobs", params={"status": "sleeping"})).status_code == 422
    assert (await status.client.get("/jobs", params={"limit": 0})).status_code == 422

    # A short id, as `ferry job <prefix>` gives it: the jobs whose id starts so (any case).
    one = created[4]
    prefixed = (await status.client.get("/jobs", params={"id_prefix": str(one)[:8].upper()})).json()
    assert one in [UUID(j["job_id"]) for j in prefixed["items"]]
    assert all(j["job_id"].startswith(str(one)[:8]) for j in prefixed["items"])
    assert prefixed["total"] == len(prefixed["items"])
    assert (await status.client.get("/jobs", params={"id_prefix": "zz'%"})).status_code == 422

    stats = (await status.client.get("/stats")).json()
    assert stats == {
        "by_status": {"completed": 4, "failed": 2, "running": 2},
        "by_service": {
            "telemetry-janitor": {"completed": 3, "failed": 2}, "asset-sync": {"running": 2, "completed": 1}
        },
        "total": 8,
    }
    metrics = (await status.client.get("/metrics")).text
    assert 'ferry_status_jobs{status="completed"} 4.0' in metrics


async def test_health_readiness_and_openapi(status: Status) -> None:
    assert (await status.client.get("/healthz")).json() == {"status": "ok"}
    ready = await status.client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["ready"] is True
    assert {"broker", "events_consumer", "commands_consumer", "database"} <= set(body["checks"])
    assert set(body["checks"].values()) == {"ok"}
    schema = (await status.client.get("/openapi.json")).json()
    job = schema["components"]["schemas"]["Job"]["properties"]
    assert "progress" in job
    assert job["progress"]["description"].startswith("Percent")
    paths = {"/jobs", "/jobs/{job_id}", "/jobs/{job_id}/events", "/stats", "/jobs/{job_id}/cancel", "/readyz"}
    assert paths <= set(schema["paths"])
