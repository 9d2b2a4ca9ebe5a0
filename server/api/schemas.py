# SPDX-License-Identifier: GPL-2.0-or-later
"""JSON Schemas of what the API returns (OpenAPI components), and small input helpers.

Every response schema here is checked against real responses by the API tests, so a field
added to a payload without being described (or described but missing) fails them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _

from server.api.registry import ref
from server.audit.services import REASONS
from server.errors import ValidationError

INSTANT = {"type": "string", "format": "date-time"}
MAYBE_INSTANT = {"type": ["string", "null"], "format": "date-time"}
ID = {"type": "integer", "minimum": 1}
MAYBE_ID = {"type": ["integer", "null"]}
MAYBE_STR = {"type": ["string", "null"]}
MAYBE_DATE = {"type": ["string", "null"], "format": "date"}


def obj(properties: dict[str, Any], *, optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """An object with exactly these properties, all required unless named in ``optional``."""
    return {
        "type": "object",
        "required": [k for k in properties if k not in optional],
        "properties": properties,
        "additionalProperties": False,
    }


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def instant(value: object, field: str) -> datetime:
    """An ISO 8601 instant with its offset, e.g. ``2026-05-04T08:01:00+02:00``."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed
    raise ValidationError(
        _(
            "%(field)s must be an ISO 8601 date and time with its UTC offset.",
            field=field,
        ),
        details={"field": field},
    )


def day(value: object, field: str) -> date:
    """A calendar date written ``YYYY-MM-DD``."""
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValidationError(
        _("%(field)s must be a date written YYYY-MM-DD.", field=field), details={"field": field}
    )


OUTBOX_SUMMARY = obj(
    {
        "pending": {"type": "integer"},
        "retrying": {"type": "integer"},
        "failed": {"type": "integer"},
        "oldest_pending_at": MAYBE_INSTANT,
    }
)

EMPLOYEE: dict[str, Any] = {
    "id": ID,
    "employee_code": {"type": "string"},
    "given_name": {"type": "string"},
    "family_name": {"type": "string"},
    "device_name": MAYBE_STR,
    "department_id": MAYBE_ID,
    "status": {"type": "string"},
    "hire_date": MAYBE_DATE,
    "termination_date": MAYBE_DATE,
    "restricted": {"type": "boolean"},
    "created_at": INSTANT,
}

BUCKET = obj(
    {
        "label": {"type": "string", "description": "HH for an hour, MM-DD for a day."},
        "start": {**INSTANT, "description": "In the organization's time zone."},
        "count": {"type": "integer", "description": "Punches that count for statistics."},
    }
)

