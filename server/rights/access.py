# SPDX-License-Identifier: GPL-2.0-or-later
"""The access package (GDPR 15 and 20, PIPL 45; C12), built from the personal-data inventory.

Every table whose columns declare a link to an employee contributes that employee's rows, so
a column added tomorrow appears in tomorrow's packages without anyone remembering it. What
never leaves: binary columns (template ciphertexts, wrapped keys, sealed secrets) and
credential hashes; biometric data is described by its metadata only.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import LargeBinary, Table, select
from sqlalchemy.orm import Session

from server.audit.services import Actor, record_event
from server.db import Base, utcnow
from server.employees.models import Employee
from server.errors import NotFoundError
from server.inventory import Category, declaration
from server.rights.catalog import AUTOMATED_DECISIONS, NOTICES, RECIPIENTS


def exportable(column: Any) -> bool:
    """Whether a column of a row about the employee goes into their package.

    Non-personal columns of such rows go too (when, which action, which terminal): they are
    the context that makes the personal ones readable. Never: binary columns (ciphertexts,
    wrapped keys, sealed secrets) and hashes (passwords, the log's chain).
    """
    if declaration(column) is None or isinstance(column.type, LargeBinary):
        return False
    return not column.name.endswith("hash")


def subject_filter(table: Table) -> str | None:
    """The column of ``table`` that names the employee a row is about, from the inventory."""
    for column in table.columns:
        decl = declaration(column)
        if decl is None:
            continue
        if decl.subject == "self":
            return str(table.primary_key.columns.keys()[0])
        if decl.link_column:
            return decl.link_column
    return None


def _category(column: Any) -> Category:
    decl = declaration(column)
    return Category.NONE if decl is None else decl.category


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


@dataclass
class AccessPackage:
    employee_id: int
    generated_at: dt.datetime
    locale: str
    # table -> rows of {column: value}
    data: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # table -> {column: category}
    categories: dict[str, dict[str, str]] = field(default_factory=dict)

    def categories_present(self) -> set[Category]:
        found = {Category(c) for cols in self.categories.values() for c in cols.values()}
        return found - {Category.NONE}

    def to_json(self) -> bytes:
        body = {
            "employee_id": self.employee_id,
            "generated_at": self.generated_at.isoformat(),
            "data": self.data,
            "categories": self.categories,
            "about_your_data": {
                c.value: {
                    "purpose": NOTICES[c].purpose,
                    "legal_basis": NOTICES[c].legal_basis,
                    "source": NOTICES[c].source,
                    "retention": NOTICES[c].retention,
                }
                for c in sorted(self.categories_present())
            },
            "recipients": RECIPIENTS,
            "automated_decisions": AUTOMATED_DECISIONS,
        }
        return json.dumps(body, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")

    def csv_files(self) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        for table, rows in self.data.items():
            if not rows:
                continue
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
            out[f"{table}.csv"] = buffer.getvalue().encode("utf-8")
        return out

    def to_html(self) -> bytes:
        t = _TEXT.get(self.locale, _TEXT["en"])
        parts = [
            "<!doctype html><html><head><meta charset='utf-8'>",
            f"<title>{html.escape(t['title'])}</title></head><body>",
            f"<h1>{html.escape(t['title'])}</h1>",
            f"<p>{html.escape(t['generated'])} {self.generated_at:%Y-%m-%d %H:%M} UTC</p>",
            f"<h2>{html.escape(t['about'])}</h2><table border='1' cellpadding='4'>",
            "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in t["columns"]) + "</tr>",
        ]
        for c in sorted(self.categories_present()):
            n = NOTICES[c]
            cells = (c.value, n.purpose, n.legal_basis, n.source, n.retention)
            parts.append("<tr>" + "".join(f"<td>{html.escape(x)}</td>" for x in cells) + "</tr>")
        parts.append("</table>")
        parts.append(f"<p>{html.escape(RECIPIENTS)}</p><p>{html.escape(AUTOMATED_DECISIONS)}</p>")
        for table, rows in self.data.items():
            parts.append(f"<h2>{html.escape(table)} ({len(rows)})</h2>")
            if not rows:
                continue
            parts.append("<table border='1' cellpadding='4'><tr>")
            parts.extend(f"<th>{html.escape(k)}</th>" for k in rows[0])
            parts.append("</tr>")
            for row in rows:
                parts.append(
                    "<tr>"
                    + "".join(
                        f"<td>{html.escape('' if v is None else str(v))}</td>" for v in row.values()
                    )
                    + "</tr>"
                )
            parts.append("</table>")
        parts.append("</body></html>")
        return "".join(parts).encode("utf-8")

    def to_zip(self) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("data.json", self.to_json())
            archive.writestr("index.html", self.to_html())
            for name, content in self.csv_files().items():
                archive.writestr(f"csv/{name}", content)
        return buffer.getvalue()


_TEXT: dict[str, dict[str, Any]] = {
    "en": {
        "title": "Your personal data held by your employer in Rollcall",
        "generated": "Produced on",
        "about": "What we hold, why, on what basis, from where, and for how long",
        "columns": ("Category", "Purpose", "Legal basis", "Source", "Retention"),
    },
    "zh_CN": {
        "title": "您的雇主在 Rollcall 中保存的您的个人信息",
        "generated": "生成时间",
        "about": "我们保存哪些信息、目的、依据、来源及保存期限",
        "columns": ("类别", "目的", "法律依据", "来源", "保存期限"),
    },
}


def build_access_package(
    db: Session, employee_id: int, *, actor: Actor, locale: str | None = None
) -> AccessPackage:
    """Every inventory-declared piece of data about the employee; the read is audited."""
    employee = db.get(Employee, employee_id)
    if employee is None:
        raise NotFoundError(f"no employee {employee_id}")
    package = AccessPackage(employee_id, utcnow(), locale or employee.locale or "en")
    for table in Base.metadata.sorted_tables:
        key = subject_filter(table)
        if key is None:
            continue
        columns = [c for c in table.columns if exportable(c)]
        if not columns:
            continue
        order = list(table.primary_key.columns) or columns[:1]
        rows = db.execute(
            select(*columns).where(table.c[key] == employee_id).order_by(*order)
        ).mappings()
        package.data[table.name] = [{k: _plain(v) for k, v in row.items()} for row in rows]
        package.categories[table.name] = {c.name: _category(c).value for c in columns}
    record_event(
        db,
        "rights.access_package_built",
        actor=actor,
        object_type="employee",
        object_id=employee_id,
        subject_employee_id=employee_id,
        details={"tables": len(package.data), "rows": sum(len(r) for r in package.data.values())},
    )
    return package
