# SPDX-License-Identifier: GPL-2.0-or-later
"""Interface language: English and Simplified Chinese, through Flask-Babel (issue #6).

The language of a request is, in order: the signed-in account's choice, the language cookie
set by the switch in the page header (so the sign-in page can be switched too), the browser's
Accept-Language, English. Catalog sources live in ``server/translations/<locale>/LC_MESSAGES/
messages.po``; the compiled ``.mo`` files are build output, made at start-up when missing or
older than their source (see the README, "Translations"). Simplified Chinese is ``zh_CN``
to users, cookies and accounts; Babel spells its catalog folder ``zh_Hans_CN``.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Blueprint, Flask, has_request_context, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import Babel, get_locale
from flask_babel import lazy_gettext as _l

from server.web import current_account, get_session, local_path, settings

logger = logging.getLogger(__name__)

TRANSLATIONS = Path(__file__).parent / "translations"
DEFAULT_LOCALE = "en"
# Each language shown in its own name: whoever cannot read the current one finds theirs.
LANGUAGES: dict[str, str] = {"en": "English", "zh_CN": "简体中文"}
LOCALE_COOKIE = "rollcall_lang"
_COOKIE_AGE = 365 * 24 * 3600

babel = Babel()
bp = Blueprint("i18n", __name__)

# Stored codes that pages show and no form or view names yet (#6 review). Those that one
# does (punch source, state, verify type, request kind, consent method...) are reused from
# there by :func:`label`, never copied.
CONSENT_REFUSAL_LABELS = {
    "biometrics_disabled": _l("Biometrics are switched off in Settings"),
    "no_date_of_birth": _l("The date of birth is missing, so the minors rule cannot be checked"),
    "no_consent": _l("No consent to the notice in force"),
    "withdrawn": _l("Consent was withdrawn"),
    "superseded_notice": _l("Consent was given to an earlier notice"),
    "minor_without_guardian": _l("A minor without a guardian's consent"),
}
TEMPLATE_KIND_LABELS = {"finger": _l("fingerprint"), "face": _l("face")}
COMMAND_KIND_LABELS = {
    "put_user": _l("Write the user"),
    "delete_user": _l("Delete the user"),
    "delete_templates": _l("Delete templates"),
    "enrol": _l("Enrol at the terminal"),
    "reconcile": _l("Compare with Rollcall"),
}
COMMAND_CAUSE_LABELS = {
    "employee_changed": _l("employee changed"),
    "terminated": _l("employment ended"),
    "erasure": _l("erasure"),
    "restricted": _l("processing restricted"),
    "restriction_lifted": _l("restriction lifted"),
    "area_change": _l("areas changed"),
    "area_moved": _l("area moved"),
    "enrolment": _l("enrolment"),
    "template_enrolled": _l("template enrolled"),
    "consent_refused": _l("no consent"),
    "withdrawal": _l("consent withdrawn"),
    "reconcile": _l("comparison"),
    "schedule": _l("scheduled"),
}
SYNC_STATUS_LABELS = {
    "running": _l("running"),
    "ok": _l("ok"),
    "unchanged": _l("unchanged"),
    "failed": _l("failed"),
}
SYNC_TRIGGER_LABELS = {
    "schedule": _l("scheduled"),
    "manual": _l("by hand"),
    "realtime": _l("real time"),
}


@cache
def _label_groups() -> dict[str, Mapping[Any, object]]:
    # Imported on first use: those views import most of the app, built after this module.
    from server.attendance.forms import SOURCE_LABELS, STATE_LABELS, VERIFY_LABELS
    from server.privacy.views import METHOD_LABELS
    from server.rights.views import GROUND_LABELS, KIND_LABELS, REFUSAL_LABELS

    return {
        "punch_source": SOURCE_LABELS,
        "punch_state": STATE_LABELS,
        "verify_type": VERIFY_LABELS,
        "consent_refusal": CONSENT_REFUSAL_LABELS,
        "consent_method": METHOD_LABELS,
        "template_kind": TEMPLATE_KIND_LABELS,
        "request_kind": KIND_LABELS,
        "request_refusal": REFUSAL_LABELS,
        "restriction_ground": GROUND_LABELS,
        "command_kind": COMMAND_KIND_LABELS,
        "command_cause": COMMAND_CAUSE_LABELS,
        "sync_status": SYNC_STATUS_LABELS,
        "sync_trigger": SYNC_TRIGGER_LABELS,
    }


def label(group: str, value: object) -> object:
    """A stored code as the reader names it (template global): ``label('punch_source', 'pull')``.

    A code with no label yet is shown as it is rather than hidden; an unknown group is a
    mistake in a template and raises ``KeyError``.
    """
    return _label_groups()[group].get(value, value)


def normalize_locale(value: str | None) -> str | None:
    """A supported locale for a tag such as ``zh-CN``, ``zh_Hans``, ``en-GB``; else None.

    Chinese in any script or region gets Simplified Chinese, the only Chinese we ship.
    """
    if not value:
        return None
    tag = value.strip().replace("-", "_").lower()
    if tag in ("en",) or tag.startswith("en_"):
        return "en"
    if tag == "zh" or tag.startswith("zh_"):
        return "zh_CN"
    return None


def select_locale() -> str:
    if not has_request_context():
        # A job or command inside an app context: no reader, so the log and terminal get
        # English, as they do with no context at all (flask_babel's NullTranslations).
        return DEFAULT_LOCALE
    account = current_account()
    if account is not None and (chosen := normalize_locale(account.locale)):
        return chosen
    if chosen := normalize_locale(request.cookies.get(LOCALE_COOKIE)):
        return chosen
    for tag, _quality in request.accept_languages:
        if chosen := normalize_locale(tag):
            return chosen
    return DEFAULT_LOCALE


def current_code() -> str:
    """The request's language as one of :data:`LANGUAGES`' keys."""
    locale = get_locale()
    return normalize_locale(locale.language if locale else None) or DEFAULT_LOCALE


def select_timezone() -> str:
    """Times are shown in the organization's time zone (the one its terminals keep)."""
    from server.organization.models import OrganizationSettings

    org = get_session().get(OrganizationSettings, 1)
    return org.default_timezone if org else settings().timezone


