# SPDX-License-Identifier: GPL-2.0-or-later
"""The operation log in the browser (#6): browse and filter entries, newest first, and check
the hash chain and its anchors on demand. Auditors, privacy officers and administrators."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.audit.models import AuditEvent, AuditHead
from server.audit.services import (
    ANCHOR_FILE,
    VERIFICATION_FILE,
    Anchor,
    Verification,
    append_anchor,
    load_verification,
    log_verification,
    read_anchors,
    save_verification,
    select_events,
    verify_log,
)
from server.auth.models import Account, Role
from server.employees.models import Employee
from server.web import current_actor, get_session, require_role, settings

bp = Blueprint("audit", __name__)

READ = (Role.AUDITOR, Role.PRIVACY_OFFICER)
PAGE = 100

# The verification's reasons in the reader's language, by the code the service gives
# (server/audit/services.py REASONS holds the English the command line prints) (#6 review).
REASON_LABELS = {
    "entry_missing": _l("entry missing"),
    "entry_altered": _l("entry altered"),
    "head_mismatch": _l("log truncated (the head does not match)"),
    "anchor_changed": _l(
        "entry %(seq)s, anchored at %(at)s, has another hash: the log was rewritten"
    ),
    "cut_below_anchor": _l(
        "the log ends at entry %(head)s, but entry %(seq)s was anchored at %(at)s: the newest "
        "entries were cut off"
    ),
    "cut_below_verification": _l(
        "the log ends at entry %(head)s, but the verification of %(at)s saw it reach entry "
        "%(seq)s: the newest entries were cut off"
    ),
    "anchors_missing": _l(
        "the anchor file %(path)s is missing or empty, but the verification of %(at)s saw "
        "anchors up to entry %(seq)s: restore the file, the log cannot be shown intact "
        "without it"
    ),
    "anchors_removed": _l(
        "the anchor file %(path)s no longer holds the anchor of entry %(seq)s that the "
        "verification of %(at)s saw: anchors were removed"
    ),
    "anchors_unreadable": _l("The anchors cannot be read: %(error)s"),
}


def reason_text(code: str | None, params: Mapping[str, Any], fallback: str | None) -> str:
    """Why a check failed, translated; a reason kept without a code is shown as it was."""
    label = REASON_LABELS.get(code or "")
    if label is None:
        return fallback or ""
    values = dict(params)
    if isinstance(values.get("at"), str):
        values["at"] = values["at"].replace("T", " ")
    try:
        return str(label % values)
    except (KeyError, TypeError, ValueError):
        return fallback or ""


def _anchor_path() -> Path:
    return settings().data_dir / ANCHOR_FILE


def _verification_path() -> Path:
    return settings().data_dir / VERIFICATION_FILE


def _last_check(db: Session) -> dict[str, Any]:
    """What the page says about the last verification (kept by the page and the CLI)."""
    problem: str | None = None
    last: Verification | None = None
    try:
        last = load_verification(_verification_path())
    except (OSError, ValueError) as exc:
        problem = str(exc)
    anchor: Anchor | None = None
    if last is None and problem is None:
        # Checks made before results were kept left only their anchors.
        try:
            anchors = read_anchors(_anchor_path())
        except (OSError, ValueError) as exc:
            problem = str(exc)
        else:
            anchor = anchors[-1] if anchors else None
    who: str | None = None
    newer = 0
    if last is not None:
        if last.by_account_id is not None:
            who = db.scalar(select(Account.username).where(Account.id == last.by_account_id))
        who = who or last.by_kind
        if last.ok:
            head = db.get(AuditHead, 1)
            covered = last.anchor_seq if last.anchor_seq is not None else last.entries
            newer = max(0, (head.seq if head is not None else 0) - covered)
    reason = None if last is None else reason_text(last.code, last.params, last.reason)
    return {
        "last": last,
        "who": who,
        "newer": newer,
        "problem": problem,
        "anchor": anchor,
        "reason": reason,
    }


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@bp.get("/audit")
@require_role(*READ)
def index() -> ResponseReturnValue:
    db = get_session()
    args = request.args
    problems: list[str] = []
    code = (args.get("employee") or "").strip()
    employee_id: int | None = None
    if code:
        employee_id = db.scalar(select(Employee.id).where(Employee.employee_code == code))
        if employee_id is None:
            problems.append(_("No employee has the code %(code)s.", code=code))
    start, end = _day(args.get("from")), _day(args.get("to"))
    if (args.get("from") and start is None) or (args.get("to") and end is None):
        problems.append(_("Dates are written YYYY-MM-DD."))
    query = select_events(
        action=(args.get("action") or "").strip(),
        object_type=(args.get("object_type") or "").strip(),
        object_id=(args.get("object_id") or "").strip(),
        subject_employee_id=employee_id,
        start=datetime.combine(start, time.min, tzinfo=UTC) if start else None,
        end=datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC) if end else None,
    ).order_by(AuditEvent.seq.desc())
    if code and employee_id is None:
        query = query.where(AuditEvent.id.is_(None))
    before = args.get("before", type=int)
    if before:
        query = query.where(AuditEvent.seq < before)
    events = db.scalars(query.limit(PAGE + 1)).all()
    more = len(events) > PAGE
    events = events[:PAGE]
    accounts = dict(
        db.execute(
            select(Account.id, Account.username).where(
                Account.id.in_({e.actor_account_id for e in events if e.actor_account_id})
            )
        ).all()
    )
    codes = dict(
        db.execute(
            select(Employee.id, Employee.employee_code).where(
                Employee.id.in_({e.subject_employee_id for e in events if e.subject_employee_id})
            )
        ).all()
    )
    filters: dict[str, Any] = {k: v for k, v in args.items() if k != "before" and v}
    return render_template(
        "audit/index.html",
        events=events,
        accounts=accounts,
        codes=codes,
        check=_last_check(db),
        next_url=url_for("audit.index", before=events[-1].seq, **filters) if more else None,
        args=args,
        problems=problems,
    )


@bp.post("/audit/verify")
@require_role(*READ)
def verify() -> ResponseReturnValue:
    """Walk the whole chain and every earlier anchor; record a new anchor when intact. The
    result is kept, so the page shows it until the next check (a failure stays visible)."""
    db = get_session()
    actor = current_actor()
    path = _anchor_path()
    checked = verify_log(db, anchor_path=path, verification_path=_verification_path())
    report, anchors = checked.report, checked.anchors
    db.rollback()
    log_verification(db, report, actor=actor)
    db.commit()
    anchor: Anchor | None = None
    if report.ok:
        try:
            anchor = append_anchor(db, path)
        except OSError as exc:
            flash(_("The new anchor could not be written: %(error)s", error=str(exc)), "error")
    try:
        save_verification(
            _verification_path(), report, actor=actor, anchor=anchor, anchor_path=path
        )
    except OSError as exc:
        flash(_("The result of the check could not be kept: %(error)s", error=str(exc)), "error")
    reason = reason_text(report.code, report.params, report.reason)
    if not report.ok and report.first_broken_seq is None:
        # The anchors cannot be read, or are gone: no entry to name.
        flash(_("The operation log cannot be shown intact: %(reason)s", reason=reason), "error")
        return redirect(url_for("audit.index"))
    if not report.ok:
        flash(
            _(
                "The operation log is NOT intact: %(reason)s (first bad entry: %(seq)s).",
                reason=reason,
                seq=report.first_broken_seq,
            ),
            "error",
        )
        return redirect(url_for("audit.index"))
    if anchor is None:
        flash(
            _(
                "The operation log is intact: %(n)s entries; %(a)s earlier anchor(s) matched.",
                n=report.entries,
                a=len(anchors),
            ),
            "success",
        )
    else:
        flash(
            _(
                "The operation log is intact: %(n)s entries; %(a)s earlier anchor(s) matched. "
                "New anchor at entry %(seq)s.",
                n=report.entries,
                a=len(anchors),
                seq=anchor.seq,
            ),
            "success",
        )
    return redirect(url_for("audit.index"))
