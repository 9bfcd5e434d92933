"""The README states the project settings' defaults as the model's (and so the project form's)."""

import re

from labelling.models import Project
from labelling.staff.forms import ProjectForm
from tests.processes import ROOT

# "`retirement_threshold` (default 0.07)": a setting's name, then its default in brackets.
STATED = re.compile(r"`(retirement_\w+)` \(default ([0-9.]+)\)")


def test_the_retirement_defaults_the_readme_states_are_the_models_and_the_forms():
    stated = STATED.findall((ROOT / "README.md").read_text())
    names = {name for name, _ in stated}
    assert {
        "retirement_threshold",
        "retirement_max_expected_change",
        "retirement_minimum_votes",
    } <= names
    form = ProjectForm()
    for name, value in stated:
        default = Project._meta.get_field(name).default
        assert float(value) == default, f"README: {name} default {value}; the model's: {default}"
        assert form[name].value() == default, f"{name}: the form starts at {form[name].value()}"
