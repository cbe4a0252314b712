"""The status service's errors."""

from __future__ import annotations


class StatusError(Exception):
    """Base of every error the status service raises on purpose."""


class PublishFailed(StatusError):
    """A command could not be handed to RabbitMQ (unroutable, not confirmed, or broker unreachable)."""

