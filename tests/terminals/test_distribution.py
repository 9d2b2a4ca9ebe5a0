# SPDX-License-Identifier: GPL-2.0-or-later
"""Distribution through the command outbox, against simulated terminals (issue #5).

Enrol once, use on every terminal of the area; moves, withdrawal with a terminal offline,
the consent gate on templates enrolled at a terminal, reconciliation and remote enrolment.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from biometrics.keys import KeyEncryptionKey
from server.audit.models import AuditEvent
from server.audit.services import verify_chain
from server.db import utcnow
from server.devices import distribution
from server.devices.models import CommandKind, CommandState, Terminal, TerminalCommand
from server.employees.models import Employee
from server.enrolment import services as vault
from server.enrolment.models import BiometricTemplate
from server.errors import ValidationError
from server.organization.models import Area
from server.privacy.models import Consent
from terminals.base import Endpoint
from terminals.outbox import run_commands
from terminals.simulator.codec import Template
from terminals.simulator.server import SimulatedTerminal
from terminals.sync import sync_terminal
from terminals.zk.client import ZkClient
from tests.enrolment.helpers import (
    ACTOR,
    consent,
    employee,
    organization,
    published_notice,
    ready_organization,
)

LEFT = b"\x4d\x98SS21\x00\x00CANARY-LEFT-INDEX-" + bytes(range(200)) + b"\x5a"
RIGHT = b"\x4d\x98SS21\x00\x00CANARY-RIGHT-INDEX-" + bytes(range(180)) + b"\x5a"
STRAY = b"\x4d\x98SS21\x00\x00STRAY-LOCAL-ENROL-" + bytes(range(150)) + b"\x5a"


@pytest.fixture
def kek() -> KeyEncryptionKey:
    return KeyEncryptionKey.generate()


def client(terminal: Terminal) -> ZkClient:
    return ZkClient(Endpoint(host=terminal.host or "", port=terminal.port or 0, timeout_s=3))


def area(db: Session, code: str, parent: Area | None = None) -> Area:
    a = Area(code=code, name=code, parent_id=parent.id if parent else None)
    db.add(a)
    db.flush()
    return a


def drain(db: Session, terminal: Terminal, kek: KeyEncryptionKey, **kwargs: Any) -> Any:
    return run_commands(db, terminal, client(terminal), kek=kek, **kwargs)


def fingers_on(sim: SimulatedTerminal, pin: str) -> dict[int, bytes]:
    user = sim.device.user_by_id(pin)
    if user is None:
        return {}
    return {t.fid: t.template for t in sim.device.templates() if t.uid == user.uid}


def pins_on(sim: SimulatedTerminal) -> set[str]:
    return {u.user_id for u in sim.device.users()}


@pytest.fixture
def site(
    db: Session,
    simulator: Any,
    create_terminal: Callable[..., Terminal],
    kek: KeyEncryptionKey,
) -> dict[str, Any]:
    """Two areas (North with a sub-area Dock, South), three empty terminals: two in North
    (one of them in Dock) and one in South. Ana has consent and two fingers in the vault."""
    notice = ready_organization(db)
    north = area(db, "NORTH")
    dock = area(db, "DOCK", north)
    south = area(db, "SOUTH")
    sims = [simulator.start("tft", empty=True) for _ in range(3)]
    terminals = [create_terminal(sim) for sim in sims]
    for t, a in zip(terminals, (north, dock, south), strict=True):
        distribution.set_terminal_area(db, t.id, a.id, actor=ACTOR)
    ana = employee(db, "1001", card_number="4242")
    consent(db, ana, notice)
    for index, data in ((0, LEFT), (1, RIGHT)):
        vault.store_template(
            db,
            employee_id=ana.id,
            kind="finger",
            index=index,
            format_version=10,
            template=data,
            source_terminal_serial=None,
            kek=kek,
            actor=ACTOR,
        )
    ben = employee(db, "1002")
    db.commit()
    for t in terminals:
        drain(db, t, kek)  # the placement reconciles each (empty) terminal
    return {
        "notice": notice,
        "areas": (north, dock, south),
        "sims": sims,
        "terminals": terminals,
        "ana": ana,
        "ben": ben,
    }


def in_north(db: Session, site: dict[str, Any], kek: KeyEncryptionKey) -> None:
    """Ana joins the North area and every terminal's outbox is run."""
    distribution.set_employee_areas(db, site["ana"].id, [site["areas"][0].id], actor=ACTOR)
    db.commit()
    for t in site["terminals"]:
        drain(db, t, kek)


