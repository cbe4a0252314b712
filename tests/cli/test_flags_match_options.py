"""Each job command's flags say what its options model says (issue 7.5): for every field of the
model, a flag with the field's default, allowed values and range, and its description as help.

The commands are found by walking the real `ferry` command tree; each one's model is the one the
registry (`ferry.contracts.COMMANDS`) says its service validates. The values are tried the way a
user gives them (click parses the flags and runs their checks; nothing is published).
"""

from __future__ import annotations

import types
from enum import Enum
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
import pytest
import typer
from pydantic.fields import FieldInfo

from ferry.cli.flags import in_range, one_of
from ferry.cli.main import create_app
from ferry.contracts import COMMANDS, CommandSpec

JOB_FLAGS = {"wait", "json_output", "job_id", "schedule", "tz"}
"""How to publish and print, the same for every job command: not options of the job."""

NOT_FLAGS = {
    ("telemetry-janitor", "clear", "up_to_id"): "the confirmation prompt pins it to the highest id it counted",
}
"""Options fields no flag sets, and why."""

CLI_ONLY = {
    ("telemetry-janitor", "clear", "force"): "skips the terminal's confirmation prompt; the job never sees it",
}
"""Flags of a job command that are no options field, and why."""


def _leaves(group: Any, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    found: dict[tuple[str, ...], Any] = {}
    for name, command in group.commands.items():
        if hasattr(command, "commands"):  # a group (typer's click is its own)
            found.update(_leaves(command, (*path, name)))
        else:
            found[(*path, name)] = command
    return found


COMMANDS_IN_CLI = _leaves(typer.main.get_command(create_app()))
JOB_COMMANDS = [(spec, COMMANDS_IN_CLI.get((spec.service, spec.command))) for spec in COMMANDS.values()]


def _parse(command: Any, *args: str) -> dict[str, Any]:
    """The command's parameters after click parsed `args` and ran every flag's checks."""
    return dict(command.make_context(command.name, list(args)).params)


def _unwrapped(info: FieldInfo) -> Any:
    """The field's type, without the None of an optional one."""
    annotation = info.annotation
    if get_origin(annotation) in (Union, types.UnionType):
        return next(arg for arg in get_args(annotation) if arg is not type(None))
    return annotation


def _allowed(info: FieldInfo) -> list[str] | None:
    """The values the model's field type allows, when it is an enum or a Literal (optional or not)."""
    annotation = _unwrapped(info)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return [str(member.value) for member in annotation]
    if get_origin(annotation) is Literal:
        return [str(value) for value in get_args(annotation)]
    return None


def _range(info: FieldInfo) -> tuple[Any, Any]:
    low = next((m.ge for m in info.metadata if isinstance(m, annotated_types.Ge)), None)
    high = next((m.le for m in info.metadata if isinstance(m, annotated_types.Le)), None)
    return low, high


def _flag_for(command: Any, field: str) -> Any:
    flag = "--" + field.replace("_", "-")
    return next((p for p in command.params if p.name == field or flag in p.opts), None)


def _drift(spec: CommandSpec, command: Any) -> list[str]:
    """Every way the command's flags differ from its options model, said as a person would check it."""
    problems: list[str] = []
    defaults = _parse(command)
    for field, info in spec.options.model_fields.items():
        param = _flag_for(command, field)
        if (spec.service, spec.command, field) in NOT_FLAGS:
            if param is not None:
                problems.append(f"{field} is listed as no flag, but {param.opts[0]} sets it")
            continue
        if param is None:
            problems.append(f"{field}: no flag (add one, or list it in NOT_FLAGS with why)")
            continue
        name = param.opts[0]
        default = info.default.value if isinstance(info.default, Enum) else info.default
        if defaults[param.name] != default:
            problems.append(f"{name} defaults to {defaults[param.name]!r}, the model to {default!r}")
        description = str(info.description).removeprefix(f"`{name}`: ")
        if description.lower() not in str(param.help).lower():
            problems.append(f"{name}'s help {param.help!r} is not the model's description {description!r}")
        allowed = _allowed(info)
        if allowed is not None:
            for value in allowed:
                try:
                    given = _parse(command, name, value.swapcase())[param.name]
                except typer.BadParameter as exc:
                    problems.append(f"{name} refuses {value!r}, which the model allows: {exc.message}")
                    continue
                if given != value:
                    problems.append(f"{name} {value.swapcase()} gives {given!r}, not the model's {value!r}")
            try:
                _parse(command, name, "no-such-value")
                problems.append(f"{name} accepts 'no-such-value', which the model refuses")
            except typer.BadParameter as exc:
                if not all(value in exc.message for value in allowed):
                    problems.append(f"{name} refuses a bad value without naming {', '.join(allowed)}: {exc.message}")
        low, high = _range(info)
        step = 1 if _unwrapped(info) is int else 0.001
        for bound, outside in ((low, -step), (high, step)):
            if bound is None:
                continue
            try:
                _parse(command, name, str(bound))
            except typer.BadParameter as exc:
                problems.append(f"{name} refuses {bound}, the model's bound: {exc.message}")
            try:
                _parse(command, name, str(bound + outside))
                problems.append(f"{name} accepts {bound + outside}, outside the model's range {low}..{high}")
            except typer.BadParameter as exc:
                if str(bound) not in exc.message:
                    problems.append(f"{name} refuses {bound + outside} without naming the bound: {exc.message}")
            if str(bound) not in str(param.help):
                problems.append(f"{name}'s help does not show the model's bound {bound}: {param.help!r}")
    for param in command.params:
        if param.name in JOB_FLAGS or param.name == "help" or (spec.service, spec.command, param.name) in CLI_ONLY:
            continue
        if not any(_flag_for(command, field) is param for field in spec.options.model_fields):
            problems.append(f"{param.opts[0]} is no field of {spec.options.__name__} (or list it in CLI_ONLY)")
    return problems


@pytest.mark.parametrize(("spec", "command"), JOB_COMMANDS, ids=[s.routing_key for s, _ in JOB_COMMANDS])
def test_each_flag_has_its_options_fields_default_choices_range_and_help(spec: CommandSpec, command: Any) -> None:
    assert command is not None, f"`ferry {spec.service} {spec.command}` is not a command of the CLI"
    problems = _drift(spec, command)
    assert not problems, "\n".join(problems)


def test_every_job_command_takes_the_common_job_flags() -> None:
    for spec, command in JOB_COMMANDS:
        assert command is not None, spec.routing_key
        assert {p.name for p in command.params} >= JOB_FLAGS, spec.routing_key


def test_the_drift_check_sees_a_default_a_choice_and_a_range_that_differ() -> None:
    """The check itself: a command whose flags disagree with the model is told apart, item by item."""
    spec = COMMANDS[("asset-sync", "pull-and-clean")]
    drifted = typer.Typer()

    @drifted.command()
    def pull_and_clean(
        all: bool = False,
        asset_type: Annotated[str | None, typer.Option(callback=one_of(["PROJECT", "LESSON"]))] = None,
        status: str | None = None,
        lang: str | None = None,
        delay: Annotated[float, typer.Option(callback=in_range(0, 120))] = 2.0,
        batch_size: int = 10,
        dry_run: bool = False,
    ) -> None:
        """Flags that drifted from PullAndCleanOptions."""

    problems = " | ".join(_drift(spec, typer.main.get_command(drifted)))
    assert "--delay defaults to 2.0, the model to 1.0" in problems
    assert "--asset-type refuses 'STARTER', which the model allows" in problems
    assert "--status accepts 'no-such-value'" in problems
    assert "--delay accepts 60.001, outside the model's range 0..60" in problems
    assert "--batch-size accepts 0, outside the model's range 1..1000" in problems
    assert "force: no flag" in problems
