# SPDX-License-Identifier: GPL-2.0-or-later
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from server.auth.passwords import MAX_PASSWORD_LENGTH


class LoginForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no type hints
    username = StringField("Username", validators=[DataRequired(), Length(max=64)])
    password = PasswordField(
        "Password", validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)]
    )
