# SPDX-License-Identifier: GPL-2.0-or-later
"""What the organization tells an employee about each category of their data (GDPR 13/15,
PIPL 17/45): purpose, legal basis, source and retention, keyed by inventory category, and
the words the package uses for its tables and columns.

Defaults written for a typical employer; legal review adapts them. The access package prints
them beside the data, so a new category in the inventory without an entry here fails a test,
and so does a column that reaches the package without a label. Every text is a lazy string,
read in the employee's language when the package is written (``force_locale``).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from server.inventory import Category


@dataclass(frozen=True, slots=True)
class CategoryNotice:
    purpose: LazyString
    legal_basis: LazyString
    source: LazyString
    retention: LazyString


NOTICES: dict[Category, CategoryNotice] = {
    Category.IDENTITY: CategoryNotice(
        _l("Identifying you in attendance records and on terminals"),
        _l("Employment contract (GDPR 6(1)(b); PIPL 13(2))"),
        _l("You and the HR department"),
        _l("Employment plus two years"),
    ),
    Category.CONTACT: CategoryNotice(
        _l("Contacting you about your attendance records and requests"),
        _l("Employment contract (GDPR 6(1)(b); PIPL 13(2))"),
        _l("You"),
        _l("Employment plus two years"),
    ),
    Category.EMPLOYMENT: CategoryNotice(
        _l("Organizing work: departments, areas, which terminals know you"),
        _l("Employment contract (GDPR 6(1)(b); PIPL 13(2))"),
        _l("The HR department"),
        _l("Employment plus two years"),
    ),
    Category.ATTENDANCE: CategoryNotice(
        _l("Recording working time, as labour law requires, and paying you for it"),
        _l("Legal obligation (GDPR 6(1)(c); working-time record keeping; PIPL 13(3))"),
        _l("Attendance terminals (serial numbers listed with each punch) and HR corrections"),
        _l("Three years from the punch (the longest labour-law floor), then deleted"),
    ),
    Category.BIOMETRIC: CategoryNotice(
        _l("Identifying you at terminals by fingerprint or face, only with your consent"),
        _l("Explicit, separate consent (GDPR 9(2)(a); PIPL 29; BIPA 15(b))"),
        _l("Enrolment at a terminal"),
        _l("Until consent is withdrawn or employment ends, plus at most 30 days; never exported"),
    ),
    Category.CREDENTIAL: CategoryNotice(
        _l("Identifying you at terminals by card or PIN"),
        _l("Employment contract (GDPR 6(1)(b); PIPL 13(2))"),
        _l("The HR department"),
        _l("Employment plus two years"),
    ),
    Category.CONSENT: CategoryNotice(
        _l("Proving that biometric processing was consented to, and when it was withdrawn"),
        _l("Legal obligation to demonstrate consent (GDPR 7(1); PIPL 14)"),
        _l("You (signed forms) and the HR department"),
        _l("Three years after withdrawal"),
    ),
    Category.ACTIVITY: CategoryNotice(
        _l("Security and accountability: who accessed or changed your records"),
        _l("Legal obligation and legitimate interest in security (GDPR 5(2), 32; CSL 21)"),
        _l("Rollcall's operation log"),
        _l("One year (at least six months)"),
    ),
    Category.REQUEST: CategoryNotice(
        _l("Answering your requests about your data, and proving it was done"),
        _l("Legal obligation (GDPR 12, 5(2); PIPL 50)"),
        _l("You and the HR department"),
        _l("Three years after the request is closed"),
    ),
}

RECIPIENTS = _l(
    "No one outside the organization: Rollcall keeps all data on the organization's own "
    "server and its own terminals, with no cloud service and no telemetry."
)
AUTOMATED_DECISIONS = _l("None: no decision about you is made by automated means alone.")

CATEGORY_LABELS: dict[Category, LazyString] = {
    Category.IDENTITY: _l("Identity details"),
    Category.CONTACT: _l("Contact details"),
    Category.EMPLOYMENT: _l("Employment"),
    Category.ATTENDANCE: _l("Attendance"),
    Category.BIOMETRIC: _l("Biometric data"),
    Category.CREDENTIAL: _l("Cards and PINs"),
    Category.CONSENT: _l("Consent"),
    Category.ACTIVITY: _l("Operation log"),
    Category.REQUEST: _l("Your requests"),
}

# The package's sections: inventory tables by name, plus what the package derives.
TABLE_LABELS: dict[str, LazyString] = {
    "employees": _l("Your profile"),
    "employee_areas": _l("Your areas"),
    "pin_mappings": _l("Your user numbers on terminals"),
    "punches": _l("Punches"),
    "punch_corrections": _l("Punch corrections"),
    "punch_entries": _l("Punches entered by hand"),
    "consents": _l("Consents and the notices you were given"),
    "biometric_templates": _l("Biometric templates (description only, never the template)"),
    "biometric_terminals": _l("Terminals that hold or held your biometric templates"),
    "data_keys": _l("Your biometric data key (description only, never the key)"),
    "terminal_commands": _l("Changes sent to terminals about you"),
    "subject_requests": _l("Your requests about your data"),
    "downloads": _l("Files produced about you"),
    "erasure_runs": _l("Erasures"),
    "audit_events": _l("Who accessed or changed your record"),
    "punch_exports": _l("Exports of punches that may have included yours"),
}

# Column labels, by column name (a name means the same in every table that has it); also
# the columns the package adds to name what an identifier points at.
COLUMN_LABELS: dict[str, LazyString] = {
    "action": _l("What was done"),
    "actor": _l("Who"),
    "actor_account_id": _l("Account number"),
    "actor_kind": _l("Kind of actor"),
    "actor_role": _l("Role"),
    "format": _l("Format"),
    "rows": _l("Rows"),
    "area_id": _l("Area number"),
    "area_name": _l("Area"),
    "at": _l("Time"),
    "attempts": _l("Attempts"),
    "author_id": _l("Author number"),
    "author_name": _l("Author"),
    "author_role": _l("Author's role"),
    "card_number": _l("Card number"),
    "cause": _l("Cause"),
    "closed_at": _l("Closed"),
    "completed_at": _l("Completed"),
    "content_type": _l("Content type"),
    "created_at": _l("Created"),
    "created_by_id": _l("Created by (number)"),
    "created_by_name": _l("Created by"),
    "created_by_role": _l("Creator's role"),
    "date_of_birth": _l("Date of birth"),
    "decided_at": _l("Decided"),
    "decided_by_id": _l("Decided by (number)"),
    "decided_by_name": _l("Decided by"),
    "decided_by_role": _l("Decider's role"),
    "department_id": _l("Department number"),
    "department_name": _l("Department"),
    "details": _l("Details"),
    "device_name": _l("Name on terminals"),
    "device_privilege": _l("Terminal privilege"),
    "device_time": _l("Terminal time"),
    "due_at": _l("Due"),
    "email": _l("E-mail"),
    "employee_code": _l("Employee code"),
    "employee_id": _l("Employee number"),
    "enrolled_at": _l("Enrolled"),
    "erased_at": _l("Erased"),
    "evidence_ref": _l("Evidence reference"),
    "expires_at": _l("Expires"),
    "extended_at": _l("Extended"),
    "extension_notified_at": _l("Extension notified"),
    "extension_reason": _l("Extension reason"),
    "family_name": _l("Family name"),
    "fetch_count": _l("Times fetched"),
    "filename": _l("File name"),
    "finger": _l("Finger"),
    "flag": _l("Flag"),
    "format_version": _l("Format version"),
    "given_at": _l("Given"),
    "given_by": _l("Given by"),
    "given_name": _l("Given name"),
    "guardian_name": _l("Guardian's name"),
    "guardian_relation": _l("Guardian's relation"),
    "held_from": _l("Held from"),
    "held_until": _l("Held until"),
    "hire_date": _l("Hire date"),
    "how": _l("How"),
    "id": _l("Number"),
    "identity_method": _l("Identity verified by"),
    "identity_verified_at": _l("Identity verified"),
    "identity_verified_by_id": _l("Identity verified by (number)"),
    "identity_verified_by_name": _l("Identity verified by (name)"),
    "identity_verified_by_role": _l("Verifier's role"),
    "jurisdiction": _l("Jurisdiction"),
    "kek_id": _l("Key-encryption key"),
    "kind": _l("Kind"),
    "last_error": _l("Last error"),
    "last_fetched_at": _l("Last fetched"),
    "locale": _l("Language"),
    "method": _l("Method"),
    "next_attempt_at": _l("Next attempt"),
    "next_step": _l("Next step"),
    "note": _l("Note"),
    "notice_id": _l("Notice number"),
    "notice_published_at": _l("Notice published"),
    "notice_sha256": _l("Notice fingerprint (SHA-256)"),
    "notice_text": _l("Notice text"),
    "notice_title": _l("Notice title"),
    "notice_version": _l("Notice version"),
    "object_id": _l("Object number"),
    "object_type": _l("Object"),
    "occurred_at": _l("Time"),
    "outcome": _l("Outcome"),
    "phone": _l("Phone"),
    "pin": _l("PIN"),
    "punch_id": _l("Punch number"),
    "punch_state": _l("Punch state"),
    "quarantine_reason": _l("Quarantine reason"),
    "reason": _l("Reason"),
    "receipt": _l("Receipt"),
    "receipt_digest": _l("Receipt digest"),
    "received_at": _l("Received"),
    "recorded_by_id": _l("Recorded by (number)"),
    "recorded_by_name": _l("Recorded by"),
    "recorded_by_role": _l("Recorder's role"),
    "reference": _l("Reference"),
    "refusal_reason": _l("Refusal reason"),
    "refusal_text": _l("Refusal text"),
    "removed_at": _l("Removed"),
    "request_id": _l("Request number"),
    "restricted_at": _l("Restricted"),
    "seq": _l("Sequence"),
    "size": _l("Size"),
    "source": _l("Source"),
    "source_terminal_serial": _l("Enrolled at terminal (serial)"),
    "started_at": _l("Started"),
    "started_by_id": _l("Started by (number)"),
    "started_by_name": _l("Started by"),
    "started_by_role": _l("Starter's role"),
    "state": _l("State"),
    "status": _l("Status"),
    "subject_employee_id": _l("About employee number"),
    "sync_run_id": _l("Terminal read number"),
    "template_index": _l("Template index"),
    "terminal_area": _l("Terminal area"),
    "terminal_id": _l("Terminal number"),
    "terminal_name": _l("Terminal name"),
    "terminal_serial": _l("Terminal serial"),
    "terminals_cleared_at": _l("Terminals cleared"),
    "termination_date": _l("Termination date"),
    "timezone": _l("Time zone"),
    "updated_at": _l("Updated"),
    "valid_from": _l("Valid from"),
    "valid_until": _l("Valid until"),
    "verify_mode": _l("Verification mode"),
    "verify_type": _l("Verification type"),
    "withdrawal_evidence_ref": _l("Withdrawal evidence reference"),
    "withdrawal_method": _l("Withdrawal method"),
    "withdrawal_recorded_by_id": _l("Withdrawal recorded by (number)"),
    "withdrawal_recorded_by_name": _l("Withdrawal recorded by"),
    "withdrawal_recorded_by_role": _l("Withdrawal recorder's role"),
    "withdrawn_at": _l("Withdrawn"),
    "work_code": _l("Work code"),
}

# How a terminal came to hold a template (biometric_terminals.how).
HOLDING_LABELS: dict[str, LazyString] = {
    "enrolled": _l("Enrolled at this terminal"),
    "sent": _l("Sent to this terminal by Rollcall"),
}

# Who acted, for entries of the operation log made by no person's account.
ACTOR_LABELS: dict[str, LazyString] = {
    "anonymous": _l("Someone not signed in"),
    "system": _l("Rollcall (automatic)"),
    "cli": _l("Rollcall's command line, on the server"),
    "worker": _l("Rollcall's terminal worker (automatic)"),
    "sync": _l("Rollcall's terminal reader (automatic)"),
}


def column_label(name: str) -> str:
    """The label of a column in the current language; the name itself when it has none."""
    label = COLUMN_LABELS.get(name)
    return name if label is None else str(label)
