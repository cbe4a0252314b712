"""`ferry peloton-sync ...`: sync the Peloton class library, and manage the Peloton connections.

`sync-class-library` mirrors `sync_class_library`: the same flags, defaults and help as its options
model (`SyncClassLibraryOptions`); `--month` without `--year` is refused before anything is published.

`connect`, `connections list` and `disconnect` edit the service's connection table directly (they
need `ferry-peloton-sync` installed, the database URL and FERRY_PELOTON_TOKEN_KEY): tokens are read
from a hidden prompt or from stdin, never from the command line, and are encrypted before they
leave this process. They never go over the broker or to the status service.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from ferry.cli.context import Deps, Output, guard, load_settings, service_package
from ferry.cli.errors import Refused
from ferry.cli.flags import JsonFlag, ModelFlags
from ferry.cli.job_flags import JobFlags, with_job_flags
from ferry.cli.submit import build_options, print_report
from ferry.contracts.peloton_sync import SyncClassLibraryOptions

SERVICE = "peloton-sync"
COMMAND = "sync-class-library"
_F = ModelFlags(SyncClassLibraryOptions)


def _service() -> Any:
    """The service's admin and settings modules (only where ferry-peloton-sync is installed)."""
    what = "Peloton connections"
    admin = service_package("ferry_peloton_sync.admin", service=SERVICE, what=what)
    return admin, service_package("ferry_peloton_sync.settings", service=SERVICE, what=what)


def _load(deps: Deps, settings_model: Any) -> Any:
    return load_settings(settings_model)


def _read_secret(deps: Deps, prompt: str) -> str:
    return str(typer.prompt(prompt, hide_input=True, default="", show_default=False))


def register(app: typer.Typer, deps: Deps) -> None:
    """Add `ferry peloton-sync` and its commands to `app`."""
    sub = typer.Typer(help="Sync the Peloton class library; manage Peloton connections.", no_args_is_help=True)
    app.add_typer(sub, name=SERVICE)

    @sub.command(COMMAND)
    @guard
    @with_job_flags
    def sync_class_library(
        job: JobFlags,
        disciplines: Annotated[str, _F.option("disciplines")] = _F.default("disciplines"),
        year: Annotated[int | None, _F.option("year")] = _F.default("year"),
        month: Annotated[int | None, _F.option("month")] = _F.default("month"),
        limit: Annotated[int | None, _F.option("limit")] = _F.default("limit"),
        dry_run: Annotated[bool, _F.option("dry_run")] = _F.default("dry_run"),
        username: Annotated[str | None, _F.option("username")] = _F.default("username"),
        delay: Annotated[float, _F.option("delay")] = _F.default("delay"),
    ) -> int:
        """Fetch and sync Peloton's class library (replaces sync_class_library)."""
        options = build_options(
            SyncClassLibraryOptions, disciplines=disciplines, year=year, month=month, limit=limit, dry_run=dry_run,
            username=username, delay=delay,
        )
        return job.submit(deps, SERVICE, COMMAND, options, on_result=print_report)

    @sub.command("connect")
    @guard
    def connect(
        username: Annotated[str, typer.Option("--username", help="The Peloton leaderboard name of the account.")],
        email: Annotated[
            str | None, typer.Option("--email", help="The account's email (shown in sync output).")
        ] = None,
        expires_in: Annotated[
            float | None, typer.Option("--expires-in", help="Seconds the access token is valid (default: its JWT exp, "
                                       "else the JSON's expires_in, else 48 h).")
        ] = None,
        json_output: JsonFlag = False,
    ) -> None:
        """Store a Peloton connection. Tokens: hidden prompts on a terminal; else stdin (Auth0's JSON answer,
        or the access token and the refresh token on two lines). Never give them as arguments."""
        output = Output(json_mode=json_output)
        admin, settings_module = _service()
        settings = _load(deps, settings_module.PelotonSettings)
        if deps.stdin_is_terminal():
            access = _read_secret(deps, "Access token")
            refresh = _read_secret(deps, "Refresh token (empty: none)")
            text = f"{access}\n{refresh}"
        else:
            text = sys.stdin.read()
        try:
            tokens = admin.read_tokens(text, expires_in_s=expires_in)
        except ValueError as exc:
            raise Refused(str(exc)) from None
        info = admin.connect_account(settings, username=username, email=email, tokens=tokens)
        if output.json_mode:
            output.emit_json(_row(info))
        else:
            refresh_note = "with a refresh token" if info.has_refresh_token else "WITHOUT a refresh token"
            output.say(f"Connected {info.username} ({info.label}), {refresh_note}; access token valid until "
                       f"{info.token_expires_at:%Y-%m-%d %H:%M} UTC")

    connections_app = typer.Typer(help="The stored Peloton connections.", no_args_is_help=True)
    sub.add_typer(connections_app, name="connections")

    @connections_app.command("list")
    @guard
    def list_connections(json_output: JsonFlag = False) -> None:
        """List the connections (never their tokens)."""
        output = Output(json_mode=json_output)
        admin, settings_module = _service()
        rows = admin.list_accounts(_load(deps, settings_module.PelotonSettings))
        if output.json_mode:
            output.emit_json([_row(r) for r in rows])
            return
        if not rows:
            output.say("No Peloton connections: add one with `ferry peloton-sync connect --username NAME`")
            return
        for r in rows:
            state = "active" if r.is_active else f"INACTIVE ({r.inactive_reason or 'no reason'})"
            expires = f"{r.token_expires_at:%Y-%m-%d %H:%M} UTC" if r.token_expires_at else "unknown"
            refresh = "yes" if r.has_refresh_token else "no"
            output.say(f"{r.username}  {r.email or '-'}  {state}  token expires {expires}  refresh token: {refresh}")

    @sub.command("disconnect")
    @guard
    def disconnect(
        username: Annotated[str, typer.Option("--username", help="The connection to forget (and its tokens).")],
    ) -> None:
        """Remove a connection and its stored tokens."""
        output = Output()
        admin, settings_module = _service()
        if not admin.disconnect_account(_load(deps, settings_module.PelotonSettings), username):
            raise Refused(f"no Peloton connection named {username!r}")
        output.say(f"Disconnected {username}: its tokens are deleted")


def _row(info: Any) -> dict[str, Any]:
    return {"username": info.username, "email": info.email, "is_active": info.is_active,
            "inactive_reason": info.inactive_reason, "token_expires_at": info.token_expires_at,
            "has_refresh_token": info.has_refresh_token}
