# SPDX-License-Identifier: GPL-2.0-or-later
"""The biometric vault over the database, and the consent gate's server side (issue #5).

Templates are sealed under the employee's data key (DEK) before they reach the session; the
DEK is stored only wrapped by the instance key-encryption key (KEK), which never enters the
database. Deleting the wrapped DEK makes every copy of the templates unreadable (crypto-
shredding). Services flush and audit; the caller commits. Nothing here logs or audits
template bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import gettext as _
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from biometrics.crypto import (
    DataEncryptionKey,
    TemplateKind,
    WrappedKey,
    generate_dek,
    open_template,
    seal_template,
    unwrap_dek,
    wrap_dek,
)
from biometrics.gate import Admission, check_admission
from biometrics.keys import KeyEncryptionKey
from server.audit.services import Actor, record_event
from server.db import rowcount, utcnow
from server.employees.models import Employee, VerifyMode
from server.enrolment.models import BiometricTemplate, DataKey
from server.errors import NotFoundError, ValidationError
from server.privacy.services import DbConsentReader, withdraw_consent

MAX_TEMPLATE_BYTES = 64 * 1024  # a ZK face template is ~2 KB, a finger ~1.5 KB


def _kind(kind: str) -> TemplateKind:
    try:
        return TemplateKind(kind)
    except ValueError:
        raise ValidationError(_("Unknown template kind.")) from None


def _format_version(value: int | str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationError(_("The template format version must be a number.")) from None
    if not 0 <= number < 2**32:
        raise ValidationError(_("The template format version is out of range."))
    return number


def _employee(db: Session, employee_id: int) -> Employee:
    employee = db.get(Employee, employee_id)
    if employee is None:
        raise NotFoundError(_("No such employee."))
    return employee


def _dek(
    db: Session, employee_id: int, kek: KeyEncryptionKey, *, create: bool
) -> DataEncryptionKey:
    row = db.get(DataKey, employee_id)
    if row is not None:
        return unwrap_dek(
            WrappedKey(kek_id=row.kek_id, blob=row.wrapped_key), employee_id=employee_id, kek=kek
        )
    if not create:
        raise NotFoundError(_("No biometric data is stored for this employee."))
    dek = generate_dek()
    wrapped = wrap_dek(dek, employee_id=employee_id, kek=kek)
    db.add(DataKey(employee_id=employee_id, kek_id=wrapped.kek_id, wrapped_key=wrapped.blob))
    db.flush()
    return dek


def store_template(
    db: Session,
    *,
    employee_id: int,
    kind: str,
    index: int,
    format_version: int | str,
    template: bytes,
    source_terminal_serial: str | None,
    kek: KeyEncryptionKey,
    actor: Actor,
    flag: int = 1,
) -> BiometricTemplate:
    """Seal and store one template, replacing the one in the same (kind, index) slot.

    Creates the employee's DEK on first use. Callers that take templates from terminals go
    through :func:`admit_template`, which checks consent first.
    """
    kind_ = _kind(kind)
    version = _format_version(format_version)
    if type(index) is not int or not 0 <= index < 16:
        raise ValidationError(_("The template index must be from 0 to 15."))
    if not isinstance(template, bytes) or not 0 < len(template) <= MAX_TEMPLATE_BYTES:
        raise ValidationError(_("The template is empty or too large."))
    _employee(db, employee_id)
    dek = _dek(db, employee_id, kek, create=True)
    ciphertext = seal_template(
        dek,
        employee_id=employee_id,
        kind=kind_,
        index=index,
        format_version=version,
        plaintext=template,
    )
    row = db.scalars(
        select(BiometricTemplate).where(
            BiometricTemplate.employee_id == employee_id,
            BiometricTemplate.kind == kind_.value,
            BiometricTemplate.template_index == index,
        )
    ).first()
    replaced = row is not None
    if row is None:
        row = BiometricTemplate(employee_id=employee_id, kind=kind_.value, template_index=index)
        db.add(row)
    row.format_version = str(version)
    row.ciphertext = ciphertext
    row.flag = flag
    row.source_terminal_serial = source_terminal_serial
    if replaced:
        row.enrolled_at = utcnow()
    db.flush()
    record_event(
        db,
        "biometric.stored",
        actor=actor,
        object_type="biometric_template",
        object_id=row.id,
        subject_employee_id=employee_id,
        details={
            "kind": kind_.value,
            "index": index,
            "format_version": version,
            "replaced": replaced,
            "terminal": source_terminal_serial,
        },
    )
    return row


@dataclass(frozen=True, slots=True)
class OpenedTemplate:
    """A decrypted template, for pushing to a terminal. The bytes never show in a repr."""

    employee_id: int
    kind: str
    index: int
    format_version: int
    flag: int
    template: bytes = field(repr=False)


def open_templates(
    db: Session, employee_ids: Iterable[int], *, kek: KeyEncryptionKey
) -> dict[int, list[OpenedTemplate]]:
    """Decrypt the templates of several employees in two queries. Not audited: the caller
    records why (``read_templates`` for one employee, the outbox per terminal write)."""
    out: dict[int, list[OpenedTemplate]] = {}
    ids = sorted(set(employee_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = list(
            db.scalars(
                select(BiometricTemplate)
                .where(BiometricTemplate.employee_id.in_(chunk))
                .order_by(
                    BiometricTemplate.employee_id,
                    BiometricTemplate.kind,
                    BiometricTemplate.template_index,
                )
            )
        )
        if not rows:
            continue
        keys = {
            k.employee_id: k
            for k in db.scalars(
                select(DataKey).where(DataKey.employee_id.in_({r.employee_id for r in rows}))
            )
        }
        deks: dict[int, DataEncryptionKey] = {}
        for row in rows:
            eid = row.employee_id
            if eid not in deks:
                key = keys.get(eid)
                if key is None:
                    raise NotFoundError(_("No biometric data is stored for this employee."))
                deks[eid] = unwrap_dek(
                    WrappedKey(kek_id=key.kek_id, blob=key.wrapped_key), employee_id=eid, kek=kek
                )
            out.setdefault(eid, []).append(
                OpenedTemplate(
                    employee_id=eid,
                    kind=row.kind,
                    index=row.template_index,
                    format_version=int(row.format_version),
                    flag=row.flag,
                    template=open_template(
                        deks[eid],
                        employee_id=eid,
                        kind=TemplateKind(row.kind),
                        index=row.template_index,
                        format_version=int(row.format_version),
                        ciphertext=row.ciphertext,
                    ),
                )
            )
    return out


def read_templates(
    db: Session, employee_id: int, *, kek: KeyEncryptionKey, actor: Actor, purpose: str
) -> list[OpenedTemplate]:
    """Decrypt all the employee's templates; the read is audited with its purpose."""
    opened = open_templates(db, [employee_id], kek=kek).get(employee_id, [])
    if not opened:
        return []
    record_event(
        db,
        "biometric.read",
        actor=actor,
        object_type="employee",
        object_id=employee_id,
        subject_employee_id=employee_id,
        details={"templates": len(opened), "purpose": purpose},
    )
    return opened


