# SPDX-License-Identifier: GPL-2.0-or-later
"""Forms of the department and area pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length

from server.organization.services import MAX_CODE, MAX_NAME


class NodeForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no type hints
    """A department or an area: code, name and the node it sits under."""

    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=MAX_CODE)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=MAX_NAME)])
    parent_id = SelectField(_l("Inside"), choices=[])

    def parent(self) -> int | None:
        return int(self.parent_id.data) if self.parent_id.data else None