def test_an_employee_goes_to_every_terminal_of_their_area_with_their_templates(
    db: Session, site: dict[str, Any], kek: KeyEncryptionKey
) -> None:
    north, _dock, south = site["areas"]
    sims, terminals, ana, ben = site["sims"], site["terminals"], site["ana"], site["ben"]
    puts, deletes = distribution.set_employee_areas(db, ana.id, [north.id], actor=ACTOR)
    distribution.set_employee_areas(db, ben.id, [south.id], actor=ACTOR)
    db.commit()
    # North covers its sub-area Dock: two terminals.
    assert sorted(c.terminal_id for c in puts) == sorted(t.id for t in terminals[:2])
    assert deletes == []
    for t in terminals:
        drain(db, t, kek)

    for sim in sims[:2]:
        assert pins_on(sim) == {"1001"}
        assert fingers_on(sim, "1001") == {0: LEFT, 1: RIGHT}
        user = sim.device.user_by_id("1001")
        assert user is not None
        assert user.card == 4242
        assert user.name == "Ana Silva"
    assert pins_on(sims[2]) == {"1002"}
    assert fingers_on(sims[2], "1002") == {}  # Ben has no consent and no templates

    states = db.scalars(select(TerminalCommand.state)).all()
    assert set(states) == {CommandState.DONE.value}
    audit = db.scalars(
        select(AuditEvent.action).where(AuditEvent.subject_employee_id == ana.id)
    ).all()
    assert audit.count("biometric.distributed") == 2
    assert verify_chain(db).ok


def test_moving_between_areas_removes_the_person_where_they_left_and_adds_them_where_they_go(
    db: Session, site: dict[str, Any], kek: KeyEncryptionKey
) -> None:
    south = site["areas"][2]
    sims, terminals, ana = site["sims"], site["terminals"], site["ana"]
    in_north(db, site, kek)
    assert "1001" in pins_on(sims[0])
    assert "1001" in pins_on(sims[1])

    puts, deletes = distribution.set_employee_areas(db, ana.id, [south.id], actor=ACTOR)
    db.commit()
    assert [c.terminal_id for c in puts] == [terminals[2].id]
    assert sorted(c.terminal_id for c in deletes) == sorted(t.id for t in terminals[:2])
    for t in terminals:
        drain(db, t, kek)
    assert "1001" not in pins_on(sims[0])
    assert "1001" not in pins_on(sims[1])
    assert not any(t.template in (LEFT, RIGHT) for s in sims[:2] for t in s.device.templates())
    assert fingers_on(sims[2], "1001") == {0: LEFT, 1: RIGHT}

    # Running the outbox again changes nothing on any terminal: every command is idempotent.
    before = [s.device.to_state() for s in sims]
    for t in terminals:
        distribution.queue_command(db, t, CommandKind.RECONCILE, cause="test")
    db.commit()
    for t in terminals:
        drain(db, t, kek)
    assert [s.device.to_state() for s in sims] == before


def test_a_quick_move_back_and_forth_ends_where_it_should(
    db: Session, site: dict[str, Any], kek: KeyEncryptionKey
) -> None:
    north, _dock, south = site["areas"]
    sims, ana = site["sims"], site["ana"]
    # Three changes before the worker runs: the newest wish wins on every terminal.
    distribution.set_employee_areas(db, ana.id, [north.id], actor=ACTOR)
    distribution.set_employee_areas(db, ana.id, [south.id], actor=ACTOR)
    in_north(db, site, kek)
    assert "1001" in pins_on(sims[0])
    assert "1001" in pins_on(sims[1])
    assert "1001" not in pins_on(sims[2])


