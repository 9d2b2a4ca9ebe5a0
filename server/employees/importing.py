# SPDX-License-Identifier: GPL-2.0-or-later
"""Adding employees from a CSV file, all or nothing (issue #6).

:func:`plan_import` reads and checks every row without writing anything; the preview page
shows its result. :func:`apply_import` checks the same text again and, only when every row is
valid, creates every employee in the caller's transaction. Bad input changes nothing.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.audit.services import Actor, record_event
from server.employees import services
from server.employees.models import Employee
from server.errors import AppError, ValidationError
from server.organization.models import Area, Department

# Column names as the header row spells them; the first three are required.
REQUIRED = ("employee_code", "given_name", "family_name")
OPTIONAL = (
    "department",  # department code
    "areas",  # area codes separated by ";" or spaces
    "hire_date",
    "date_of_birth",
    "email",
    "phone",
    "card_number",
    "device_name",
    "locale",
    "verify_mode",
)
COLUMNS = REQUIRED + OPTIONAL
MAX_ROWS = 5000
MAX_BYTES = 2 * 1024 * 1024


@dataclass
class PlannedRow:
    line: int  # line number in the file, header = 1
    raw: dict[str, str]
    errors: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    area_ids: list[int] = field(default_factory=list)


@dataclass
class ImportPlan:
    rows: list[PlannedRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # about the file as a whole
    columns: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems and bool(self.rows) and not any(r.errors for r in self.rows)

    @property
    def invalid_rows(self) -> int:
        return sum(1 for r in self.rows if r.errors)


def decode(data: bytes) -> str:
    """UTF-8 (with or without the BOM spreadsheets add), else GB18030 (Chinese Excel)."""
    if len(data) > MAX_BYTES:
        raise ValidationError(
            _("The file is larger than %(n)d MB.", n=MAX_BYTES // (1024 * 1024)),
            details={"field": "file"},
        )
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValidationError(_("The file is not UTF-8 text."), details={"field": "file"})


def _date(value: str, row: PlannedRow, column: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        row.errors.append(_("%(column)s: use the form YYYY-MM-DD.", column=column))
        return None


def plan_import(db: Session, text: str, *, scope: frozenset[int] | None) -> ImportPlan:
    """Check every row; nothing is written. ``scope``: the importer's department scope."""
    plan = ImportPlan()
    if len(text) > MAX_BYTES:
        plan.problems.append(_("The file is larger than %(n)d MB.", n=MAX_BYTES // (1024 * 1024)))
        return plan
    sample = text[:4096]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        plan.problems.append(_("The file is empty."))
        return plan
    except csv.Error:
        plan.problems.append(_("The file is not a CSV file."))
        return plan
    plan.columns = header
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c and c not in COLUMNS]
    if missing:
        plan.problems.append(_("Missing columns: %(columns)s.", columns=", ".join(missing)))
    if unknown:
        plan.problems.append(_("Unknown columns: %(columns)s.", columns=", ".join(unknown)))
    if len(set(header)) != len(header):
        plan.problems.append(_("A column appears twice in the header."))
    if plan.problems:
        return plan

    departments = {d.code: d.id for d in db.scalars(select(Department))}
    areas = {a.code: a.id for a in db.scalars(select(Area))}
    seen_codes: dict[str, int] = {}
    try:
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue
            if len(plan.rows) >= MAX_ROWS:
                plan.problems.append(_("At most %(n)d rows at a time.", n=MAX_ROWS))
                return plan
            row = PlannedRow(line=reader.line_num, raw={})
            if len(record) > len(header):
                row.errors.append(_("More cells than columns."))
            for i, column in enumerate(header):
                row.raw[column] = record[i].strip() if i < len(record) else ""
            _check_row(row, departments, areas, scope)
            code = row.raw.get("employee_code", "")
            if code:
                if code in seen_codes:
                    row.errors.append(
                        _("The employee code is also on line %(line)d.", line=seen_codes[code])
                    )
                else:
                    seen_codes[code] = row.line
            plan.rows.append(row)
    except csv.Error:
        plan.problems.append(_("The file is not a CSV file (line %(line)d).", line=reader.line_num))
        return plan
    if not plan.rows:
        plan.problems.append(_("The file has a header but no employees."))
        return plan
    taken: set[str] = set()
    codes = list(seen_codes)
    for start in range(0, len(codes), 500):
        chunk = codes[start : start + 500]
        taken.update(
            db.scalars(select(Employee.employee_code).where(Employee.employee_code.in_(chunk)))
        )
    for row in plan.rows:
        if row.raw.get("employee_code") in taken:
            row.errors.append(_("An employee with this code exists already."))
    return plan


def _check_row(
    row: PlannedRow,
    departments: dict[str, int],
    areas: dict[str, int],
    scope: frozenset[int] | None,
) -> None:
    raw = row.raw
    values: dict[str, Any] = {
        key: raw.get(key, "")
        for key in (
            "employee_code",
            "given_name",
            "family_name",
            "email",
            "phone",
            "card_number",
            "device_name",
        )
    }
    values["hire_date"] = _date(raw.get("hire_date", ""), row, "hire_date")
    values["date_of_birth"] = _date(raw.get("date_of_birth", ""), row, "date_of_birth")
    if raw.get("locale"):
        values["locale"] = raw["locale"]
    if raw.get("verify_mode"):
        values["verify_mode"] = raw["verify_mode"].lower()
    for key in REQUIRED:
        if not raw.get(key):
            row.errors.append(_("%(column)s is required.", column=key))
    dept_code = raw.get("department", "")
    if dept_code:
        if dept_code not in departments:
            row.errors.append(_("No department with code %(code)s.", code=dept_code))
        elif scope is not None and departments[dept_code] not in scope:
            row.errors.append(_("Department %(code)s is outside your scope.", code=dept_code))
        else:
            values["department_id"] = departments[dept_code]
    elif scope is not None:
        row.errors.append(_("A department is required (your scope is limited)."))
    for area_code in raw.get("areas", "").replace(";", " ").split():
        if area_code not in areas:
            row.errors.append(_("No area with code %(code)s.", code=area_code))
        else:
            row.area_ids.append(areas[area_code])
    if not row.errors:
        try:
            row.values = services.validate_values(values)
        except AppError as exc:
            row.errors.append(exc.message)


def apply_import(
    db: Session, text: str, *, scope: frozenset[int] | None, actor: Actor
) -> list[Employee]:
    """Create every employee of the file, or none: any invalid row raises ValidationError
    before the first write."""
    plan = plan_import(db, text, scope=scope)
    if not plan.valid:
        raise ValidationError(
            _("The file has errors; nothing was imported."),
            details={"invalid_rows": plan.invalid_rows, "problems": len(plan.problems)},
        )
    created = [
        services.create_employee(db, dict(row.values), area_ids=row.area_ids, actor=actor)
        for row in plan.rows
    ]
    record_event(
        db,
        "employee.imported",
        actor=actor,
        object_type="employee_import",
        details={"created": len(created)},
    )
    return created
