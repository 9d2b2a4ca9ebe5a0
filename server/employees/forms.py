# SPDX-License-Identifier: GPL-2.0-or-later
"""Forms of the employee pages. Labels are lazy so they follow the request's language."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, HiddenField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from server.employees.models import VerifyMode
from server.forms import options
from server.i18n import LANGUAGES

VERIFY_MODES = (
    (VerifyMode.CARD.value, _l("Card")),
    (VerifyMode.PIN.value, _l("PIN or password")),
    (VerifyMode.FINGERPRINT.value, _l("Fingerprint")),
    (VerifyMode.FACE.value, _l("Face")),
)
PRIVILEGES = (("0", _l("User")), ("14", _l("Terminal administrator")))


class EmployeeForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no type hints
    employee_code = StringField(
        _l("Employee code"),
        validators=[
            DataRequired(),
            Length(max=32),
            Regexp(r"^\S+$", message=_l("An employee code has no spaces.")),
        ],
    )
    given_name = StringField(_l("Given name"), validators=[DataRequired(), Length(max=100)])
    family_name = StringField(_l("Family name"), validators=[DataRequired(), Length(max=100)])
    device_name = StringField(
        _l("Name on terminals"),
        validators=[Optional(), Length(max=24)],
        description=_l("Short name terminals show; 8 characters on black-and-white models."),
    )
    department_id = SelectField(_l("Department"), choices=[], validate_choice=True)
    hire_date = DateField(_l("Hire date"), validators=[Optional()])
    date_of_birth = DateField(
        _l("Date of birth"),
        validators=[Optional()],
        description=_l("Needed for the guardian-consent rule for minors."),
    )
    email = StringField(
        _l("E-mail"),
        validators=[
            Optional(),
            Length(max=254),
            Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message=_l("Enter an e-mail address.")),
        ],
    )
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40)])
    locale = SelectField(_l("Language of notices"), choices=[])
    verify_mode = SelectField(_l("Identifies at terminals by"), choices=[])
    card_number = StringField(
        _l("Card number"),
        validators=[
            Optional(),
            Length(max=20),
            Regexp(r"^\d+$", message=_l("A card number is digits only.")),
        ],
    )
    device_privilege = SelectField(_l("Terminal privilege"), choices=[])

    def __init__(self, *args: Any, departments: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.department_id.choices = options(departments)
        self.verify_mode.choices = options(VERIFY_MODES)
        self.device_privilege.choices = options(PRIVILEGES)
        self.locale.choices = options([("", _l("Organization default")), *LANGUAGES.items()])

    def values(self) -> dict[str, Any]:
        """What the services take, from the validated form."""
        return {
            "employee_code": self.employee_code.data,
            "given_name": self.given_name.data,
            "family_name": self.family_name.data,
            "device_name": self.device_name.data or None,
            "department_id": int(self.department_id.data) if self.department_id.data else None,
            "hire_date": self.hire_date.data,
            "date_of_birth": self.date_of_birth.data,
            "email": self.email.data or None,
            "phone": self.phone.data or None,
            "locale": self.locale.data or None,
            "verify_mode": self.verify_mode.data,
            "card_number": self.card_number.data or None,
            "device_privilege": int(self.device_privilege.data),
        }


class TerminateForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no type hints
    on = DateField(_l("Last day of employment"), validators=[DataRequired()])


class AreasForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no type hints
    area_ids = SelectMultipleField(
        _l("Areas"),
        coerce=int,
        choices=[],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )


class ImportForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no type hints
    file = FileField(_l("CSV file"), validators=[FileRequired()])


class ImportConfirmForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no type hints
    # The previewed file travels back with the confirmation and is checked again in full.
    content = HiddenField(validators=[DataRequired()])
