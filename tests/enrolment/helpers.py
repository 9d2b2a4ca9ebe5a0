# SPDX-License-Identifier: GPL-2.0-or-later
"""Builders shared by the vault, gate and consent tests."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from server.audit.services import Actor
from server.db import utcnow
from server.employees.models import Employee
from server.organization.models import OrganizationSettings
from server.privacy import services as privacy
from server.privacy.models import BiometricNotice

ACTOR = Actor.system("test")
ADULT_DOB = date(1990, 5, 17)


def organization(db: Session, **values: Any) -> OrganizationSettings:
    org = db.get(OrganizationSettings, 1)
    if org is None:
        org = OrganizationSettings(id=1, name="Org", default_timezone="UTC")
        db.add(org)
    for key, value in values.items():
        setattr(org, key, value)
    db.flush()
    return org


def employee(db: Session, code: str, **values: Any) -> Employee:
    values.setdefault("date_of_birth", ADULT_DOB)
    e = Employee(employee_code=code, given_name="Ana", family_name="Silva", **values)
    db.add(e)
    db.flush()
    return e


def published_notice(db: Session, *, body: str = "We keep templates.") -> BiometricNotice:
    draft = privacy.create_notice_draft(
        db, title="Biometrics", body=body, retention_schedule="Until withdrawal", actor=ACTOR
    )
    return privacy.publish_notice(
        db, draft.id, effective_at=utcnow() - timedelta(seconds=1), actor=ACTOR
    )


def consent(db: Session, e: Employee, notice: BiometricNotice, **values: Any) -> None:
    values.setdefault("given_at", utcnow() - timedelta(seconds=1))
    privacy.record_consent(
        db,
        employee_id=e.id,
        notice_version=notice.version,
        method=values.pop("method", "signed_paper"),
        evidence_ref=values.pop("evidence_ref", "scan-1"),
        actor=ACTOR,
        **values,
    )


def ready_organization(db: Session) -> BiometricNotice:
    """Biometrics on, a published notice in force."""
    organization(db, minor_age=16)
    notice = published_notice(db)
    privacy.set_biometrics_enabled(db, True, actor=ACTOR)
    return notice


def no_commit(db: Session, monkeypatch: pytest.MonkeyPatch) -> Session:
    """Make ``commit`` fail, to prove services only flush."""

    def refuse() -> None:
        raise AssertionError("a service committed")

    monkeypatch.setattr(db, "commit", refuse)
    return db


def later(seconds: int = 0) -> datetime:
    return utcnow() + timedelta(seconds=seconds)
