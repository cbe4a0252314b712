"""The API's edges: event pages, numbers out of range, job ids that belong to another job, and who
is recorded as asking."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

import aio_pika
import httpx
import pytest

from ferry import topology
from ferry.contracts import EventType
from tests.status.conftest import Events, Status, event, eventually, job_when
from tests.support.infra import Infra


def _next_link(response: httpx.Response) -> str | None:
    link = response.links.get("next")
    return link["url"] if link else None


async def _all_stored(status: Status, job: UUID, count: int) -> None:
    async def stored() -> bool:
        return (await status.client.get(f"/jobs/{job}")).json().get("last_seq") == count - 1

    await eventually(stored, what=f"{count} events of {job}")


async def test_events_come_in_pages_linked_by_next(status: Status, events: Events) -> None:
    job = uuid4()
    for seq in range(7):
        await events.publish(event(job, seq, EventType.PROGRESS, processed=seq, succeeded=seq, message=f"m{seq}"))
    await _all_stored(status, job, 7)

    everything = await status.client.get(f"/jobs/{job}/events")
    assert everything.status_code == 200
    assert [e["seq"] for e in everything.json()] == list(range(7))
    assert everything.json()[3]["message"] == "m3"
    assert _next_link(everything) is None

    seen: list[int] = []
    pages = 0
    url: str | None = f"/jobs/{job}/events?limit=3"
    while url is not None:
        page = await status.client.get(url)
        assert page.status_code == 200, page.text
        assert len(page.json()) <= 3
        seen += [e["seq"] for e in page.json()]
        url = _next_link(page)
        pages += 1
    assert seen == list(range(7))
    assert pages == 3

    after = await status.client.get(f"/jobs/{job}/events", params={"after_seq": 4, "limit": 2})
    assert [e["seq"] for e in after.json()] == [5, 6]
    assert _next_link(after) is None
    exact = await status.client.get(f"/jobs/{job}/events", params={"after_seq": 2, "limit": 2})
    assert [e["seq"] for e in exact.json()] == [3, 4]
    assert "after_seq=4" in (_next_link(exact) or "")


@pytest.mark.parametrize(
    ("path", "params", "name"),
    [
        ("/jobs", {"offset": 10**20}, "offset"),
        ("/jobs", {"offset": 2**63}, "offset"),
        ("/jobs", {"limit": 10**20}, "limit"),
        ("/jobs/{job}/events", {"after_seq": 10**20}, "after_seq"),
        ("/jobs/{job}/events", {"after_seq": 2**31}, "after_seq"),
        ("/jobs/{job}/events", {"after_seq": -2}, "after_seq"),
        ("/jobs/{job}/events", {"limit": 0}, "limit"),
        ("/jobs/{job}/events", {"limit": 1001}, "limit"),
        ("/jobs/{job}/events", {"limit": 10**30}, "limit"),
    ],
)
async def test_numbers_out_of_range_are_refused_naming_the_parameter(
    status: Status, events: Events, path: str, params: dict[str, Any], name: str
) -> None:
    job = uuid4()
    await events.publish(event(job, 0, EventType.STARTED))
    await job_when(status.client, job, lambda j: j["status"] == "running")
    response = await status.client.get(path.format(job=job), params=params)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", name]


class Commands:
    """Every command on ferry.commands, through a queue of our own."""

    def __init__(self, queue: aio_pika.abc.AbstractQueue) -> None:
        self.queue = queue

    async def drain(self) -> list[dict[str, Any]]:
        got = []
        while (message := await self.queue.get(no_ack=True, fail=False)) is not None:
            got.append(json.loads(message.body))
        return got


@pytest.fixture
async def commands(infra: Infra) -> AsyncIterator[Commands]:
    connection = await aio_pika.connect(infra.amqp_url)
    channel = await connection.channel()
    exchange = await topology.declare_exchange(channel, topology.COMMANDS)
    queue = await channel.declare_queue("", exclusive=True)
    await queue.bind(exchange, routing_key="#")
    try:
        yield Commands(queue)
    finally:
        await connection.close()


async def test_a_job_id_of_another_service_or_command_is_refused(
    status: Status, events: Events, commands: Commands
) -> None:
    taken = uuid4()
    await events.publish(event(taken, 0, EventType.STARTED, service="gh-seeder", command="seed"))
    await job_when(status.client, taken, lambda j: j["status"] == "running")

    clash = await status.client.post("/jobs", headers=status.auth, json={
        "service": "telemetry-janitor", "command": "clear", "options": {}, "job_id": str(taken)})
    assert clash.status_code == 409, clash.text
    assert "gh-seeder seed" in clash.json()["detail"]
    assert str(taken) in clash.json()["detail"]
    # The same job asked for again is accepted (publishing one job id twice runs it once).
    same = await status.client.post("/jobs", headers=status.auth, json={
        "service": "gh-seeder", "command": "seed", "options": {"repo": "posthog/posthog"}, "job_id": str(taken)})
    assert same.status_code == 202, same.text

    job = (await status.client.get(f"/jobs/{taken}")).json()
    assert (job["service"], job["command"], job["status"]) == ("gh-seeder", "seed", "running")
    published = await eventually(commands.drain, what="the accepted command")
    assert [(c["job_id"], "repo" in c["options"]) for c in published] == [(str(taken), True)]

    # A pending job (started here, no event yet) holds its id just the same.
    fresh = await status.client.post("/jobs", headers=status.auth, json={
        "service": "telemetry-janitor", "command": "seed-demo", "options": {"rows": 5}})
    assert fresh.status_code == 202
    fresh_id = fresh.json()["job_id"]
    clash = await status.client.post("/jobs", headers=status.auth, json={
        "service": "telemetry-janitor", "command": "clear", "options": {}, "job_id": fresh_id})
    assert clash.status_code == 409
    assert "telemetry-janitor seed-demo" in clash.json()["detail"]


async def test_requested_by_is_the_authenticated_caller_not_the_body(status: Status, commands: Commands) -> None:
    response = await status.client.post("/jobs", headers=status.auth, json={
        "service": "telemetry-janitor", "command": "clear", "options": {}})
    assert response.status_code == 202
    job_id = response.json()["job_id"]
    (envelope,) = await eventually(commands.drain, what="the command")
    assert envelope["requested_by"] == "api"
    assert (await status.client.get(f"/jobs/{job_id}")).json()["requested_by"] == "api"

    claimed = await status.client.post("/jobs", headers=status.auth, json={
        "service": "telemetry-janitor", "command": "clear", "options": {}, "requested_by": "cli:root"})
    assert claimed.status_code == 422
    assert claimed.json()["detail"][0]["loc"] == ["body", "requested_by"]
    assert await commands.drain() == []
