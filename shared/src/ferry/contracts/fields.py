"""What an options field allows, read from its model: one reading for every place that builds
inputs from the contracts (the CLI's flags, the dashboard's start forms), so they cannot differ."""

from __future__ import annotations

import types
from enum import Enum
from typing import Any, Literal, Union, get_args, get_origin

from pydantic_core import PydanticUndefined

from ferry.contracts.base import Options


def base_type(model: type[Options], field: str) -> tuple[Any, bool]:
    """The field's type without `| None`, and whether None is allowed."""
    annotation = model.model_fields[field].annotation
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def bounds(model: type[Options], field: str) -> tuple[Any, Any]:
    """The (min, max) a numeric field allows, from its pydantic constraints (None where open)."""
    low = high = None
    for constraint in model.model_fields[field].metadata:
        low = getattr(constraint, "ge", getattr(constraint, "gt", low))
        high = getattr(constraint, "le", getattr(constraint, "lt", high))
    return low, high


def choices(model: type[Options], field: str) -> list[str] | None:
    """The values a field allows when its type is an enum or a Literal; None for any other type."""
    annotation, _ = base_type(model, field)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return [str(member.value) for member in annotation]
    if get_origin(annotation) is Literal:
        return [str(value) for value in get_args(annotation)]
    return None


def default(model: type[Options], field: str) -> Any:
    """The field's default as an input shows it (an enum member as its value); PydanticUndefined
    when the field is required."""
    value = model.model_fields[field].default
    return value.value if isinstance(value, Enum) else value


__all__ = ["PydanticUndefined", "base_type", "bounds", "choices", "default"]
