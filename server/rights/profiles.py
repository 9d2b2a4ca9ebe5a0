# SPDX-License-Identifier: GPL-2.0-or-later
"""Legal deadlines for answering data-subject requests, per jurisdiction profile (#7, C15).

Shipped as editable data, never as constants in the code that uses them: legal review sets
the defaults (privacy-capabilities.md §1.7). The organization picks its profile
(``OrganizationSettings.jurisdiction``); each request keeps the profile it was received under.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l


@dataclass(frozen=True, slots=True)
class DeadlineProfile:
    key: str
    label: LazyString  # read in the reader's language (#6 review)
    months: int = 0
    days: int = 0
    # How much longer the answer may take, with reasons told to the employee before the
    # first deadline (GDPR art. 12(3)); zero where the law allows no extension.
    extension_months: int = 0
    remind_days_before: int = 3


PROFILES: dict[str, DeadlineProfile] = {
    p.key: p
    for p in (
        DeadlineProfile(
            "gdpr",
            _l("EU GDPR art. 12(3): one month, extendable by two"),
            months=1,
            extension_months=2,
        ),
        DeadlineProfile("pipl", _l("China PIPL / GB/T 35273 §8.7: 30 days"), days=30),
        DeadlineProfile("lgpd", _l("Brazil LGPD art. 19: 15 days"), days=15),
        DeadlineProfile("custom", _l("Organization policy: 7 days"), days=7, remind_days_before=2),
    )
}


def add_months(moment: datetime, months: int) -> datetime:
    """The same day ``months`` later; the month's last day when it has no such day
    (31 January + 1 month = 28 or 29 February), as EU Regulation 1182/71 counts periods."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def profile(key: str) -> DeadlineProfile:
    try:
        return PROFILES[key]
    except KeyError:
        raise ValueError(f"unknown jurisdiction profile {key!r}") from None


def due_date(received_at: datetime, key: str) -> datetime:
    p = profile(key)
    return add_months(received_at, p.months) + timedelta(days=p.days)


def extended_due_date(received_at: datetime, key: str) -> datetime | None:
    p = profile(key)
    if not p.extension_months:
        return None
    return add_months(due_date(received_at, key), p.extension_months)
