# SPDX-License-Identifier: GPL-2.0-or-later
"""The personal-data inventory covers every column (C8)."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table

from server.inventory import (
    EXTERNAL_STORES,
    Category,
    Erasure,
    PersonalData,
    inventory_problems,
    not_personal,
    pd,
)
from server.models import Base


def test_every_column_of_every_table_declares_its_personal_data() -> None:
    assert inventory_problems(Base.metadata) == []
    # and there is something to check: every table of the domain model is there
    assert {
        "employees",
        "departments",
        "areas",
        "terminals",
        "pin_mappings",
        "punches",
        "biometric_templates",
        "data_keys",
        "consents",
        "biometric_notices",
        "sync_runs",
        "audit_events",
        "accounts",
        "organization_settings",
    } <= set(Base.metadata.tables)


def test_a_new_column_without_a_declaration_is_reported() -> None:
    metadata = MetaData()
    Table(
        "widgets",
        metadata,
        Column("id", Integer, primary_key=True, info=not_personal()),
        Column("owner_name", String(50)),
    )
    assert inventory_problems(metadata) == [
        "widgets.owner_name: no personal-data declaration (info=pd(...))"
    ]


def test_inconsistent_declarations_are_reported() -> None:
    metadata = MetaData()
    Table(
        "things",
        metadata,
        Column("id", Integer, primary_key=True, info=not_personal()),
        Column(
            "finger",
            String,
            info=pd(
                Category.BIOMETRIC,
                subject="link:employee_id",
                retention="record+1y",
                erasure=Erasure.ANONYMIZE,
            ),
        ),
        Column(
            "note",
            String,
            info=pd(Category.IDENTITY, subject="none", retention="forever", erasure=Erasure.DELETE),
        ),
    )
    problems = inventory_problems(metadata)
    assert "things.finger: biometric data can only be deleted on erasure" in problems
    assert "things.finger: links to missing column 'employee_id'" in problems
    assert "things.note: personal data must say which subject it belongs to" in problems
    assert any(p.startswith("things.note: retention 'forever'") for p in problems)


def test_biometric_templates_sit_apart_from_identity_data() -> None:
    # C19: the template table carries the employee key and nothing that names a person.
    table = Base.metadata.tables["biometric_templates"]
    identity = [
        c.name
        for c in table.columns
        if c.info["pd"].category in (Category.IDENTITY, Category.CONTACT)
    ]
    assert identity == []
    assert not {"name", "given_name", "family_name", "employee_code", "pin"} & set(
        table.columns.keys()
    )
    assert all(
        c.info["pd"].erasure is Erasure.DELETE
        for c in table.columns
        if c.info["pd"].category is Category.BIOMETRIC
    )


def test_every_personal_column_of_a_linked_table_reaches_an_employee() -> None:
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            decl: PersonalData = column.info["pd"]
            link = decl.link_column
            if link is None:
                continue
            fks = {fk.column.table.name for fk in table.columns[link].foreign_keys}
            assert fks == {"employees"}, f"{table.name}.{column.name} links via {link}"


def test_stores_outside_the_database_are_declared() -> None:
    names = {store.name for store in EXTERNAL_STORES}
    assert {"key-encryption key", "terminal memory", "exports", "application log"} <= names
    for store in EXTERNAL_STORES:
        assert PersonalData(store.category, "self", store.retention, store.erasure).problems() == []
