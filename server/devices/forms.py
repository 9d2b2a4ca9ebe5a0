# SPDX-License-Identifier: GPL-2.0-or-later
"""Forms of the terminal pages (issue #6)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp

from server.devices.services import ENCODINGS, MAX_COMM_KEY


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class AddTerminalForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no type hints
    address = StringField(
        _l("Address"),
        description=_l("Host name or IP address, with :port when it is not 4370."),
        validators=[DataRequired(), Length(max=260)],
        filters=[_strip],
    )
    transport = SelectField(
        _l("Transport"),
        choices=[SelectChoice("tcp", "TCP"), SelectChoice("udp", "UDP")],
        default="tcp",
    )
    # Never rendered back: the field stays empty on every page, also after an error.
    comm_key = PasswordField(
        _l("Comm key"),
        description=_l("The terminal's communication password (0 or empty when none)."),
        validators=[
            Optional(),
            Regexp(r"^\d{1,6}$", message=_l("A comm key is a number from 0 to 999999.")),
        ],
        filters=[_strip],
    )
    name = StringField(
        _l("Name"),
        description=_l("Shown in Rollcall; the terminal's model name when empty."),
        validators=[Optional(), Length(max=100)],
        filters=[_strip],
    )
    timezone = StringField(
        _l("Time zone of its clock"), validators=[DataRequired(), Length(max=64)], filters=[_strip]
    )
    encoding = SelectField(
        _l("Name encoding"),
        choices=[SelectChoice(e, e.upper()) for e in ENCODINGS],
        default="utf-8",
        description=_l("GBK for terminals with Chinese firmware."),
    )
    area = SelectField(_l("Area"), choices=[], validate_choice=False)

    def comm_key_value(self) -> int:
        value = int(self.comm_key.data or 0)
        return min(value, MAX_COMM_KEY)


class AreaForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no type hints
    area = SelectField(_l("Area"), choices=[], validate_choice=False)


class AssignPinForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no type hints
    employee = StringField(
        _l("Employee code"), validators=[DataRequired(), Length(max=32)], filters=[_strip]
    )


class EnrolForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no type hints
    employee = StringField(
        _l("Employee code"), validators=[DataRequired(), Length(max=32)], filters=[_strip]
    )
    finger = IntegerField(
        _l("Finger (0-9)"),
        validators=[InputRequired(message=_l("Give a finger from 0 to 9.")), NumberRange(0, 9)],
        default=6,
    )