def test_terminating_removes_the_person_from_every_terminal(
    db: Session, site: dict[str, Any], kek: KeyEncryptionKey
) -> None:
    from server.employees.services import terminate_employee

    sims, terminals, ana = site["sims"], site["terminals"], site["ana"]
    in_north(db, site, kek)
    terminate_employee(db, ana.id, on=date.today(), actor=ACTOR)
    db.commit()
    for t in terminals:
        drain(db, t, kek)
    assert all("1001" not in pins_on(s) for s in sims)
    assert not any(s.device.templates() for s in sims)


def test_withdrawal_with_a_terminal_offline_completes_only_when_it_returns(
    db: Session, site: dict[str, Any], kek: KeyEncryptionKey
) -> None:
    sims, terminals, ana = site["sims"], site["terminals"], site["ana"]
    in_north(db, site, kek)
    assert fingers_on(sims[1], "1001") == {0: LEFT, 1: RIGHT}

    sims[1].stop()  # the Dock terminal is switched off
    result = vault.withdraw_biometric_consent(
        db,
        ana.id,
        withdrawn_at=utcnow(),
        method="signed_paper",
        evidence_ref="scan-9",
        actor=ACTOR,
    )
    db.commit()
    assert result.terminal_deletions == 3  # every binary terminal, not only North's
    assert db.scalars(select(BiometricTemplate)).all() == []  # shredded on the server

    for t in terminals:
        drain(db, t, kek)
    assert fingers_on(sims[0], "1001") == {}
    assert "1001" in pins_on(sims[0])  # still clocks in, by card (no detriment)
    progress = distribution.withdrawal_progress(db, result.reference or "")
    assert not progress.completed
    assert progress.waiting_on == [terminals[1].serial_number]
    consent_row = db.scalars(select(Consent).where(Consent.employee_id == ana.id)).one()
    assert consent_row.terminals_cleared_at is None
    waiting = db.scalars(
        select(TerminalCommand).where(
            TerminalCommand.terminal_id == terminals[1].id,
            TerminalCommand.state == CommandState.PENDING.value,
        )
    ).all()
    assert waiting
    assert waiting[0].attempts == 1
    assert waiting[0].next_attempt_at is not None
    assert "Unreachable" in (waiting[0].last_error or "")

    # Still offline and not yet due: nothing is tried.
    assert drain(db, terminals[1], kek).batches == 0

    sims[1].start()
    later = utcnow() + timedelta(hours=2)
    drain(db, terminals[1], kek, clock=lambda: later)
    assert fingers_on(sims[1], "1001") == {}
    db.refresh(consent_row)
    assert consent_row.terminals_cleared_at is not None
    assert distribution.withdrawal_progress(db, result.reference or "").completed
    actions = db.scalars(select(AuditEvent.action)).all()
    assert "consent.withdrawal_completed" in actions
    assert actions.count("biometric.terminal_deleted") == 3


def test_withdrawal_reaches_a_disabled_terminal_that_held_the_templates(
    db: Session, site: dict[str, Any], kek: KeyEncryptionKey
) -> None:
    sims, terminals, ana = site["sims"], site["terminals"], site["ana"]
    in_north(db, site, kek)
    assert fingers_on(sims[1], "1001") == {0: LEFT, 1: RIGHT}
    terminals[1].enabled = False  # taken out of service, templates still inside
    db.commit()
    result = vault.withdraw_biometric_consent(
        db,
        ana.id,
        withdrawn_at=utcnow(),
        method="signed_paper",
        evidence_ref="scan-10",
        actor=ACTOR,
    )
    db.commit()
    assert result.terminal_deletions == 3  # the disabled one too
    for t in (terminals[0], terminals[2]):
        drain(db, t, kek)
    progress = distribution.withdrawal_progress(db, result.reference or "")
    assert (progress.completed, progress.waiting_on) == (False, [terminals[1].serial_number])
    assert fingers_on(sims[1], "1001") == {0: LEFT, 1: RIGHT}

    terminals[1].enabled = True  # back in service: its delete runs first
    db.commit()
    drain(db, terminals[1], kek)
    assert fingers_on(sims[1], "1001") == {}
    assert distribution.withdrawal_progress(db, result.reference or "").completed
    consent_row = db.scalars(select(Consent).where(Consent.employee_id == ana.id)).one()
    assert consent_row.terminals_cleared_at is not None


