"""Start forms generated from each command's options model: the contract is the one source of
every field's type, default, allowed values, bounds and help."""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Union, get_args, get_origin

import annotated_types
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from ferry.contracts.base import Options
from ferry.contracts.registry import COMMANDS, CommandSpec


@dataclass(frozen=True)
class FormField:
    """One input of a start form."""

    name: str
    label: str
    kind: str
    """checkbox, select, number or text."""
    help: str
    default: str
    required: bool
    choices: tuple[str, ...] = ()
    minimum: str = ""
    maximum: str = ""
    step: str = ""

    @property
    def input_id(self) -> str:
        return f"opt-{self.name}"


@dataclass(frozen=True)
class CommandForm:
    service: str
    command: str
    summary: str
    fields: tuple[FormField, ...]
    errors: dict[str, str] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.service}.{self.command}"

    def value(self, f: FormField) -> str:
        return self.values.get(f.name, f.default)

    def checked(self, f: FormField) -> bool:
        return (self.values.get(f.name) == "on") if self.values else f.default == "on"


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def _bounds(info: FieldInfo) -> tuple[str, str]:
    low = high = ""
    for item in info.metadata:
        if isinstance(item, annotated_types.Ge | annotated_types.Gt):
            low = str(getattr(item, "ge", getattr(item, "gt", "")))
        if isinstance(item, annotated_types.Le | annotated_types.Lt):
            high = str(getattr(item, "le", getattr(item, "lt", "")))
    return low, high


def _default(info: FieldInfo) -> Any:
    return None if info.default is PydanticUndefined else info.default


def form_field(name: str, info: FieldInfo) -> FormField:
    base, optional = _unwrap_optional(info.annotation)
    default = _default(info)
    label = name.replace("_", " ")
    help_text = info.description or ""
    required = info.is_required()
    if base is bool:
        return FormField(name, label, "checkbox", help_text, "on" if default else "", False)
    if isinstance(base, type) and issubclass(base, Enum):
        choices = tuple(str(m.value) for m in base)
        shown = "" if default is None else str(default.value if isinstance(default, Enum) else default)
        return FormField(name, label, "select", help_text, shown, required, ("",) * optional + choices)
    shown = "" if default is None else str(default)
    if base in (int, float):
        low, high = _bounds(info)
        return FormField(name, label, "number", help_text, shown, required, minimum=low, maximum=high,
                         step="1" if base is int else "any")
    return FormField(name, label, "text", help_text, shown, required)


def command_form(spec: CommandSpec) -> CommandForm:
    model: type[Options] = spec.options
    summary = (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else spec.replaces
    return CommandForm(spec.service, spec.command, summary,
                       tuple(form_field(n, i) for n, i in model.model_fields.items()))


def all_forms() -> list[CommandForm]:
    return [command_form(spec) for _, spec in sorted(COMMANDS.items())]


def options_from_form(spec: CommandSpec, data: dict[str, str]) -> dict[str, Any]:
    """The options a submitted form asks for: unchecked boxes are false, empty fields keep their
    default; the options model validates the rest (and names what is wrong)."""
    options: dict[str, Any] = {}
    for name, info in spec.options.model_fields.items():
        base, _ = _unwrap_optional(info.annotation)
        raw = data.get(name, "")
        if base is bool:
            options[name] = raw in ("on", "true", "1")
        elif raw.strip() != "":
            options[name] = raw.strip()
    return options


def errors_by_field(detail: Any) -> dict[str, str]:
    """Field name to message, from the API's 422 detail (loc = body, options, <field>)."""
    found: dict[str, str] = {}
    for error in detail if isinstance(detail, list) else []:
        loc = error.get("loc", [])
        key = str(loc[2]) if len(loc) > 2 and loc[1] == "options" else str(loc[-1]) if loc else "form"
        message = str(error.get("msg", "invalid"))
        found[key] = f"{found[key]}; {message}" if key in found else message
    if not found and detail:
        found["form"] = str(detail)
    return found
