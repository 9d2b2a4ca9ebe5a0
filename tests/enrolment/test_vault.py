# SPDX-License-Identifier: GPL-2.0-or-later
"""The database vault: sealing, reading, shredding, the gate's server side, withdrawal,
and key rotation over the database (issue #5, C18, C19, C2)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from biometrics.errors import KeyMismatchError, TemplateIntegrityError
from biometrics.gate import RefusalReason
from biometrics.keys import KeyEncryptionKey
from biometrics.rotation import rotate_kek
from server import migrate
from server.audit.models import AuditEvent
from server.db import make_engine, utcnow
from server.enrolment import services
from server.enrolment.models import BiometricTemplate, DataKey
from server.errors import NotFoundError
from tests.conftest import is_postgres
from tests.enrolment.helpers import ACTOR, consent, employee, no_commit, ready_organization

CANARY = b"CANARY-TEMPLATE-7f3a9c1e-" * 20


@pytest.fixture
def kek() -> KeyEncryptionKey:
    return KeyEncryptionKey.generate()


def store(db: Session, employee_id: int, kek: KeyEncryptionKey, **values: object) -> None:
    args: dict[str, object] = {
        "kind": "finger",
        "index": 0,
        "format_version": 10,
        "template": CANARY,
        "source_terminal_serial": "SIM0001",
    }
    args.update(values)
    services.store_template(db, employee_id=employee_id, kek=kek, actor=ACTOR, **args)  # type: ignore[arg-type]  # test helper forwards keyword arguments


def test_a_stored_template_reads_back_and_the_slot_is_replaced_not_duplicated(
    db: Session, kek: KeyEncryptionKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = no_commit(db, monkeypatch)
    e = employee(db, "V1")
    store(db, e.id, kek)
    store(db, e.id, kek, template=b"second")
    store(db, e.id, kek, kind="face", index=0, format_version=7)
    opened = services.read_template(
        db, employee_id=e.id, kind="finger", index=0, kek=kek, actor=ACTOR, purpose="push"
    )
    assert opened.template == b"second"
    assert [
        t.kind for t in services.read_templates(db, e.id, kek=kek, actor=ACTOR, purpose="push")
    ] == ["face", "finger"]
    summary = services.template_summary(db, e.id)
    assert (summary.count, summary.kinds, summary.has_data_key) == (
        2,
        {"face": 1, "finger": 1},
        True,
    )
    assert db.scalars(select(DataKey).where(DataKey.employee_id == e.id)).one().kek_id == kek.key_id
    assert "biometric.read" in db.scalars(select(AuditEvent.action)).all()


def test_template_bytes_never_show_in_a_log_a_repr_an_audit_event_or_an_error(
    db: Session, kek: KeyEncryptionKey, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    e = employee(db, "V2")
    store(db, e.id, kek)
    row = db.scalars(select(BiometricTemplate)).one()
    opened = services.read_template(
        db, employee_id=e.id, kind="finger", index=0, kek=kek, actor=ACTOR, purpose="push"
    )
    row.ciphertext = row.ciphertext[:-1] + bytes([row.ciphertext[-1] ^ 1])
    with pytest.raises(TemplateIntegrityError) as caught:
        services.read_template(
            db, employee_id=e.id, kind="finger", index=0, kek=kek, actor=ACTOR, purpose="push"
        )
    texts = [repr(row), repr(opened), str(caught.value), repr(caught.value), caplog.text]
    texts += [repr(ev.details) for ev in db.scalars(select(AuditEvent))]
    canary = CANARY[:20].decode()
    assert not any(canary in text for text in texts)
    assert not any(CANARY.hex()[:40] in text for text in texts)


def test_template_bytes_never_reach_the_database_file(
    fresh_database: Callable[[], str], database_url: str, kek: KeyEncryptionKey
) -> None:
    if is_postgres(database_url):
        pytest.skip("reads the SQLite database and WAL files; PostgreSQL keeps its own files")
    url = fresh_database()
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        with sessionmaker(engine).begin() as db:
            e = employee(db, "V3")
            store(db, e.id, kek)
        path = Path(url.removeprefix("sqlite:///"))
        data = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
        assert b"CANARY-TEMPLATE" not in data
        assert b"V3" in data  # the employee row did reach the files
    finally:
        engine.dispose()


def test_ciphertext_swapped_between_employees_does_not_open(
    db: Session, kek: KeyEncryptionKey
) -> None:
    a, b = employee(db, "V4"), employee(db, "V5")
    store(db, a.id, kek, template=b"alice")
    store(db, b.id, kek, template=b"bob")
    rows = {r.employee_id: r for r in db.scalars(select(BiometricTemplate))}
    rows[a.id].ciphertext, rows[b.id].ciphertext = rows[b.id].ciphertext, rows[a.id].ciphertext
    db.flush()
    for who in (a, b):
        with pytest.raises(TemplateIntegrityError):
            services.read_template(
                db, employee_id=who.id, kind="finger", index=0, kek=kek, actor=ACTOR, purpose="t"
            )


def test_deleting_templates_shreds_the_data_key(
    db: Session, kek: KeyEncryptionKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = no_commit(db, monkeypatch)
    e = employee(db, "V6")
    store(db, e.id, kek)
    store(db, e.id, kek, index=1)
    assert services.delete_templates(db, e.id, actor=ACTOR) == 2
    assert db.get(DataKey, e.id) is None
    assert services.template_summary(db, e.id).count == 0
    with pytest.raises(NotFoundError):
        services.read_template(
            db, employee_id=e.id, kind="finger", index=0, kek=kek, actor=ACTOR, purpose="t"
        )


def test_the_gate_admits_with_consent_and_refuses_without_storing_anything(
    db: Session, kek: KeyEncryptionKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = no_commit(db, monkeypatch)
    notice = ready_organization(db)
    e = employee(db, "V7")
    args = {
        "kind": "finger",
        "index": 2,
        "format_version": 10,
        "template": CANARY,
        "source_terminal_serial": "SIM0001",
    }
    refused = services.admit_template(db, employee_id=e.id, kek=kek, actor=ACTOR, **args)  # type: ignore[arg-type]  # same keyword arguments as above
    assert refused.reason is RefusalReason.NO_CONSENT
    assert services.template_summary(db, e.id).count == 0
    assert db.get(DataKey, e.id) is None
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "biometric.refused")).one()
    assert event.details["reason"] == "no_consent"
    consent(db, e, notice)
    admitted = services.admit_template(db, employee_id=e.id, kek=kek, actor=ACTOR, **args)  # type: ignore[arg-type]  # same keyword arguments as above
    assert admitted.admitted
    assert services.template_summary(db, e.id).count == 1


def test_withdrawal_switches_to_card_or_pin_and_shreds_templates(
    db: Session, kek: KeyEncryptionKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = no_commit(db, monkeypatch)
    notice = ready_organization(db)
    with_card = employee(db, "W1", card_number="123456", verify_mode="fingerprint")
    without = employee(db, "W2", verify_mode="fingerprint")
    for e in (with_card, without):
        consent(db, e, notice)
        store(db, e.id, kek)
    results = [
        services.withdraw_biometric_consent(
            db, e.id, withdrawn_at=utcnow(), method="e_signature", evidence_ref="sig-9", actor=ACTOR
        )
        for e in (with_card, without)
    ]
    assert [r.verify_mode for r in results] == ["card", "pin"]
    assert [(r.consents_withdrawn, r.templates_deleted) for r in results] == [(1, 1), (1, 1)]
    assert (with_card.verify_mode, without.verify_mode) == ("card", "pin")
    assert db.scalars(select(DataKey)).all() == []
    assert db.scalars(select(BiometricTemplate)).all() == []
    done = set(db.scalars(select(AuditEvent.action)))
    assert {"consent.withdrawn", "employee.verify_mode_changed", "biometric.deleted"} <= done
    status = services.admit_template(
        db,
        employee_id=with_card.id,
        kind="finger",
        index=0,
        format_version=10,
        template=CANARY,
        source_terminal_serial=None,
        kek=kek,
        actor=ACTOR,
        on=date.today(),
    )
    assert status.reason is RefusalReason.WITHDRAWN


def test_rotation_over_the_database_resumes_and_keeps_every_template_readable(
    db: Session, kek: KeyEncryptionKey
) -> None:
    people = [employee(db, f"R{i}") for i in range(5)]
    for e in people:
        store(db, e.id, kek, template=f"t{e.id}".encode())
    new = KeyEncryptionKey.generate()
    store_ = services.DbDekStore(db)
    calls = 0
    real = store_.checkpoint

    def interrupted() -> None:
        nonlocal calls
        calls += 1
        real()
        if calls == 1:
            raise KeyboardInterrupt

    store_.checkpoint = interrupted  # type: ignore[method-assign]  # simulate Ctrl-C after one batch
    with pytest.raises(KeyboardInterrupt):
        rotate_kek(store_, old=kek, new=new, batch=2)
    assert store_.count_wrapped(new.key_id) == 2
    report = rotate_kek(services.DbDekStore(db), old=kek, new=new, batch=2)
    assert report.complete
    assert (report.rewrapped, report.already_under_new) == (3, 2)
    for e in people:
        opened = services.read_template(
            db, employee_id=e.id, kind="finger", index=0, kek=new, actor=ACTOR, purpose="t"
        )
        assert opened.template == f"t{e.id}".encode()
        with pytest.raises(KeyMismatchError):
            services.read_template(
                db, employee_id=e.id, kind="finger", index=0, kek=kek, actor=ACTOR, purpose="t"
            )


def test_the_compare_and_swap_leaves_a_changed_key_alone(
    db: Session, kek: KeyEncryptionKey
) -> None:
    e = employee(db, "R9")
    store(db, e.id, kek)
    dek_store = services.DbDekStore(db)
    [(eid, wrapped)] = dek_store.iter_wrapped(kek.key_id, batch=10, after=None)
    db.execute(update(DataKey).where(DataKey.employee_id == eid).values(wrapped_key=b"x" * 61))
    assert not dek_store.replace(eid, wrapped, wrapped)
