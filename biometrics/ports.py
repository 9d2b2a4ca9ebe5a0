# SPDX-License-Identifier: GPL-2.0-or-later
"""The storage interfaces the vault logic needs; the database implements them elsewhere.

Keeping them as Protocols keeps :mod:`biometrics` free of SQLAlchemy and Flask, and lets the
tests drive the real logic against an in-memory store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from biometrics.crypto import WrappedKey

__all__ = ["ConsentFact", "ConsentReader", "DekStore"]


class DekStore(Protocol):
    """Where the wrapped per-employee data keys live (one per employee).

    Used by :func:`biometrics.rotation.rotate_kek`. An implementation over the database is
    expected to:

    * read inside the same transaction it writes in, so a row replaced earlier in this batch
      no longer shows up under the old KEK id;
    * make :meth:`replace` a compare-and-swap (``UPDATE ... WHERE employee_id = :id AND
      kek_id = :old_kek_id AND wrapped = :old_blob``, then check the row count), so a DEK that
      was destroyed or re-created meanwhile is left alone;
    * commit in :meth:`checkpoint`, never in :meth:`replace`.
    """

    def iter_wrapped(
        self, kek_id: str, *, batch: int, after: int | None
    ) -> Sequence[tuple[int, WrappedKey]]:
        """Return up to ``batch`` (employee id, wrapped DEK) pairs whose DEK is wrapped under
        ``kek_id``, with employee id greater than ``after`` (all when None), in ascending
        employee-id order."""
        ...

    def replace(self, employee_id: int, old: WrappedKey, new: WrappedKey) -> bool:
        """Store ``new`` as the employee's wrapped DEK if the stored one is still ``old``.

        Return False, changing nothing, if the stored one differs or is gone.
        """
        ...

    def count_wrapped(self, kek_id: str) -> int:
        """Return how many DEKs are wrapped under ``kek_id``."""
        ...

    def checkpoint(self) -> None:
        """Make the replacements so far durable (commit). Called after every batch."""
        ...


@dataclass(frozen=True, slots=True)
class ConsentFact:
    """The employee's most recent consent record, reduced to what the gate decides on."""

    notice_version: int
    by_guardian: bool
    withdrawn: bool


class ConsentReader(Protocol):
    """What the consent gate (:mod:`biometrics.gate`) reads; the database implements it."""

    def biometrics_enabled(self) -> bool:
        """Whether the organization has switched biometrics on."""
        ...

    def minor_age(self) -> int:
        """Below this age a guardian's consent is required."""
        ...

    def age_on(self, employee_id: int, day: date) -> int | None:
        """The employee's age in whole years on ``day``; None without a date of birth."""
        ...

    def current_notice_version(self) -> int | None:
        """The version of the notice in force (published, effective); None if none is."""
        ...

    def latest_consent(self, employee_id: int) -> ConsentFact | None:
        """The employee's most recently given consent, withdrawn or not; None if never."""
        ...
