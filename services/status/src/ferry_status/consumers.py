"""What the readiness check asks of each of the status service's RabbitMQ consumers."""

from __future__ import annotations

import asyncio

from aio_pika.abc import AbstractRobustChannel


async def consumer_problem(channel: AbstractRobustChannel | None, tag: str | None) -> str | None:
    """None when consumer `tag` is registered on `channel`'s open transport channel, else what is
    wrong. The robust channel hides a reconnect in progress: its transport channel tells."""
    if channel is None or tag is None:
        return "not started"
    try:
        transport = await asyncio.wait_for(channel.get_underlay_channel(), 1.0)
    except Exception:
        return "channel not open"
    if transport.is_closed or tag not in getattr(transport, "consumers", {}):
        return "consumer not registered"
    return None
