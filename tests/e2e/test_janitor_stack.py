"""The janitor driven by the `ferry` CLI through RabbitMQ, reported by the status service: what an
operator runs, and what they check afterwards (the rows, `ferry job`, the status API)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import aio_pika
import httpx
import pytest

from ferry import topology
from tests.e2e.conftest import STATUSES, Stack, final_json


def test_clear_error_force_wait_deletes_exactly_the_error_rows(stack: Stack) -> None:
    before = stack.seed(20_000)
    assert before["ERROR"] > 0
    result = stack.ferry("telemetry-janitor", "clear", "--status", "ERROR", "--force", "--wait")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Found {before['ERROR']:,} LearnPackWebhook records with status 'ERROR'" in result.stdout
    assert f"Successfully deleted {before['ERROR']:,} LearnPackWebhook records with status 'ERROR'" in result.stdout
    after = stack.counts()
    assert after == {**before, "ERROR": 0}
    job_id = result.stdout.split("Published job ")[1].split()[0]
    shown = stack.ferry("job", job_id, "--json")
    assert shown.returncode == 0, shown.stderr
    job = json.loads(shown.stdout)
    assert job["status"] == "completed"
    assert (job["total"], job["processed"], job["succeeded"], job["failed"]) == (before["ERROR"],) * 3 + (0,)
    assert job["result"]["deleted"] == before["ERROR"]
    assert job["progress"] == 100
    assert job["duration_s"] > 0
    assert job["requested_by"].startswith("cli:")
    assert job["options"]["status"] == "ERROR"


def test_dry_run_deletes_nothing_and_reports_the_count(stack: Stack) -> None:
    before = stack.seed(5_000)
    result = stack.ferry("telemetry-janitor", "clear", "--status", "ALL", "--dry-run", "--show-summary",
                         "--wait", "--json")
    assert result.returncode == 0, result.stderr
    job = final_json(result)
    assert job["result"]["found"] == sum(before.values())
    assert job["result"]["status_summary"] == {s: n for s, n in before.items() if n}
    assert stack.counts() == before


@pytest.mark.parametrize("status", ["PENDING", "ALL"])
def test_each_status_clears_only_its_rows(stack: Stack, status: str) -> None:
    before = stack.seed(4_000)
    result = stack.ferry("telemetry-janitor", "clear", "--status", status, "--force", "--wait", "--json")
    assert result.returncode == 0, result.stderr
    expected = dict.fromkeys(STATUSES, 0) if status == "ALL" else {**before, status: 0}
    assert stack.counts() == expected
    deleted = sum(before.values()) if status == "ALL" else before[status]
    assert final_json(result)["succeeded"] == deleted


def test_the_prompt_no_keeps_the_rows_and_yes_deletes_them(stack: Stack) -> None:
    before = stack.seed(3_000)
    question = (
        f"Are you sure you want to delete {before['DONE']:,} LearnPackWebhook records with status 'DONE'? (yes/no)"
    )
    said_no = stack.ferry_at_terminal("telemetry-janitor", "clear", "--status", "DONE", answer="no")
    assert question in said_no.stdout + said_no.stderr
    assert said_no.returncode == 1
    assert "Operation cancelled." in said_no.stdout + said_no.stderr
    assert stack.counts() == before
    said_yes = stack.ferry_at_terminal("telemetry-janitor", "clear", "--status", "DONE", "--wait", answer="yes")
    assert said_yes.returncode == 0, said_yes.stdout + said_yes.stderr
    assert stack.counts() == {**before, "DONE": 0}


def test_without_a_terminal_and_without_force_nothing_is_published(stack: Stack) -> None:
    before = stack.seed(1_000)
    refused = stack.ferry("telemetry-janitor", "clear", "--status", "DONE")
    assert refused.returncode == 2
    assert "--force" in refused.stderr
    assert httpx.get(f"{stack.status.url}/stats", timeout=10).json()["total"] == 1  # the seed job only
    assert stack.counts() == before


def test_a_bad_flag_is_refused_before_publishing(stack: Stack) -> None:
    refused = stack.ferry("telemetry-janitor", "clear", "--status", "DELETED", "--force")
    assert refused.returncode == 2
    assert "--status" in refused.stderr
    assert "PENDING, DONE, IGNORED, ERROR, ALL" in refused.stderr
    assert httpx.get(f"{stack.status.url}/stats", timeout=10).json()["total"] == 0


def test_the_same_job_id_published_twice_runs_once(stack: Stack) -> None:
    before = stack.seed(2_000)
    job_id = str(uuid.uuid4())
    for _ in range(2):
        published = stack.ferry("telemetry-janitor", "clear", "--status", "IGNORED", "--force", "--job-id", job_id)
        assert published.returncode == 0, published.stderr
    job = stack.wait_job(job_id, {"completed", "failed"})
    time.sleep(2)  # a second run, if there were one, would show by now
    events = httpx.get(f"{stack.status.url}/jobs/{job_id}/events", timeout=10).json()
    assert [e["type"] for e in events].count("accepted") == 1
    assert [e["type"] for e in events].count("completed") == 1
    assert job["succeeded"] == before["IGNORED"]
    assert stack.counts() == {**before, "IGNORED": 0}


def test_a_malformed_command_is_rejected_and_the_service_keeps_serving(stack: Stack) -> None:
    job_id = str(uuid.uuid4())
    response = httpx.post(
        f"{stack.status.url}/jobs", headers={"Authorization": "Bearer e2e-token"},
        json={"service": "telemetry-janitor", "command": "clear", "options": {"status": "ERROR"}},
        timeout=10,
    )
    assert response.status_code == 202  # the API itself validates; now bypass it with a raw message

    async def publish_raw() -> None:
        connection = await aio_pika.connect(stack.infra.amqp_url)
        async with connection:
            channel = await connection.channel()
            exchange = await topology.declare_exchange(channel, topology.COMMANDS)
            body = json.dumps({"job_id": job_id, "options": {"status": "SOMETIMES"}}).encode()
            await exchange.publish(aio_pika.Message(body), routing_key="telemetry-janitor.clear")

    asyncio.run(publish_raw())
    rejected = stack.wait_job(job_id, {"rejected"}, timeout=30)
    assert "options.status" in (rejected["error"] or rejected["message"])
    good = stack.ferry("telemetry-janitor", "clear", "--status", "ERROR", "--force", "--wait")
    assert good.returncode == 0, good.stdout + good.stderr