def read_template(
    db: Session,
    *,
    employee_id: int,
    kind: str,
    index: int,
    kek: KeyEncryptionKey,
    actor: Actor,
    purpose: str,
) -> OpenedTemplate:
    """Decrypt one template (audited); NotFoundError if the slot is empty."""
    kind_ = _kind(kind)
    row = db.scalars(
        select(BiometricTemplate).where(
            BiometricTemplate.employee_id == employee_id,
            BiometricTemplate.kind == kind_.value,
            BiometricTemplate.template_index == index,
        )
    ).first()
    if row is None:
        raise NotFoundError(_("No such template."))
    dek = _dek(db, employee_id, kek, create=False)
    plaintext = open_template(
        dek,
        employee_id=employee_id,
        kind=kind_,
        index=index,
        format_version=int(row.format_version),
        ciphertext=row.ciphertext,
    )
    record_event(
        db,
        "biometric.read",
        actor=actor,
        object_type="biometric_template",
        object_id=row.id,
        subject_employee_id=employee_id,
        details={"kind": kind_.value, "index": index, "purpose": purpose},
    )
    return OpenedTemplate(
        employee_id=employee_id,
        kind=kind_.value,
        index=index,
        format_version=int(row.format_version),
        flag=row.flag,
        template=plaintext,
    )


