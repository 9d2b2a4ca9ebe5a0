# SPDX-License-Identifier: GPL-2.0-or-later
"""Rotating the instance key-encryption key (``rollcall keys rotate``, issue #5, C18).

The key file moves through three names beside it, so every step can be re-run after a crash:

* ``<key>.new`` - the new key, created on the first run and reused by every re-run;
* ``<key>`` - the key in use; replaced by the new one, atomically, only once nothing in the
  database depends on the old one any more (every DEK re-wrapped, every comm key and
  terminal password re-sealed);
* ``<key>.old`` - the previous key, kept until the administrator confirms with ``--finish``
  that the new key works (and backups made with it exist); ``--finish`` deletes it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from biometrics.errors import RotationError
from biometrics.keys import KeyEncryptionKey, generate_key_file, load_key_file
from biometrics.rotation import DEFAULT_BATCH, RotationProgress, rotate_kek
from server.audit.services import Actor, record_event
from server.auth import totp
from server.auth.models import SecondFactor
from server.devices.models import Terminal
from server.employees.models import Employee
from server.enrolment.models import DataKey
from server.enrolment.services import DbDekStore
from server.sealing import (
    DEVICE_PASSWORD_PURPOSE,
    SealError,
    device_password_owner,
    open_secret,
    seal_secret,
    sealed_kek_id,
)

COMM_KEY_PURPOSE = "comm-key"  # as terminals/connect.py seals and opens them


@dataclass(frozen=True, slots=True)
class KeyPaths:
    current: Path
    new: Path
    old: Path

    @classmethod
    def beside(cls, key_file: Path) -> KeyPaths:
        return cls(
            current=key_file,
            new=key_file.with_name(key_file.name + ".new"),
            old=key_file.with_name(key_file.name + ".old"),
        )


@dataclass(frozen=True, slots=True)
class KeyRotationResult:
    """What one run did; ``swapped`` when the new key is now the key in use."""

    old_kek_id: str
    new_kek_id: str
    rewrapped: int
    resealed: int
    remaining: int
    failed_employees: tuple[int, ...]
    failed_terminals: tuple[str, ...]
    swapped: bool


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def awaiting_finish(paths: KeyPaths) -> bool:
    """True when a rotation swapped the keys and the old one waits for ``--finish``."""
    return paths.old.exists() and not paths.new.exists()


def _complete_interrupted_swap(paths: KeyPaths) -> bool:
    # Crash between linking <key>.old and replacing <key>: both spare names exist and <key>
    # is still the old key. Finish the replace; nothing else is needed.
    if not (paths.old.exists() and paths.new.exists()):
        return False
    if load_key_file(paths.current).key_id != load_key_file(paths.old).key_id:
        raise RotationError(
            f"{paths.old} and {paths.new} both exist but {paths.current} is neither; "
            "inspect them by hand"
        )
    os.replace(paths.new, paths.current)
    _fsync_dir(paths.current.parent)
    return True


@dataclass(frozen=True, slots=True)
class _Sealed:
    """A column of secrets sealed with the instance key (``server.sealing``)."""

    table: Any
    key: Any  # the primary key column
    blob: Any  # the sealed column
    label: Any  # the column the seal is bound to (its owner)
    purpose: str
    owner: Callable[[Any], str]


def _sealed_columns() -> list[_Sealed]:
    return [
        _Sealed(
            Terminal,
            Terminal.id,
            Terminal.comm_key_sealed,
            Terminal.serial_number,
            COMM_KEY_PURPOSE,
            str,
        ),
        _Sealed(
            Employee,
            Employee.id,
            Employee.device_password_sealed,
            Employee.id,
            DEVICE_PASSWORD_PURPOSE,
            device_password_owner,
        ),
        # Accounts' TOTP secrets (issue #6); a failure is reported under the account's id.
        _Sealed(
            SecondFactor,
            SecondFactor.account_id,
            SecondFactor.secret_sealed,
            SecondFactor.account_id,
            totp.SECRET_PURPOSE,
            totp.secret_owner,
        ),
    ]


def _reseal(
    db: Session, *, old: KeyEncryptionKey, new: KeyEncryptionKey
) -> tuple[int, list[str], list[int]]:
    """Re-seal comm keys and terminal passwords; return (count, failed serials, failed
    employee ids)."""
    resealed = 0
    failed_terminals: list[str] = []
    failed_employees: list[int] = []
    for sealed in _sealed_columns():
        rows = db.execute(
            select(sealed.key, sealed.label, sealed.blob).where(sealed.blob.is_not(None))
        ).all()
        for row_id, label, raw in rows:
            if not isinstance(raw, bytes):
                continue
            blob = raw
            owner = sealed.owner(label)
            try:
                if sealed_kek_id(blob) != old.key_id:
                    continue
                secret = open_secret(old, blob, purpose=sealed.purpose, owner=owner)
            except SealError:
                if sealed.table is Terminal:
                    failed_terminals.append(str(label))
                else:
                    failed_employees.append(int(str(row_id)))
                continue
            fresh = seal_secret(new, secret, purpose=sealed.purpose, owner=owner)
            # Compare-and-swap like the DEKs: a secret changed meanwhile is left alone.
            db.execute(
                update(sealed.table)
                .where(sealed.key == row_id, sealed.blob == blob)
                .values({sealed.blob.key: fresh})
                .execution_options(synchronize_session=False)
            )
            resealed += 1
    db.commit()
    return resealed, failed_terminals, failed_employees


def _count_under(db: Session, kek_id: str) -> int:
    deks = db.scalar(select(func.count()).where(DataKey.kek_id == kek_id)) or 0
    sealed_count = 0
    for sealed in _sealed_columns():
        blobs: list[bytes | None] = list(
            db.scalars(select(sealed.blob).where(sealed.blob.is_not(None)))
        )
        for blob in blobs:
            try:
                if blob is not None and sealed_kek_id(blob) == kek_id:
                    sealed_count += 1
            except SealError:
                continue
    return int(deks) + sealed_count


def rotate_instance_key(
    db: Session,
    key_file: Path,
    *,
    actor: Actor,
    batch: int = DEFAULT_BATCH,
    on_batch: Callable[[RotationProgress], None] | None = None,
) -> KeyRotationResult:
    """Run (or resume) a rotation of the key in ``key_file``. Commits per batch.

    Raises :class:`RotationError` when a previous rotation awaits ``--finish``.
    """
    paths = KeyPaths.beside(key_file)
    _complete_interrupted_swap(paths)
    if awaiting_finish(paths):
        raise RotationError(
            f"the key was already rotated and the previous key is kept as {paths.old}; "
            "check that Rollcall works, then run `rollcall keys rotate --finish`"
        )
    old = load_key_file(paths.current)
    if not paths.new.exists():
        generate_key_file(paths.new)
    new = load_key_file(paths.new)
    report = rotate_kek(DbDekStore(db), old=old, new=new, batch=batch, on_batch=on_batch)
    resealed, failed_terminals, failed_passwords = _reseal(db, old=old, new=new)
    remaining = _count_under(db, old.key_id)
    swapped = report.complete and not failed_terminals and not failed_passwords
    swapped = swapped and remaining == 0
    if swapped:
        record_event(
            db,
            "keys.rotated",
            actor=actor,
            details={"old_kek": old.key_id, "new_kek": new.key_id},
        )
        db.commit()
        # Link first, then replace: <key> names a valid key at every instant.
        os.link(paths.current, paths.old)
        os.replace(paths.new, paths.current)
        _fsync_dir(paths.current.parent)
    return KeyRotationResult(
        old_kek_id=old.key_id,
        new_kek_id=new.key_id,
        rewrapped=report.rewrapped,
        resealed=resealed,
        remaining=remaining,
        failed_employees=tuple(report.failed) + tuple(failed_passwords),
        failed_terminals=tuple(failed_terminals),
        swapped=swapped,
    )


def finish_rotation(db: Session, key_file: Path, *, actor: Actor) -> str:
    """Delete the previous key once nothing depends on it; return its id."""
    paths = KeyPaths.beside(key_file)
    _complete_interrupted_swap(paths)
    if not awaiting_finish(paths):
        raise RotationError(f"there is no previous key ({paths.old}) waiting to be deleted")
    old = load_key_file(paths.old)
    load_key_file(paths.current)  # the key in use must load before the old one goes
    if _count_under(db, old.key_id):
        raise RotationError(
            f"data is still sealed under the previous key {old.key_id}; "
            "run `rollcall keys rotate` again"
        )
    record_event(db, "keys.old_destroyed", actor=actor, details={"old_kek": old.key_id})
    db.commit()
    paths.old.unlink()
    _fsync_dir(paths.current.parent)
    return old.key_id
