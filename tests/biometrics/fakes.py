# SPDX-License-Identifier: GPL-2.0-or-later
"""An in-memory :class:`biometrics.ports.DekStore` with transactions, for the tests.

It is our own interface, not a library's: this is the reference behaviour the database
implementation must match (reads see this transaction's writes, ``replace`` is a
compare-and-swap, ``checkpoint`` commits, a crash loses only what was not committed).
"""

from __future__ import annotations

from collections.abc import Sequence

from biometrics.crypto import WrappedKey


class SimulatedCrashError(RuntimeError):
    """The store 'lost power' in the middle of a batch."""


class InMemoryDekStore:
    def __init__(self, rows: dict[int, WrappedKey] | None = None) -> None:
        self.committed: dict[int, WrappedKey] = dict(rows or {})
        self._pending: dict[int, WrappedKey | None] = {}
        self.crash_after_replaces: int | None = None
        self.replaces = 0
        self.checkpoints = 0

    # -- the DekStore protocol -------------------------------------------------------------

    def iter_wrapped(
        self, kek_id: str, *, batch: int, after: int | None
    ) -> Sequence[tuple[int, WrappedKey]]:
        view = self.view()
        ids = sorted(i for i, w in view.items() if w.kek_id == kek_id)
        if after is not None:
            ids = [i for i in ids if i > after]
        return [(i, view[i]) for i in ids[:batch]]

    def replace(self, employee_id: int, old: WrappedKey, new: WrappedKey) -> bool:
        if self.crash_after_replaces is not None and self.replaces >= self.crash_after_replaces:
            raise SimulatedCrashError("store went away")
        if self.view().get(employee_id) != old:
            return False
        self._pending[employee_id] = new
        self.replaces += 1
        return True

    def count_wrapped(self, kek_id: str) -> int:
        return sum(1 for w in self.view().values() if w.kek_id == kek_id)

    def checkpoint(self) -> None:
        for employee_id, wrapped in self._pending.items():
            if wrapped is None:
                self.committed.pop(employee_id, None)
            else:
                self.committed[employee_id] = wrapped
        self._pending.clear()
        self.checkpoints += 1

    # -- helpers for the tests ---------------------------------------------------------------

    def view(self) -> dict[int, WrappedKey]:
        merged: dict[int, WrappedKey] = dict(self.committed)
        for employee_id, wrapped in self._pending.items():
            if wrapped is None:
                merged.pop(employee_id, None)
            else:
                merged[employee_id] = wrapped
        return merged

    def rollback(self) -> None:
        self._pending.clear()

    def get(self, employee_id: int) -> WrappedKey | None:
        return self.view().get(employee_id)

    def destroy(self, employee_id: int) -> None:
        """Crypto-shred: the wrapped DEK is gone (erasure, C5/C10)."""
        self._pending[employee_id] = None
