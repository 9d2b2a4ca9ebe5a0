# SPDX-License-Identifier: GPL-2.0-or-later
"""The settings page (#6): what the organization decided, for administrators."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from server.auth.models import Role
from server.errors import AppError
from server.organization.configuration import (
    LOCALES,
    REFUSAL_ACTIONS,
    organization_settings,
    update_organization,
)
from server.rights.profiles import PROFILES
from server.web import current_actor, get_session, require_role, settings

bp = Blueprint("settings", __name__)


@bp.route("/settings", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def index() -> ResponseReturnValue:
    db = get_session()
    errors: dict[str, object] = {}
    if request.method == "POST":
        try:
            changed = update_organization(
                db,
                request.form.to_dict(),
                actor=current_actor(),
                default_timezone=settings().timezone,
            )
        except AppError as exc:
            db.rollback()
            errors = dict(exc.details)
            flash(exc.message, "error")
        else:
            db.commit()
            flash(
                _("Settings saved.") if changed else _("Nothing changed."),
                "success" if changed else "info",
            )
            return redirect(url_for("settings.index"))
    org = organization_settings(db, default_timezone=settings().timezone)
    values = request.form if errors else None
    return render_template(
        "settings/index.html",
        org=org,
        values=values,
        errors=errors,
        profiles=PROFILES,
        locales=LOCALES,
        refusal_actions=REFUSAL_ACTIONS,
    ), (422 if errors else 200)
