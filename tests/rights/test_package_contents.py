# SPDX-License-Identifier: GPL-2.0-or-later
"""What the access package tells the employee (GDPR 15, PIPL 45; issue #7 review).

A sentinel employee with activity in every category: the package names who looked at their
record (name and role, never the looker's address or browser), the terminals that hold or
held their templates and PIN mappings, the notice version and text they consented to, and it
is written in the employee's language, while data.json's keys stay the same in every language.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session

from server.attendance.models import Punch
from server.audit.services import Actor, record_event
from server.auth.models import Account
from server.db import Base
from server.devices.models import PinMapping, Terminal, TerminalCommand
from server.employees.models import Employee
from server.enrolment.models import BiometricTemplate
from server.organization.models import Area, Department, OrganizationSettings
from server.privacy.models import BiometricNotice, Consent
from server.rights import services
from server.rights.access import (
    AccessPackage,
    build_access_package,
    exportable,
    subject_filter,
)
from server.rights.catalog import COLUMN_LABELS, TABLE_LABELS

ACTOR = Actor.system("test")
IP_CANARY = "203.0.113.77"
UA_CANARY = "QZ-CANARY-BROWSER/9.9"
NOTICE_TEXT = "QZ-NOTICE-TEXT: we keep your fingerprint template only while you consent."
ZH_ATTENDANCE_PURPOSE = "按照劳动法的要求记录工作时间，并据此向您支付报酬"  # noqa: RUF001
EN_ATTENDANCE_PURPOSE = "Recording working time, as labour law requires, and paying you for it"


def at(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 3, day, hour, 0, tzinfo=UTC)


@dataclass
class Site:
    sentinel: Employee
    hr: Account
    lobby: Terminal  # enrolment happened here
    gate: Terminal  # Rollcall sent the templates here; still there
    dock: Terminal  # sent, then deleted


def _organization(db: Session, default_locale: str) -> None:
    org = db.get(OrganizationSettings, 1)
    if org is None:
        db.add(OrganizationSettings(id=1, name="Org", default_timezone="UTC"))
        db.flush()
        org = db.get(OrganizationSettings, 1)
    assert org is not None
    org.default_locale = default_locale
    db.flush()


def _done(terminal: Terminal, employee: Employee, kind: str, when: datetime, **kw: Any) -> Any:
    return TerminalCommand(
        terminal_id=terminal.id,
        kind=kind,
        employee_id=employee.id,
        pin=employee.employee_code,
        cause="test",
        state="done",
        created_at=when,
        completed_at=when,
        **kw,
    )


@pytest.fixture
def site(db: Session, create_account: Any, create_terminal: Any) -> Site:
    _organization(db, "en")
    hr = create_account(username="hanna", role="hr_manager", display_name="Hanna QZ-Looker")
    area = Area(code="NORTH", name="North Wing")
    dept = Department(code="OPS", name="Operations")
    db.add_all([area, dept])
    db.flush()
    lobby = create_terminal(serial_number="SERLOBBY", name="Lobby reader", area_id=area.id)
    gate = create_terminal(serial_number="SERGATE", name="Gate reader", area_id=area.id)
    dock = create_terminal(serial_number="SERDOCK", name="Dock reader")
    e = Employee(
        employee_code="931",
        given_name="Sia",
        family_name="QZ-Sentinel",
        email="sia@example.org",
        card_number="4242",
        date_of_birth=date(1991, 2, 3),
        department_id=dept.id,
        hire_date=date(2020, 1, 1),
    )
    db.add(e)
    db.flush()
    db.add(
        Punch(
            terminal_serial="SERGATE",
            pin="931",
            employee_id=e.id,
            device_time=datetime(2026, 3, 2, 9, 0),
            timezone="UTC",
            occurred_at=at(2),
            verify_type=1,
            punch_state=0,
            work_code=0,
            source="pull",
            status="ok",
            received_at=at(2, 10),
        )
    )
    db.add(PinMapping(terminal_id=gate.id, pin="7931", employee_id=e.id, valid_from=at(1)))
    notice = BiometricNotice(
        version=7,
        title="Fingerprint notice",
        body=NOTICE_TEXT,
        retention_schedule="30 days after purpose ends",
        content_sha256="ab" * 32,
        published_at=at(1),
    )
    db.add(notice)
    db.flush()
    db.add(
        Consent(
            employee_id=e.id,
            notice_id=notice.id,
            given_by="employee",
            given_at=at(3),
            method="signed_paper",
            evidence_ref="SCAN-931",
            recorded_by_id=hr.id,
            withdrawn_at=at(20),
            withdrawal_method="signed_paper",
        )
    )
    for kind, index in (("finger", 3), ("face", 0)):
        db.add(
            BiometricTemplate(
                employee_id=e.id,
                kind=kind,
                template_index=index,
                format_version="10",
                ciphertext=b"QZ-CANARY-TEMPLATE",
                source_terminal_serial="SERLOBBY",
                enrolled_at=at(4),
            )
        )
    db.add_all(
        [
            _done(gate, e, "put_user", at(5), outcome={"user": "added", "templates_written": 1}),
            _done(dock, e, "put_user", at(5), outcome={"user": "added", "templates_written": 1}),
            _done(dock, e, "delete_templates", at(9), finger=3, outcome={"templates_deleted": 1}),
        ]
    )
    db.flush()
    record_event(
        db,
        "employee.viewed",
        actor=Actor("account", hr.id, IP_CANARY, UA_CANARY),
        object_type="employee",
        object_id=e.id,
        subject_employee_id=e.id,
    )
    record_event(
        db,
        "employee.viewed",
        actor=Actor("token:999", hr.id, IP_CANARY, UA_CANARY),
        object_type="employee",
        object_id=e.id,
        subject_employee_id=e.id,
    )
    services.receive_request(db, employee_id=e.id, kind="access", actor=ACTOR)
    db.flush()
    return Site(e, hr, lobby, gate, dock)


def unzip(package: AccessPackage) -> dict[str, bytes]:
    archive = zipfile.ZipFile(io.BytesIO(package.to_zip()))
    return {name: archive.read(name) for name in archive.namelist()}


def test_the_package_names_who_accessed_the_record_and_never_their_address(
    db: Session, site: Site
) -> None:
    package = build_access_package(db, site.sentinel.id, actor=ACTOR, locale="en")
    views = [r for r in package.data["audit_events"] if r["action"] == "employee.viewed"]
    assert [(r["actor"], r["actor_role"]) for r in views] == [
        ("Hanna QZ-Looker", "hr_manager"),
        ("API token of Hanna QZ-Looker", "hr_manager"),
    ]
    assert all(r["at"] for r in views)
    # the request was registered by Rollcall itself, not by a person
    system = [r for r in package.data["audit_events"] if r["actor_kind"] == "test"]
    assert system
    assert system[0]["actor_role"] is None
    files = unzip(package)
    page = files["index.html"].decode()
    assert "Hanna QZ-Looker" in page
    assert "HR manager" in page
    assert "employee.viewed" in page
    for name, content in files.items():
        assert IP_CANARY.encode() not in content, name
        assert UA_CANARY.encode() not in content, name
        assert b"ip_address" not in content, name
        assert b"user_agent" not in content, name


def test_the_package_names_the_terminals_that_hold_or_held_each_template(
    db: Session, site: Site
) -> None:
    package = build_access_package(db, site.sentinel.id, actor=ACTOR, locale="en")
    held = {
        (r["kind"], r["template_index"], r["terminal_name"]): r
        for r in package.data["biometric_terminals"]
    }
    assert set(held) == {
        ("finger", 3, "Lobby reader"),
        ("finger", 3, "Gate reader"),
        ("finger", 3, "Dock reader"),
        ("face", 0, "Lobby reader"),  # a face is never sent to other terminals
    }
    lobby = held[("finger", 3, "Lobby reader")]
    assert (lobby["how"], lobby["terminal_serial"], lobby["terminal_area"]) == (
        "enrolled",
        "SERLOBBY",
        "North Wing",
    )
    assert lobby["held_from"].startswith("2026-03-04")
    gate = held[("finger", 3, "Gate reader")]
    assert (gate["how"], gate["held_until"]) == ("sent", None)
    dock = held[("finger", 3, "Dock reader")]
    assert dock["held_from"].startswith("2026-03-05")
    assert dock["held_until"].startswith("2026-03-09")
    mapping = package.data["pin_mappings"][0]
    assert (mapping["terminal_name"], mapping["terminal_serial"], mapping["terminal_area"]) == (
        "Gate reader",
        "SERGATE",
        "North Wing",
    )
    files = unzip(package)
    assert b"QZ-CANARY-TEMPLATE" not in b"".join(files.values())
    page = files["index.html"].decode()
    for text in ("Lobby reader", "Dock reader", "North Wing", "Sent to this terminal by Rollcall"):
        assert text in page


def test_the_package_holds_the_notice_version_and_text_consented_to(
    db: Session, site: Site
) -> None:
    package = build_access_package(db, site.sentinel.id, actor=ACTOR, locale="en")
    consent = package.data["consents"][0]
    assert consent["notice_version"] == 7
    assert consent["notice_title"] == "Fingerprint notice"
    assert consent["notice_text"] == NOTICE_TEXT
    assert consent["notice_sha256"] == "ab" * 32
    assert consent["given_at"].startswith("2026-03-03")
    assert consent["withdrawn_at"].startswith("2026-03-20")
    assert consent["recorded_by_name"] == "Hanna QZ-Looker"
    page = package.to_html().decode()
    assert NOTICE_TEXT in page
    assert "Notice version" in page


def _shape(body: dict[str, Any]) -> dict[str, Any]:
    """data.json's keys: top level, tables, each table's columns, the categories described."""
    return {
        "top": sorted(body),
        "tables": {t: sorted(rows[0]) if rows else [] for t, rows in body["data"].items()},
        "about": {c: sorted(v) for c, v in body["about_your_data"].items()},
    }


def _chinese(package: AccessPackage) -> None:
    page = package.to_html().decode()
    assert '<html lang="zh-CN">' in page
    assert ZH_ATTENDANCE_PURPOSE in page
    assert EN_ATTENDANCE_PURPOSE not in page
    assert "您的雇主在 Rollcall 中保存的您的个人信息" in page
    assert "谁访问或更改了您的记录" in page  # section titles
    assert "考勤机序列号" in page  # column headers
    assert "人事经理" in page  # roles in words


def test_the_page_is_in_chinese_and_data_json_keys_do_not_change(db: Session, site: Site) -> None:
    english = build_access_package(db, site.sentinel.id, actor=ACTOR, locale="en")
    site.sentinel.locale = "zh_CN"
    db.flush()
    chinese = build_access_package(db, site.sentinel.id, actor=ACTOR)
    assert chinese.locale == "zh_CN"
    _chinese(chinese)
    en_body = json.loads(english.to_json())
    zh_body = json.loads(chinese.to_json())
    assert _shape(zh_body) == _shape(en_body)
    assert zh_body["about_your_data"]["attendance"]["purpose"] == ZH_ATTENDANCE_PURPOSE
    assert en_body["about_your_data"]["attendance"]["purpose"] == EN_ATTENDANCE_PURPOSE
    assert zh_body["data"]["punches"][0]["status"] == "ok"  # codes stay codes
    assert ZH_ATTENDANCE_PURPOSE not in english.to_html().decode()


@pytest.mark.parametrize("employee_locale", [None, ""])
def test_organization_default_language_applies_to_an_employee_without_one(
    db: Session, site: Site, employee_locale: str | None
) -> None:
    site.sentinel.locale = employee_locale
    _organization(db, "zh_CN")
    package = build_access_package(db, site.sentinel.id, actor=ACTOR)
    assert package.locale == "zh_CN"
    _chinese(package)
    _organization(db, "en")
    assert (
        EN_ATTENDANCE_PURPOSE
        in build_access_package(db, site.sentinel.id, actor=ACTOR).to_html().decode()
    )


@pytest.mark.parametrize("imported", ["zh-CN", "zh_Hans", "ZH-hans-cn"])
def test_an_imported_language_tag_is_normalized(db: Session, site: Site, imported: str) -> None:
    site.sentinel.locale = imported
    db.flush()
    package = build_access_package(db, site.sentinel.id, actor=ACTOR)
    assert package.locale == "zh_CN"
    _chinese(package)


def test_every_table_and_column_the_package_shows_has_a_label(db: Session, site: Site) -> None:
    """A column added to the inventory reaches the package; its header must be words."""
    package = build_access_package(db, site.sentinel.id, actor=ACTOR, locale="en")
    shown = {c for cols in package.categories.values() for c in cols}
    for table in Base.metadata.sorted_tables:
        if subject_filter(table):
            shown |= {c.name for c in table.columns if exportable(c)}
    assert not shown - set(COLUMN_LABELS), "add these to COLUMN_LABELS in server/rights/catalog.py"
    assert not set(package.data) - set(TABLE_LABELS)


def test_inside_a_request_the_package_is_in_the_employees_language_not_the_readers(
    app: Any, db: Session, site: Site
) -> None:
    from flask_babel import get_locale

    site.sentinel.locale = "zh_CN"
    db.flush()
    with app.test_request_context(headers={"Accept-Language": "en"}):
        package = build_access_package(db, site.sentinel.id, actor=ACTOR)
        _chinese(package)
        assert str(get_locale()) == "en"  # the reader's page stays in theirs


def test_the_package_lists_the_punch_exports_that_may_have_held_the_employees_punches(
    db: Session, site: Site
) -> None:
    from server.attendance.services import PunchFilters, plan_export

    other = Department(code="SALES", name="Sales")
    db.add(other)
    db.flush()
    hanna = Actor("account", site.hr.id)
    for filters, fmt in (
        (PunchFilters(), "csv"),  # everyone's punches
        (PunchFilters(department_ids=(site.sentinel.department_id or 0,)), "xlsx"),  # hers
        (PunchFilters(department_ids=(other.id,)), "csv"),  # another department only
        (PunchFilters(employee_ids=(site.sentinel.id + 1000,)), "csv"),  # someone else
        (PunchFilters(employee_ids=(site.sentinel.id,)), "csv"),  # hers by name
    ):
        plan_export(db, filters, fmt=fmt, actor=hanna)
    db.flush()
    package = build_access_package(db, site.sentinel.id, actor=ACTOR, locale="en")
    exports = package.data["punch_exports"]
    assert [(e["format"], e["actor"], e["actor_role"]) for e in exports] == [
        ("csv", "Hanna QZ-Looker", "hr_manager"),
        ("xlsx", "Hanna QZ-Looker", "hr_manager"),
        ("csv", "Hanna QZ-Looker", "hr_manager"),
    ]
    assert all(e["at"] for e in exports)
    page = unzip(package)["index.html"].decode()
    assert "Exports of punches that may have included yours" in page
