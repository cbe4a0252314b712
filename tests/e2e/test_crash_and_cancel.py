"""A janitor killed mid-job (SIGKILL) and a job cancelled mid-way: the counts still add up."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import TOKEN, Stack
from tests.support.infra import Infra
from tests.support.processes import running_service

# A small lock bound: many short batches, so the job is long enough to interrupt. Not smaller: under
# load a statement's own latency exceeds a 10 ms bound's 2.5 ms target, batches shrink to a row or two,
# and the job crawls past the test's patience (seen in CI runs on a busy machine).
SLOW_JANITOR = {"FERRY_JANITOR_MAX_LOCK_MS": "100"}


@pytest.fixture
def slow_stack(infra: Infra, tmp_path: Path) -> Iterator[Stack]:
    with (
        running_service("ferry-status", infra, tmp_path, FERRY_API_TOKEN=TOKEN) as status,
        running_service("ferry-telemetry-janitor", infra, tmp_path, **SLOW_JANITOR) as janitor,
    ):
        yield Stack(infra, status, janitor, tmp_path)


def _start_clear(stack: Stack, status: str) -> str:
    published = stack.ferry("telemetry-janitor", "clear", "--status", status, "--force", "--batch-size", "500",
                            "--json")
    assert published.returncode == 0, published.stderr
    job_id: str = json.loads(published.stdout)["job_id"]
    return job_id


def _wait_progress(stack: Stack, job_id: str, at_least: int) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        response = httpx.get(f"{stack.status.url}/jobs/{job_id}", timeout=10)
        if response.status_code == 200 and response.json()["processed"] >= at_least:
            job: dict[str, Any] = response.json()
            return job
        assert time.monotonic() < deadline, response.text[:300]
        time.sleep(0.05)


@pytest.mark.slow
def test_a_janitor_killed_mid_job_finishes_after_restart_with_exact_counts(slow_stack: Stack) -> None:
    stack = slow_stack
    before = stack.seed(400_000)
    job_id = _start_clear(stack, "PENDING")
    _wait_progress(stack, job_id, at_least=1)
    stack.janitor.kill()  # SIGKILL: no goodbye, the step in flight is rolled back by Postgres
    time.sleep(1)
    interrupted = stack.job(job_id)
    remaining = stack.counts()["PENDING"]
    assert interrupted["status"] == "running", "the job finished before the kill; make it longer"
    assert 0 < remaining < before["PENDING"]
    # what was reported before the kill was really deleted (reports lag, never lead)
    assert interrupted["succeeded"] <= before["PENDING"] - remaining

    stack.janitor.start()  # the replica comes back (same queues, same database)
    stack.janitor.wait_ready()
    done = stack.wait_job(job_id, {"completed", "failed"}, timeout=180)
    assert done["status"] == "completed", (done.get("error"), done.get("message"))
    assert stack.counts() == {**before, "PENDING": 0}
    assert done["total"] == before["PENDING"]
    assert done["succeeded"] == before["PENDING"]  # nothing lost, nothing counted twice
    assert done["processed"] == done["total"]
    assert done["failed"] == 0


@pytest.mark.slow
def test_cancel_mid_job_stops_between_batches_and_reports_what_was_done(slow_stack: Stack) -> None:
    stack = slow_stack
    before = stack.seed(1_000_000)  # long enough that the cancel lands mid-job
    job_id = _start_clear(stack, "PENDING")
    _wait_progress(stack, job_id, at_least=1)
    cancelled = stack.ferry("cancel", job_id)
    assert cancelled.returncode == 0, cancelled.stderr
    done = stack.wait_job(job_id, {"completed", "cancelled", "failed"}, timeout=60)
    assert done["status"] == "cancelled"
    remaining = stack.counts()["PENDING"]
    assert remaining > 0
    assert done["succeeded"] == before["PENDING"] - remaining  # the report matches the rows
    time.sleep(1.5)
    assert stack.counts()["PENDING"] == remaining  # and nothing more is deleted afterwards
    shown = stack.ferry("job", job_id)
    assert "cancelled" in shown.stdout


def _restart_rabbitmq() -> None:
    """Stop and start the RabbitMQ application: every connection drops, queues are recovered."""
    subprocess.run(["rabbitmqctl", "-q", "stop_app"], check=True, capture_output=True, timeout=120)
    subprocess.run(["rabbitmqctl", "-q", "start_app"], check=True, capture_output=True, timeout=120)
    subprocess.run(["rabbitmqctl", "-q", "await_startup"], check=True, capture_output=True, timeout=120)


@pytest.mark.slow
@pytest.mark.disruptive
def test_a_job_running_through_a_broker_restart_completes_with_exact_counts(slow_stack: Stack) -> None:
    stack = slow_stack
    before = stack.seed(400_000)
    job_id = _start_clear(stack, "PENDING")
    _wait_progress(stack, job_id, at_least=1)
    assert stack.counts()["PENDING"] > 0, "the job finished before the restart; make it longer"
    _restart_rabbitmq()
    for service in (stack.status, stack.janitor):  # both get their consumers back
        service.wait_ready(timeout=60)
    done = stack.wait_job(job_id, {"completed", "failed", "cancelled"}, timeout=180)
    assert done["status"] == "completed", (done.get("error"), done.get("message"))
    assert stack.counts() == {**before, "PENDING": 0}
    assert done["succeeded"] == before["PENDING"]
    events = httpx.get(f"{stack.status.url}/jobs/{job_id}/events", timeout=10).json()
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(set(seqs))  # stored once each, in order
