# SPDX-License-Identifier: GPL-2.0-or-later
"""The consent gate: may a template be kept for this employee? (issue #5, C1, C3, C4)

Pure logic over a :class:`~biometrics.ports.ConsentReader`; the database is behind it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date

from biometrics.ports import ConsentReader

__all__ = ["Admission", "RefusalReason", "check_admission"]


class RefusalReason(enum.StrEnum):
    BIOMETRICS_DISABLED = "biometrics_disabled"
    NO_DATE_OF_BIRTH = "no_date_of_birth"
    NO_CONSENT = "no_consent"
    WITHDRAWN = "withdrawn"
    SUPERSEDED_NOTICE = "superseded_notice"
    MINOR_WITHOUT_GUARDIAN = "minor_without_guardian"


@dataclass(frozen=True, slots=True)
class Admission:
    """The gate's answer: admitted, or refused with one reason code."""

    employee_id: int
    reason: RefusalReason | None = None

    @property
    def admitted(self) -> bool:
        return self.reason is None


def check_admission(employee_id: int, *, on: date, consents: ConsentReader) -> Admission:
    """Decide whether a template for ``employee_id`` may be stored on day ``on``.

    The order matters only for which reason is reported: the organization switch first,
    then what is missing about the person, then the consent itself.
    """
    if not consents.biometrics_enabled():
        return Admission(employee_id, RefusalReason.BIOMETRICS_DISABLED)
    age = consents.age_on(employee_id, on)
    if age is None:
        # Without a date of birth the minors rule cannot be applied, so nobody is admitted.
        return Admission(employee_id, RefusalReason.NO_DATE_OF_BIRTH)
    current = consents.current_notice_version()
    latest = consents.latest_consent(employee_id)
    if latest is None or current is None:
        return Admission(employee_id, RefusalReason.NO_CONSENT)
    if latest.withdrawn:
        return Admission(employee_id, RefusalReason.WITHDRAWN)
    if latest.notice_version != current:
        return Admission(employee_id, RefusalReason.SUPERSEDED_NOTICE)
    if age < consents.minor_age() and not latest.by_guardian:
        return Admission(employee_id, RefusalReason.MINOR_WITHOUT_GUARDIAN)
    return Admission(employee_id)
