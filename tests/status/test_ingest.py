"""Job events published to ferry.events become job rows with exact counters."""

from __future__ import annotations

import asyncio
import json
from uuid import uuid4

import aio_pika

from ferry import topology
from ferry.contracts import EventType
from tests.status.conftest import Events, Status, event, eventually, job_when
from tests.support.infra import Infra


async def test_a_jobs_events_fold_into_its_row(status: Status, events: Events) -> None:
    job = uuid4()
    result = {"status": "PENDING", "found": 300, "deleted": 300, "method": "batched", "dry_run": False}
    await events.publish(event(job, 0, EventType.ACCEPTED, message="accepted"))
    await events.publish(event(job, 1, EventType.STARTED, total=300, message="Found 300 records"))
    for seq, done in enumerate((100, 200), start=2):
        await events.publish(event(job, seq, EventType.PROGRESS, total=300, processed=done, succeeded=done - 1,
                                   failed=1, message=f"Deleted {done}/300"))
    await events.publish(event(job, 4, EventType.COMPLETED, total=300, processed=300, succeeded=297, failed=1,
                               skipped=2, message="Successfully deleted 297 records", detail={"result": result}))

    body = await job_when(status.client, job, lambda j: j["status"] == "completed")
    assert body["service"] == "telemetry-janitor"
    assert body["command"] == "clear"
    counters = (body["total"], body["processed"], body["succeeded"], body["failed"], body["skipped"])
    assert counters == (300, 300, 297, 1, 2)
    assert body["progress"] == 100.0
    assert body["message"] == "Successfully deleted 297 records"
    assert body["result"] == result
    assert body["last_seq"] == 4
    assert body["error"] is None
    assert body["started_at"] is not None
    assert body["finished_at"] is not None
    assert body["duration_s"] is not None
    assert body["duration_s"] >= 0

    listed = (await status.client.get(f"/jobs/{job}/events")).json()
    assert [e["seq"] for e in listed] == [0, 1, 2, 3, 4]
    assert [e["type"] for e in listed] == ["accepted", "started", "progress", "progress", "completed"]
    later = (await status.client.get(f"/jobs/{job}/events", params={"after_seq": 2})).json()
    assert [e["seq"] for e in later] == [3, 4]


async def test_a_running_job_shows_progress_and_a_failure_its_error(status: Status, events: Events) -> None:
    running, failing = uuid4(), uuid4()
    await events.publish(event(running, 1, EventType.PROGRESS, total=400, processed=100, succeeded=100))
    await events.publish(event(failing, 1, EventType.FAILED, message="boom", detail={"error": "table missing"}))

    body = await job_when(status.client, running, lambda j: j["status"] == "running")
    assert body["progress"] == 25.0
    assert body["finished_at"] is None
    failed = await job_when(status.client, failing, lambda j: j["status"] == "failed")
    assert failed["error"] == "table missing"
    missing = await status.client.get(f"/jobs/{uuid4()}")
    assert missing.status_code == 404
    assert "not found" in missing.json()["detail"]


async def test_out_of_order_and_duplicate_events_keep_the_newest_state(status: Status, events: Events) -> None:
    job = uuid4()
    final = event(job, 5, EventType.COMPLETED, total=10, processed=10, succeeded=10, message="done")
    await events.publish(final)
    await job_when(status.client, job, lambda j: j["status"] == "completed")

    # Older events arriving later (in their own batches and redelivered) change nothing.
    older = [event(job, seq, EventType.PROGRESS, total=10, processed=seq, succeeded=seq) for seq in (1, 2, 3)]
    for e in [*older, older[0], final, older[2]]:
        await events.publish(e)

    async def all_stored() -> list[dict[str, object]] | None:
        items: list[dict[str, object]] = (await status.client.get(f"/jobs/{job}/events")).json()
        return items if len(items) == 4 else None

    stored = await eventually(all_stored, what="4 distinct events")
    await asyncio.sleep(0.3)  # let any redelivered copy be processed too
    stored = (await status.client.get(f"/jobs/{job}/events")).json()
    assert [e["seq"] for e in stored] == [1, 2, 3, 5]
    body = (await status.client.get(f"/jobs/{job}")).json()
    assert (body["status"], body["processed"], body["last_seq"], body["message"]) == ("completed", 10, 5, "done")
    metrics = (await status.client.get("/metrics")).text
    assert "ferry_status_events_duplicate_total 3.0" in metrics


async def test_out_of_order_events_within_one_batch(status: Status, events: Events) -> None:
    jobs = [uuid4() for _ in range(20)]
    batch = [event(j, seq, EventType.PROGRESS, total=50, processed=seq * 10, succeeded=seq * 10)
             for j in jobs for seq in (1, 2, 3)]
    batch += [event(j, 4, EventType.COMPLETED, total=50, processed=50, succeeded=50) for j in jobs]
    batch.reverse()  # newest first, so every older event arrives after the one that supersedes it
    await asyncio.gather(*(events.publish(e) for e in batch))
    for j in jobs:
        body = await job_when(status.client, j, lambda b: b["last_seq"] == 4)
        assert (body["status"], body["processed"], body["succeeded"]) == ("completed", 50, 50)
    stats = (await status.client.get("/stats")).json()
    assert stats == {"by_status": {"completed": 20}, "by_service": {"telemetry-janitor": {"completed": 20}},
                     "total": 20}


async def test_an_invalid_body_is_dead_lettered_and_ingesting_goes_on(
    status: Status, events: Events, infra: Infra
) -> None:
    # Watch the dead-letter exchange through a queue of our own.
    connection = await aio_pika.connect(infra.amqp_url)
    channel = await connection.channel()
    dead = await channel.declare_queue("", exclusive=True)
    await dead.bind(topology.DLX.name, routing_key="#")
    try:
        await events.publish_raw(b"this is not json", "telemetry-janitor.job.progress")
        await events.publish_raw(json.dumps({"v": 1, "job_id": "nope"}).encode(), "telemetry-janitor.job.progress")
        await events.publish_raw(b"\xff\xfe not utf-8", "telemetry-janitor.job.progress")
        job = uuid4()
        await events.publish(event(job, 0, EventType.ACCEPTED))
        await events.publish(event(job, 1, EventType.REJECTED, message="bad options", detail={"reason": "status: bad"}))

        body = await job_when(status.client, job, lambda j: j["status"] == "rejected")
        assert body["error"] == "status: bad"

        async def dead_letters() -> list[tuple[bytes, str]] | None:
            got = []
            while (message := await dead.get(no_ack=True, fail=False)) is not None:
                got.append((message.body, str(message.headers.get("x-ferry-reason"))))
            return got or None

        received: list[tuple[bytes, str]] = []
        while len(received) < 3:
            received += await eventually(dead_letters, what="dead letters")
        reasons = dict(received)
        assert len(received) == 3, "each rejected event is dead-lettered once"
        assert reasons[b"this is not json"].startswith("not a job event: body: Invalid JSON")
        assert "job_id" in reasons[b'{"v": 1, "job_id": "nope"}']
        assert reasons[b"\xff\xfe not utf-8"] == "body is not UTF-8 text"
        metrics = (await status.client.get("/metrics")).text
        assert "ferry_status_events_rejected_total 3.0" in metrics
    finally:
        await connection.close()
