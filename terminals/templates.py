# SPDX-License-Identifier: GPL-2.0-or-later
"""Templates read from a terminal go through the consent gate, here and nowhere else (#5).

Used by the sync (templates enrolled at the terminal), reconciliation and remote enrolment.
Admitted: sealed into the vault and queued to the employee's other terminals. Refused
(no consent, superseded notice, minor without guardian, an unknown person): not stored, an
audit event without the template, and per the organization's setting a delete queued for
that terminal. With biometrics switched off Rollcall does not process templates at all.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from biometrics.keys import KeyEncryptionKey
from server.audit.services import Actor, record_event
from server.devices.distribution import put_everywhere, queue_command
from server.devices.models import CommandKind, Terminal
from server.employees.models import Employee
from server.enrolment.services import admit_template, open_templates
from server.organization.models import OrganizationSettings
from terminals.base import DeviceTemplate, DeviceUser
from terminals.sync import PinResolver

# ZKFinger 10 is what the protocol's fingerprint tables carry (``~ZKFPVersion=10``).
DEFAULT_FP_VERSION = 10


@dataclass
class TemplateCounts:
    read: int = 0
    stored: int = 0
    unchanged: int = 0
    refused: int = 0
    deletes_queued: int = 0
    distributed_to: set[int] = field(default_factory=set)  # employee ids


def biometrics_enabled(db: Session) -> bool:
    org = db.get(OrganizationSettings, 1)
    return bool(org and org.biometrics_enabled)


def absorb_templates(
    db: Session,
    terminal: Terminal,
    users: Sequence[DeviceUser],
    templates: Sequence[DeviceTemplate],
    *,
    kek: KeyEncryptionKey,
    actor: Actor,
    now: datetime,
    fp_version: int = DEFAULT_FP_VERSION,
) -> TemplateCounts:
    """Pass every template read from ``terminal`` through the gate (flushes, no commit)."""
    counts = TemplateCounts(read=len(templates))
    if not templates or not biometrics_enabled(db):
        return counts
    org = db.get(OrganizationSettings, 1)
    delete_refused = org is not None and org.consent_refusal_action == "delete"
    by_uid = {u.uid: u for u in users}
    resolver = PinResolver(db, terminal, now)
    resolver.load((u.pin for u in users), {u.pin: u.name for u in users})
    changed: set[int] = set()
    resolved = []
    for t in templates:
        user = by_uid.get(t.uid)
        pin = user.pin if user is not None else None
        resolved.append((t, pin, resolver.employee_at(pin, now) if pin is not None else None))
    # What the vault holds for these people, decrypted once for the whole read: most of
    # what a terminal sends back is what Rollcall put there.
    held = {
        (employee_id, o.index): o.template
        for employee_id, opened in open_templates(
            db, {e for _, _, e in resolved if e is not None}, kek=kek
        ).items()
        for o in opened
        if o.kind == "finger"
    }
    for t, pin, employee_id in resolved:
        if employee_id is None:
            counts.refused += 1
            record_event(
                db,
                "biometric.refused",
                actor=actor,
                object_type="terminal",
                object_id=terminal.id,
                details={
                    "reason": "unknown_person",
                    "kind": "finger",
                    "index": t.finger_index,
                    "terminal": terminal.serial_number,
                },
            )
        elif hmac.compare_digest(held.get((employee_id, t.finger_index), b""), t.template):
            counts.unchanged += 1
            continue
        else:
            admission = admit_template(
                db,
                employee_id=employee_id,
                kind="finger",
                index=t.finger_index,
                format_version=fp_version,
                template=t.template,
                source_terminal_serial=terminal.serial_number,
                kek=kek,
                actor=actor,
                on=now.date(),
                flag=t.flag,
            )
            if admission.admitted:
                counts.stored += 1
                changed.add(employee_id)
                continue
            counts.refused += 1
        if delete_refused and pin is not None and 0 <= t.finger_index < 10:
            queue_command(
                db,
                terminal,
                CommandKind.DELETE_TEMPLATES,
                cause="consent_refused",
                employee_id=employee_id,
                pin=pin,
                finger=t.finger_index,
            )
            counts.deletes_queued += 1
    # Enrol once, use everywhere: the new template goes to the employee's other terminals.
    for employee_id in sorted(changed):
        employee = db.get(Employee, employee_id)
        if employee is not None and put_everywhere(db, employee, cause="template_enrolled"):
            counts.distributed_to.add(employee_id)
    return counts
