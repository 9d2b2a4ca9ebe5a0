# SPDX-License-Identifier: GPL-2.0-or-later
"""Forms of the account's own security pages: second factor and API tokens (issue #6)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length

from server.api.tokens import MAX_NAME
from server.auth.passwords import MAX_PASSWORD_LENGTH

# Long enough for a recovery code typed with spaces or dashes.
_CODE = [DataRequired(), Length(max=40)]


class CodeForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no type hints
    code = StringField(_l("Code"), validators=_CODE)


class PasswordAndCodeForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no type hints
    password = PasswordField(
        _l("Password"), validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)]
    )
    code = StringField(_l("Code from the app, or a recovery code"), validators=_CODE)


class ButtonForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no type hints
    """A bare POST button: only the CSRF token."""


TOKEN_LIFETIMES = [
    SelectChoice("30", _l("30 days")),
    SelectChoice("90", _l("90 days")),
    SelectChoice("365", _l("1 year")),
    SelectChoice("0", _l("Until revoked")),
]


class TokenForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no type hints
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=MAX_NAME)])
    read_only = BooleanField(_l("Read-only"), default=True)
    days = SelectField(_l("Valid for"), choices=TOKEN_LIFETIMES, default="90")