@pytest.mark.parametrize("case", ["no_consent", "superseded_notice", "minor_without_guardian"])
def test_a_template_enrolled_at_a_terminal_without_lawful_consent_is_refused_and_deleted(
    db: Session,
    simulator: Any,
    create_terminal: Callable[..., Terminal],
    kek: KeyEncryptionKey,
    case: str,
) -> None:
    notice = ready_organization(db)
    person = employee(db, "2001")
    if case == "superseded_notice":
        consent(db, person, notice)
        published_notice(db, body="A new version of the notice.")
    elif case == "minor_without_guardian":
        person.date_of_birth = date.today().replace(year=date.today().year - 12)
        consent(db, person, notice)
    db.commit()
    sim = simulator.start("tft", empty=True)
    user = sim.device.add_user("2001", "Local Enrol")
    sim.device.save_template(Template(user.uid, 6, 1, STRAY))
    terminal = create_terminal(sim)

    run = sync_terminal(db, terminal, client(terminal), kek=kek)
    assert run.templates_read == 1
    assert db.scalars(select(BiometricTemplate)).all() == []
    refused = db.scalars(select(AuditEvent).where(AuditEvent.action == "biometric.refused")).one()
    assert refused.details["reason"] == case
    assert refused.subject_employee_id == person.id
    command = db.scalars(select(TerminalCommand)).one()
    assert (command.kind, command.finger, command.cause) == (
        "delete_templates",
        6,
        "consent_refused",
    )

    drain(db, terminal, kek)
    assert sim.device.templates() == []
    assert sim.device.user_by_id("2001") is not None  # the person keeps clocking in
    db.refresh(command)
    assert command.state == "done"
    assert command.outcome == {"templates_deleted": 1}


def test_with_report_only_the_refused_template_stays_on_the_terminal(
    db: Session, simulator: Any, create_terminal: Callable[..., Terminal], kek: KeyEncryptionKey
) -> None:
    ready_organization(db)
    organization(db, consent_refusal_action="report")
    employee(db, "2002")
    db.commit()
    sim = simulator.start("tft", empty=True)
    user = sim.device.add_user("2002", "Local")
    sim.device.save_template(Template(user.uid, 2, 1, STRAY))
    terminal = create_terminal(sim)
    sync_terminal(db, terminal, client(terminal), kek=kek)
    assert db.scalars(select(TerminalCommand)).all() == []
    assert len(sim.device.templates()) == 1
    assert db.scalars(select(BiometricTemplate)).all() == []


def test_a_consented_template_enrolled_at_one_terminal_reaches_the_others(
    db: Session, site: dict[str, Any], kek: KeyEncryptionKey
) -> None:
    sims, terminals, ana = site["sims"], site["terminals"], site["ana"]
    in_north(db, site, kek)
    uid = sims[0].device.user_by_id("1001").uid  # type: ignore[union-attr]  # put above
    sims[0].device.save_template(Template(uid, 4, 1, STRAY))  # enrolled at the North terminal

    sync_terminal(db, terminals[0], client(terminals[0]), kek=kek)
    stored = vault.read_template(
        db, employee_id=ana.id, kind="finger", index=4, kek=kek, actor=ACTOR, purpose="test"
    )
    assert stored.template == STRAY
    drain(db, terminals[1], kek)
    assert fingers_on(sims[1], "1001")[4] == STRAY
    # A sync that finds nothing new reads no templates again.
    again = sync_terminal(db, terminals[0], client(terminals[0]), kek=kek)
    assert again.status == "unchanged"
    assert again.templates_read == 0


