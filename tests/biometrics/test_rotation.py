# SPDX-License-Identifier: GPL-2.0-or-later
"""KEK rotation: every template stays readable, the old KEK stops working, crashes resume."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from biometrics.crypto import (
    TemplateKind,
    WrappedKey,
    generate_dek,
    open_template,
    seal_template,
    unwrap_dek,
    wrap_dek,
)
from biometrics.errors import KeyMismatchError, KeyUnwrapError, RotationError
from biometrics.keys import KeyEncryptionKey
from biometrics.ports import DekStore
from biometrics.rotation import RotationProgress, rewrap, rotate_kek
from tests.biometrics.fakes import InMemoryDekStore, SimulatedCrashError


@dataclass
class Vault:
    """Employees 1..n, each with a DEK under ``old`` and two sealed finger templates."""

    old: KeyEncryptionKey
    new: KeyEncryptionKey
    store: InMemoryDekStore
    templates: dict[tuple[int, int], tuple[bytes, bytes]]  # (employee, index) -> (plain, sealed)

    def assert_all_readable_under(self, kek: KeyEncryptionKey) -> None:
        for (employee_id, index), (plaintext, sealed) in self.templates.items():
            wrapped = self.store.committed[employee_id]
            dek = unwrap_dek(wrapped, employee_id=employee_id, kek=kek)
            opened = open_template(
                dek,
                employee_id=employee_id,
                kind=TemplateKind.FINGER,
                index=index,
                format_version=10,
                ciphertext=sealed,
            )
            assert opened == plaintext


def _vault(employees: int) -> Vault:
    old, new = KeyEncryptionKey.generate(), KeyEncryptionKey.generate()
    store = InMemoryDekStore()
    templates: dict[tuple[int, int], tuple[bytes, bytes]] = {}
    for employee_id in range(1, employees + 1):
        dek = generate_dek()
        store.committed[employee_id] = wrap_dek(dek, employee_id=employee_id, kek=old)
        for index in (0, 1):
            plaintext = os.urandom(64)
            sealed = seal_template(
                dek,
                employee_id=employee_id,
                kind=TemplateKind.FINGER,
                index=index,
                format_version=10,
                plaintext=plaintext,
            )
            templates[employee_id, index] = (plaintext, sealed)
    return Vault(old=old, new=new, store=store, templates=templates)


def test_rotation_keeps_every_template_readable_and_the_old_kek_stops_unwrapping() -> None:
    vault = _vault(50)
    before = dict(vault.store.committed)

    report = rotate_kek(vault.store, old=vault.old, new=vault.new, batch=7)

    assert report.complete
    assert (report.rewrapped, report.already_under_new, report.remaining) == (50, 0, 0)
    assert (report.vanished, report.failed, report.batches) == (0, (), 8)
    assert vault.store.checkpoints == 8
    vault.assert_all_readable_under(vault.new)
    for employee_id, wrapped in vault.store.committed.items():
        assert wrapped.kek_id == vault.new.key_id
        with pytest.raises(KeyMismatchError):
            unwrap_dek(wrapped, employee_id=employee_id, kek=vault.old)
        # Even relabelled as the old KEK's, the new blob does not open under the old KEK.
        relabelled = WrappedKey(kek_id=vault.old.key_id, blob=wrapped.blob)
        with pytest.raises(KeyUnwrapError):
            unwrap_dek(relabelled, employee_id=employee_id, kek=vault.old)
        # The DEK itself did not change: the templates were not re-encrypted.
        old_dek = unwrap_dek(before[employee_id], employee_id=employee_id, kek=vault.old)
        new_dek = unwrap_dek(wrapped, employee_id=employee_id, kek=vault.new)
        assert old_dek.secret == new_dek.secret


def test_rotation_interrupted_half_way_resumes_and_completes_with_correct_counts() -> None:
    vault = _vault(50)
    vault.store.crash_after_replaces = 23  # batches 1-2 commit, batch 3 dies after 3 replaces

    with pytest.raises(SimulatedCrashError):
        rotate_kek(vault.store, old=vault.old, new=vault.new, batch=10)
    vault.store.rollback()  # the uncommitted part of batch 3 is lost, as in a real crash

    assert vault.store.count_wrapped(vault.new.key_id) == 20
    assert vault.store.count_wrapped(vault.old.key_id) == 30
    # Mid-rotation, every template is readable under whichever KEK its DEK names.
    for employee_id, wrapped in vault.store.committed.items():
        kek = vault.new if wrapped.kek_id == vault.new.key_id else vault.old
        unwrap_dek(wrapped, employee_id=employee_id, kek=kek)

    vault.store.crash_after_replaces = None
    resumed = rotate_kek(vault.store, old=vault.old, new=vault.new, batch=10)

    assert resumed.complete
    assert (resumed.rewrapped, resumed.already_under_new, resumed.remaining) == (30, 20, 0)
    assert resumed.batches == 3
    vault.assert_all_readable_under(vault.new)

    again = rotate_kek(vault.store, old=vault.old, new=vault.new, batch=10)
    assert again.complete
    assert (again.rewrapped, again.already_under_new, again.batches) == (0, 50, 0)


def test_rewrapping_a_key_already_under_the_new_kek_returns_it_unchanged() -> None:
    old, new = KeyEncryptionKey.generate(), KeyEncryptionKey.generate()
    wrapped = wrap_dek(generate_dek(), employee_id=7, kek=old)
    once = rewrap(wrapped, employee_id=7, old=old, new=new)
    assert once.kek_id == new.key_id
    assert rewrap(once, employee_id=7, old=old, new=new) is once


def test_rewrapping_a_key_under_neither_kek_is_refused() -> None:
    old, new, third = (KeyEncryptionKey.generate() for _ in range(3))
    wrapped = wrap_dek(generate_dek(), employee_id=7, kek=third)
    with pytest.raises(KeyMismatchError):
        rewrap(wrapped, employee_id=7, old=old, new=new)


def test_rewrapping_keeps_the_binding_to_the_employee() -> None:
    old, new = KeyEncryptionKey.generate(), KeyEncryptionKey.generate()
    rewrapped = rewrap(
        wrap_dek(generate_dek(), employee_id=7, kek=old), employee_id=7, old=old, new=new
    )
    with pytest.raises(KeyUnwrapError):
        unwrap_dek(rewrapped, employee_id=8, kek=new)


def test_a_corrupt_wrapped_key_is_reported_and_does_not_stop_the_others() -> None:
    vault = _vault(10)
    good = vault.store.committed[4]
    vault.store.committed[4] = WrappedKey(kek_id=good.kek_id, blob=good.blob[:-1] + b"\x00")

    report = rotate_kek(vault.store, old=vault.old, new=vault.new, batch=3)

    assert report.failed == (4,)
    assert (report.rewrapped, report.remaining) == (9, 1)
    assert not report.complete  # the old KEK must not be destroyed yet


def test_a_key_erased_while_rotation_runs_is_left_erased() -> None:
    vault = _vault(10)

    class ErasureRacingStore(InMemoryDekStore):
        def iter_wrapped(
            self, kek_id: str, *, batch: int, after: int | None
        ) -> Sequence[tuple[int, WrappedKey]]:
            rows = super().iter_wrapped(kek_id, batch=batch, after=after)
            if any(employee_id == 5 for employee_id, _ in rows):
                self.destroy(5)  # an erasure lands between our read and our write
            return rows

    store = ErasureRacingStore(vault.store.committed)
    report = rotate_kek(store, old=vault.old, new=vault.new, batch=4)

    assert report.complete
    assert (report.rewrapped, report.vanished) == (9, 1)
    assert store.get(5) is None


def test_progress_is_reported_after_each_committed_batch() -> None:
    vault = _vault(5)
    seen: list[RotationProgress] = []
    rotate_kek(vault.store, old=vault.old, new=vault.new, batch=2, on_batch=seen.append)
    assert [(p.batches, p.rewrapped) for p in seen] == [(1, 2), (2, 4), (3, 5)]


def test_rotating_an_empty_store_completes_with_nothing_done() -> None:
    report = rotate_kek(
        InMemoryDekStore(), old=KeyEncryptionKey.generate(), new=KeyEncryptionKey.generate()
    )
    assert report.complete
    assert (report.rewrapped, report.batches, report.remaining) == (0, 0, 0)


def test_rotating_to_the_same_kek_is_refused() -> None:
    kek = KeyEncryptionKey.generate()
    with pytest.raises(RotationError, match="same key"):
        rotate_kek(InMemoryDekStore(), old=kek, new=kek)


def test_a_store_that_ignores_the_cursor_is_stopped_instead_of_looping() -> None:
    vault = _vault(3)
    good = vault.store.committed[2]
    vault.store.committed[2] = WrappedKey(kek_id=good.kek_id, blob=b"\x01" + bytes(60))

    class CursorIgnoringStore(InMemoryDekStore):
        def iter_wrapped(
            self, kek_id: str, *, batch: int, after: int | None
        ) -> Sequence[tuple[int, WrappedKey]]:
            return super().iter_wrapped(kek_id, batch=batch, after=None)

    with pytest.raises(RotationError, match="ascending"):
        rotate_kek(CursorIgnoringStore(vault.store.committed), old=vault.old, new=vault.new)


def test_the_in_memory_store_satisfies_the_protocol() -> None:
    store: DekStore = InMemoryDekStore()
    assert store.count_wrapped("x") == 0
