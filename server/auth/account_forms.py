# SPDX-License-Identifier: GPL-2.0-or-later
"""Forms of the accounts administration page."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from server.auth.models import Role
from server.auth.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from server.forms import options
from server.navigation import ROLE_LABELS


class AccessForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no type hints
    display_name = StringField(_l("Display name"), validators=[DataRequired(), Length(max=200)])
    role = SelectField(_l("Role"), choices=[])
    department_ids = SelectMultipleField(
        _l("Limited to departments"),
        coerce=int,
        choices=[],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        description=_l(
            "HR roles only. None ticked: every department. Departments below a ticked one "
            "are included."
        ),
    )
    biometric_permission = BooleanField(
        _l("May enrol, distribute and delete biometric templates (HR managers)")
    )

    def __init__(self, *args: Any, departments: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.role.choices = options((r.value, ROLE_LABELS[r]) for r in Role)
        self.department_ids.choices = options(departments)


class NewAccountForm(AccessForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(min=2, max=64)])
    password = PasswordField(
        _l("Initial password"),
        validators=[Optional(), Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH)],
        description=_l("Leave empty to generate one. The user must change it at first sign-in."),
    )
