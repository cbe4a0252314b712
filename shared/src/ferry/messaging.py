"""Publishing ferry messages: always persistent, always confirmed, never silently unroutable.

FastStream publishes non-persistent messages by default; every helper here sets
`persist=True`. The broker's default channel raises on returned (unroutable) messages.
"""

from __future__ import annotations

import logging
from typing import Any

from faststream.rabbit import Channel, RabbitBroker

from ferry import topology
from ferry.contracts import CancelCommand, Command, JobEvent
from ferry.jobs.model import StepMessage
from ferry.settings import FerrySettings


def make_broker(settings: FerrySettings, *, app_id: str) -> RabbitBroker:
    """A FastStream broker for one ferry process (logs go through ferry's logging setup)."""
    return RabbitBroker(
        settings.amqp_url.get_secret_value(),
        app_id=app_id,
        default_channel=Channel(publisher_confirms=True, on_return_raises=True),
        graceful_timeout=30.0,
        reconnect_interval=2.0,
        log_level=logging.DEBUG,  # FastStream's per-message "Received/Processed" lines: debug only
    )


class Messenger:
    """Publishes commands, events and steps through one FastStream broker."""

    def __init__(self, broker: RabbitBroker) -> None:
        self.broker = broker

    async def _publish(
        self,
        body: bytes,
        *,
        exchange: Any,
        routing_key: str,
        message_id: str | None = None,
        headers: dict[str, Any] | None = None,
        content_type: str = "application/json",
    ) -> None:
        await self.broker.publish(
            body,
            exchange=exchange,
            routing_key=routing_key,
            persist=True,
            mandatory=True,
            message_id=message_id,
            headers=headers,
            content_type=content_type,
        )

    async def publish_event(self, event: JobEvent) -> None:
        await self._publish(
            event.model_dump_json().encode(),
            exchange=topology.EVENTS,
            routing_key=event.routing_key,
            message_id=str(event.event_id),
        )

    async def publish_event_body(self, routing_key: str, body: dict[str, Any], event_id: str) -> None:
        import json

        await self._publish(
            json.dumps(body).encode(), exchange=topology.EVENTS, routing_key=routing_key, message_id=event_id
        )

    async def publish_command(self, service: str, command: str, envelope: Command[Any] | CancelCommand) -> None:
        await self._publish(
            envelope.model_dump_json().encode(),
            exchange=topology.COMMANDS,
            routing_key=f"{service}.{command}",
            message_id=str(envelope.job_id),
        )

    async def publish_step(self, service: str, step: StepMessage, *, wait_s: int | None = None) -> None:
        queue = topology.step_queue(service) if wait_s is None else topology.wait_queue(service, wait_s)
        await self._publish(step.model_dump_json().encode(), exchange=None, routing_key=queue.name)

    async def dead_letter(
        self,
        body: bytes,
        *,
        routing_key: str,
        reason: str,
        service: str,
        headers: dict[str, Any] | None,
        content_type: str | None,
    ) -> None:
        """Put a rejected message in `ferry.dlx` with the reason it was rejected."""
        await self._publish(
            body,
            exchange=topology.DLX,
            routing_key=routing_key,
            headers={**(headers or {}), "x-ferry-reason": reason[:2000], "x-ferry-service": service},
            content_type=content_type or "application/octet-stream",
        )
