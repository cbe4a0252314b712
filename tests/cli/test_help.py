"""`ferry --help` and each group's --help list every command with its whole description (issue 14.12)."""

from __future__ import annotations

from typing import Any

import typer
from typer.testing import CliRunner

from ferry.cli.main import create_app


def _groups(group: Any, path: list[str]) -> list[tuple[list[str], Any]]:
    found = [(path, group)]
    for name, command in group.commands.items():
        if hasattr(command, "commands"):  # a group (typer's click is its own)
            found += _groups(command, [*path, name])
    return found


def test_help_never_cuts_a_command_description() -> None:
    app = create_app()
    root = typer.main.get_command(app)
    runner = CliRunner()
    for path, group in _groups(root, []):
        shown = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "100"})
        assert shown.exit_code == 0, shown.output
        flat = " ".join(shown.stdout.split("Commands:")[-1].split())
        assert "..." not in flat, path
        for name, command in group.commands.items():
            described = " ".join((command.help or "").split("\n\n")[0].split())
            assert described in flat, (path, name)

