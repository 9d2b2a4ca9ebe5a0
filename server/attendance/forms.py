# SPDX-License-Identifier: GPL-2.0-or-later
"""The manual punch form (issue #6)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectChoice, SelectField, StringField, TextAreaField, TimeField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from server.attendance.entries import ManualReason
from server.attendance.services import NOTE_MAX

STATE_LABELS = {
    0: _l("In"),
    1: _l("Out"),
    2: _l("Break out"),
    3: _l("Break in"),
    4: _l("Overtime in"),
    5: _l("Overtime out"),
    255: _l("Undefined"),
}
VERIFY_LABELS = {
    0: _l("Password"),
    1: _l("Fingerprint"),
    2: _l("Card"),
    15: _l("Face"),
    25: _l("Palm"),
}
SOURCE_LABELS = {
    "pull": _l("Terminal (pulled)"),
    "push": _l("Terminal (pushed)"),
    "manual": _l("Entered by hand"),
}
STATUS_LABELS = {"ok": _l("OK"), "quarantined": _l("Quarantined")}
REASON_LABELS = {
    ManualReason.FORGOT_TO_PUNCH.value: _l("Forgot to punch"),
    ManualReason.TERMINAL_FAULT.value: _l("Terminal fault"),
    ManualReason.OFF_SITE.value: _l("Worked off site"),
    ManualReason.EMPLOYEE_REQUEST.value: _l("Employee's request"),
    ManualReason.OTHER.value: _l("Other (say why in the note)"),
}


class ManualPunchForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no type hints
    employee = StringField(
        _l("Employee code"),
        validators=[DataRequired(), Length(max=32)],
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
    )
    day = DateField(_l("Date"), validators=[InputRequired()])
    at = TimeField(_l("Time"), format=["%H:%M", "%H:%M:%S"], validators=[InputRequired()])
    state = SelectField(
        _l("Punch"),
        choices=[SelectChoice(str(k), v) for k, v in STATE_LABELS.items() if k != 255],
        validators=[DataRequired()],
    )
    reason = SelectField(
        _l("Reason"),
        choices=[
            SelectChoice("", _l("Choose a reason")),
            *(SelectChoice(k, v) for k, v in REASON_LABELS.items()),
        ],
        validators=[DataRequired(message=_l("Choose a reason."))],
    )
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=NOTE_MAX)])
