# SPDX-License-Identifier: GPL-2.0-or-later
"""The pure consent gate against an in-memory ConsentReader (issue #5, C1, C3, C4)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pytest

from biometrics.gate import RefusalReason, check_admission
from biometrics.ports import ConsentFact

DAY = date(2026, 11, 22)


@dataclass
class FakeConsents:
    enabled: bool = True
    minor: int = 16
    age: int | None = 30
    notice: int | None = 2
    latest: ConsentFact | None = field(default_factory=lambda: ConsentFact(2, False, False))

    def biometrics_enabled(self) -> bool:
        return self.enabled

    def minor_age(self) -> int:
        return self.minor

    def age_on(self, employee_id: int, day: date) -> int | None:
        return self.age

    def current_notice_version(self) -> int | None:
        return self.notice

    def latest_consent(self, employee_id: int) -> ConsentFact | None:
        return self.latest


@pytest.mark.parametrize(
    ("reader", "reason"),
    [
        (FakeConsents(), None),
        (FakeConsents(enabled=False), RefusalReason.BIOMETRICS_DISABLED),
        (FakeConsents(age=None), RefusalReason.NO_DATE_OF_BIRTH),
        (FakeConsents(latest=None), RefusalReason.NO_CONSENT),
        (FakeConsents(notice=None), RefusalReason.NO_CONSENT),
        (FakeConsents(latest=ConsentFact(2, False, True)), RefusalReason.WITHDRAWN),
        (FakeConsents(latest=ConsentFact(1, False, False)), RefusalReason.SUPERSEDED_NOTICE),
        (FakeConsents(age=15), RefusalReason.MINOR_WITHOUT_GUARDIAN),
        (FakeConsents(age=15, latest=ConsentFact(2, True, False)), None),
        (FakeConsents(age=16), None),
    ],
)
def test_the_gate_admits_only_current_unwithdrawn_consent_with_a_guardian_for_minors(
    reader: FakeConsents, reason: RefusalReason | None
) -> None:
    admission = check_admission(7, on=DAY, consents=reader)
    assert admission.reason is reason
    assert admission.admitted is (reason is None)
    assert admission.employee_id == 7
