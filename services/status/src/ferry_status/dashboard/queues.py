"""Queues and dead letters: how much work waits where, and the messages RabbitMQ gave up on.

Depths come from passive queue declarations (ready messages and consumers); unacknowledged counts
from RabbitMQ's management API where it is configured (`management`; ferry does not require the
plugin, and the page says when the counts are missing). Dead letters are read from
`ferry.dead-letters` without taking them: each is fetched, shown and returned to the queue,
unless staff republish it (to where it was going) or discard it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Annotated, Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from ferry import topology
from ferry.contracts import services
from ferry_status.dashboard import management, queries
from ferry_status.dashboard.pages import flash_and_go
from ferry_status.dashboard.render import page
from ferry_status.dashboard.security import Csrf, Staff, Viewer
from ferry_status.resources import Resources

DEAD_LETTERS_SHOWN = 100
router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Depth:
    service: str
    kind: str
    queue: str
    ready: int | None
    consumers: int | None
    unacked: int | None = None


@dataclass(frozen=True)
class DeadLetter:
    key: str
    routing_key: str
    reason: str
    queue: str
    count: int
    body: str
    message_id: str | None


def _res(request: Request) -> Resources:
    res: Resources = request.app.state.resources
    return res


def _queues() -> list[tuple[str, str, str]]:
    found = []
    for service in services():
        found.append((service, "commands", topology.command_queue(service).name))
        found.append((service, "steps", topology.step_queue(service).name))
    found.append(("status", "events", topology.events_queue("status").name))
    found.append(("(all)", "dead letters", topology.DEAD_LETTERS.name))
    return found


async def depths(res: Resources) -> list[Depth]:
    result = []
    for service, kind, name in _queues():
        channel = await res.connection.channel()
        try:
            queue = await channel.declare_queue(name, passive=True)
            declared = queue.declaration_result
            result.append(Depth(service, kind, name, declared.message_count, declared.consumer_count))
        except aio_pika.exceptions.ChannelClosed:
            result.append(Depth(service, kind, name, None, None))  # not declared yet: no service started it
        finally:
            if not channel.is_closed:
                await channel.close()
    return result


def _key(message: AbstractIncomingMessage) -> str:
    digest = hashlib.sha256(message.body + (message.routing_key or "").encode())
    return (message.message_id or "") + ":" + digest.hexdigest()[:16]


def _death(message: AbstractIncomingMessage) -> dict[str, Any]:
    deaths = message.headers.get("x-death")
    if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict):
        return deaths[0]
    return {}


def _dead_letter(message: AbstractIncomingMessage) -> DeadLetter:
    death = _death(message)
    reason = message.headers.get("x-ferry-reason") or death.get("reason") or "unknown"
    body = message.body.decode("utf-8", errors="replace")
    return DeadLetter(_key(message), message.routing_key or "", str(reason), str(death.get("queue", "")),
                      int(death.get("count", 1) or 1), body[:4000], message.message_id)


async def _with_dead_letters(res: Resources, act: dict[str, str] | None = None) -> tuple[list[DeadLetter], bool]:
    """Read up to DEAD_LETTERS_SHOWN dead letters, returning them all to the queue, except the one
    whose key `act` names: it is republished (`act['do'] == 'republish'`) or discarded. Returns the
    letters seen and whether the acted-on one was found."""
    channel = await res.connection.channel(publisher_confirms=True)
    seen: list[DeadLetter] = []
    held: list[AbstractIncomingMessage] = []
    found = False
    try:
        queue = await topology.declare(channel, topology.DEAD_LETTERS, topology.DLX)
        while len(held) < DEAD_LETTERS_SHOWN and (message := await queue.get(no_ack=False, fail=False)):
            if act is not None and not found and _key(message) == act["key"]:
                found = True
                if act["do"] == "republish":
                    await _republish(res, message)
                await message.ack()
                continue
            held.append(message)
            seen.append(_dead_letter(message))
    finally:
        for message in held:
            await message.nack(requeue=True)
        await channel.close()
    return seen, found


async def _republish(res: Resources, message: AbstractIncomingMessage) -> None:
    """Send a dead letter back where it died: its first death's exchange and routing key."""
    death = _death(message)
    exchange = str(death.get("exchange", topology.COMMANDS.name))
    keys = death.get("routing-keys") or [message.routing_key or ""]
    await res.publisher.publisher.republish(exchange, str(keys[0]), message.body, headers=message.headers,
                                            content_type=message.content_type, message_id=message.message_id)


@router.get("/ui/queues", response_class=HTMLResponse)
async def queues_page(request: Request, user: Viewer) -> HTMLResponse:
    res = _res(request)
    letters, _ = await _with_dead_letters(res)
    found = await depths(res)
    unacked = await management.unacked(request.app.state.dashboard_settings)
    if not unacked.problem:
        found = [replace(d, unacked=unacked.counts.get(d.queue)) if d.ready is not None else d for d in found]
    return page(request, "queues.html", user, depths=found, unacked=unacked, letters=letters,
                shown=DEAD_LETTERS_SHOWN)


@router.post("/ui/dead-letters", dependencies=[Csrf])
async def dead_letter_action(
    request: Request, user: Staff, key: Annotated[str, Form()],
    do: Annotated[str, Form(pattern="^(republish|discard)$")],
) -> RedirectResponse:
    _, found = await _with_dead_letters(_res(request), {"key": key, "do": do})
    if not found:
        return flash_and_go(request, "That dead letter is no longer in the queue", "/ui/queues", "error")
    await queries.record_action(_res(request).pool, None, f"dead letter {do}", user.name, key)
    return flash_and_go(request, f"Dead letter {'republished' if do == 'republish' else 'discarded'}", "/ui/queues")
