"""The FastStream broker every ferry service publishes and consumes through.

Publisher confirms are on and unroutable messages raise, so a publish either reached a queue
or fails loudly. FastStream publishes non-persistent messages by default: ferry's publishers
(`ferry.jobs.publisher.Publisher`, the status API, the CLI) always pass `persist=True`.
"""

from __future__ import annotations

import logging

from faststream.rabbit import Channel, RabbitBroker

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