def delete_templates(db: Session, employee_id: int, *, actor: Actor) -> int:
    """Delete the employee's templates and their data key (crypto-shredding); return count."""
    removed = rowcount(
        db.execute(delete(BiometricTemplate).where(BiometricTemplate.employee_id == employee_id))
    )
    key_removed = rowcount(db.execute(delete(DataKey).where(DataKey.employee_id == employee_id)))
    db.flush()
    db.expire_all()
    record_event(
        db,
        "biometric.deleted",
        actor=actor,
        object_type="employee",
        object_id=employee_id,
        subject_employee_id=employee_id,
        details={"templates": removed, "data_key": bool(key_removed)},
    )
    return removed


@dataclass(frozen=True, slots=True)
class TemplateSummary:
    """What is stored for an employee, without any template content."""

    employee_id: int
    count: int
    kinds: dict[str, int]
    first_enrolled_at: datetime | None
    last_enrolled_at: datetime | None
    has_data_key: bool


def template_summary(db: Session, employee_id: int) -> TemplateSummary:
    """Counts per kind and enrolment dates; never reads the ciphertext."""
    rows = db.execute(
        select(
            BiometricTemplate.kind,
            func.count(),
            func.min(BiometricTemplate.enrolled_at),
            func.max(BiometricTemplate.enrolled_at),
        )
        .where(BiometricTemplate.employee_id == employee_id)
        .group_by(BiometricTemplate.kind)
    ).all()
    kinds = {kind: int(count) for kind, count, _, _ in rows}
    firsts = [first for _, _, first, _ in rows if first is not None]
    lasts = [last for _, _, _, last in rows if last is not None]
    has_key = db.scalar(select(func.count()).where(DataKey.employee_id == employee_id)) or 0
    return TemplateSummary(
        employee_id=employee_id,
        count=sum(kinds.values()),
        kinds=kinds,
        first_enrolled_at=min(firsts) if firsts else None,
        last_enrolled_at=max(lasts) if lasts else None,
        has_data_key=bool(has_key),
    )


def admit_template(
    db: Session,
    *,
    employee_id: int,
    kind: str,
    index: int,
    format_version: int | str,
    template: bytes,
    source_terminal_serial: str | None,
    kek: KeyEncryptionKey,
    actor: Actor,
    on: date | None = None,
    flag: int = 1,
) -> Admission:
    """Pass a template arriving from a terminal through the consent gate.

    Admitted: stored via :func:`store_template`. Refused: nothing is stored, a
    ``biometric.refused`` event records the reason, and the refusal is returned so the caller
    (the sync worker) can queue a delete on that terminal per
    ``OrganizationSettings.consent_refusal_action``.
    """
    _employee(db, employee_id)
    admission = check_admission(employee_id, on=on or utcnow().date(), consents=DbConsentReader(db))
    if admission.admitted:
        store_template(
            db,
            employee_id=employee_id,
            kind=kind,
            index=index,
            format_version=format_version,
            template=template,
            source_terminal_serial=source_terminal_serial,
            kek=kek,
            actor=actor,
            flag=flag,
        )
        return admission
    assert admission.reason is not None  # noqa: S101 -- a refusal always has a reason
    record_event(
        db,
        "biometric.refused",
        actor=actor,
        object_type="employee",
        object_id=employee_id,
        subject_employee_id=employee_id,
        details={
            "reason": admission.reason.value,
            "kind": _kind(kind).value,
            "index": index,
            "terminal": source_terminal_serial,
        },
    )
    return admission


