"""`ferry users add|list|remove`: the status dashboard's logins, stored in its Postgres schema.

These commands write to the database (FERRY_DATABASE_URL) with the status service's own code, so
they run where the status service is installed (`docker compose exec status ferry users add ...`).
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from types import ModuleType
from typing import Annotated

import typer

from ferry.cli.context import Deps, Output, guard, service_package
from ferry.cli.errors import Refused


def _users_module() -> ModuleType:
    return service_package("ferry_status.dashboard.users", service="status", what="dashboard logins")


def _read_password(deps: Deps, name: str) -> str:
    if deps.stdin_is_terminal():
        first = getpass.getpass(f"Password for {name}: ")
        if getpass.getpass("Repeat it: ") != first:
            raise Refused("the two passwords differ; nothing was changed")
        return first
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


def register(app: typer.Typer, deps: Deps) -> None:
    """Add `ferry users ...` to `app`."""
    users_app = typer.Typer(help="Dashboard logins (stored in the status service's database).",
                            no_args_is_help=True)
    app.add_typer(users_app, name="users")

    @users_app.command("add")
    @guard
    def add(
        name: Annotated[str, typer.Argument(help="The login name.")],
        staff: Annotated[bool, typer.Option("--staff", help="May start, cancel and change jobs.")] = False,
        viewer: Annotated[bool, typer.Option("--viewer", help="Sees everything, changes nothing.")] = False,
        replace: Annotated[bool, typer.Option("--replace", help="Change an existing user's password and role.")]
        = False,
    ) -> None:
        """Add a dashboard user; the password is asked at the terminal, or read as one line of stdin.

        Without --staff or --viewer the user can log in but is refused every page."""
        users = _users_module()
        if staff and viewer:
            raise Refused("choose one of --staff and --viewer")
        role = users.Role.STAFF if staff else users.Role.VIEWER if viewer else users.Role.NONE
        try:
            users.check_new(name, "x" * users.MIN_PASSWORD)
            password = _read_password(deps, name)
            users.check_new(name, password)
        except users.BadUser as exc:
            raise Refused(str(exc)) from None
        settings = deps.load_settings()

        async def run() -> bool:
            conn = await users.open_store(settings.database_url.get_secret_value())
            try:
                new: bool = await users.add_user(conn, name, password, role, replace=replace)
                return new
            finally:
                await conn.close()

        try:
            new = asyncio.run(run())
        except users.BadUser as exc:
            raise Refused(str(exc)) from None
        Output().say(f"{'Added' if new else 'Updated'} user {name} ({role.value})")

    @users_app.command("list")
    @guard
    def list_() -> None:
        """The dashboard's users and their roles."""
        users = _users_module()
        settings = deps.load_settings()

        async def run() -> list[tuple[str, str]]:
            conn = await users.open_store(settings.database_url.get_secret_value())
            try:
                return [(u.name, u.role.value) for u in await users.list_users(conn)]
            finally:
                await conn.close()

        output = Output()
        for user_name, role in asyncio.run(run()):
            output.say(f"{user_name}\t{role}")

    @users_app.command("remove")
    @guard
    def remove(name: Annotated[str, typer.Argument(help="The login name.")]) -> None:
        """Remove a dashboard user (their open sessions stop working at once)."""
        users = _users_module()
        settings = deps.load_settings()

        async def run() -> bool:
            conn = await users.open_store(settings.database_url.get_secret_value())
            try:
                removed: bool = await users.remove_user(conn, name)
                return removed
            finally:
                await conn.close()

        if not asyncio.run(run()):
            raise Refused(f"no user {name!r}")
        Output().say(f"Removed user {name}")
