# SPDX-License-Identifier: GPL-2.0-or-later
"""The operation log's verification status (issue #6)."""

from __future__ import annotations

from typing import Any

from server.api.blueprint import api
from server.api.registry import ref
from server.audit.services import check_anchors, read_anchors, verify_chain
from server.auth.models import Role
from server.web import get_session, settings

ANCHOR_FILE = "audit-anchors.jsonl"  # as `rollcall audit verify` keeps them by default


@api.route(
    "/audit/verify",
    summary="Check the operation log's hash chain and its anchors",
    tag="audit",
    roles=(Role.AUDITOR, Role.PRIVACY_OFFICER),
    response=ref("AuditStatus"),
)
def verify_log() -> Any:
    """Walks the whole chain and checks every anchor kept in the data folder; names the
    first entry altered, removed or cut off. Records no new anchor (`rollcall audit verify`
    does, from the scheduled job)."""
    db = get_session()
    try:
        anchors = read_anchors(settings().data_dir / ANCHOR_FILE)
        damaged = None
    except (OSError, ValueError) as exc:
        anchors, damaged = [], str(exc)
    report = verify_chain(db)
    if report.ok and damaged is None:
        report = check_anchors(db, anchors) or report
    return {
        "ok": report.ok and damaged is None,
        "entries": report.entries,
        "first_broken_seq": report.first_broken_seq,
        "reason": report.reason if damaged is None else f"anchor file: {damaged}"[:500],
        "anchors": len(anchors),
    }
