# SPDX-License-Identifier: GPL-2.0-or-later
"""The organization's own settings (one row): what the data controller decided (#6, #7).

Validated together before anything is written, audited with the names of the fields that
changed (their values are not personal data, and are in the row itself).
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from server.audit.services import Actor, record_event
from server.errors import ValidationError
from server.organization.models import OrganizationSettings
from server.privacy.services import set_biometrics_enabled
from server.rights.profiles import PROFILES

LOCALES = ("en", "zh_CN")
REFUSAL_ACTIONS = ("delete", "report")


def organization_settings(db: Session, *, default_timezone: str) -> OrganizationSettings:
    """The row, created with defaults on first use."""
    org = db.get(OrganizationSettings, 1)
    if org is None:
        org = OrganizationSettings(id=1, name="", default_timezone=default_timezone)
        db.add(org)
        db.flush()
    return org


def update_organization(
    db: Session, values: dict[str, Any], *, actor: Actor, default_timezone: str
) -> list[str]:
    """Apply ``values``; returns the names of the fields that changed."""
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    name = str(values.get("name", "")).strip()
    if not 1 <= len(name) <= 200:
        errors["name"] = _("The organization's name has 1 to 200 characters.")
    clean["name"] = name
    zone = str(values.get("default_timezone", "")).strip()
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        errors["default_timezone"] = _("That is not an IANA time zone (such as Asia/Shanghai).")
    clean["default_timezone"] = zone
    for key, allowed in (
        ("default_locale", LOCALES),
        ("jurisdiction", tuple(PROFILES)),
        ("consent_refusal_action", REFUSAL_ACTIONS),
    ):
        value = str(values.get(key, ""))
        if value not in allowed:
            errors[key] = _("One of: %(values)s.", values=", ".join(allowed))
        clean[key] = value
    try:
        age = int(values.get("minor_age", ""))
    except (TypeError, ValueError):
        age = -1
    if not 0 <= age <= 21:
        errors["minor_age"] = _("The age of majority for consent is 0 to 21.")
    clean["minor_age"] = age
    if errors:
        raise ValidationError(_("Some settings are not valid."), details=errors)
    org = organization_settings(db, default_timezone=default_timezone)
    changed = sorted(k for k, v in clean.items() if getattr(org, k) != v)
    for key in changed:
        setattr(org, key, clean[key])
    db.flush()
    if changed:
        record_event(
            db,
            "organization.settings_changed",
            actor=actor,
            object_type="organization_settings",
            object_id=1,
            details={"fields": ",".join(changed)},
        )
    biometrics = bool(values.get("biometrics_enabled"))
    if biometrics != org.biometrics_enabled:
        set_biometrics_enabled(db, biometrics, actor=actor)
        changed.append("biometrics_enabled")
    return changed
