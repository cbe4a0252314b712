"""Flags: checks for their values, the flags of an options model's fields, and shared flags.

A flag that maps to an options field takes its default, help, allowed values (an enum or a
Literal) and numeric range from the field (`model_option`, `model_default`), so the CLI and the
service can never disagree on them. The checks run as typer callbacks, so a bad value is refused
(exit 2, the flag named by typer, the allowed values listed) before a command does anything.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from pydantic_core import PydanticUndefined

from ferry.contracts import Options, fields
from ferry.contracts.fields import bounds, choices

T = TypeVar("T")
Check = Callable[[Any], Any]

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON only (on stdout).")]
ApiJsonFlag = Annotated[bool, typer.Option("--json", help="Print the API's JSON.")]
"""`--json` of the commands that show what the status service answered."""

_FLAG_PREFIX = re.compile(r"^`--[a-z0-9-]+`: ")
"""Some descriptions start by naming their flag (`--repo`: ...): the flag's own help need not."""


def one_of(allowed: Sequence[str]) -> Callable[[str | None], str | None]:
    """Accept one of `allowed` (case-insensitively), returned in its canonical spelling."""
    canonical = {value.upper(): value for value in allowed}

    def check(value: str | None) -> str | None:
        if value is None:
            return None
        found = canonical.get(value.upper())
        if found is None:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(allowed)}.")
        return found

    return check


def in_range(low: Any, high: Any) -> Callable[[Any], Any]:
    """Accept a number with `low <= value <= high` (either bound may be None), or no value."""

    def check(value: Any) -> Any:
        if value is None:
            return None
        if (low is not None and value < low) or (high is not None and value > high):
            raise typer.BadParameter(f"{value} is not in the range {describe(low, high)}.")
        return value

    return check


def checked(check: Callable[[str], T]) -> Callable[[str | None], T | None]:
    """A typer callback from a check that raises ValueError (its message becomes the usage error)."""

    def callback(value: str | None) -> T | None:
        if value is None:
            return None
        try:
            return check(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None

    return callback


def zone(value: str) -> str:
    """`value` when it names an IANA time zone, else a ValueError saying so."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Madrid)") from None
    return value


def describe(low: Any, high: Any) -> str:
    """`1<=x<=1000000` style, for messages and help."""
    if low is None:
        return f"x<={high}"
    if high is None:
        return f"x>={low}"
    return f"{low}<=x<={high}"


def metavar(allowed: Sequence[str]) -> str:
    return "[" + "|".join(allowed) + "]"


def flag(field: str) -> str:
    """The CLI flag of an options field: `batch_size` -> `--batch-size`."""
    return "--" + field.replace("_", "-")


def model_default(model: type[Options], field: str) -> Any:
    """An options field's default as a flag takes it (an enum member as its value)."""
    value = fields.default(model, field)
    if value is PydanticUndefined:
        raise TypeError(f"{model.__name__}.{field} has no default: a flag cannot leave it out")
    return value


def field_help(model: type[Options], field: str) -> str:
    """A flag's help from its options field: the description, and its range when it has one."""
    text = _FLAG_PREFIX.sub("", str(model.model_fields[field].description or ""))
    text = text[:1].upper() + text[1:]
    low, high = bounds(model, field)
    if low is None and high is None:
        return text
    return f"{text} ({describe(low, high)})"


def model_option(model: type[Options], field: str, *names: str, check: Check | None = None) -> Any:
    """The `typer.Option` of an options field: its flag (`names`, else from the field's name), help,
    allowed values and range, all from the model; `check` adds a check of the flag's own.

    Its default is the parameter's, which must be `model_default(model, field)`."""
    allowed = choices(model, field)
    low, high = bounds(model, field)
    steps: list[Check] = []
    if allowed is not None:
        steps.append(one_of(allowed))
    if low is not None or high is not None:
        steps.append(in_range(low, high))
    if check is not None:
        steps.append(check)

    def callback(value: Any) -> Any:
        for step in steps:
            value = step(value)
        return value

    return typer.Option(
        *(names or (flag(field),)),
        help=field_help(model, field),
        metavar=None if allowed is None else metavar(allowed),
        callback=callback if steps else None,
    )


class ModelFlags:
    """`model_option` and `model_default` for one options model: `F.option("delay")`, `F.default("delay")`."""

    def __init__(self, model: type[Options]) -> None:
        self.model = model

    def option(self, field: str, *names: str, check: Check | None = None) -> Any:
        return model_option(self.model, field, *names, check=check)

    def default(self, field: str) -> Any:
        return model_default(self.model, field)
