"""The dashboard's start forms read each field the way the CLI's flags do (ferry.contracts.fields):
a bound, a choice list or a default can differ between the two only if the contract does."""

from __future__ import annotations

from ferry.contracts import COMMANDS
from ferry.contracts.fields import PydanticUndefined, bounds, choices, default
from ferry_status.dashboard.forms import all_forms


def test_every_form_input_shows_its_fields_default_choices_and_bounds() -> None:
    forms = {(form.service, form.command): form for form in all_forms()}
    assert set(forms) == set(COMMANDS)
    for key, spec in COMMANDS.items():
        inputs = {f.name: f for f in forms[key].fields}
        assert set(inputs) == set(spec.options.model_fields)
        for name, shown in inputs.items():
            model_default = default(spec.options, name)
            if shown.kind == "checkbox":
                assert shown.default == ("on" if model_default else ""), (key, name)
            elif model_default is PydanticUndefined or model_default is None:
                assert shown.default == "", (key, name)
            else:
                assert shown.default == str(model_default), (key, name)
            allowed = choices(spec.options, name)
            if allowed is not None:
                assert shown.kind == "select", (key, name)
                assert [c for c in shown.choices if c] == allowed, (key, name)
            low, high = bounds(spec.options, name)
            if shown.kind == "number":
                assert shown.minimum == ("" if low is None else str(low)), (key, name)
                assert shown.maximum == ("" if high is None else str(high)), (key, name)


def test_a_bounded_field_is_a_number_input_with_its_range() -> None:
    janitor = next(f for f in all_forms() if (f.service, f.command) == ("telemetry-janitor", "clear"))
    batch = next(f for f in janitor.fields if f.name == "batch_size")
    assert batch.kind == "number"
    assert (batch.minimum, batch.maximum) != ("", "")
