"""Start forms generated from each command's options model: the contract is the one source of
every field's type, default, allowed values, bounds and help."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic_core import PydanticUndefined

from ferry.contracts import fields
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


def form_field(model: type[Options], name: str) -> FormField:
    info = model.model_fields[name]
    base, optional = fields.base_type(model, name)
    default = fields.default(model, name)
    default = None if default is PydanticUndefined else default
    label = name.replace("_", " ")
    help_text = info.description or ""
    required = info.is_required()
    if base is bool:
        return FormField(name, label, "checkbox", help_text, "on" if default else "", False)
    shown = "" if default is None else str(default)
    allowed = fields.choices(model, name)
    if allowed is not None:
        return FormField(name, label, "select", help_text, shown, required, ("",) * optional + tuple(allowed))
    if base in (int, float):
        low, high = ("" if bound is None else str(bound) for bound in fields.bounds(model, name))
        return FormField(name, label, "number", help_text, shown, required, minimum=low, maximum=high,
                         step="1" if base is int else "any")
    return FormField(name, label, "text", help_text, shown, required)


def command_form(spec: CommandSpec) -> CommandForm:
    model: type[Options] = spec.options
    summary = (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else spec.replaces
    return CommandForm(spec.service, spec.command, summary,
                       tuple(form_field(model, name) for name in model.model_fields))


def all_forms() -> list[CommandForm]:
    return [command_form(spec) for _, spec in sorted(COMMANDS.items())]


def options_from_form(spec: CommandSpec, data: dict[str, str]) -> dict[str, Any]:
    """The options a submitted form asks for: unchecked boxes are false, empty fields keep their
    default; the options model validates the rest (and names what is wrong)."""
    options: dict[str, Any] = {}
    for name in spec.options.model_fields:
        base, _ = fields.base_type(spec.options, name)
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
