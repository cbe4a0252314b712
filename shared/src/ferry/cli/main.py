"""The `ferry` console script: wires the job commands and each service's commands together.

Adding a service's commands is one module with a `register(app, deps)` function, listed in
`SERVICE_MODULES`.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import typer
from typer.core import TyperGroup

from ferry.cli import asset_sync, content_fetch, janitor, jobs, peloton_sync, schedules, seeder, users
from ferry.cli.context import Deps

SERVICE_MODULES: tuple[Callable[[typer.Typer, Deps], None], ...] = (
    janitor.register,
    seeder.register,
    peloton_sync.register,
    asset_sync.register,
    schedules.register,
    content_fetch.register,
)
"""Each service's `register`: adds `ferry <service> <command> ...`."""


class WholeHelpGroup(TyperGroup):
    """A command group whose --help lists each command's whole first paragraph, wrapped, not cut at "..."."""

    def format_commands(self, ctx: Any, formatter: Any) -> None:  # typer's own (vendored) click types
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            text = command.short_help or (command.help or "").split("\n\n")[0]
            rows.append((name, " ".join(text.split())))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _whole_help(app: typer.Typer) -> None:
    """Give `app` and every group under it the uncut command list."""
    app.info.cls = WholeHelpGroup
    for group in app.registered_groups:
        if group.typer_instance is not None:
            _whole_help(group.typer_instance)


def create_app(deps: Deps | None = None) -> typer.Typer:
    """The CLI, using `deps` for its outside world (tests pass their own)."""
    deps = deps or Deps()
    app = typer.Typer(
        name="ferry",
        help="Publish jobs to ferry's services and follow them through the status service.",
        no_args_is_help=True,
        # Plain one-line errors (easy to read in scripts and CI logs), and never a dump of local
        # variables on a crash: they may hold the broker URL with its password.
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        pretty_exceptions_show_locals=False,
        add_completion=False,
    )
    @app.callback()
    def root(
        show_version: bool = typer.Option(
            False, "--version", is_eager=True, callback=_print_version, help="Print ferry's version and exit."
        ),
    ) -> None:
        """Publish jobs to ferry's services and follow them through the status service."""

    jobs.register(app, deps)
    users.register(app, deps)
    for register in SERVICE_MODULES:
        register(app, deps)
    _whole_help(app)
    return app


def _print_version(value: bool) -> None:
    """`--version`: the installed `ferry` distribution's version, then exit before any command."""
    if not value:
        return
    try:
        installed = version("ferry")
    except PackageNotFoundError:
        installed = "unknown"
    typer.echo(f"ferry {installed}")
    raise typer.Exit(0)


def main() -> None:
    """Entry point of the `ferry` console script."""
    create_app()()


if __name__ == "__main__":
    main()
