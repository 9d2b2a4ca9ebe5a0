# SPDX-License-Identifier: GPL-2.0-or-later
"""What the organization tells an employee about each category of their data (GDPR 13/15,
PIPL 17/45): purpose, legal basis, source and retention, keyed by inventory category.

Defaults written for a typical employer; legal review adapts them. The access package prints
them beside the data, so a new category in the inventory without an entry here fails a test.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.inventory import Category


@dataclass(frozen=True, slots=True)
class CategoryNotice:
    purpose: str
    legal_basis: str
    source: str
    retention: str


NOTICES: dict[Category, CategoryNotice] = {
    Category.IDENTITY: CategoryNotice(
        "Identifying you in attendance records and on terminals",
        "Employment contract (GDPR 6(1)(b); PIPL 13(2))",
        "You and the HR department",
        "Employment plus two years",
    ),
    Category.CONTACT: CategoryNotice(
        "Contacting you about your attendance records and requests",
        "Employment contract (GDPR 6(1)(b); PIPL 13(2))",
        "You",
        "Employment plus two years",
    ),
    Category.EMPLOYMENT: CategoryNotice(
        "Organizing work: departments, areas, which terminals know you",
        "Employment contract (GDPR 6(1)(b); PIPL 13(2))",
        "The HR department",
        "Employment plus two years",
    ),
    Category.ATTENDANCE: CategoryNotice(
        "Recording working time, as labour law requires, and paying you for it",
        "Legal obligation (GDPR 6(1)(c); working-time record keeping; PIPL 13(3))",
        "Attendance terminals (serial numbers listed with each punch) and HR corrections",
        "Three years from the punch (the longest labour-law floor), then deleted",
    ),
    Category.BIOMETRIC: CategoryNotice(
        "Identifying you at terminals by fingerprint or face, only with your consent",
        "Explicit, separate consent (GDPR 9(2)(a); PIPL 29; BIPA 15(b))",
        "Enrolment at a terminal",
        "Until consent is withdrawn or employment ends, plus at most 30 days; never exported",
    ),
    Category.CREDENTIAL: CategoryNotice(
        "Identifying you at terminals by card or PIN",
        "Employment contract (GDPR 6(1)(b); PIPL 13(2))",
        "The HR department",
        "Employment plus two years",
    ),
    Category.CONSENT: CategoryNotice(
        "Proving that biometric processing was consented to, and when it was withdrawn",
        "Legal obligation to demonstrate consent (GDPR 7(1); PIPL 14)",
        "You (signed forms) and the HR department",
        "Three years after withdrawal",
    ),
    Category.ACTIVITY: CategoryNotice(
        "Security and accountability: who accessed or changed your records",
        "Legal obligation and legitimate interest in security (GDPR 5(2), 32; CSL 21)",
        "Rollcall's operation log",
        "One year (at least six months)",
    ),
    Category.REQUEST: CategoryNotice(
        "Answering your requests about your data, and proving it was done",
        "Legal obligation (GDPR 12, 5(2); PIPL 50)",
        "You and the HR department",
        "Three years after the request is closed",
    ),
}

RECIPIENTS = (
    "No one outside the organization: Rollcall keeps all data on the organization's own "
    "server and its own terminals, with no cloud service and no telemetry."
)
AUTOMATED_DECISIONS = "None: no decision about you is made by automated means alone."
