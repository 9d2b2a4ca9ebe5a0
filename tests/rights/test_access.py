# SPDX-License-Identifier: GPL-2.0-or-later
"""The access package covers every inventory category of the employee, and nothing else."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, date, datetime

import pytest
from sqlalchemy.orm import Session

from server.attendance.models import Punch
from server.audit.services import Actor, record_event
from server.db import Base
from server.employees.models import Employee
from server.enrolment.models import BiometricTemplate, DataKey
from server.inventory import Category
from server.organization.models import Department
from server.privacy.models import BiometricNotice, Consent
from server.rights import services
from server.rights.access import build_access_package, subject_filter
from server.rights.catalog import NOTICES

ACTOR = Actor.system("test")
TEMPLATE_CANARY = b"\x00CANARY-TEMPLATE-BYTES\xff" * 20
KEY_CANARY = b"CANARY-WRAPPED-KEY" * 4


def seed(db: Session, code: str, tag: str) -> Employee:
    dept = Department(code=f"D{code}", name=f"Dept {tag}")
    db.add(dept)
    db.flush()
    e = Employee(
        employee_code=code,
        given_name=f"Given{tag}",
        family_name=f"Family{tag}",
        email=f"{tag.lower()}@example.org",
        card_number=f"CARD{tag}",
        date_of_birth=date(1990, 5, 17),
        department_id=dept.id,
        locale="zh_CN",
    )
    db.add(e)
    db.flush()
    db.add(
        Punch(
            terminal_serial=f"SER{tag}",
            pin=code,
            employee_id=e.id,
            device_time=datetime(2026, 11, 2, 9, 0),
            timezone="UTC",
            occurred_at=datetime(2026, 11, 2, 9, 0, tzinfo=UTC),
            verify_type=1,
            punch_state=0,
            work_code=0,
            source="pull",
            status="ok",
            received_at=datetime(2026, 11, 2, 9, 5, tzinfo=UTC),
        )
    )
    db.add(DataKey(employee_id=e.id, kek_id="k1", wrapped_key=KEY_CANARY))
    db.add(
        BiometricTemplate(
            employee_id=e.id,
            kind="finger",
            template_index=3,
            format_version="10",
            ciphertext=TEMPLATE_CANARY,
            source_terminal_serial=f"SER{tag}",
        )
    )
    notice = BiometricNotice(
        version=hash(tag) % 10_000,
        title="Notice",
        body="Body",
        retention_schedule="30 days after purpose ends",
    )
    db.add(notice)
    db.flush()
    db.add(
        Consent(
            employee_id=e.id,
            notice_id=notice.id,
            given_by="employee",
            given_at=datetime(2026, 1, 5, tzinfo=UTC),
            method="signed_paper",
            evidence_ref=f"SCAN-{tag}",
        )
    )
    record_event(
        db,
        "employee.viewed",
        actor=ACTOR,
        object_type="employee",
        object_id=e.id,
        subject_employee_id=e.id,
    )
    services.receive_request(db, employee_id=e.id, kind="access", actor=ACTOR)
    db.flush()
    return e


@pytest.fixture
def sentinel(db: Session) -> Employee:
    seed(db, "900", "Control")
    return seed(db, "901", "Sentinel")


def test_the_package_holds_every_category_linked_to_the_employee(
    db: Session, sentinel: Employee
) -> None:
    package = build_access_package(db, sentinel.id, actor=ACTOR)
    expected = {c for c in Category if c is not Category.NONE} - {Category.CONTACT}
    assert expected | {Category.CONTACT} >= package.categories_present() >= expected
    # every table that the inventory links to an employee is in it
    linked = {t.name for t in Base.metadata.sorted_tables if subject_filter(t)} - {"accounts"}
    assert linked <= set(package.data) | {"accounts"}
    body = json.loads(package.to_json())
    assert body["data"]["employees"][0]["family_name"] == "FamilySentinel"
    assert body["data"]["punches"][0]["terminal_serial"] == "SERSentinel"
    assert body["data"]["biometric_templates"][0]["template_index"] == 3
    assert body["data"]["consents"][0]["evidence_ref"] == "SCAN-Sentinel"
    views = [e for e in body["data"]["audit_events"] if e["action"] == "employee.viewed"]
    assert views[0]["actor_kind"] == "test"
    assert "hash" not in views[0]
    assert "prev_hash" not in views[0]
    assert body["about_your_data"]["attendance"]["legal_basis"]
    assert body["recipients"]


def test_templates_keys_and_the_control_employee_never_appear(
    db: Session, sentinel: Employee
) -> None:
    package = build_access_package(db, sentinel.id, actor=ACTOR)
    archive = package.to_zip()
    names = zipfile.ZipFile(io.BytesIO(archive)).namelist()
    assert {"data.json", "index.html", "csv/punches.csv", "csv/employees.csv"} <= set(names)
    everything = (
        b"".join(zipfile.ZipFile(io.BytesIO(archive)).read(n) for n in names) + package.to_json()
    )
    for canary in (b"CANARY-TEMPLATE-BYTES", b"CANARY-WRAPPED-KEY", b"Control", b"SERControl"):
        assert canary not in everything
    assert "ciphertext" not in package.categories["biometric_templates"]
    assert "wrapped_key" not in package.categories.get("data_keys", {})


def test_the_printable_page_is_in_the_employees_language(db: Session, sentinel: Employee) -> None:
    page = build_access_package(db, sentinel.id, actor=ACTOR).to_html().decode()
    assert "您的雇主在 Rollcall 中保存的您的个人信息" in page
    assert "FamilySentinel" in page
    english = build_access_package(db, sentinel.id, actor=ACTOR, locale="en").to_html()
    assert b"Your personal data held by your employer" in english


def test_every_category_has_its_purpose_basis_source_and_retention() -> None:
    assert set(NOTICES) == {c for c in Category if c is not Category.NONE}
