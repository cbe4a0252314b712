"""Publishing commands to `ferry.commands` with aio-pika: persistent, mandatory, confirmed.

Before publishing, the base topology and the target service's queues are declared (the same
declarations the service makes), so a command published while the service is down waits in
its queue instead of being dropped as unroutable.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
from aio_pika.exceptions import AMQPConnectionError, AMQPError, DeliveryError
from pydantic import SecretStr

from ferry.cli.errors import BrokerUnreachable, PublishFailed
from ferry.contracts import CancelCommand, Command
from ferry.messaging import Publisher

CONNECT_TIMEOUT_S = 10.0


def safe_url(url: str) -> str:
    """`url` with any password replaced by `***` (for messages)."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
        netloc = f"{parts.username or ''}:***@{host}"
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return "<unparseable URL>"


def _scrub(text: str, secret: str) -> str:
    password = None
    with contextlib.suppress(ValueError):
        password = urlsplit(secret).password
    text = text.replace(secret, safe_url(secret))
    if password and len(password) >= 3:
        text = text.replace(password, "***")
    return text


async def publish_async(
    amqp_url: SecretStr, service: str, command: str, envelope: Command[Any] | CancelCommand
) -> None:
    """Publish `envelope` to `<service>.<command>` and wait for the broker's confirmation."""
    url = amqp_url.get_secret_value()
    try:
        connection = await aio_pika.connect(url, timeout=CONNECT_TIMEOUT_S)
    except (AMQPConnectionError, OSError, TimeoutError) as exc:
        reason = _scrub(str(exc) or type(exc).__name__, url)
        raise BrokerUnreachable(f"cannot reach RabbitMQ at {safe_url(url)} (set FERRY_AMQP_URL): {reason}") from None
    try:
        async with connection:
            publisher = await Publisher.open(connection, app_id="ferry-cli", services=[service])
            await publisher.command(f"{service}.{command}", envelope.model_dump_json().encode(),
                                    message_id=str(envelope.job_id))
    except DeliveryError as exc:
        raise PublishFailed(f"RabbitMQ did not accept the {service}.{command} command: {exc}") from None
    except (AMQPError, OSError, TimeoutError) as exc:
        reason = _scrub(str(exc) or type(exc).__name__, url)
        raise PublishFailed(f"publishing {service}.{command} to {safe_url(url)} failed: {reason}") from None


def publish(amqp_url: SecretStr, service: str, command: str, envelope: Command[Any] | CancelCommand) -> None:
    """Blocking form of `publish_async`, for the CLI's synchronous commands."""
    asyncio.run(publish_async(amqp_url, service, command, envelope))
