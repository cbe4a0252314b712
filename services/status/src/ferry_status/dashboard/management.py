"""Unacknowledged counts from RabbitMQ's management API, where it is enabled and configured.

AMQP tells a queue's ready messages and consumers (a passive declare) but not how many were handed
to consumers and not yet acknowledged; only the management plugin's HTTP API does, and ferry does
not require that plugin. Its numbers are the broker's periodic statistics (every 5 s by default),
so they lag the ready counts a little. Credentials default to the AMQP URL's and never reach a page.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

import httpx

from ferry_status.dashboard.settings import DashboardSettings

TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Unacked:
    """What the management API said: unacknowledged messages by queue name, or why there are none."""

    counts: dict[str, int]
    problem: str
    """Empty when `counts` came from the API; else what the page says instead."""
    source: str
    """The API's address without credentials (empty when not configured)."""


def _public(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}{parts.path.rstrip('/')}"


async def unacked(settings: DashboardSettings) -> Unacked:
    if not settings.dashboard_rabbitmq_api_url:
        return Unacked({}, "Unacknowledged counts need RabbitMQ's management API, which is not configured here "
                       "(set FERRY_DASHBOARD_RABBITMQ_API_URL where the rabbitmq_management plugin is enabled).", "")
    base = settings.dashboard_rabbitmq_api_url.rstrip("/")
    source = _public(base)
    amqp = urlsplit(settings.amqp_url.get_secret_value())
    user = settings.dashboard_rabbitmq_api_user or unquote(amqp.username or "guest")
    password = (settings.dashboard_rabbitmq_api_password.get_secret_value()
                if settings.dashboard_rabbitmq_api_password else unquote(amqp.password or "guest"))
    vhost = unquote(amqp.path[1:]) if len(amqp.path) > 1 else "/"
    url = f"{base}/api/queues/{quote(vhost, safe='')}"
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_S, auth=(user, password)) as client:
            response = await client.get(url, params={"columns": "name,messages_unacknowledged"})
    except httpx.HTTPError as exc:
        return Unacked({}, f"Unacknowledged counts need RabbitMQ's management API; it did not answer at "
                       f"{source} ({type(exc).__name__}).", source)
    if response.status_code in (401, 403):
        return Unacked({}, f"RabbitMQ's management API at {source} refused the configured user "
                       f"(HTTP {response.status_code}): unacknowledged counts are not shown.", source)
    if response.status_code != 200:
        return Unacked({}, f"RabbitMQ's management API at {source} answered HTTP {response.status_code}: "
                       "unacknowledged counts are not shown.", source)
    try:
        rows = response.json()
        counts = {str(q["name"]): int(q.get("messages_unacknowledged") or 0) for q in rows}
    except (ValueError, TypeError, KeyError):
        return Unacked({}, f"RabbitMQ's management API at {source} sent something that is not its queue list.",
                       source)
    return Unacked(counts, "", source)
