"""Issue 9.3, 9.5: a webhook receiver on loopback gets one notification per finished job, also when it
first answers 500; two replicas send each once; a schedule's own filter and URL; the URL stays secret."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from pydantic import ValidationError

from ferry.contracts import EventType
from ferry_status import scheduler
from ferry_status.resources import Resources
from ferry_status.settings import StatusSettings
from ferry_status.store import NOTIFICATIONS
from tests.status.conftest import TOKEN, Events, event, eventually, job_when, running_status
from tests.status.webhook import Receiver, receiver
from tests.support.infra import Infra
from tests.support.processes import running_service

FAST = {"status_notify_tick_s": 0.05, "status_notify_backoff_s": 0.05}
HOOK = "/services/T0FERRY/B0FERRY/s3cr3tHookPath"


async def finish(events: Events, job_id: UUID, end: EventType, *, service: str = "telemetry-janitor",
                 **fields: Any) -> None:
    await events.publish(event(job_id, 0, EventType.STARTED, service=service))
    await events.publish(event(job_id, 1, EventType.PROGRESS, service=service, total=10, processed=4, succeeded=4))
    await events.publish(event(job_id, 2, end, service=service, **fields))


async def outbox(pool: asyncpg.Pool, job_id: UUID) -> asyncpg.Record | None:
    return await pool.fetchrow(f"SELECT * FROM {NOTIFICATIONS} WHERE job_id = $1", job_id)


async def all_accepted(hook: Receiver, jobs: list[UUID]) -> bool:
    accepted = hook.accepted()
    return all(accepted[str(j)] >= 1 for j in jobs)


async def test_one_notification_per_finished_job_even_when_the_receiver_first_answers_500(
    infra: Infra, events: Events
) -> None:
    done, failed, cancelled, running, other = uuid4(), uuid4(), uuid4(), uuid4(), uuid4()
    with receiver(fail_first=1) as hook:
        async with running_status(infra, status_notify_url=hook.url(HOOK), status_public_url="https://ferry.example",
                                  status_notify_services=["telemetry-janitor"], **FAST) as status:
            res: Resources = status.app.state.resources
            await finish(events, done, EventType.COMPLETED, total=10, processed=10, succeeded=9, failed=1)
            await finish(events, failed, EventType.FAILED, detail={"error": "GitHub answered 401"})
            await finish(events, cancelled, EventType.CANCELLED)  # not in the default `completed,failed`
            await events.publish(event(running, 0, EventType.STARTED))
            await finish(events, other, EventType.FAILED, service="gh-seeder")  # not a service notified about
            # A second, later final event for a job that already finished changes no notification.
            await events.publish(event(done, 3, EventType.COMPLETED, total=10, processed=10, succeeded=9, failed=1))
            await job_when(status.client, done, lambda j: j["last_seq"] == 3)
            await job_when(status.client, cancelled, lambda j: j["status"] == "cancelled")
            await job_when(status.client, running, lambda j: j["status"] == "running")
            await job_when(status.client, other, lambda j: j["status"] == "failed")
            await eventually(lambda: all_accepted(hook, [done, failed]), what="both notifications accepted")
            sent = await eventually(lambda: outbox(res.pool, done), what="the outbox row")
            await eventually(lambda: _sent(res.pool, [done, failed]), what="both recorded as sent")
            assert await outbox(res.pool, cancelled) is None
            assert await outbox(res.pool, running) is None
            assert await outbox(res.pool, other) is None
            rows = {j: await outbox(res.pool, j) for j in (done, failed)}

    assert hook.accepted() == {str(done): 1, str(failed): 1}
    assert [d.answered for d in hook.all() if d.body["job_id"] == str(done)] == [500, 200]
    assert all(r is not None and r["attempts"] == 2 and r["last_error"] is None for r in rows.values())
    assert sent["status"] == "completed"
    [body] = [d.body for d in hook.all() if d.answered == 200 and d.body["job_id"] == str(done)]
    assert body["status"] == "completed"
    assert body["service"] == "telemetry-janitor"
    assert body["counts"] == {"total": 10, "processed": 10, "succeeded": 9, "failed": 1, "skipped": 0}
    assert body["link"] == f"https://ferry.example/ui/jobs/{done}"
    assert "telemetry-janitor clear completed: 10 processed (9 succeeded, 1 failed, 0 skipped)" in body["text"]
    assert f"<https://ferry.example/ui/jobs/{done}|" in body["text"]  # a Slack link
    [failure] = [d for d in hook.all() if d.answered == 200 and d.body["job_id"] == str(failed)]
    assert failure.body["error"] == "GitHub answered 401"
    assert "Error: GitHub answered 401" in failure.body["text"]
    assert failure.headers["content-type"] == "application/json"
    assert failure.headers["idempotency-key"] == str(failed)
    assert failure.path == HOOK


async def _sent(pool: asyncpg.Pool, jobs: list[UUID]) -> bool:
    sent = await pool.fetchval(f"SELECT count(*) FROM {NOTIFICATIONS} WHERE job_id = ANY($1) AND sent_at IS NOT NULL",
                               jobs)
    return int(sent) == len(jobs)


async def test_two_replicas_send_each_notification_once(infra: Infra, events: Events) -> None:
    jobs = [uuid4() for _ in range(8)]
    # Slow answers: a POST is in flight while the other replica ticks many times.
    with receiver(delay_s=0.2) as hook:
        async with running_status(infra, status_notify_url=hook.url(HOOK), **FAST) as one, \
                running_status(infra, status_notify_url=hook.url(HOOK), **FAST) as two:
            for job_id in jobs:
                await finish(events, job_id, EventType.COMPLETED)
            await eventually(lambda: all_accepted(hook, jobs), what="every notification accepted")
            pool = two.app.state.resources.pool
            await eventually(lambda: _sent(pool, jobs), what="every notification recorded as sent")
            sent_by = [_sent_count(replica.app.state.resources) for replica in (one, two)]
    assert hook.accepted() == {str(j): 1 for j in jobs}
    assert sum(sent_by) == len(jobs), sent_by
    assert len(hook.all()) == len(jobs)  # nothing posted twice, not even to be refused


def _sent_count(res: Resources) -> float:
    return res.metrics.registry.get_sample_value("ferry_status_notifications_total", {"outcome": "sent"}) or 0.0


async def test_a_schedule_notifies_by_its_own_filter_to_its_own_url(infra: Infra, events: Events) -> None:
    with receiver() as hook:
        async with running_status(infra, **FAST) as status:  # no global URL: only the schedule's
            created = await status.client.post("/schedules", headers=status.auth, json={
                "service": "telemetry-janitor", "command": "clear", "schedule": "0 11 * * *", "overlap": "allow",
                "notify_on": ["failed"], "notify_url": hook.url("/per-schedule/t0k3n")})
            assert created.status_code == 201, created.text
            assert created.json()["notify_url"] == "http://127.0.0.1/****"
            assert created.json()["notify_on"] == ["failed"]
            res: Resources = status.app.state.resources
            assert res.scheduler is not None
            sid = UUID(created.json()["schedule_id"])
            await res.scheduler.tick(datetime(2099, 1, 1, 11, tzinfo=UTC))
            await res.scheduler.tick(datetime(2099, 1, 2, 11, tzinfo=UTC))
            first, second = (UUID(str(r["job_id"])) for r in await scheduler.fires(res.pool, sid))
            await finish(events, first, EventType.COMPLETED)
            await finish(events, second, EventType.FAILED, detail={"error": "boom"})
            unscheduled = uuid4()
            await finish(events, unscheduled, EventType.FAILED)  # no global URL: nothing
            await job_when(status.client, first, lambda j: j["status"] == "completed")
            await job_when(status.client, unscheduled, lambda j: j["status"] == "failed")
            await eventually(lambda: all_accepted(hook, [second]), what="the failed run's notification")
            await eventually(lambda: _sent(res.pool, [second]), what="it recorded as sent")
            assert await outbox(res.pool, first) is None
            assert await outbox(res.pool, unscheduled) is None
    [delivery] = hook.all()
    assert delivery.path == "/per-schedule/t0k3n"
    assert delivery.body["schedule_id"] == str(sid)
    assert delivery.body["scheduled_time"].startswith("2099-01-02T11:00:00")


async def test_a_bad_notify_url_is_refused_without_echoing_it(infra: Infra) -> None:
    async with running_status(infra) as status:
        answer = await status.client.post("/schedules", headers=status.auth, json={
            "service": "telemetry-janitor", "command": "clear", "schedule": "14:30",
            "notify_url": "ftp://files.example/very-secret-path"})
        assert answer.status_code == 422
        assert answer.json()["detail"][0]["loc"] == ["body", "notify_url"]
        assert "very-secret-path" not in answer.text
        assert (await status.client.get("/schedules")).json() == []


async def test_a_notification_that_keeps_failing_is_given_up_after_its_attempts(
    infra: Infra, events: Events
) -> None:
    with receiver() as hook:
        gone = hook.url("/gone")
    # The receiver is closed: nothing listens there, so every attempt fails to connect.
    async with running_status(infra, status_notify_url=gone, status_notify_max_attempts=3, **FAST) as status:
        res: Resources = status.app.state.resources
        job_id = uuid4()
        await finish(events, job_id, EventType.COMPLETED)
        row = await eventually(lambda: _given_up(res.pool, job_id), what="the notification given up")
    assert (row["attempts"], row["last_error"], row["sent_at"]) == (3, "ConnectError", None)
    assert "/gone" not in json.dumps(dict(row), default=str)


async def test_a_revoked_webhook_is_given_up_at_once(infra: Infra, events: Events) -> None:
    with receiver(always=410) as hook:
        async with running_status(infra, status_notify_url=hook.url(HOOK), **FAST) as status:
            res: Resources = status.app.state.resources
            job_id = uuid4()
            await finish(events, job_id, EventType.FAILED)
            row = await eventually(lambda: _given_up(res.pool, job_id), what="the notification given up")
    assert (row["attempts"], row["last_error"]) == (1, "HTTP 410")  # a retry cannot fix a 410
    assert len(hook.all()) == 1


async def _given_up(pool: asyncpg.Pool, job_id: UUID) -> asyncpg.Record | None:
    row = await outbox(pool, job_id)
    return row if row is not None and row["gave_up_at"] is not None else None


async def test_the_webhook_url_is_in_no_log_line_and_no_answer(
    infra: Infra, events: Events, tmp_path: Path
) -> None:
    schedule_hook = "/per-schedule/t0k3nOfTheSchedule"
    job_id = uuid4()
    with receiver(fail_first=1) as hook, running_service(
        "ferry-status", infra, tmp_path, FERRY_HTTP_HOST="127.0.0.1", FERRY_API_TOKEN=TOKEN,
        FERRY_STATUS_NOTIFY_URL=hook.url(HOOK), FERRY_STATUS_NOTIFY_TICK_S="0.05",
        FERRY_STATUS_NOTIFY_BACKOFF_S="0.05", FERRY_LOG_LEVEL="DEBUG",  # every line a library may log
    ) as service:
        async with httpx.AsyncClient(base_url=service.url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            created = await client.post("/schedules", json={
                "service": "telemetry-janitor", "command": "clear", "schedule": "* * * * * *",
                "notify_url": hook.url(schedule_hook)})
            assert created.status_code == 201, created.text
            sid = created.json()["schedule_id"]

            async def fired() -> str | None:
                last: str | None = (await client.get(f"/schedules/{sid}")).json()["last_job_id"]
                return last

            scheduled = UUID(await eventually(fired, what="the schedule's first run"))
            await client.post(f"/schedules/{sid}/pause")
            await finish(events, job_id, EventType.FAILED, detail={"error": "boom"})
            await finish(events, scheduled, EventType.COMPLETED)
            await eventually(lambda: all_accepted(hook, [job_id, scheduled]), what="both notifications accepted")
            answers = [created] + [await client.get(path) for path in (
                "/schedules", f"/schedules/{sid}", f"/jobs/{job_id}", f"/jobs/{scheduled}",
                f"/jobs/{job_id}/events", "/jobs", "/metrics", "/readyz", "/openapi.json")]
        service.terminate()
        logs = service.logs()
    assert sorted((d.path, d.answered) for d in hook.all()) == sorted(
        [(HOOK, 500), (HOOK, 200), (schedule_hook, 500), (schedule_hook, 200)])
    assert "notification failed, will retry" in logs  # the lines that could have named it were written
    assert "notification sent" in logs
    for secret in ("s3cr3tHookPath", "t0k3nOfTheSchedule"):
        assert secret not in logs
        for answer in answers:
            assert secret not in answer.text, answer.url
    assert created.json()["notify_url"] == "http://127.0.0.1/****"


def test_the_settings_read_comma_lists_and_refuse_a_bad_url_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FERRY_STATUS_NOTIFY_ON", "failed, cancelled")
    monkeypatch.setenv("FERRY_STATUS_NOTIFY_SERVICES", "gh-seeder,asset-sync")
    monkeypatch.setenv("FERRY_STATUS_NOTIFY_URL", "https://hooks.example/T1/B2/s3cr3tHookPath")
    settings = StatusSettings()
    assert (settings.status_notify_on, settings.status_notify_services) == (
        ["failed", "cancelled"], ["gh-seeder", "asset-sync"])
    assert "s3cr3tHookPath" not in repr(settings)
    assert "/T1/B2/s3cr3tHookPath" in settings.secret_values()  # redacted from every log line

    monkeypatch.setenv("FERRY_STATUS_NOTIFY_URL", "hooks.example/T1/B2/s3cr3tHookPath")  # no scheme
    with pytest.raises(ValidationError) as refused:
        StatusSettings()
    assert "status_notify_url" in str(refused.value)
    assert "s3cr3tHookPath" not in str(refused.value)
    monkeypatch.setenv("FERRY_STATUS_NOTIFY_URL", "https://hooks.example/x")
    monkeypatch.setenv("FERRY_STATUS_NOTIFY_ON", "completed,sometimes")
    with pytest.raises(ValidationError, match="status_notify_on"):
        StatusSettings()
