# SPDX-License-Identifier: GPL-2.0-or-later
"""GET /api/v1/audit/verify makes the same check as the operation log page and
`rollcall audit verify` (#6 review): a log cut below the last kept verification and an
anchor file lost since then are failures over the API too."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.audit.models import AuditEvent
from server.audit.services import (
    ANCHOR_FILE,
    VERIFICATION_FILE,
    anchor_head_if_due,
    load_verification,
)
from server.settings import Settings
from tests.api.conftest import Api
from tests.test_audit_anchoring import _cut_to, _write


def test_a_log_cut_below_the_last_verification_is_reported_broken_at_the_first_missing_entry(
    api: Api, issue_token: Callable[..., str], db: Session, settings: Settings
) -> None:
    token = issue_token("auditor", read_only=True)
    _write(db, 6)
    ok = api.get("/audit/verify", token).get_json()
    assert (ok["ok"], ok["first_broken_seq"]) == (True, None)
    reached = ok["entries"]
    assert not (settings.data_dir / ANCHOR_FILE).exists()  # no anchor: only the kept check
    _cut_to(db, reached - 3)

    cut = api.get("/audit/verify", token).get_json()
    assert cut["ok"] is False
    assert cut["first_broken_seq"] == reached - 2
    assert cut["code"] == "cut_below_verification"  # a stable code beside the English text
    assert f"saw it reach entry {reached}" in cut["reason"]
    # logged with its reason, and kept: the page shows the failure until a check passes
    logged = db.scalars(
        select(AuditEvent).where(AuditEvent.action == "audit.verified").order_by(AuditEvent.seq)
    ).all()[-1]
    assert (logged.details["ok"], logged.details["reason"]) == (False, "cut_below_verification")
    kept = load_verification(settings.data_dir / VERIFICATION_FILE)
    assert kept is not None
    assert (kept.ok, kept.code, kept.first_broken_seq) == (
        False,
        "cut_below_verification",
        reached - 2,
    )


def test_a_lost_anchor_file_fails_the_check(
    api: Api, issue_token: Callable[..., str], db: Session, settings: Settings
) -> None:
    token = issue_token("auditor", read_only=True)
    _write(db, 3)
    path = settings.data_dir / ANCHOR_FILE
    assert anchor_head_if_due(db, path, last=None) is not None
    ok = api.get("/audit/verify", token).get_json()
    assert (ok["ok"], ok["anchors"]) == (True, 1)
    path.unlink()

    lost = api.get("/audit/verify", token).get_json()
    assert (lost["ok"], lost["first_broken_seq"]) == (False, None)
    assert lost["code"] == "anchors_missing"
    assert f"the anchor file {path} is missing or empty" in lost["reason"]
    assert lost["anchors"] == 0