def test_reconciliation_removes_strays_and_reports_drift(
    db: Session, site: dict[str, Any], kek: KeyEncryptionKey
) -> None:
    north, _dock, _south = site["areas"]
    sims, terminals, ana, ben = site["sims"], site["terminals"], site["ana"], site["ben"]
    distribution.set_employee_areas(db, ana.id, [north.id], actor=ACTOR)
    db.commit()
    drain(db, terminals[0], kek)
    dev = sims[0].device
    # At the terminal's own menu: Ben (an employee of no area here) and a stranger are
    # enrolled with fingers, and Ana's record is renamed.
    b = dev.add_user("1002", "Ben")
    dev.save_template(Template(b.uid, 1, 1, STRAY))
    x = dev.add_user("9999", "Visitor")
    dev.save_template(Template(x.uid, 2, 1, STRAY))
    ana_user = dev.user_by_id("1001")
    assert ana_user is not None
    ana_user.name = "Wrong"
    dev.set_user(ana_user)

    distribution.queue_command(db, terminals[0], CommandKind.RECONCILE, cause="test")
    db.commit()
    drain(db, terminals[0], kek)

    assert pins_on(sims[0]) == {"1001", "9999"}  # Ben removed; the stranger only reported
    assert dev.user_by_id("1001").name == "Ana Silva"  # type: ignore[union-attr]
    assert fingers_on(sims[0], "1001") == {0: LEFT, 1: RIGHT}
    assert fingers_on(sims[0], "9999") == {}  # nobody consented for an unknown person
    reconcile = db.scalars(
        select(TerminalCommand).where(
            TerminalCommand.kind == "reconcile", TerminalCommand.cause == "test"
        )
    ).one()
    assert reconcile.outcome is not None
    assert reconcile.outcome["removing"] == 1
    assert reconcile.outcome["unknown_users"] == 1
    assert reconcile.outcome["differing"] == 1
    assert reconcile.outcome["templates_refused"] == 2
    drift = db.scalars(select(AuditEvent).where(AuditEvent.action == "terminal.drift")).all()
    assert len(drift) == 1
    assert db.scalars(select(BiometricTemplate.employee_id)).all().count(ben.id) == 0


def test_scheduled_reconciliation_is_queued_once_per_period_for_managed_terminals(
    db: Session, site: dict[str, Any], create_terminal: Callable[..., Terminal]
) -> None:
    create_terminal()  # unmanaged: no area, never reconciled
    now = utcnow()
    assert distribution.schedule_reconciliation(db, now=now) == 0  # placed today
    later = now + timedelta(days=2)
    assert distribution.schedule_reconciliation(db, now=later) == 3
    assert distribution.schedule_reconciliation(db, now=later) == 0  # pending already


def test_remote_enrolment_stores_through_the_gate_and_distributes(
    db: Session, site: dict[str, Any], kek: KeyEncryptionKey
) -> None:
    sims, terminals, ana, ben = site["sims"], site["terminals"], site["ana"], site["ben"]
    in_north(db, site, kek)

    with pytest.raises(ValidationError, match="consent"):
        distribution.queue_enrolment(db, ben.id, terminals[0].id, 3, actor=ACTOR)

    sims[0].sensor.append(STRAY)  # the finger Ana presents
    command = distribution.queue_enrolment(db, ana.id, terminals[0].id, 3, actor=ACTOR)
    db.commit()
    drain(db, terminals[0], kek)
    db.refresh(command)
    assert command.state == "done", command.last_error
    assert fingers_on(sims[0], "1001")[3] == STRAY
    stored = vault.read_template(
        db, employee_id=ana.id, kind="finger", index=3, kek=kek, actor=ACTOR, purpose="test"
    )
    assert stored.template == STRAY
    drain(db, terminals[1], kek)
    assert fingers_on(sims[1], "1001")[3] == STRAY

    sims[0].sensor.append(4)  # nobody comes: the sensor times out
    failed = distribution.queue_enrolment(db, ana.id, terminals[0].id, 5, actor=ACTOR)
    db.commit()
    drain(db, terminals[0], kek)
    db.refresh(failed)
    assert failed.state == "failed"
    assert "did not complete" in (failed.last_error or "")
    assert 5 not in fingers_on(sims[0], "1001")


def test_an_enrolment_queued_before_a_restriction_never_reaches_the_sensor(
    db: Session, site: dict[str, Any], kek: KeyEncryptionKey
) -> None:
    from server.rights.restriction import GROUNDS, restrict_employee

    sims, terminals, ana = site["sims"], site["terminals"], site["ana"]
    in_north(db, site, kek)
    sims[0].sensor.append(STRAY)  # a finger is waiting at the sensor
    command = distribution.queue_enrolment(db, ana.id, terminals[0].id, 3, actor=ACTOR)
    db.commit()
    restrict_employee(db, ana.id, reason=sorted(GROUNDS)[0], actor=ACTOR)
    db.commit()
    drain(db, terminals[0], kek)
    db.refresh(command)
    assert command.state in ("done", "superseded")
    assert (command.outcome or {}).get("skipped") or command.state == "superseded"
    assert 3 not in fingers_on(sims[0], "1001")
    assert (
        db.scalar(
            select(func.count())
            .select_from(BiometricTemplate)
            .where(BiometricTemplate.employee_id == ana.id, BiometricTemplate.template_index == 3)
        )
        == 0
    )


