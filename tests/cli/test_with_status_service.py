"""`ferry watch`, `ferry job`, `ferry jobs` against the real status service (`ferry-status`).

The test plays the job's service: it publishes the job's events to `ferry.events`, the status
service stores them, and the CLI (a real `ferry` process) reads them back over HTTP.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID, uuid4

import aio_pika
import httpx
import pytest

from ferry import topology
from ferry.contracts import EventType, JobEvent
from tests.support.infra import Infra, free_port

BIN = Path(sys.executable).parent
LINES = [
    "Found 3 LearnPackWebhook records with status 'ERROR'",
    "Deleted 2/3 records (66.7%) - Remaining: 1",
    "Deleted 3/3 records (100.0%) - Remaining: 0",
    "Successfully deleted 3 LearnPackWebhook records with status 'ERROR'",
]


@pytest.fixture
def status_url(infra: Infra, tmp_path: Path) -> Iterator[str]:
    """A running `ferry-status` on a free port of this test's vhost and database."""
    port = free_port()
    env = infra.env(FERRY_HTTP_PORT=str(port), FERRY_HTTP_HOST="127.0.0.1", FERRY_API_TOKEN="x")
    log = tmp_path / "ferry-status.log"
    with log.open("wb") as sink:
        process = subprocess.Popen([str(BIN / "ferry-status")], env=env, stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"ferry-status exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"ferry-status did not become ready within 60 s: {log.read_text()[-2000:]}")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def events_of(job_id: UUID) -> list[JobEvent]:
    def make(seq: int, type_: EventType, message: str, processed: int, **extra: object) -> JobEvent:
        return JobEvent(
            job_id=job_id,
            service="telemetry-janitor",
            command="clear",
            type=type_,
            seq=seq,
            message=message,
            total=3,
            processed=processed,
            succeeded=processed,
            **extra,
        )

    return [
        make(0, EventType.STARTED, LINES[0], 0),
        make(1, EventType.PROGRESS, LINES[1], 2),
        make(2, EventType.PROGRESS, LINES[2], 3),
        make(3, EventType.COMPLETED, LINES[3], 3, detail={"result": {"found": 3, "deleted": 3, "status": "ERROR"}}),
    ]


async def _publish(amqp_url: str, events: list[JobEvent], pause_s: float = 0.0) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        await topology.declare_base(channel)
        exchange = await topology.declare_exchange(channel, topology.EVENTS)
        for ev in events:
            await exchange.publish(
                aio_pika.Message(
                    ev.model_dump_json().encode(),
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    content_type="application/json",
                ),
                routing_key=ev.routing_key,
            )
            await asyncio.sleep(pause_s)


def ferry(infra: Infra, status_url: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(BIN / "ferry"), *args],
        env=infra.env(FERRY_STATUS_URL=status_url),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )


def test_watch_prints_each_event_as_it_arrives_and_exits_0(infra: Infra, status_url: str) -> None:
    job_id = uuid4()
    watcher = ferry(infra, status_url, "watch", str(job_id))
    time.sleep(1.0)  # the watcher is waiting for a job the status service has not heard of yet
    assert watcher.poll() is None
    asyncio.run(_publish(infra.amqp_url, events_of(job_id), pause_s=0.3))
    out, err = watcher.communicate(timeout=60)
    assert watcher.returncode == 0, err
    positions = [out.index(line) for line in LINES]
    assert positions == sorted(positions)
    assert f"Job {job_id} completed" in out


def test_job_and_jobs_show_what_the_status_service_recorded(infra: Infra, status_url: str) -> None:
    job_id = uuid4()
    asyncio.run(_publish(infra.amqp_url, events_of(job_id)))
    deadline = time.monotonic() + 30
    while httpx.get(f"{status_url}/jobs/{job_id}").json().get("status") != "completed":
        assert time.monotonic() < deadline, "the status service never recorded the job as completed"
        time.sleep(0.2)

    shown = ferry(infra, status_url, "job", str(job_id), "--json")
    out, err = shown.communicate(timeout=60)
    assert shown.returncode == 0, err
    job = json.loads(out)
    assert job["status"] == "completed"
    assert job["processed"] == 3
    assert job["result"]["deleted"] == 3

    card = ferry(infra, status_url, "job", str(job_id))
    out, _ = card.communicate(timeout=60)
    assert card.returncode == 0
    assert str(job_id) in out
    assert "100.0% (3 / 3)" in out

    listed = ferry(infra, status_url, "jobs", "--service", "telemetry-janitor", "--status", "completed", "--json")
    out, err = listed.communicate(timeout=60)
    assert listed.returncode == 0, err
    assert str(job_id) in [item["job_id"] for item in json.loads(out)["items"]]

    missing = ferry(infra, status_url, "job", str(uuid4()))
    _, err = missing.communicate(timeout=60)
    assert missing.returncode == 1
    assert "not found" in err


def test_the_ferry_console_script_is_installed() -> None:
    assert os.access(BIN / "ferry", os.X_OK)


