"""The messages ferry's processes exchange: one definition each, imported everywhere."""

from ferry.contracts.base import Contract, Options
from ferry.contracts.commands import CANCEL, CancelCommand, Command
from ferry.contracts.events import (
    FINISHED_STATUSES,
    STATUS_AFTER,
    Counters,
    EventType,
    JobEvent,
    JobStatus,
)
from ferry.contracts.janitor import ClearOptions, SeedDemoOptions, WebhookStatus
from ferry.contracts.registry import COMMANDS, CommandSpec, UnknownCommand, command_spec, services
from ferry.contracts.seeder import SeedOptions

__all__ = [
    "CANCEL",
    "COMMANDS",
    "FINISHED_STATUSES",
    "STATUS_AFTER",
    "CancelCommand",
    "ClearOptions",
    "Command",
    "CommandSpec",
    "Contract",
    "Counters",
    "EventType",
    "JobEvent",
    "JobStatus",
    "Options",
    "SeedDemoOptions",
    "SeedOptions",
    "UnknownCommand",
    "WebhookStatus",
    "command_spec",
    "services",
]