def test_a_pin_a_black_and_white_model_cannot_hold_fails_for_good_with_a_reason(
    db: Session, simulator: Any, create_terminal: Callable[..., Terminal], kek: KeyEncryptionKey
) -> None:
    organization(db)
    place = area(db, "BW")
    sim = simulator.start("bw", empty=True)
    terminal = create_terminal(sim)
    distribution.set_terminal_area(db, terminal.id, place.id, actor=ACTOR)
    alpha = employee(db, "E-17")
    numeric = employee(db, "1017", device_name="长名字很长很长的人")
    distribution.set_employee_areas(db, alpha.id, [place.id], actor=ACTOR)
    distribution.set_employee_areas(db, numeric.id, [place.id], actor=ACTOR)
    db.commit()
    drain(db, terminal, kek)
    states = dict(
        db.execute(
            select(TerminalCommand.employee_id, TerminalCommand.state).where(
                TerminalCommand.kind == "put_user"
            )
        ).all()
    )
    assert states == {alpha.id: "failed", numeric.id: "done"}
    failed = db.scalars(
        select(TerminalCommand).where(
            TerminalCommand.employee_id == alpha.id, TerminalCommand.state == "failed"
        )
    ).one()
    assert "numeric PINs" in (failed.last_error or "")
    assert pins_on(sim) == {"1017"}


def test_an_unmanaged_terminal_is_never_emptied(
    db: Session, simulator: Any, create_terminal: Callable[..., Terminal], kek: KeyEncryptionKey
) -> None:
    organization(db)
    sim = simulator.start("tft", users=5, days=0)
    terminal = create_terminal(sim)
    before = pins_on(sim)
    distribution.queue_command(db, terminal, CommandKind.RECONCILE, cause="test")
    db.commit()
    drain(db, terminal, kek)
    assert pins_on(sim) == before


def test_an_employee_update_is_written_to_their_terminals(
    db: Session, site: dict[str, Any], kek: KeyEncryptionKey
) -> None:
    from server.employees.services import update_employee

    sims, terminals, ana = site["sims"], site["terminals"], site["ana"]
    in_north(db, site, kek)
    update_employee(db, ana.id, {"card_number": "777", "device_name": "ANA"}, actor=ACTOR)
    db.commit()
    for t in terminals:
        drain(db, t, kek)
    for sim in sims[:2]:
        user = sim.device.user_by_id("1001")
        assert user is not None
        assert (user.card, user.name) == (777, "ANA")


def test_employees_are_found_by_area_including_parent_areas(
    db: Session, site: dict[str, Any]
) -> None:
    north, _dock, _south = site["areas"]
    terminals, ana = site["terminals"], site["ana"]
    distribution.set_employee_areas(db, ana.id, [north.id], actor=ACTOR)
    assert [e.id for e in distribution.expected_employees(db, terminals[1])] == [ana.id]
    assert distribution.expected_employees(db, terminals[2]) == []
    emp = db.get(Employee, ana.id)
    assert emp is not None
    emp.restricted_at = utcnow()
    db.flush()
    assert distribution.expected_employees(db, terminals[1]) == []