@dataclass(frozen=True, slots=True)
class WithdrawalResult:
    """What the server did on withdrawal; terminal deletes are the outbox's part."""

    employee_id: int
    consents_withdrawn: int
    templates_deleted: int
    verify_mode: str
    # Groups the terminal deletes; see ``distribution.withdrawal_progress``.
    reference: str | None = None
    terminal_deletions: int = 0


def withdraw_biometric_consent(
    db: Session,
    employee_id: int,
    *,
    withdrawn_at: datetime,
    method: str,
    evidence_ref: str | None,
    actor: Actor,
) -> WithdrawalResult:
    """Record the withdrawal, switch the employee to card (or PIN) and shred their templates.

    No detriment (C2): the employee keeps clocking in with a card, or a PIN without one.
    A delete of their templates is queued for every terminal in the same transaction.
    """
    employee = _employee(db, employee_id)
    withdrawn = withdraw_consent(
        db,
        employee_id=employee_id,
        withdrawn_at=withdrawn_at,
        method=method,
        evidence_ref=evidence_ref,
        actor=actor,
    )
    old_mode = employee.verify_mode
    employee.verify_mode = VerifyMode.CARD.value if employee.card_number else VerifyMode.PIN.value
    db.flush()
    record_event(
        db,
        "employee.verify_mode_changed",
        actor=actor,
        object_type="employee",
        object_id=employee_id,
        subject_employee_id=employee_id,
        details={"from": str(old_mode), "to": employee.verify_mode, "cause": "withdrawal"},
    )
    deleted = delete_templates(db, employee_id, actor=actor)
    # The same transaction queues the delete on every terminal; the withdrawal stays open
    # (``terminals_cleared_at`` empty) until each of them has confirmed it.
    from server.devices.distribution import queue_template_deletion, withdrawal_reference

    reference = withdrawal_reference(withdrawn[0].id) if withdrawn else None
    commands = queue_template_deletion(db, employee, cause="withdrawal", reference=reference)
    if not commands:
        for consent in withdrawn:
            consent.terminals_cleared_at = utcnow()
    db.flush()
    return WithdrawalResult(
        employee_id=employee_id,
        consents_withdrawn=len(withdrawn),
        templates_deleted=deleted,
        verify_mode=employee.verify_mode,
        reference=reference,
        terminal_deletions=len(commands),
    )


# --------------------------------------------------------------------------- key rotation


class DbDekStore:
    """:class:`biometrics.ports.DekStore` over a session; ``checkpoint`` commits it."""

    def __init__(self, db: Session) -> None:
        self._db = db

    def iter_wrapped(
        self, kek_id: str, *, batch: int, after: int | None
    ) -> Sequence[tuple[int, WrappedKey]]:
        query = select(DataKey.employee_id, DataKey.kek_id, DataKey.wrapped_key).where(
            DataKey.kek_id == kek_id
        )
        if after is not None:
            query = query.where(DataKey.employee_id > after)
        rows = self._db.execute(query.order_by(DataKey.employee_id).limit(batch)).all()
        return [(eid, WrappedKey(kek_id=kid, blob=blob)) for eid, kid, blob in rows]

    def replace(self, employee_id: int, old: WrappedKey, new: WrappedKey) -> bool:
        result = self._db.execute(
            update(DataKey)
            .where(
                DataKey.employee_id == employee_id,
                DataKey.kek_id == old.kek_id,
                DataKey.wrapped_key == old.blob,
            )
            .values(kek_id=new.kek_id, wrapped_key=new.blob)
            .execution_options(synchronize_session=False)
        )
        return rowcount(result) == 1

    def count_wrapped(self, kek_id: str) -> int:
        return int(self._db.scalar(select(func.count()).where(DataKey.kek_id == kek_id)) or 0)

    def checkpoint(self) -> None:
        self._db.commit()
