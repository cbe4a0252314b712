"""`--wait`, `ferry watch`, `ferry job` and `ferry jobs` read the status API (faked here)."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from tests.cli.conftest import FakeStatus, Ferry, event, job, job_ids, only_json, published
from tests.support.infra import Infra

LINES = [
    "Found 5,432 LearnPackWebhook records with status 'PENDING'",
    "Deleted 5000/5432 records (92.0%) - Remaining: 432",
    "Deleted 5432/5432 records (100.0%) - Remaining: 0",
    "Successfully deleted 5,432 LearnPackWebhook records with status 'PENDING'",
]


def scripted(job_id: str, final: str, *, error: str | None = None) -> FakeStatus:
    """404 first, then running through the events one by one, then `final`."""
    events = [
        event(job_id, 0, "started", LINES[0], total=5432, processed=0),
        event(job_id, 1, "progress", LINES[1], total=5432, processed=5000),
        event(job_id, 2, "progress", LINES[2], total=5432, processed=5432),
        event(job_id, 3, final, LINES[3] if final == "completed" else "", total=5432, processed=5432),
    ]
    states: list[dict[str, Any] | None] = [
        None,
        job("running", last_seq=0, total=5432, processed=0, progress=0.0),
        job("running", last_seq=2, total=5432, processed=5432, progress=100.0),
        job(
            final,
            last_seq=3,
            total=5432,
            processed=5432,
            progress=100.0,
            error=error,
            result={"found": 5432, "deleted": 5432, "status_summary": {"DONE": 7}},
        ),
    ]
    fake = FakeStatus(lambda _id, call: states[min(call, len(states) - 1)])
    fake.events[job_id] = events
    return fake


def test_wait_prints_each_message_once_in_order_and_exits_0(ferry: Ferry, infra: Infra) -> None:
    job_id = str(uuid4())
    status = scripted(job_id, "completed")
    result = ferry("telemetry-janitor", "clear", "--force", "--wait", "--job-id", job_id, status=status)
    assert result.exit_code == 0, result.output
    assert job_ids(result.stdout) == [(job_id, "telemetry-janitor.clear")]
    out = result.stdout
    positions = [out.index(line) for line in LINES]
    assert positions == sorted(positions)
    assert all(out.count(line) == 1 for line in LINES)
    assert "Current LearnPackWebhook status summary:" in out
    assert "DONE: 7 records" in out
    assert f"Job {job_id} completed" in out
    # Events were asked for incrementally, never from the start again once seen.
    asked = [r for r in status.requests if r.endswith(("after_seq=0", "after_seq=2"))]
    assert asked, status.requests
    assert len(published(infra)) == 1


@pytest.mark.parametrize("final", ["failed", "cancelled", "rejected"])
def test_wait_exits_1_unless_the_job_completed(ferry: Ferry, final: str) -> None:
    job_id = str(uuid4())
    status = scripted(job_id, final, error="deadlock detected")
    result = ferry("telemetry-janitor", "clear", "--force", "--wait", "--job-id", job_id, status=status)
    assert result.exit_code == 1, result.output
    assert f"Job {job_id} {final}" in result.stderr
    if final == "failed":
        assert "deadlock detected" in result.stderr


def test_wait_with_json_prints_the_final_job_only(ferry: Ferry) -> None:
    job_id = str(uuid4())
    result = ferry(
        "telemetry-janitor",
        "clear",
        "--force",
        "--wait",
        "--json",
        "--job-id",
        job_id,
        status=scripted(job_id, "completed"),
    )
    assert result.exit_code == 0, result.output
    printed = only_json(result.stdout)
    assert printed["job_id"] == job_id
    assert printed["status"] == "completed"
    assert printed["result"]["deleted"] == 5432


def test_watch_follows_an_existing_job(ferry: Ferry, infra: Infra) -> None:
    job_id = str(uuid4())
    result = ferry("watch", job_id, status=scripted(job_id, "failed", error="boom"))
    assert result.exit_code == 1
    assert LINES[1] in result.stdout
    assert "boom" in result.stderr
    assert published(infra) == []


def test_job_shows_status_progress_counters_timings_error_and_result(ferry: Ferry) -> None:
    job_id = str(uuid4())
    shown = job(
        "failed",
        total=200,
        processed=150,
        succeeded=140,
        failed=10,
        skipped=0,
        progress=75.0,
        created_at="2026-03-01T10:00:00+00:00",
        started_at="2026-03-01T10:00:01+00:00",
        finished_at="2026-03-01T10:01:06+00:00",
        duration_s=65.0,
        error="connection reset",
        result={"found": 200},
    )
    status = FakeStatus(lambda _id, _call: shown)
    result = ferry("job", job_id, status=status, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for text in (
        job_id,
        "telemetry-janitor clear",
        "failed",
        "75.0% (150 / 200)",
        "succeeded 140, failed 10",
        "2026-03-01 10:00:01",
        "1m 05s",
        "connection reset",
        '"found": 200',
    ):
        assert text in result.stdout, text

    as_json = ferry("job", job_id, "--json", status=status)
    assert only_json(as_json.stdout)["processed"] == 150


def test_job_unknown_exits_1(ferry: Ferry) -> None:
    result = ferry("job", str(uuid4()), status=FakeStatus(lambda _id, _call: None))
    assert result.exit_code == 1
    assert "not found" in result.stderr


def test_cancel_without_service_looks_the_job_up(ferry: Ferry, infra: Infra) -> None:
    job_id = str(uuid4())
    result = ferry("cancel", job_id, status=FakeStatus(lambda _id, _call: job("running")))
    assert result.exit_code == 0, result.output
    [message] = published(infra)
    assert message.routing_key == "telemetry-janitor.cancel"

    unknown = ferry("cancel", str(uuid4()), status=FakeStatus(lambda _id, _call: None))
    assert unknown.exit_code == 1
    assert "--service" in unknown.stderr


@pytest.mark.parametrize("final", ["completed", "failed", "cancelled", "rejected"])
def test_cancel_of_a_finished_job_says_it_ended_and_publishes_nothing(
    ferry: Ferry, infra: Infra, final: str
) -> None:
    job_id = str(uuid4())
    result = ferry("cancel", job_id, status=FakeStatus(lambda _id, _call: job(final)))
    assert result.exit_code == 1, result.output
    assert f"already ended: {final}" in result.stderr
    assert "Asked" not in result.stdout
    assert published(infra) == []


def test_version_prints_the_installed_version(ferry: Ferry) -> None:
    result = ferry("--version")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ferry 0.")


def test_watch_of_an_unknown_job_gives_up_with_the_same_not_found_as_job(ferry: Ferry, infra: Infra) -> None:
    job_id = str(uuid4())
    status = FakeStatus(lambda _id, _call: None)
    shown = ferry("job", job_id, status=status)
    watched = ferry("watch", job_id, status=status)
    assert watched.exit_code == shown.exit_code == 1, watched.output
    assert f"job {job_id} not found in the status service" in shown.stderr
    assert f"job {job_id} not found in the status service" in watched.stderr
    assert "keeps running" not in watched.stderr
    assert status.calls[job_id] >= 2  # it did wait a little for a job that may be on its way
    assert published(infra) == []


def test_wait_says_it_is_waiting_for_the_job_it_just_published(ferry: Ferry) -> None:
    job_id = str(uuid4())
    status = scripted(job_id, "completed")
    result = ferry("telemetry-janitor", "clear", "--force", "--wait", "--job-id", job_id, status=status)
    assert result.exit_code == 0, result.output
    assert f"Waiting for job {job_id}, just published, to be taken by telemetry-janitor" in result.stderr


def test_watch_json_wait_json_and_job_json_print_one_shape(ferry: Ferry) -> None:
    job_id = str(uuid4())
    done = job("completed", total=5432, processed=5432, progress=100.0, result={"found": 5432, "deleted": 5432})

    def status() -> FakeStatus:
        return FakeStatus(lambda _id, _call: done)

    shown = ferry("job", job_id, "--json", status=status())
    watched = ferry("watch", job_id, "--json", status=status())
    waited = ferry("telemetry-janitor", "clear", "--force", "--wait", "--json", "--job-id", job_id, status=status())
    assert (shown.exit_code, watched.exit_code, waited.exit_code) == (0, 0, 0), watched.output
    assert only_json(watched.stdout) == only_json(waited.stdout) == only_json(shown.stdout)
    assert only_json(shown.stdout)["job_id"] == job_id
    assert only_json(shown.stdout)["result"]["deleted"] == 5432


def test_heartbeats_go_on_the_bar_not_in_the_lines(ferry: Ferry) -> None:
    job_id = str(uuid4())
    status = scripted(job_id, "completed")
    beat = event(job_id, 2, "progress", "step 1: waiting for the rate limiter (2s so far)", total=5432, processed=5000)
    beat["detail"] = {"heartbeat": True}
    status.events[job_id] = [*status.events[job_id][:2], beat, *[{**e, "seq": e["seq"] + 1}
                                                              for e in status.events[job_id][2:]]]
    result = ferry("watch", job_id, status=status)
    assert result.exit_code == 0, result.output
    assert "so far" not in result.stdout
    assert LINES[2] in result.stdout  # the lines after the heartbeat still come


def test_the_bar_counts_with_thousands_separators() -> None:
    from rich.progress import Progress

    from ferry.cli.follow import CountColumn

    progress = Progress()
    task = progress.add_task("x", total=10_000, completed=5_000)
    assert CountColumn().render(progress.tasks[task]).plain == "5,000/10,000"
