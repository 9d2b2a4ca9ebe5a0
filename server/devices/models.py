# SPDX-License-Identifier: GPL-2.0-or-later
"""Terminals, the mapping of their PINs to employees, and the record of every sync."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, BigId, UTCDateTime, utcnow
from server.inventory import Category, Erasure, not_personal, pd


class Transport(enum.StrEnum):
    TCP = "tcp"  # binary protocol, port 4370, pulled
    UDP = "udp"  # binary protocol over UDP, pulled
    PUSH = "push"  # ADMS/iclock HTTP, the terminal calls us


class Terminal(Base):
    """A terminal is its serial number; its address is only where it was last seen."""

    __tablename__ = "terminals"
    __table_args__ = (
        CheckConstraint("transport IN ('tcp', 'udp', 'push')", name="transport"),
        CheckConstraint("port IS NULL OR (port > 0 AND port < 65536)", name="port_range"),
        CheckConstraint("sync_interval_s >= 10", name="sync_interval_min"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, info=not_personal())
    serial_number: Mapped[str] = mapped_column(String(64), unique=True, info=not_personal())
    name: Mapped[str] = mapped_column(String(100), info=not_personal())
    host: Mapped[str | None] = mapped_column(String(255), info=not_personal())
    port: Mapped[int | None] = mapped_column(Integer, info=not_personal())
    transport: Mapped[str] = mapped_column(String(8), default=Transport.TCP, info=not_personal())
    # The comm key (a number up to 999999) sealed with the instance key; never shown back.
    comm_key_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, info=not_personal())
    timezone: Mapped[str] = mapped_column(String(64), info=not_personal())
    # Name encoding of the firmware: UTF-8, or GBK on Chinese firmware.
    encoding: Mapped[str] = mapped_column(String(16), default="utf-8", info=not_personal())
    area_id: Mapped[int | None] = mapped_column(
        ForeignKey("areas.id", ondelete="SET NULL"), index=True, info=not_personal()
    )
    model: Mapped[str | None] = mapped_column(String(64), info=not_personal())
    platform: Mapped[str | None] = mapped_column(String(64), info=not_personal())
    firmware: Mapped[str | None] = mapped_column(String(64), info=not_personal())
    # Record sizes, capacities and what the model supports, as read at registration.
    capabilities: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, info=not_personal())
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, info=not_personal())
    sync_interval_s: Mapped[int] = mapped_column(Integer, default=300, info=not_personal())
    clear_after_sync: Mapped[bool] = mapped_column(Boolean, default=False, info=not_personal())
    auto_set_clock: Mapped[bool] = mapped_column(Boolean, default=False, info=not_personal())
    # A one-time clear of the attendance log, asked by an erasure (#7): the terminal keeps no
    # way to delete one person's records, so its next sync reads the whole log into Rollcall
    # and clears it, as ``clear_after_sync`` does at every sync. ``log_cleared_at``: when the
    # log was last cleared (or found empty) by a sync.
    log_clear_requested_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, info=not_personal()
    )
    log_cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime, info=not_personal())
    # Punches dated before this are impossible for this terminal and are quarantined.
    installed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, info=not_personal())
    # Health, updated by every sync run.
    last_record_count: Mapped[int | None] = mapped_column(Integer, info=not_personal())
    last_user_count: Mapped[int | None] = mapped_column(Integer, info=not_personal())
    last_template_count: Mapped[int | None] = mapped_column(Integer, info=not_personal())
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, info=not_personal())
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime, info=not_personal())
    last_error: Mapped[str | None] = mapped_column(Text, info=not_personal())
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0, info=not_personal())
    clock_offset_s: Mapped[float | None] = mapped_column(Float, info=not_personal())
    next_attempt_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, index=True, info=not_personal()
    )
    # Worker lease: a conditional UPDATE claims it; an expired one may be taken over.
    lease_owner: Mapped[str | None] = mapped_column(String(100), info=not_personal())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, info=not_personal())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())

    def __repr__(self) -> str:
        return f"<Terminal {self.id} {self.serial_number}>"


class PinMapping(Base):
    """Which employee a terminal PIN meant, and when.

    A PIN is recycled when people leave; the validity range keeps a new holder from
    inheriting the old one's punches. ``terminal_id`` NULL means every terminal (the usual
    set-up, where the PIN is the employee code). A PIN seen on a terminal with no mapping
    creates a pending row (``employee_id`` NULL) for an admin to assign.
    """

    __tablename__ = "pin_mappings"
    __table_args__ = (
        CheckConstraint("valid_until IS NULL OR valid_until > valid_from", name="valid_range"),
        Index("ix_pin_mappings_pin_terminal", "pin", "terminal_id"),
    )

    id: Mapped[int] = mapped_column(
        Integer,
        primary_key=True,
        info=pd(
            Category.IDENTITY,
            subject="link:employee_id",
            retention="employment_end+2y",
            erasure=Erasure.DELETE,
        ),
    )
    terminal_id: Mapped[int | None] = mapped_column(
        ForeignKey("terminals.id", ondelete="CASCADE"),
        info=pd(
            Category.IDENTITY,
            subject="link:employee_id",
            retention="employment_end+2y",
            erasure=Erasure.DELETE,
        ),
    )
    pin: Mapped[str] = mapped_column(
        String(24),
        info=pd(
            Category.IDENTITY,
            subject="link:employee_id",
            retention="employment_end+2y",
            erasure=Erasure.DELETE,
        ),
    )
    employee_id: Mapped[int | None] = mapped_column(
        ForeignKey("employees.id", ondelete="CASCADE"),
        index=True,
        info=pd(
            Category.IDENTITY,
            subject="link:employee_id",
            retention="employment_end+2y",
            erasure=Erasure.DELETE,
        ),
    )
    valid_from: Mapped[datetime] = mapped_column(
        UTCDateTime,
        info=pd(
            Category.IDENTITY,
            subject="link:employee_id",
            retention="employment_end+2y",
            erasure=Erasure.DELETE,
        ),
    )
    valid_until: Mapped[datetime | None] = mapped_column(
        UTCDateTime,
        info=pd(
            Category.IDENTITY,
            subject="link:employee_id",
            retention="employment_end+2y",
            erasure=Erasure.DELETE,
        ),
    )
    # The name the terminal showed for an unknown PIN helps the admin assign it.
    device_name: Mapped[str | None] = mapped_column(
        String(24),
        info=pd(
            Category.IDENTITY,
            subject="link:employee_id",
            retention="employment_end+2y",
            erasure=Erasure.DELETE,
        ),
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())

    def covers(self, instant: datetime) -> bool:
        return self.valid_from <= instant and (
            self.valid_until is None or instant < self.valid_until
        )


class SyncRun(Base):
    """One unit of work against one terminal, with its counts; the terminal's health log."""

    __tablename__ = "sync_runs"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'ok', 'unchanged', 'failed')", name="status"),
        Index("ix_sync_runs_terminal_started", "terminal_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, info=not_personal())
    terminal_id: Mapped[int] = mapped_column(
        ForeignKey("terminals.id", ondelete="CASCADE"), info=not_personal()
    )
    trigger: Mapped[str] = mapped_column(String(16), default="schedule", info=not_personal())
    worker: Mapped[str | None] = mapped_column(String(100), info=not_personal())
    status: Mapped[str] = mapped_column(String(16), default="running", info=not_personal())
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, info=not_personal())
    duration_ms: Mapped[int | None] = mapped_column(Integer, info=not_personal())
    device_record_count: Mapped[int | None] = mapped_column(Integer, info=not_personal())
    users_read: Mapped[int] = mapped_column(Integer, default=0, info=not_personal())
    records_read: Mapped[int] = mapped_column(Integer, default=0, info=not_personal())
    punches_new: Mapped[int] = mapped_column(Integer, default=0, info=not_personal())
    punches_duplicate: Mapped[int] = mapped_column(Integer, default=0, info=not_personal())
    punches_quarantined: Mapped[int] = mapped_column(Integer, default=0, info=not_personal())
    templates_read: Mapped[int] = mapped_column(Integer, default=0, info=not_personal())
    clock_offset_s: Mapped[float | None] = mapped_column(Float, info=not_personal())
    cleared: Mapped[bool] = mapped_column(Boolean, default=False, info=not_personal())
    # Error class and message; protocol errors only, never personal data.
    error: Mapped[str | None] = mapped_column(Text, info=not_personal())
    # Where a running sync is (read, ingest, ...) and how far, for the live progress bar of
    # the terminal page (issue #6); written between batches, at most a few times a second.
    progress_phase: Mapped[str | None] = mapped_column(String(16), info=not_personal())
    progress_done: Mapped[int | None] = mapped_column(Integer, info=not_personal())
    progress_total: Mapped[int | None] = mapped_column(Integer, info=not_personal())


