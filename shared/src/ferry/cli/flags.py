"""Checks for flag values, with messages that name the allowed values.

They run as typer callbacks, so a bad value is refused (exit 2, the flag named by typer)
before a command does anything at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import typer

N = TypeVar("N", int, float)


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


def in_range(low: Any, high: Any) -> Callable[[N], N]:
    """Accept a number with `low <= value <= high` (either bound may be None)."""

    def check(value: N) -> N:
        if (low is not None and value < low) or (high is not None and value > high):
            raise typer.BadParameter(f"{value} is not in the range {describe(low, high)}.")
        return value

    return check


def describe(low: Any, high: Any) -> str:
    """`1<=x<=1000000` style, for messages and help."""
    if low is None:
        return f"x<={high}"
    if high is None:
        return f"x>={low}"
    return f"{low}<=x<={high}"


def metavar(allowed: Sequence[str]) -> str:
    return "[" + "|".join(allowed) + "]"