def html_lang() -> str:
    """The request's language as a BCP 47 tag for ``<html lang>`` (``en``, ``zh-CN``)."""
    return current_code().replace("_", "-")


def compile_catalogs(directory: Path = TRANSLATIONS) -> list[Path]:
    """Compile each ``messages.po`` whose ``.mo`` is missing or older; returns those written.

    Written to a temporary file and renamed, so a process starting at the same moment reads
    either the old catalog or the new one, never half of one.
    """
    written: list[Path] = []
    for po_path in sorted(directory.glob("*/LC_MESSAGES/messages.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        try:
            with po_path.open("rb") as source:
                catalog = read_po(source, locale=po_path.parent.parent.name)
            fd, tmp = tempfile.mkstemp(dir=po_path.parent, suffix=".mo.tmp")
            try:
                with os.fdopen(fd, "wb") as target:
                    write_mo(target, catalog)
                os.chmod(tmp, 0o644)
                os.replace(tmp, mo_path)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        except OSError as exc:  # a read-only install: its packager compiled them
            logger.warning("cannot compile %s: %s", po_path, exc)
            continue
        written.append(mo_path)
    return written


def init_app(app: Flask) -> None:
    compile_catalogs()
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)

    @app.context_processor
    def _languages() -> dict[str, object]:
        return {
            "languages": LANGUAGES,
            "html_lang": html_lang,
            "current_locale": current_code,
        }

    app.add_template_global(label)


def _back(target: str | None) -> str:
    return local_path(target) or url_for("dashboard.index")


@bp.post("/language")
def set_language() -> ResponseReturnValue:
    """The language switch: remembered in a cookie, and on the account when signed in."""
    chosen = normalize_locale(request.form.get("locale")) or DEFAULT_LOCALE
    account = current_account()
    if account is not None and account.locale != chosen:
        account.locale = chosen
        get_session().commit()
    response = redirect(_back(request.form.get("next")))
    response.set_cookie(
        LOCALE_COOKIE,
        chosen,
        max_age=_COOKIE_AGE,
        secure=settings().secure_cookies,
        httponly=True,
        samesite="Lax",
    )
    return response
