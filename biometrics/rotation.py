# SPDX-License-Identifier: GPL-2.0-or-later
"""KEK rotation: re-wrap every DEK under a new KEK, resumably (``rollcall keys rotate``).

Procedure (C18, NIST SP 800-57): generate the new KEK, run :func:`rotate_kek` until its
report is :attr:`~RotationReport.complete`, switch the configuration to the new KEK, then
destroy the old KEK file. Templates are untouched: only the small wrapped DEKs change, so
rotation costs one AES-GCM decrypt and encrypt per employee.

A crash (or Ctrl-C) mid-run loses at most the uncommitted batch; re-running the same command
picks up the DEKs still under the old KEK and leaves the rewrapped ones alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from biometrics.crypto import WrappedKey, unwrap_dek, wrap_dek
from biometrics.errors import KeyUnwrapError, RotationError
from biometrics.keys import KeyEncryptionKey
from biometrics.ports import DekStore

__all__ = ["DEFAULT_BATCH", "RotationProgress", "RotationReport", "rewrap", "rotate_kek"]

DEFAULT_BATCH = 500


def rewrap(
    wrapped: WrappedKey, *, employee_id: int, old: KeyEncryptionKey, new: KeyEncryptionKey
) -> WrappedKey:
    """Return the employee's DEK wrapped under ``new`` instead of ``old``.

    A DEK already wrapped under ``new`` is returned unchanged, so re-running is harmless.
    Raises :class:`~biometrics.errors.KeyMismatchError` if it is wrapped under neither, and
    :class:`~biometrics.errors.KeyUnwrapError` if it fails authentication under ``old``.
    """
    if wrapped.kek_id == new.key_id:
        return wrapped
    dek = unwrap_dek(wrapped, employee_id=employee_id, kek=old)
    return wrap_dek(dek, employee_id=employee_id, kek=new)


@dataclass(frozen=True, slots=True)
class RotationProgress:
    """Passed to the progress callback after each committed batch."""

    batches: int
    rewrapped: int
    vanished: int
    failed: int


@dataclass(frozen=True, slots=True)
class RotationReport:
    """What one run of :func:`rotate_kek` did.

    ``already_under_new`` counts DEKs found under the new KEK when the run started (from an
    interrupted earlier run, or enrolled meanwhile). ``vanished`` counts DEKs destroyed or
    replaced by someone else while the run worked (erasure, re-enrolment); they were left
    alone. ``failed`` lists employees whose wrapped DEK did not authenticate under the old KEK
    (corrupt or tampered rows; they need investigation, and their templates are unreadable
    anyway). ``remaining`` is the count still under the old KEK after the run.
    """

    old_kek_id: str
    new_kek_id: str
    rewrapped: int
    already_under_new: int
    vanished: int
    failed: tuple[int, ...]
    remaining: int
    batches: int

    @property
    def complete(self) -> bool:
        """True when no DEK depends on the old KEK any more: it may now be destroyed."""
        return self.remaining == 0 and not self.failed


def rotate_kek(
    store: DekStore,
    *,
    old: KeyEncryptionKey,
    new: KeyEncryptionKey,
    batch: int = DEFAULT_BATCH,
    on_batch: Callable[[RotationProgress], None] | None = None,
) -> RotationReport:
    """Re-wrap every DEK stored under ``old`` so it is wrapped under ``new``.

    Works in batches of ``batch`` employees in ascending id order, calling
    ``store.checkpoint()`` (commit) after each. Exceptions from the store propagate: the
    committed batches stay done, and the next run resumes with the rest.
    """
    if old.key_id == new.key_id:
        raise RotationError(f"the new KEK is the same key as the old one ({old.key_id})")
    if batch < 1:
        raise RotationError("batch must be at least 1")
    already_under_new = store.count_wrapped(new.key_id)
    rewrapped = vanished = batches = 0
    failed: list[int] = []
    after: int | None = None
    while rows := store.iter_wrapped(old.key_id, batch=batch, after=after):
        for employee_id, wrapped in rows:
            # Keyset pagination must move forward, or a failed row would be served forever.
            if after is not None and employee_id <= after:
                raise RotationError(
                    f"the key store returned employee {employee_id} after {after}; "
                    "rows must come in ascending employee-id order"
                )
            after = employee_id
            if wrapped.kek_id != old.key_id:
                # Not ours to rotate (a store that does not filter); rewrapped ones are
                # already counted in already_under_new.
                continue
            try:
                fresh = rewrap(wrapped, employee_id=employee_id, old=old, new=new)
            except KeyUnwrapError:
                failed.append(employee_id)
                continue
            if store.replace(employee_id, wrapped, fresh):
                rewrapped += 1
            else:
                vanished += 1
        store.checkpoint()
        batches += 1
        if on_batch is not None:
            on_batch(RotationProgress(batches, rewrapped, vanished, len(failed)))
    return RotationReport(
        old_kek_id=old.key_id,
        new_kek_id=new.key_id,
        rewrapped=rewrapped,
        already_under_new=already_under_new,
        vanished=vanished,
        failed=tuple(failed),
        remaining=store.count_wrapped(old.key_id),
        batches=batches,
    )
