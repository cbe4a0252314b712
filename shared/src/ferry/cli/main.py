"""The `ferry` console script: wires the job commands and each service's commands together.

Adding a service's commands is one module with a `register(app, deps)` function, listed in
`SERVICE_MODULES`.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version

import typer

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