SCHEMAS: dict[str, dict[str, Any]] = {
    "Employee": obj(EMPLOYEE),
    "Me": obj(
        {
            "account_id": ID,
            "username": {"type": "string"},
            "role": {"type": "string"},
            "token": {
                "oneOf": [
                    {"type": "null"},
                    obj(
                        {
                            "id": ID,
                            "name": {"type": "string"},
                            "read_only": {"type": "boolean"},
                            "expires_at": MAYBE_INSTANT,
                        }
                    ),
                ]
            },
        }
    ),
    "Terminal": obj(
        {
            "id": ID,
            "serial_number": {"type": "string"},
            "name": {"type": "string"},
            "host": MAYBE_STR,
            "port": MAYBE_ID,
            "transport": {"type": "string", "enum": ["tcp", "udp"]},
            "timezone": {"type": "string"},
            "encoding": {"type": "string"},
            "model": MAYBE_STR,
            "platform": MAYBE_STR,
            "firmware": MAYBE_STR,
            "area_id": MAYBE_ID,
            "enabled": {"type": "boolean"},
            "online": {"type": "boolean"},
            "comm_key_set": {"type": "boolean", "description": "The key itself is never shown."},
            "sync_interval_s": {"type": "integer"},
            "clear_after_sync": {"type": "boolean"},
            "last_seen_at": MAYBE_INSTANT,
            "last_success_at": MAYBE_INSTANT,
            "last_error": MAYBE_STR,
            "consecutive_failures": {"type": "integer"},
            "clock_offset_s": {"type": ["number", "null"]},
            "record_count": {"type": ["integer", "null"]},
            "user_count": {"type": ["integer", "null"]},
            "template_count": {"type": ["integer", "null"]},
            "outbox": OUTBOX_SUMMARY,
        }
    ),
    "SyncRun": obj(
        {
            "id": ID,
            "terminal_id": ID,
            "trigger": {"type": "string"},
            "status": {"type": "string"},
            "started_at": INSTANT,
            "finished_at": MAYBE_INSTANT,
            "duration_ms": {"type": ["integer", "null"]},
            "device_record_count": {"type": ["integer", "null"]},
            "records_read": {"type": "integer"},
            "punches_new": {"type": "integer"},
            "punches_duplicate": {"type": "integer"},
            "punches_quarantined": {"type": "integer"},
            "users_read": {"type": "integer"},
            "templates_read": {"type": "integer", "description": "A count; never a template."},
            "clock_offset_s": {"type": ["number", "null"]},
            "cleared": {"type": "boolean"},
            "error": MAYBE_STR,
        }
    ),
    "OutboxCommand": obj(
        {
            "id": ID,
            "terminal_id": ID,
            "kind": {
                "type": "string",
                "enum": ["put_user", "delete_user", "delete_templates", "enrol", "reconcile"],
            },
            "employee_id": MAYBE_ID,
            "pin": MAYBE_STR,
            "finger": {"type": ["integer", "null"]},
            "cause": {"type": "string"},
            "reference": MAYBE_STR,
            "state": {"type": "string", "enum": ["pending", "done", "failed", "superseded"]},
            "attempts": {"type": "integer"},
            "next_attempt_at": MAYBE_INSTANT,
            "last_error": MAYBE_STR,
            "outcome": {
                "type": ["object", "null"],
                "description": "Counts reported by the terminal (never template data).",
            },
            "created_at": INSTANT,
            "completed_at": MAYBE_INSTANT,
        }
    ),
    "SubjectRequest": obj(
        {
            "id": ID,
            "employee_id": ID,
            "kind": {"type": "string"},
            "status": {"type": "string"},
            "jurisdiction": {"type": "string"},
            "received_at": INSTANT,
            "due_at": INSTANT,
            "overdue": {"type": "boolean"},
            "identity_method": MAYBE_STR,
            "identity_verified_at": MAYBE_INSTANT,
            "identity_verified_by_id": MAYBE_ID,
            "extended_at": MAYBE_INSTANT,
            "extension_reason": MAYBE_STR,
            "extension_notified_at": MAYBE_INSTANT,
            "refusal_reason": MAYBE_STR,
            "refusal_text": MAYBE_STR,
            "closed_at": MAYBE_INSTANT,
            "created_by_id": MAYBE_ID,
        }
    ),
    "Deadline": obj(
        {
            "request_id": ID,
            "employee_id": ID,
            "kind": {"type": "string"},
            "due_at": INSTANT,
            "overdue": {"type": "boolean"},
            "days_left": {"type": "integer"},
        }
    ),
    "Erasure": obj(
        {
            "id": ID,
            "request_id": MAYBE_ID,
            "employee_id": ID,
            "state": {"type": "string", "enum": ["running", "waiting_for_terminals", "completed"]},
            "steps_done": {"type": "integer"},
            "steps_total": {"type": "integer"},
            "started_at": INSTANT,
            "completed_at": MAYBE_INSTANT,
            "waiting_on": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Serial numbers of terminals yet to confirm their delete.",
            },
            "terminals": {
                "type": "array",
                "items": obj(
                    {
                        "serial_number": {"type": "string"},
                        "state": {
                            "type": "string",
                            "description": "pending, retrying, clearing_log (deleted; its "
                            "attendance log is cleared at its next sync), done (confirmed), "
                            "removed (no longer in Rollcall) or unconfirmed (its PIN is "
                            "unknown).",
                        },
                        "reason": {
                            "type": ["string", "null"],
                            "description": "Why its delete cannot run now: push, disabled; "
                            "for removed ones: not_registered, terminal_deleted.",
                        },
                        "confirmed_at": MAYBE_INSTANT,
                        "confirmed_by_hand": {
                            "type": ["string", "null"],
                            "description": "How a privacy officer attested it was cleared, "
                            "when Rollcall could not confirm it itself.",
                        },
                    }
                ),
            },
        }
    ),
    "ErasureReceipt": obj(
        {
            "erasure_id": ID,
            "receipt": {"type": "object", "description": "Identifiers and counts only."},
            "receipt_sha256": {"type": "string"},
            "matches_operation_log": {"type": "boolean"},
        }
    ),
    "DownloadLink": obj(
        {
            "download_id": ID,
            "url": {"type": "string", "description": "Fetch while signed in; it expires."},
            "expires_at": INSTANT,
            "bytes": {"type": "integer"},
        }
    ),
    "PunchCorrection": obj(
        {
            "id": ID,
            "punch_id": ID,
            "employee_id": ID,
            "action": {"type": "string", "enum": ["amend", "void"]},
            "occurred_at": MAYBE_INSTANT,
            "punch_state": {"type": ["integer", "null"]},
            "reason": {"type": "string"},
            "note": MAYBE_STR,
            "request_id": MAYBE_ID,
            "status": {"type": "string", "enum": ["proposed", "approved", "rejected"]},
            "author_id": MAYBE_ID,
            "created_at": INSTANT,
            "decided_by_id": MAYBE_ID,
            "decided_at": MAYBE_INSTANT,
        }
    ),
    "Punch": obj(
        {
            "id": ID,
            "occurred_at": {**INSTANT, "description": "Effective: the approved correction's."},
            "original_occurred_at": {
                **MAYBE_INSTANT,
                "description": "As recorded, when a correction moved it.",
            },
            "timezone": {"type": "string"},
            "terminal_serial": {"type": "string"},
            "pin": {"type": "string"},
            "employee_id": MAYBE_ID,
            "punch_state": {"type": "integer", "description": "Effective; 0-5 or 255."},
            "verify_type": {"type": "integer"},
            "source": {"type": "string", "enum": ["pull", "push", "manual"]},
            "status": {"type": "string", "enum": ["ok", "quarantined"]},
            "quarantine_reason": MAYBE_STR,
            "corrected": {"type": "boolean"},
            "voided": {"type": "boolean", "description": "A correction says it does not count."},
        }
    ),
    "AuditStatus": obj(
        {
            "ok": {"type": "boolean"},
            "entries": {"type": "integer"},
            "first_broken_seq": {
                "type": ["integer", "null"],
                "description": "The first entry altered, removed or cut off; null when intact, "
                "or when the anchors cannot be read or were lost (no entry to name).",
            },
            "reason": {**MAYBE_STR, "description": "Why the check failed, in English."},
            "code": {
                "type": ["string", "null"],
                "enum": [*REASONS, None],
                "description": "The reason as a stable code; null when intact.",
            },
            "anchors": {"type": "integer", "description": "Anchors of the log head checked."},
        }
    ),
    "EmployeeDetail": {
        "description": "The profile as the employee page shows it (never a template, nor the code "
        "typed at terminals).",
        **obj(
            {
                **EMPLOYEE,
                "date_of_birth": MAYBE_DATE,
                "email": MAYBE_STR,
                "phone": MAYBE_STR,
                "locale": {**MAYBE_STR, "description": "null: the organization's default."},
                "verify_mode": {"type": "string", "enum": ["fingerprint", "face", "card", "pin"]},
                "card_number": MAYBE_STR,
                "device_privilege": {"type": "integer", "enum": [0, 14]},
                "area_ids": {"type": "array", "items": ID},
            }
        ),
    },
    "Department": obj(
        {
            "id": ID,
            "code": {"type": "string"},
            "name": {"type": "string"},
            "parent_id": MAYBE_ID,
            "depth": {"type": "integer", "description": "0 for a top-level department."},
            "employee_count": {
                "type": ["integer", "null"],
                "description": "null outside a scoped caller's departments.",
            },
        }
    ),
    "Area": obj(
        {
            "id": ID,
            "code": {"type": "string"},
            "name": {"type": "string"},
            "parent_id": MAYBE_ID,
            "depth": {"type": "integer", "description": "0 for a top-level area."},
            "employee_count": {"type": "integer"},
            "terminal_count": {"type": "integer"},
        }
    ),
    "AuditEvent": obj(
        {
            "seq": ID,
            "at": INSTANT,
            "actor_kind": {"type": "string"},
            "actor_account_id": MAYBE_ID,
            "action": {"type": "string"},
            "object_type": MAYBE_STR,
            "object_id": MAYBE_STR,
            "subject_employee_id": MAYBE_ID,
            "ip_address": MAYBE_STR,
            "user_agent": MAYBE_STR,
            "details": {"type": "object", "description": "Identifiers and counts only."},
        }
    ),
    "Dashboard": obj(
        {
            "today": {"type": "string", "format": "date"},
            "timezone": {"type": "string"},
            "punches_today": {"type": "integer"},
            "active_employees": {"type": "integer"},
            "present_count": {"type": "integer"},
            "present": {
                "type": ["array", "null"],
                "description": "The latest to come in who are still in (at most 30); null for "
                "roles that see only the count.",
                "items": obj(
                    {
                        "employee_id": ID,
                        "employee_code": {"type": "string"},
                        "given_name": {"type": "string"},
                        "family_name": {"type": "string"},
                        "since": INSTANT,
                    }
                ),
            },
            "terminals": obj(
                {
                    "online": {"type": "integer"},
                    "offline": {"type": "integer", "description": "Enabled but not online."},
                    "total": {"type": "integer"},
                }
            ),
            "alerts": obj(
                {
                    "clock_drift": {"type": "array", "items": ID, "description": "Terminal ids."},
                    "failing": {"type": "array", "items": ID, "description": "Terminal ids."},
                    "quarantined_punches": {"type": "integer"},
                    "unassigned_pins": {"type": "integer"},
                    "failed_commands": {"type": "integer"},
                    "corrections_to_decide": {
                        "type": "integer",
                        "description": "Punch corrections waiting for a second person.",
                    },
                    "overdue_requests": {"type": ["integer", "null"]},
                    "requests_due_soon": {"type": ["integer", "null"]},
                }
            ),
            "per_hour": {"type": "array", "items": BUCKET},
            "per_day": {"type": "array", "items": BUCKET},
        }
    ),
    "TerminalRegistration": obj(
        {
            "created": {
                "type": "boolean",
                "description": "false: a known terminal (same serial) now followed here.",
            },
            "moved_from": {**MAYBE_STR, "description": "Its former address, when it moved."},
            "terminal": ref("Terminal"),
        }
    ),
    "ConnectionTest": obj(
        {
            "ok": {"type": "boolean"},
            "serial_number": MAYBE_STR,
            "firmware": MAYBE_STR,
            "records": {"type": ["integer", "null"]},
            "users": {"type": ["integer", "null"]},
            "clock_offset_s": {"type": ["number", "null"]},
            "elapsed_ms": {"type": "integer"},
            "error": MAYBE_STR,
        }
    ),
}