def test_the_prompt_at_a_real_terminal_confirms_the_counted_rows(infra: Infra, status_url: str) -> None:
    """A real `ferry` with a terminal on stdin; the test answers the counting job as the janitor would."""
    import pty

    from ferry.contracts import ClearOptions, Command
    from tests.cli.conftest import published

    master, slave = pty.openpty()
    try:
        cli = subprocess.Popen(
            [str(BIN / "ferry"), "telemetry-janitor", "clear", "--status", "ERROR", "--batch-size", "50"],
            env=infra.env(FERRY_STATUS_URL=status_url),
            text=True,
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while not (got := published(infra)):
            assert time.monotonic() < deadline, "the CLI never published the counting job"
            time.sleep(0.2)
        [message] = got
        counting = Command[ClearOptions].model_validate_json(message.body)
        assert counting.options.dry_run
        assert counting.options.status.value == "ERROR"
        result = {"status": "ERROR", "found": 1234, "deleted": 0, "up_to_id": 4242, "dry_run": True}
        asyncio.run(
            _publish(
                infra.amqp_url,
                [
                    JobEvent(
                        job_id=counting.job_id,
                        service="telemetry-janitor",
                        command="clear",
                        type=EventType.COMPLETED,
                        seq=0,
                        total=1234,
                        processed=1234,
                        message="DRY RUN MODE - No records will be deleted",
                        detail={"result": result},
                    ),
                ],
            )
        )
        os.write(master, b"yes\n")
        out, err = cli.communicate(timeout=60)
    finally:
        os.close(master)
        os.close(slave)
    assert cli.returncode == 0, err
    assert "Are you sure you want to delete 1,234 LearnPackWebhook records with status 'ERROR'? (yes/no): " in out
    [message] = published(infra)
    real = Command[ClearOptions].model_validate_json(message.body)
    assert f"Published job {real.job_id} (telemetry-janitor.clear)" in out
    assert real.options == ClearOptions(status="ERROR", batch_size=50, up_to_id=4242)


def test_a_unique_prefix_names_a_job_and_jobs_shows_one_line_each(infra: Infra, status_url: str) -> None:
    first, second = UUID("abcd1234-0000-4000-8000-000000000001"), UUID("abcd5678-0000-4000-8000-000000000002")
    long_message = "Deleted 3/3 records " + "and then a great deal more was said about them " * 4
    events = [*events_of(first), *events_of(second)]
    events[3] = events[3].model_copy(update={"message": long_message})
    asyncio.run(_publish(infra.amqp_url, events))
    deadline = time.monotonic() + 30
    while any(httpx.get(f"{status_url}/jobs/{j}").json().get("status") != "completed" for j in (first, second)):
        assert time.monotonic() < deadline, "the status service never recorded both jobs"
        time.sleep(0.2)

    def run(*args: str) -> tuple[int, str, str]:
        process = ferry(infra, status_url, *args)
        out, err = process.communicate(timeout=60)
        return process.returncode, out, err

    code, out, err = run("job", "abcd1", "--json")
    assert code == 0, err
    assert json.loads(out)["job_id"] == str(first)
    code, out, err = run("watch", "ABCD5")
    assert code == 0, err
    assert f"Job {second} completed" in out
    code, _, err = run("cancel", "abcd1")
    assert code == 1
    assert f"job {first} already ended: completed" in err

    code, _, err = run("job", "abcd")
    assert code == 1
    assert "ambiguous" in err
    assert str(first) in err
    assert str(second) in err
    code, _, err = run("job", "ffff")
    assert code == 1
    assert "no job whose id starts with 'ffff'" in err
    code, _, err = run("job", "ab")
    assert code == 2
    assert "at least 4" in err

    process = subprocess.Popen(
        [str(BIN / "ferry"), "jobs"], env=infra.env(FERRY_STATUS_URL=status_url, COLUMNS="150"),
        text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    [row] = [line for line in out.splitlines() if str(first) in line]
    assert "Deleted 3/3 records and then" in row
    assert "…" in row
    assert not any("said about them" in line for line in out.splitlines() if str(first) not in line)


def test_schedule_on_any_job_command_creates_a_schedule_and_publishes_nothing(infra: Infra, status_url: str) -> None:
    from tests.cli.conftest import declare_queues, published

    declare_queues(infra)
    declare_queues(infra, "gh-seeder")

    def run(*args: str) -> tuple[int, str, str]:
        process = subprocess.Popen(
            [str(BIN / "ferry"), *args], env=infra.env(FERRY_STATUS_URL=status_url, FERRY_API_TOKEN="x"),
            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
        )
        out, err = process.communicate(timeout=60)
        return process.returncode, out, err

    code, out, err = run("telemetry-janitor", "seed-demo", "--rows", "10", "--schedule", "03:00",
                         "--tz", "Europe/Madrid", "--json")
    assert code == 0, err
    made = json.loads(out)
    assert (made["service"], made["command"], made["timezone"]) == ("telemetry-janitor", "seed-demo", "Europe/Madrid")
    assert made["options"]["rows"] == 10
    code, out, err = run("gh-seeder", "seed", "--repo", "octo/one", "--schedule", "04:30")
    assert code == 0, err
    assert "Scheduled gh-seeder seed (04:30 UTC)" in out
    assert published(infra) == []
    assert published(infra, "gh-seeder") == []

    code, _, err = run("telemetry-janitor", "clear", "--status", "DONE", "--schedule", "03:00")
    assert code == 2
    assert "--force" in err
    code, _, err = run("telemetry-janitor", "seed-demo", "--schedule", "03:00", "--tz", "Mars/Olympus")
    assert code == 2
    assert "IANA time zone" in err
    listed = httpx.get(f"{status_url}/schedules").json()
    assert len(listed) == 2
