"""The bounds the runtime keeps a job within when things go wrong (docs/jobs.md)."""

from __future__ import annotations

from dataclasses import dataclass

from ferry.settings import FerrySettings


@dataclass(frozen=True)
class RuntimeLimits:
    outage_wait_s: float = 60
    """A delivery waits this long for Postgres/RabbitMQ to come back, then is parked."""
    step_timeout_s: float = 600
    """A step running longer is stopped and parked: a delivery is never held past this."""
    command_ttl_s: float = 3600
    """A command older than this on arrival is rejected as expired."""
    max_park_attempts: int = 100
    max_park_s: float = 6 * 3600
    """A step parked more often, or for longer in total, fails its job."""
    broken_after_deliveries: int = 5
    """A step delivered this often without being settled (its process died each time) is broken."""
    unexpected_error_attempts: int = 3
    """Deliveries of a step whose runtime call raised an unexpected error before it counts as broken."""

    @classmethod
    def of(cls, settings: FerrySettings) -> RuntimeLimits:
        return cls(
            outage_wait_s=settings.outage_wait_s,
            step_timeout_s=settings.step_timeout_s,
            command_ttl_s=settings.command_ttl_s,
            max_park_attempts=settings.max_park_attempts,
            max_park_s=settings.max_park_s,
        )
