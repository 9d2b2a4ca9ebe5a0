# SPDX-License-Identifier: GPL-2.0-or-later
"""Biometric privacy notices and employees' consent, in the browser (#5, #6, #7).

The privacy officer drafts and publishes notice versions (a published one never changes),
records an employee's consent (the employee's own, or a guardian's for a minor) and its
withdrawal. Withdrawal shreds the templates at once and deletes them from every terminal;
the page shows which terminals have yet to confirm.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from server.auth.models import Role
from server.db import utcnow
from server.devices.distribution import withdrawal_progress, withdrawal_reference
from server.employees.models import Employee
from server.employees.services import record_view
from server.enrolment.services import template_summary, withdraw_biometric_consent
from server.errors import AppError, ValidationError
from server.privacy import services as privacy
from server.privacy.models import BiometricNotice, Consent, ConsentMethod
from server.web import current_actor, get_session, require_role

bp = Blueprint("privacy", __name__)

ACT = (Role.PRIVACY_OFFICER,)
READ = (Role.PRIVACY_OFFICER, Role.AUDITOR)
METHOD_LABELS = {
    ConsentMethod.SIGNED_PAPER: _l("Signed form (give its reference)"),
    ConsentMethod.E_SIGNATURE: _l("Electronic signature"),
    ConsentMethod.IN_PERSON: _l("In person, witnessed"),
}


def _moment(value: str | None) -> datetime:
    """A date from a form: today means now, another day means that day at noon UTC."""
    if not value:
        return utcnow()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ValidationError(_("%(value)s is not a date.", value=value)) from None
    if day >= utcnow().date():
        return utcnow()
    return datetime.combine(day, time(12), tzinfo=UTC)


# --------------------------------------------------------------------------- notices
@bp.get("/privacy/notices")
@require_role(*READ)
def notices() -> ResponseReturnValue:
    db = get_session()
    rows = db.scalars(select(BiometricNotice).order_by(BiometricNotice.version.desc())).all()
    return render_template("privacy/notices.html", notices=rows, current=privacy.current_notice(db))


@bp.post("/privacy/notices")
@require_role(*ACT)
def create_notice() -> ResponseReturnValue:
    db = get_session()
    try:
        notice = privacy.create_notice_draft(
            db,
            title=request.form.get("title", ""),
            body=request.form.get("body", ""),
            retention_schedule=request.form.get("retention_schedule", ""),
            actor=current_actor(),
        )
    except AppError as exc:
        db.rollback()
        flash(exc.message, "error")
        return redirect(url_for("privacy.notices"))
    db.commit()
    flash(_("Draft version %(v)s saved.", v=notice.version), "success")
    return redirect(url_for("privacy.notices"))


@bp.post("/privacy/notices/<int:notice_id>/publish")
@require_role(*ACT)
def publish(notice_id: int) -> ResponseReturnValue:
    db = get_session()
    try:
        notice = privacy.publish_notice(db, notice_id, actor=current_actor())
    except AppError as exc:
        db.rollback()
        flash(exc.message, "error")
        return redirect(url_for("privacy.notices"))
    db.commit()
    flash(
        _(
            "Version %(v)s is published and in force. Employees who consented to an earlier "
            "version are asked again.",
            v=notice.version,
        ),
        "success",
    )
    return redirect(url_for("privacy.notices"))


# --------------------------------------------------------------------------- consent
@bp.get("/privacy/consent")
@require_role(*READ)
def consent() -> ResponseReturnValue:
    db = get_session()
    code = (request.args.get("employee") or "").strip()
    employee = None
    if code:
        employee = db.scalar(
            select(Employee).where(Employee.employee_code == code, Employee.erased_at.is_(None))
        )
        if employee is None:
            flash(_("No employee has the code %(code)s.", code=code), "error")
    context: dict[str, object] = {"employee": employee, "code": code, "methods": METHOD_LABELS}
    if employee is not None:
        history = db.scalars(
            select(Consent).where(Consent.employee_id == employee.id).order_by(Consent.id.desc())
        ).all()
        versions = dict(db.execute(select(BiometricNotice.id, BiometricNotice.version)).all())
        progress = {
            c.id: withdrawal_progress(db, withdrawal_reference(c.id))
            for c in history
            if c.withdrawn_at is not None
        }
        context.update(
            status=privacy.consent_status(db, employee.id, on=utcnow().date()),
            history=history,
            versions=versions,
            progress=progress,
            summary=template_summary(db, employee.id),
            notice=privacy.current_notice(db),
        )
        # The page shows the name and the consent history: a view of the employee, in the
        # operation log like the detail page's (#6 review).
        record_view(db, employee, actor=current_actor())
        db.commit()
    return render_template("privacy/consent.html", **context)


def _employee(code: str) -> Employee:
    employee = get_session().scalar(
        select(Employee).where(Employee.employee_code == code, Employee.erased_at.is_(None))
    )
    if employee is None:
        abort(404)
    return employee


@bp.post("/privacy/consent/<code>")
@require_role(*ACT)
def record(code: str) -> ResponseReturnValue:
    db = get_session()
    employee = _employee(code)
    form = request.form
    try:
        notice = privacy.current_notice(db)
        if notice is None:
            raise ValidationError(_("Publish a notice first: consent is given to a notice."))
        by_guardian = form.get("given_by") == "guardian"
        privacy.record_consent(
            db,
            employee_id=employee.id,
            notice_version=notice.version,
            given_at=_moment(form.get("given_on")),
            method=form.get("method", ""),
            evidence_ref=form.get("evidence_ref") or None,
            given_by="guardian" if by_guardian else "employee",
            guardian_name=(form.get("guardian_name") or None) if by_guardian else None,
            guardian_relation=(form.get("guardian_relation") or None) if by_guardian else None,
            actor=current_actor(),
        )
    except AppError as exc:
        db.rollback()
        flash(exc.message, "error")
        return redirect(url_for("privacy.consent", employee=code))
    db.commit()
    flash(_("Consent recorded."), "success")
    return redirect(url_for("privacy.consent", employee=code))


@bp.post("/privacy/consent/<code>/withdraw")
@require_role(*ACT)
def withdraw(code: str) -> ResponseReturnValue:
    db = get_session()
    employee = _employee(code)
    try:
        result = withdraw_biometric_consent(
            db,
            employee.id,
            withdrawn_at=_moment(request.form.get("withdrawn_on")),
            method=request.form.get("method", ""),
            evidence_ref=request.form.get("evidence_ref") or None,
            actor=current_actor(),
        )
    except AppError as exc:
        db.rollback()
        flash(exc.message, "error")
        return redirect(url_for("privacy.consent", employee=code))
    db.commit()
    flash(
        _(
            "Consent withdrawn: %(t)s template(s) shredded; deletion queued for %(n)s terminal(s).",
            t=result.templates_deleted,
            n=result.terminal_deletions,
        ),
        "success",
    )
    return redirect(url_for("privacy.consent", employee=code))
