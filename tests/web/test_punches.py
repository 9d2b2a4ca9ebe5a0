# SPDX-License-Identifier: GPL-2.0-or-later
"""The punch browser, manual punches and exports (issue #6)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.attendance import corrections, services
from server.attendance.entries import PunchEntry
from server.attendance.models import Punch
from server.audit.services import Actor
from tests.web.conftest import (
    ZONE,
    World,
    add_punch,
    audit_count,
    last_audit,
    page_token,
    punch_ids,
)


def _all_ids(db: Session, **where: Any) -> list[int]:
    query = select(Punch.id).order_by(Punch.occurred_at.desc(), Punch.id.desc())
    for key, value in where.items():
        query = query.where(getattr(Punch, key) == value)
    return list(db.scalars(query))


def _page(client: Any, **args: Any) -> str:
    response = client.get("/punches", query_string=args)
    assert response.status_code == 200, response.status_code
    return str(response.get_data(as_text=True))


# --------------------------------------------------------------------------- browsing
def test_the_browser_walks_every_punch_newest_first_and_back_by_keyset(
    client: Any,
    db: Session,
    world: World,
    sign_in: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sign_in("admin")
    monkeypatch.setattr(services, "PAGE_SIZE", 7)
    # Two punches in the same second: the id breaks the tie, neither is skipped.
    tie = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2, hours=2)
    add_punch(db, world.employees["bo"], tie, serial="SIM0002")
    add_punch(db, world.employees["cy"], tie, serial="SIM0002")
    db.commit()
    dee = world.employees["dee"].id  # restricted: stored, not shown
    expected = [i for i in _all_ids(db) if db.get(Punch, i).employee_id != dee]  # type: ignore[union-attr]
    assert len(expected) < len(_all_ids(db))

    seen: list[int] = []
    pages: list[str] = []
    args: dict[str, str] = {}
    while True:
        page = _page(client, **args)
        pages.append(page)
        ids = punch_ids(page)
        assert 0 < len(ids) <= 7
        seen.extend(ids)
        if 'id="older-page"' not in page:
            break
        args = {"older": page.split('id="older-page" href="/punches?older=')[1].split('"')[0]}
    assert seen == expected
    assert 'id="newer-page"' not in pages[0]

    # And back: each newer page is the page before it.
    back = pages[-1]
    for before in reversed(pages[:-1]):
        link = back.split('id="newer-page" href="/punches?newer=')[1].split('"')[0]
        back = _page(client, newer=link)
        assert punch_ids(back) == punch_ids(before)


def test_filters_select_by_person_department_terminal_dates_source_and_status(
    client: Any, db: Session, world: World, sign_in: Callable[..., Any]
) -> None:
    sign_in("hr_viewer")
    ana = world.employees["ana"]
    assert punch_ids(_page(client, person="1001")) == _all_ids(db, employee_id=ana.id)
    assert punch_ids(_page(client, person="lima")) == _all_ids(db, employee_id=ana.id)
    plant = set(punch_ids(_page(client, department=world.departments["plant"])))
    assembly_people = {world.employees["ana"].id}  # and Dee, restricted: not shown
    assert plant == set(db.scalars(select(Punch.id).where(Punch.employee_id.in_(assembly_people))))
    assert punch_ids(_page(client, status="quarantined")) == _all_ids(db, status="quarantined")
    assert punch_ids(_page(client, terminal="NOPE")) == []
    today = datetime.now(ZoneInfo(ZONE)).date()
    yesterday = today - timedelta(days=1)
    listed = punch_ids(
        _page(client, **{"from": yesterday.isoformat(), "to": yesterday.isoformat()})
    )
    assert listed
    for punch in db.scalars(select(Punch).where(Punch.id.in_(listed))):
        assert punch.occurred_at.astimezone(ZoneInfo(ZONE)).date() == yesterday
    add_punch(db, ana, datetime.now(UTC) - timedelta(hours=1), serial="manual", source="manual")
    db.commit()
    assert punch_ids(_page(client, source="manual")) == _all_ids(db, source="manual")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"from": "2026-13-01"}, "YYYY-MM-DD"),
        ({"from": "2026-02-10", "to": "2026-02-01"}, "before the start date"),
        ({"source": "fax"}, "No such source"),
        ({"status": "lost"}, "No such status"),
        ({"department": "999999"}, "No such department"),
        ({"older": "garbage"}, "damaged"),
    ],
)
def test_a_bad_filter_is_reported_and_lists_nothing(
    client: Any, world: World, sign_in: Callable[..., Any], args: dict[str, str], message: str
) -> None:
    sign_in("admin")
    response = client.get("/punches", query_string=args)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    assert punch_ids(page) == []


def test_a_scoped_account_sees_only_its_departments_and_no_unassigned_pin(
    client: Any, db: Session, world: World, sign_in: Callable[..., Any]
) -> None:
    sign_in("hr_viewer", departments=(world.departments["plant"],))
    page = _page(client)
    in_scope = {world.employees["ana"].id}  # Dee too, but restricted: not shown
    assert set(punch_ids(page)) == set(
        db.scalars(select(Punch.id).where(Punch.employee_id.in_(in_scope)))
    )
    assert "Chen" not in page
    assert "unassigned PIN" not in page
    # Naming an out-of-scope person or department finds nothing and reveals nothing.
    assert punch_ids(_page(client, person="1002")) == []
    assert (
        client.get("/punches", query_string={"department": world.departments["office"]}).status_code
        == 400
    )


def test_a_restricted_employees_punches_are_not_listed_and_the_page_says_why(
    client: Any, world: World, sign_in: Callable[..., Any]
) -> None:
    sign_in("admin")
    page = _page(client, person="1004")
    assert punch_ids(page) == []
    assert 'id="restricted-note"' in page
    assert 'id="restricted-note"' not in _page(client, person="1001")
    assert punch_ids(_page(client, person="1001"))


def test_an_approved_correction_shows_beside_the_punch(
    client: Any,
    db: Session,
    world: World,
    sign_in: Callable[..., Any],
    create_account: Callable[..., Any],
) -> None:
    sign_in("admin")
    author, approver = create_account(role="hr_manager"), create_account(role="admin")
    punch_id = _all_ids(db, employee_id=world.employees["bo"].id)[0]
    fix = corrections.propose_correction(
        db, punch_id, action="void", reason="duplicate", actor=Actor("account", author.id)
    )
    corrections.approve_correction(db, fix.id, actor=Actor("account", approver.id))
    db.commit()
    page = _page(client, person="1002")
    row = page.split(f'<tr id="p{punch_id}"')[1].split("</tr>")[0]
    assert "voided" in row


# --------------------------------------------------------------------------- manual punches
def _manual(client: Any, **overrides: str) -> Any:
    data = {
        "employee": "1001",
        "day": (datetime.now(ZoneInfo(ZONE)) - timedelta(days=1)).date().isoformat(),
        "at": "07:58",
        "state": "0",
        "reason": "terminal_fault",
        "note": "",
        "csrf_token": page_token(client, "/punches/new"),
    }
    data.update(overrides)
    return client.post("/punches/new", data=data)


def test_an_hr_manager_adds_a_punch_by_hand_with_its_reason_in_the_log(
    client: Any, db: Session, world: World, sign_in: Callable[..., Any]
) -> None:
    sign_in("hr_manager")
    response = _manual(client, note="Reader broken at gate 2")
    assert response.status_code == 302, response.get_data(as_text=True)
    punch = db.scalar(select(Punch).where(Punch.source == "manual"))
    assert punch is not None
    local = punch.occurred_at.astimezone(ZoneInfo(ZONE))
    assert (local.hour, local.minute) == (7, 58)
    assert (punch.employee_id, punch.punch_state, punch.status) == (
        world.employees["ana"].id,
        0,
        "ok",
    )
    entry = db.get(PunchEntry, punch.id)
    assert entry is not None
    assert (entry.reason, entry.note) == ("terminal_fault", "Reader broken at gate 2")
    event = last_audit(db, "punch.manual_entered")
    assert (event.object_id, event.subject_employee_id) == (
        str(punch.id),
        world.employees["ana"].id,
    )
    assert event.details["reason"] == "terminal_fault"
    assert "Reader" not in str(event.details)  # the note stays out of the log
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f'id="p{punch.id}"' in page
    assert "Terminal fault" in page


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"reason": ""}, "Choose a reason"),
        ({"reason": "other"}, "Say why in the note"),
        ({"employee": "4040"}, "No employee has this code"),
        ({"employee": "1004"}, "restricted"),
        ({"day": "2999-01-01"}, "future"),
        ({"at": "25:99"}, "Not a valid time value"),
        ({"state": "9"}, "Not a valid choice"),
        ({"note": "x" * 501}, "500"),
    ],
)
def test_a_bad_manual_punch_is_refused_and_changes_nothing(
    client: Any,
    db: Session,
    world: World,
    sign_in: Callable[..., Any],
    overrides: dict[str, str],
    message: str,
) -> None:
    sign_in("hr_manager")
    before = db.scalar(select(func.count()).select_from(Punch))
    response = _manual(client, **overrides)
    assert response.status_code in (400, 409, 422)
    assert message in response.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(Punch)) == before
    assert audit_count(db, "punch.manual_entered") == 0


def test_the_same_manual_punch_twice_is_refused(
    client: Any, db: Session, world: World, sign_in: Callable[..., Any]
) -> None:
    sign_in("hr_manager")
    assert _manual(client).status_code == 302
    again = _manual(client)
    assert again.status_code == 409
    assert "already has a manual punch" in again.get_data(as_text=True)


def test_a_scoped_hr_manager_cannot_add_a_punch_for_someone_outside_their_departments(
    client: Any, db: Session, world: World, sign_in: Callable[..., Any]
) -> None:
    sign_in("hr_manager", departments=(world.departments["plant"],))
    response = _manual(client, employee="1002")
    assert response.status_code == 400
    assert "No employee has this code" in response.get_data(as_text=True)
    assert _manual(client, employee="1001").status_code == 302


@pytest.mark.parametrize("role", ["hr_viewer", "auditor", "privacy_officer"])
def test_read_only_roles_see_no_add_button_and_cannot_post_a_punch(
    client: Any, db: Session, world: World, sign_in: Callable[..., Any], role: str
) -> None:
    sign_in(role)
    page = _page(client)
    assert 'id="add-manual-punch"' not in page
    assert client.get("/punches/new").status_code == 403
    token = page_token(client, "/punches")
    response = client.post(
        "/punches/new",
        data={
            "employee": "1001",
            "day": "2026-01-05",
            "at": "08:00",
            "state": "0",
            "reason": "terminal_fault",
            "csrf_token": token,
        },
    )
    assert response.status_code == 403
    assert db.scalar(select(func.count()).select_from(Punch).where(Punch.source == "manual")) == 0


# --------------------------------------------------------------------------- exports
def _export(client: Any, fmt: str, **filters: str) -> Any:
    data = {"format": fmt, "csrf_token": page_token(client, "/punches"), **filters}
    return client.post("/punches/export", data=data)


def test_a_csv_export_holds_the_filtered_rows_without_restricted_people_and_is_logged(
    client: Any, db: Session, world: World, sign_in: Callable[..., Any]
) -> None:
    sign_in("hr_viewer")
    response = _export(client, "csv", department=str(world.departments["plant"]))
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].endswith('.csv"')
    text = response.get_data().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    ana = world.employees["ana"].id
    assert [int(r["punch_id"]) for r in rows] == _all_ids(db, employee_id=ana)
    assert {r["employee_code"] for r in rows} == {"1001"}  # Dee is restricted: left out
    assert rows[0]["given_name"] == "Ana"
    event = last_audit(db, "punch.exported")
    assert event.details["rows"] == len(rows)
    assert event.details["format"] == "csv"
    # the department and the one below it, by id: an access package can tell it held Ana
    assert len(event.details["departments"].split(",")) == 2
    assert "Ana" not in str(event.details)
    assert "Lima" not in str(event.details)
    assert int(response.headers["X-Export-Rows"]) == len(rows)


def test_an_xlsx_export_opens_with_the_same_rows(
    client: Any, db: Session, world: World, sign_in: Callable[..., Any]
) -> None:
    sign_in("hr_manager")
    response = _export(client, "xlsx", person="1002")
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.get_data()), read_only=True)
    sheet = book.active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert values[0] == services.EXPORT_HEADER
    bo = world.employees["bo"].id
    assert [r[0] for r in values[1:]] == _all_ids(db, employee_id=bo)
    assert all(r[4] == "1002" and r[5] == "Bo" for r in values[1:])
    assert isinstance(values[1][1], datetime)
    book.close()
    assert last_audit(db, "punch.exported").details["format"] == "xlsx"


def test_an_export_with_no_filter_leaves_out_restricted_people_and_voided_punches(
    client: Any,
    db: Session,
    world: World,
    sign_in: Callable[..., Any],
    create_account: Callable[..., Any],
) -> None:
    sign_in("admin")
    author, approver = create_account(role="hr_manager"), create_account(role="admin")
    voided = _all_ids(db, employee_id=world.employees["bo"].id)[0]
    fix = corrections.propose_correction(
        db, voided, action="void", reason="duplicate", actor=Actor("account", author.id)
    )
    corrections.approve_correction(db, fix.id, actor=Actor("account", approver.id))
    db.commit()
    rows = list(csv.DictReader(io.StringIO(_export(client, "csv").get_data().decode("utf-8-sig"))))
    ids = {int(r["punch_id"]) for r in rows}
    dee = set(_all_ids(db, employee_id=world.employees["dee"].id))
    assert not ids & dee
    assert voided not in ids
    assert ids == set(_all_ids(db)) - dee - {voided}
    assert last_audit(db, "punch.exported").details["rows"] == len(rows)


def test_a_name_that_looks_like_a_formula_stays_text_in_both_formats(
    client: Any, db: Session, world: World, sign_in: Callable[..., Any]
) -> None:
    sign_in("admin")
    world.employees["bo"].given_name = "=HYPERLINK(1)"
    db.commit()
    text = _export(client, "csv", person="1002").get_data().decode("utf-8-sig")
    assert "'=HYPERLINK(1)" in text
    book = openpyxl.load_workbook(io.BytesIO(_export(client, "xlsx", person="1002").get_data()))
    sheet = book.active
    assert sheet is not None
    cell = sheet.cell(row=2, column=6)
    assert (cell.value, cell.data_type) == ("=HYPERLINK(1)", "s")


def test_a_bad_export_request_changes_nothing_and_is_not_logged(
    client: Any, db: Session, world: World, sign_in: Callable[..., Any]
) -> None:
    sign_in("admin")
    assert _export(client, "pdf").status_code == 302
    assert _export(client, "csv", **{"from": "yesterday"}).status_code == 302
    assert audit_count(db, "punch.exported") == 0


@pytest.mark.parametrize("role", ["auditor", "privacy_officer"])
def test_roles_without_export_see_no_export_and_get_403(
    client: Any, db: Session, world: World, sign_in: Callable[..., Any], role: str
) -> None:
    sign_in(role)
    assert 'id="export-csv"' not in _page(client)
    assert _export(client, "csv").status_code == 403
    assert audit_count(db, "punch.exported") == 0


# --------------------------------------------------------------------------- corrected times
def _correct_time(db: Session, punch_id: int, at: datetime, accounts: tuple[Any, Any]) -> None:
    author, approver = accounts
    fix = corrections.propose_correction(
        db,
        punch_id,
        action="amend",
        reason="employee_request",
        occurred_at=at,
        actor=Actor("account", author.id),
    )
    corrections.approve_correction(db, fix.id, actor=Actor("account", approver.id))


def test_a_date_range_selects_punches_by_their_corrected_time(
    client: Any,
    db: Session,
    world: World,
    sign_in: Callable[..., Any],
    create_account: Callable[..., Any],
) -> None:
    """A punch recorded late on the 1st and corrected to just after midnight belongs to
    the 2nd: the browser and the export of the 2nd hold it, those of the 1st do not."""
    sign_in("admin")
    accounts = (create_account(role="hr_manager"), create_account(role="admin"))
    zone = ZoneInfo(ZONE)
    first = datetime.now(zone).date() - timedelta(days=40)
    second = first + timedelta(days=1)

    def at(day: Any, hour: int, minute: int) -> datetime:
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)

    ana, bo = world.employees["ana"], world.employees["bo"]
    late = add_punch(db, ana, at(first, 23, 50), state=1)
    stays = add_punch(db, ana, at(first, 9, 0))
    morning = add_punch(db, bo, at(second, 8, 0))
    back = add_punch(db, bo, at(second, 17, 0), state=1)  # corrected to the 1st: leaves the 2nd
    db.flush()
    _correct_time(db, late.id, at(second, 0, 10), accounts)
    _correct_time(db, back.id, at(first, 17, 0), accounts)
    _correct_time(db, stays.id, at(first, 9, 5), accounts)  # moved within its day
    db.commit()

    def listed(day: Any) -> set[int]:
        return set(punch_ids(_page(client, **{"from": day.isoformat(), "to": day.isoformat()})))

    assert listed(second) == {late.id, morning.id}
    assert listed(first) == {stays.id, back.id}

    # Page by page, one row at a time, both ways: every row once, in keyset order.
    filters = services.PunchFilters(
        start=at(second, 0, 0), end=at(second + timedelta(days=1), 0, 0)
    )
    seen: list[int] = []
    cursor = None
    while True:
        page = services.browse_punches(db, filters, cursor=cursor, limit=1)
        seen.extend(r.id for r in page.rows)
        if page.older is None:
            break
        cursor = page.older
    assert seen == [morning.id, late.id]  # by original time, newest first
    assert page.newer is not None
    newer = services.browse_punches(
        db, filters, cursor=page.newer, direction=services.Direction.NEWER, limit=1
    )
    assert [r.id for r in newer.rows] == [morning.id]
    row = services.browse_punches(db, filters, limit=5).rows[1]
    assert row.original_occurred_at == at(first, 23, 50)
    assert row.occurred_at == at(second, 0, 10)

    # The export of the 2nd holds the moved punch at its corrected time and counts it.
    response = _export(client, "csv", **{"from": second.isoformat(), "to": second.isoformat()})
    rows = list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert {int(r["punch_id"]) for r in rows} == {late.id, morning.id}
    moved = next(r for r in rows if int(r["punch_id"]) == late.id)
    assert moved["local_time"].startswith(f"{second.isoformat()} 00:10")
    assert moved["corrected"] == "yes"
    assert last_audit(db, "punch.exported").details["rows"] == 2
    response = _export(client, "csv", **{"from": first.isoformat(), "to": first.isoformat()})
    rows = list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert {int(r["punch_id"]) for r in rows} == {stays.id, back.id}