class CommandKind(enum.StrEnum):
    """What the outbox asks of a terminal. Every kind is idempotent on the terminal side."""

    PUT_USER = "put_user"  # the user record, plus the templates Rollcall holds and may use
    DELETE_USER = "delete_user"  # the user and all their templates
    DELETE_TEMPLATES = "delete_templates"  # templates only (``finger`` one, or all): C2
    ENROL = "enrol"  # start enrolling ``finger`` at the terminal's sensor
    RECONCILE = "reconcile"  # compare the whole terminal with what it should hold


class CommandState(enum.StrEnum):
    PENDING = "pending"  # waiting, or retrying (see attempts and last_error)
    DONE = "done"  # the terminal acknowledged it
    FAILED = "failed"  # can never succeed as asked (e.g. a PIN the model cannot hold)
    SUPERSEDED = "superseded"  # a later command for the same person and terminal replaced it


def _command_pd() -> dict[str, object]:
    return pd(
        Category.IDENTITY,
        subject="link:employee_id",
        retention="record+1y",
        erasure=Erasure.DELETE,
    )


class TerminalCommand(Base):
    """The durable per-terminal outbox (issue #5).

    A command is written in the same transaction as the change that causes it, so a change
    that commits always reaches its terminals and one that rolls back never does. The worker
    runs a terminal's pending commands in id order after the commit, under the terminal's
    lease; a command is marked done only after the terminal acknowledged it, so a crash in
    between repeats it, which every kind tolerates. Commands carry no template: a put reads
    the vault when it runs, so a withdrawal queued meanwhile always wins.
    """

    __tablename__ = "terminal_commands"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('put_user', 'delete_user', 'delete_templates', 'enrol', 'reconcile')",
            name="kind",
        ),
        CheckConstraint("state IN ('pending', 'done', 'failed', 'superseded')", name="state"),
        CheckConstraint("finger IS NULL OR (finger >= 0 AND finger < 10)", name="finger_range"),
        Index("ix_terminal_commands_queue", "terminal_id", "state", "id"),
        # The worker asks every second which terminals have due commands: only the pending
        # few, however many done ones the outbox keeps.
        Index("ix_terminal_commands_due", "state", "next_attempt_at"),
        Index("ix_terminal_commands_reference", "reference"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, info=not_personal())
    terminal_id: Mapped[int] = mapped_column(
        ForeignKey("terminals.id", ondelete="CASCADE"), info=not_personal()
    )
    kind: Mapped[str] = mapped_column(String(24), info=not_personal())
    employee_id: Mapped[int | None] = mapped_column(
        ForeignKey("employees.id", ondelete="SET NULL"), index=True, info=_command_pd()
    )
    # The PIN on that terminal when the command was made: a delete must still find the user
    # after the employee's code changed or the employee was erased.
    pin: Mapped[str | None] = mapped_column(String(24), info=_command_pd())
    finger: Mapped[int | None] = mapped_column(Integer, info=not_personal())
    # Why (area_change, terminated, withdrawal, consent_refused, enrolment, reconcile, ...).
    cause: Mapped[str] = mapped_column(String(32), info=not_personal())
    # Groups the commands of one action, e.g. ``withdrawal:<consent id>``.
    reference: Mapped[str | None] = mapped_column(String(64), info=not_personal())
    state: Mapped[str] = mapped_column(
        String(16), default=CommandState.PENDING, info=not_personal()
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0, info=not_personal())
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, info=not_personal())
    # Protocol errors only, never personal data.
    last_error: Mapped[str | None] = mapped_column(Text, info=not_personal())
    # What the terminal did, as counts (e.g. {"templates_written": 2}).
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON, info=not_personal())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, info=not_personal())

    def __repr__(self) -> str:
        return f"<TerminalCommand {self.id} {self.kind} terminal={self.terminal_id} {self.state}>"
