# SPDX-License-Identifier: GPL-2.0-or-later
"""The manual punch form (issue #6) and the punch correction form (issue #7)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from server.attendance.entries import ManualReason
from server.attendance.models import CorrectionAction, CorrectionReason, CorrectionStatus
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


CORRECTION_REASON_LABELS = {
    CorrectionReason.FORGOT_TO_PUNCH.value: _l("Forgot to punch"),
    CorrectionReason.TERMINAL_FAULT.value: _l("Terminal fault"),
    CorrectionReason.WRONG_STATE.value: _l("Wrong punch type chosen"),
    CorrectionReason.DUPLICATE.value: _l("Duplicate punch"),
    CorrectionReason.EMPLOYEE_REQUEST.value: _l("Employee's request"),
    CorrectionReason.OTHER.value: _l("Other (say why in the note)"),
}
CORRECTION_ACTION_LABELS = {
    CorrectionAction.AMEND.value: _l("Change the time or the punch type"),
    CorrectionAction.VOID.value: _l("Void the punch (it does not count)"),
}
CORRECTION_STATUS_LABELS = {
    CorrectionStatus.PROPOSED.value: _l("Waiting for approval"),
    CorrectionStatus.APPROVED.value: _l("Approved"),
    CorrectionStatus.REJECTED.value: _l("Rejected"),
}


class CorrectionForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no type hints
    """A proposed correction of one punch (#7): the punch stays as recorded."""

    action = SelectField(
        _l("Correction"),
        choices=[SelectChoice(k, v) for k, v in CORRECTION_ACTION_LABELS.items()],
        validators=[DataRequired()],
    )
    day = DateField(_l("Corrected date"), validators=[Optional()])
    at = TimeField(_l("Corrected time"), format=["%H:%M", "%H:%M:%S"], validators=[Optional()])
    state = SelectField(
        _l("Corrected punch type"),
        choices=[
            SelectChoice("", _l("Unchanged")),
            *(SelectChoice(str(k), v) for k, v in STATE_LABELS.items() if k != 255),
        ],
        validators=[Optional()],
    )
    reason = SelectField(
        _l("Reason"),
        choices=[
            SelectChoice("", _l("Choose a reason")),
            *(SelectChoice(k, v) for k, v in CORRECTION_REASON_LABELS.items()),
        ],
        validators=[DataRequired(message=_l("Choose a reason."))],
    )
    request_id = IntegerField(
        _l("Rectification request number (optional)"),
        validators=[Optional(), NumberRange(min=1, message=_l("A request number is positive."))],
    )
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=NOTE_MAX)])

    def validate(self, extra_validators: object = None) -> bool:
        if not super().validate(extra_validators):
            return False
        if self.action.data == CorrectionAction.VOID.value:
            if self.day.data or self.at.data or self.state.data:
                self.action.errors.append(_l("A voided punch takes no new time or punch type."))
                return False
            return True
        if bool(self.day.data) != bool(self.at.data):
            target = self.at if self.day.data else self.day
            target.errors.append(_l("Give both the corrected date and time."))
            return False
        if not self.day.data and not self.state.data:
            self.action.errors.append(_l("Give a new time, a new punch type, or both."))
            return False
        return True
