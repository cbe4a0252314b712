"""Which services take which commands, and the options model of each.

The CLI and the status API validate a command's options here before publishing anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from ferry.contracts.asset_sync import PullAndCleanOptions
from ferry.contracts.base import Options
from ferry.contracts.content_fetch import FetchOptions
from ferry.contracts.janitor import ClearOptions, SeedDemoOptions
from ferry.contracts.peloton_sync import SyncClassLibraryOptions
from ferry.contracts.seeder import SeedOptions


@dataclass(frozen=True)
class CommandSpec:
    service: str
    command: str
    options: type[Options]
    replaces: str

    @property
    def routing_key(self) -> str:
        return f"{self.service}.{self.command}"


COMMANDS: dict[tuple[str, str], CommandSpec] = {
    (spec.service, spec.command): spec
    for spec in (
        CommandSpec("telemetry-janitor", "clear", ClearOptions, "clear_learnpack_telemetry_queue"),
        CommandSpec("telemetry-janitor", "seed-demo", SeedDemoOptions, "(new) demo data for clear"),
        CommandSpec("gh-seeder", "seed", SeedOptions, "seed_real_projects"),
        CommandSpec("peloton-sync", "sync-class-library", SyncClassLibraryOptions, "sync_class_library"),
        CommandSpec("asset-sync", "pull-and-clean", PullAndCleanOptions, "pull_and_clean_assets"),
        CommandSpec("content-fetch", "fetch", FetchOptions, "fetch_all_content"),
    )
}


class UnknownCommand(LookupError):
    """No service takes this command."""


def command_spec(service: str, command: str) -> CommandSpec:
    try:
        return COMMANDS[(service, command)]
    except KeyError:
        known = ", ".join(sorted(f"{s} {c}" for s, c in COMMANDS))
        raise UnknownCommand(f"unknown command {service!r} {command!r}; known: {known}") from None


def services() -> list[str]:
    return sorted({service for service, _ in COMMANDS})
