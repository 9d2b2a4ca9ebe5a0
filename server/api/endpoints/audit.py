# SPDX-License-Identifier: GPL-2.0-or-later
"""The operation log (issue #6): its entries and its verification status, for the roles
that open the operation log page."""

from __future__ import annotations

from typing import Any

from server.api.blueprint import api
from server.api.pagination import Keyset, paginate
from server.api.registry import Param, ref
from server.api.schemas import instant, iso
from server.audit.models import AuditEvent
from server.audit.services import (
    ANCHOR_FILE,
    VERIFICATION_FILE,
    log_verification,
    save_verification,
    select_events,
)
from server.audit.services import verify_log as check_log
from server.auth.models import Role
from server.web import current_actor, get_session, settings

READERS = (Role.AUDITOR, Role.PRIVACY_OFFICER)  # as the operation log page


def event_json(e: AuditEvent) -> dict[str, Any]:
    return {
        "seq": e.seq,
        "at": iso(e.at),
        "actor_kind": e.actor_kind,
        "actor_account_id": e.actor_account_id,
        "action": e.action,
        "object_type": e.object_type,
        "object_id": e.object_id,
        "subject_employee_id": e.subject_employee_id,
        "ip_address": e.ip_address,
        "user_agent": e.user_agent,
        "details": e.details or {},
    }


@api.route(
    "/audit/events",
    summary="The operation log's entries, newest first",
    tag="audit",
    roles=READERS,
    query=(
        Param(
            "action",
            {"type": "string", "maxLength": 64},
            "Actions that begin with this, e.g. employee. or employee.viewed.",
        ),
        Param("object_type", {"type": "string", "maxLength": 32}, "e.g. employee, terminal."),
        Param("object_id", {"type": "string", "maxLength": 64}),
        Param("subject_employee_id", {"type": "integer", "minimum": 1}, "About this employee."),
        Param("from", {"type": "string", "format": "date-time"}, "From this instant (incl.)."),
        Param("to", {"type": "string", "format": "date-time"}, "Before this instant."),
    ),
    response=ref("AuditEvent"),
    paginated=True,
)
def list_audit_events(query: dict[str, Any]) -> Any:
    """Entries as stored: identifiers (account, employee, object), never names. Paged by
    position in the chain, so entries written meanwhile never shift a page."""
    listing = select_events(
        action=query.get("action") or None,
        object_type=query.get("object_type") or None,
        object_id=query.get("object_id") or None,
        subject_employee_id=query.get("subject_employee_id"),
        start=instant(query["from"], "from") if query.get("from") else None,
        end=instant(query["to"], "to") if query.get("to") else None,
    )
    page = paginate(
        get_session(),
        listing,
        Keyset(AuditEvent.seq, AuditEvent.seq, descending=True),
        limit=query["limit"],
        cursor=query.get("cursor"),
    )
    return page.json(event_json)


@api.route(
    "/audit/verify",
    summary="Check the operation log's hash chain and its anchors",
    tag="audit",
    roles=READERS,
    response=ref("AuditStatus"),
)
def verify_log() -> Any:
    """Walks the whole chain and checks every anchor kept in the data folder, as the
    operation log page and `rollcall audit verify` do: the log must also reach as far as
    the last kept verification saw it reach, and the anchors seen then must still be there.
    Names the first entry altered, removed or cut off (none when the anchors are unreadable
    or lost). The check is logged and its result kept, so the operation log page shows it as
    its last verification. Records no new anchor (the page and `rollcall audit verify` do)."""
    db = get_session()
    actor = current_actor()
    data_dir = settings().data_dir
    anchor_path, status = data_dir / ANCHOR_FILE, data_dir / VERIFICATION_FILE
    # The same check as the page and the command line (#6 review): verify_chain and
    # check_anchors alone miss a log cut below the last verification and lost anchors.
    checked = check_log(db, anchor_path=anchor_path, verification_path=status)
    report = checked.report
    db.rollback()
    log_verification(db, report, actor=actor)
    db.commit()
    save_verification(status, report, actor=actor, anchor_path=anchor_path)
    return {
        "ok": report.ok,
        "entries": report.entries,
        "first_broken_seq": report.first_broken_seq,
        "reason": report.reason,
        "code": report.code,
        "anchors": len(checked.anchors),
    }