def test_distributed_templates_never_reach_logs_outbox_rows_or_audit_details(
    db: Session, site: dict[str, Any], kek: KeyEncryptionKey, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    in_north(db, site, kek)
    rows = db.scalars(select(TerminalCommand)).all()
    assert rows
    seen = " ".join(repr(r) + repr(r.outcome) + str(r.last_error) for r in rows)
    seen += " ".join(str(e.details) for e in db.scalars(select(AuditEvent)))
    seen += caplog.text
    for marker in ("CANARY-LEFT", "CANARY-RIGHT", LEFT.hex()[:40]):
        assert marker not in seen


def test_a_terminal_password_is_sealed_written_to_terminals_and_validated(
    db: Session, site: dict[str, Any], kek: KeyEncryptionKey
) -> None:
    from server.employees.services import set_device_password

    sims, terminals, ana = site["sims"], site["terminals"], site["ana"]
    in_north(db, site, kek)
    with pytest.raises(ValidationError, match="digits"):
        set_device_password(db, ana.id, "12ab", kek=kek, actor=ACTOR)
    set_device_password(db, ana.id, "4711", kek=kek, actor=ACTOR)
    db.commit()
    stored = db.get(Employee, ana.id)
    assert stored is not None
    assert stored.device_password_sealed is not None
    assert b"4711" not in stored.device_password_sealed
    for t in terminals:
        drain(db, t, kek)
    for sim in sims[:2]:
        user = sim.device.user_by_id("1001")
        assert user is not None
        assert user.password == "4711"
    assert not any("4711" in str(e.details) for e in db.scalars(select(AuditEvent)))


def test_restriction_takes_the_employee_off_terminals_until_lifted_with_a_notice(
    db: Session, site: dict[str, Any], kek: KeyEncryptionKey
) -> None:
    from server.errors import ConflictError
    from server.rights.restriction import lift_restriction, restrict_employee

    sims, terminals, ana = site["sims"], site["terminals"], site["ana"]
    in_north(db, site, kek)
    with pytest.raises(ValidationError, match="ground"):
        restrict_employee(db, ana.id, reason="because I say so", actor=ACTOR)
    assert restrict_employee(db, ana.id, reason="accuracy_contested", actor=ACTOR) == 3
    db.commit()
    for t in terminals:
        drain(db, t, kek)
    assert all("1001" not in pins_on(s) for s in sims)
    assert distribution.expected_employees(db, terminals[0]) == []
    # The data stays stored: the templates are still in the vault.
    assert len(db.scalars(select(BiometricTemplate)).all()) == 2
    with pytest.raises(ConflictError):
        restrict_employee(db, ana.id, reason="objection_pending", actor=ACTOR)

    with pytest.raises(ValidationError, match="told"):
        lift_restriction(
            db, ana.id, notified_at=utcnow(), method="telepathy", evidence_ref=None, actor=ACTOR
        )
    with pytest.raises(ValidationError, match="before"):
        lift_restriction(
            db,
            ana.id,
            notified_at=utcnow() + timedelta(days=1),
            method="letter",
            evidence_ref=None,
            actor=ACTOR,
        )
    assert (
        lift_restriction(
            db, ana.id, notified_at=utcnow(), method="letter", evidence_ref="L-7", actor=ACTOR
        )
        == 2
    )
    db.commit()
    for t in terminals:
        drain(db, t, kek)
    assert fingers_on(sims[0], "1001") == {0: LEFT, 1: RIGHT}
    actions = db.scalars(
        select(AuditEvent.action).where(AuditEvent.subject_employee_id == ana.id)
    ).all()
    assert "employee.restricted" in actions
    assert "employee.restriction_lifted" in actions


def test_bad_employee_input_is_refused_and_nothing_reaches_a_terminal(
    db: Session, site: dict[str, Any], kek: KeyEncryptionKey
) -> None:
    from server.employees.services import set_device_password, update_employee

    ana = site["ana"]
    in_north(db, site, kek)
    before = db.scalar(select(func.count()).select_from(TerminalCommand))
    for values, field in (
        ({"card_number": "12-34"}, "card_number"),
        ({"device_privilege": 3}, "device_privilege"),
        ({"given_name": "  "}, "given_name"),
        ({"device_name": "x" * 25}, "device_name"),
        ({"salary": 1}, "salary"),
    ):
        with pytest.raises(ValidationError) as caught:
            update_employee(db, ana.id, values, actor=ACTOR)
        assert caught.value.details == {"field": field}
    with pytest.raises(ValidationError, match="digits"):
        set_device_password(db, ana.id, "123456789", kek=kek, actor=ACTOR)
    db.refresh(ana)
    assert (ana.card_number, ana.device_privilege, ana.given_name) == ("4242", 0, "Ana")
    assert ana.device_password_sealed is None
    assert db.scalar(select(func.count()).select_from(TerminalCommand)) == before
