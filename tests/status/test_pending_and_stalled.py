"""Issue 13.6, the status service's part: every published command is a pending job at once, whoever
published it; a running job that goes quiet is shown as stalled until it reports again."""

from __future__ import annotations

from uuid import uuid4

from pydantic import SecretStr

from ferry.cli.publish import publish_async
from ferry.contracts import ClearOptions, Command, EventType, JobStatus
from tests.status.conftest import Events, Status, event, job_when, running_status
from tests.support.infra import Infra


async def test_a_command_published_by_the_cli_is_pending_before_its_service_runs(
    status: Status, events: Events, infra: Infra
) -> None:
    envelope = Command(requested_by="cli:alice", options=ClearOptions(status="ERROR"))
    # No janitor is running: only the status service sees the command.
    await publish_async(SecretStr(infra.amqp_url), "telemetry-janitor", "clear", envelope)
    job = await job_when(status.client, envelope.job_id, lambda j: True)
    assert job["status"] == "pending"
    assert job["requested_by"] == "cli:alice"
    assert job["options"]["status"] == "ERROR"
    assert (job["service"], job["command"]) == ("telemetry-janitor", "clear")

    # The job's events take over from the pending row.
    await events.publish(event(envelope.job_id, 0, EventType.ACCEPTED))
    await events.publish(event(envelope.job_id, 1, EventType.STARTED))
    job = await job_when(status.client, envelope.job_id, lambda j: j["status"] == "running")
    assert job["requested_by"] == "cli:alice"


async def test_a_command_seen_after_its_events_does_not_reopen_the_job(
    status: Status, events: Events, infra: Infra
) -> None:
    job_id = uuid4()
    for seq, type_ in enumerate((EventType.ACCEPTED, EventType.STARTED, EventType.COMPLETED)):
        await events.publish(event(job_id, seq, type_))
    await job_when(status.client, job_id, lambda j: j["status"] == "completed")
    late = Command(job_id=job_id, requested_by="cronjob:nightly", options=ClearOptions())
    await publish_async(SecretStr(infra.amqp_url), "telemetry-janitor", "clear", late)
    # It fills in who asked (the events did not say), and nothing else.
    job = await job_when(status.client, job_id, lambda j: j["requested_by"] == "cronjob:nightly")
    assert job["status"] == "completed"
    assert job["last_seq"] == 2


async def test_cancel_commands_are_not_jobs(status: Status, events: Events, infra: Infra) -> None:
    from ferry.contracts import CancelCommand

    job_id = uuid4()
    await publish_async(SecretStr(infra.amqp_url), "telemetry-janitor", "cancel", CancelCommand(job_id=job_id))
    marker = Command(requested_by="cli:bob", options=ClearOptions())
    await publish_async(SecretStr(infra.amqp_url), "telemetry-janitor", "clear", marker)
    await job_when(status.client, marker.job_id, lambda j: True)  # commands are recorded in order
    assert (await status.client.get(f"/jobs/{job_id}")).status_code == 404


async def test_a_quiet_running_job_is_stalled_until_it_reports_again(events: Events, infra: Infra) -> None:
    async with running_status(infra, status_stalled_after_s=1.0) as status:
        quiet, busy = uuid4(), uuid4()
        await events.publish(event(quiet, 0, EventType.STARTED))
        await events.publish(event(busy, 0, EventType.STARTED))
        await job_when(status.client, quiet, lambda j: j["status"] == "running")
        seq = 1
        # `busy` keeps sending heartbeats; `quiet` sends nothing.
        while (await status.client.get(f"/jobs/{quiet}")).json()["status"] != "stalled":
            await events.publish(event(busy, seq, EventType.PROGRESS, detail={"heartbeat": True}))
            seq += 1
            await job_when(status.client, busy, lambda j, s=seq: j["last_seq"] == s - 1)
        assert (await status.client.get(f"/jobs/{busy}")).json()["status"] == "running"
        listed = (await status.client.get("/jobs", params={"status": "stalled"})).json()
        assert [j["job_id"] for j in listed["items"]] == [str(quiet)]
        stats = (await status.client.get("/stats")).json()
        assert stats["by_status"][JobStatus.STALLED.value] == 1

        await events.publish(event(quiet, 1, EventType.PROGRESS, processed=5))
        back = await job_when(status.client, quiet, lambda j: j["status"] == "running")
        assert back["processed"] == 5
