"""What every command needs: settings, the status client, the terminal, and where to print.

`Deps` is built once per app; tests build an app with their own (an injected status transport,
a pretend terminal) instead of patching modules.
"""

from __future__ import annotations

import functools
import getpass
import importlib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, ParamSpec, TypeVar

import httpx
import typer
from pydantic import ValidationError
from rich.console import Console

from ferry.cli.errors import CliError, Refused
from ferry.cli.status_client import StatusClient
from ferry.settings import FerrySettings


def _stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def _console(*, stderr: bool) -> Console:
    """A console; piped or logged output gets a wide page so tables keep every column."""
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal:
        console = Console(stderr=stderr, highlight=False, width=max(console.width, 160))
    return console


@dataclass(frozen=True)
class Deps:
    """The CLI's outside world, replaceable in tests."""

    settings: Callable[[], FerrySettings] = FerrySettings
    status_transport: httpx.BaseTransport | None = None
    stdin_is_terminal: Callable[[], bool] = _stdin_is_terminal
    poll_interval_s: float = 0.5
    unknown_job_grace_s: float = 10.0
    """How long `ferry watch` waits for a job id the status service does not know before "not found"."""

    def load_settings(self) -> FerrySettings:
        """The FERRY_* settings, or a one-line error naming the bad variable (values not shown)."""
        return load_settings(self.settings)

    def status_client(self, settings: FerrySettings) -> StatusClient:
        return StatusClient(settings.status_url, transport=self.status_transport)


SettingsT = TypeVar("SettingsT")


def load_settings(model: Callable[[], SettingsT]) -> SettingsT:
    """`model()` (a settings class), or `Refused` naming each bad FERRY_* variable (values not shown)."""
    try:
        return model()
    except ValidationError as exc:
        problems = "; ".join(
            f"FERRY_{str(err['loc'][0]).upper() if err['loc'] else '?'}: {err['msg']}" for err in exc.errors()
        )
        raise Refused(f"invalid settings: {problems}") from None


def service_package(module: str, *, service: str, what: str) -> ModuleType:
    """`module` of a service's own package, for commands that work on its tables directly.

    Only where that service is installed (its image, the uv workspace); elsewhere `Refused`, saying
    where to run the command. `what` names what the command works on ("assets", "dashboard logins").
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise Refused(
            f"{what} are kept by the {service} service: run this where ferry-{service} is installed "
            f"(its image: `docker compose exec {service} ferry ...`, or the uv workspace)"
        ) from None


PROMPT_COUNT = " (count for a confirmation prompt)"
"""Marks a job the confirmation prompt published to count rows: `ferry jobs` hides it unless --all."""


def requested_by(*, prompt_count: bool = False) -> str:
    """`cli:<user>`: who published a command, for the job's record (marked for a prompt's count)."""
    try:
        who = f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        who = "cli"
    return (who[: 200 - len(PROMPT_COUNT)] + PROMPT_COUNT) if prompt_count else who[:200]


def is_prompt_count(job: dict[str, Any]) -> bool:
    return str(job.get("requested_by") or "").endswith(PROMPT_COUNT)


@dataclass
class Output:
    """Where the CLI prints: people's lines to stdout, or to stderr when stdout carries JSON."""

    json_mode: bool = False
    out: Console = field(default_factory=lambda: _console(stderr=False))
    err: Console = field(default_factory=lambda: _console(stderr=True))

    @property
    def human(self) -> Console:
        """The console for lines meant for a person."""
        return self.err if self.json_mode else self.out

    def say(self, text: str) -> None:
        self.human.print(text, markup=False, highlight=False, soft_wrap=True)

    def warn(self, text: str) -> None:
        self.err.print(text, markup=False, highlight=False, soft_wrap=True)

    def emit_json(self, data: Any) -> None:
        typer.echo(json.dumps(data, default=str, sort_keys=True))


P = ParamSpec("P")
R = TypeVar("R")


def guard(func: Callable[P, R]) -> Callable[P, R]:
    """Turn a `CliError` raised by a command into one line on stderr and its exit code."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except CliError as exc:
            typer.echo(f"Error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None

    return wrapper
