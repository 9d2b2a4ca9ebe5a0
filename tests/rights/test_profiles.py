# SPDX-License-Identifier: GPL-2.0-or-later
"""Legal deadlines per jurisdiction profile (C15): table-driven."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from server.rights.profiles import PROFILES, add_months, due_date, extended_due_date


def at(y: int, m: int, d: int, h: int = 9) -> datetime:
    return datetime(y, m, d, h, tzinfo=UTC)


@pytest.mark.parametrize(
    ("profile", "received", "due", "extended"),
    [
        ("gdpr", at(2026, 3, 10), at(2026, 4, 10), at(2026, 6, 10)),
        # a month from 31 January ends on the last day of February, leap year or not
        ("gdpr", at(2026, 1, 31), at(2026, 2, 28), at(2026, 4, 28)),
        ("gdpr", at(2028, 1, 31), at(2028, 2, 29), at(2028, 4, 29)),
        ("gdpr", at(2026, 12, 15), at(2027, 1, 15), at(2027, 3, 15)),
        ("pipl", at(2026, 3, 10), at(2026, 4, 9), None),
        ("lgpd", at(2026, 3, 10), at(2026, 3, 25), None),
        ("custom", at(2026, 3, 10), at(2026, 3, 17), None),
    ],
)
def test_each_profile_sets_its_deadline(
    profile: str, received: datetime, due: datetime, extended: datetime | None
) -> None:
    assert due_date(received, profile) == due
    assert extended_due_date(received, profile) == extended


def test_adding_months_keeps_the_time_of_day() -> None:
    assert add_months(datetime(2026, 8, 31, 17, 45, tzinfo=UTC), 1) == datetime(
        2026, 9, 30, 17, 45, tzinfo=UTC
    )


def test_only_gdpr_allows_an_extension_and_every_profile_reminds_before_the_deadline() -> None:
    assert {k for k, p in PROFILES.items() if p.extension_months} == {"gdpr"}
    assert all(p.remind_days_before > 0 for p in PROFILES.values())


def test_an_unknown_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown jurisdiction profile"):
        due_date(at(2026, 1, 1), "mars")
