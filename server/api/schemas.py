# SPDX-License-Identifier: GPL-2.0-or-later
"""JSON Schemas of what the API returns (OpenAPI components), and small input helpers.

Every response schema here is checked against real responses by the API tests, so a field
added to a payload without being described (or described but missing) fails them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from server.errors import ValidationError

INSTANT = {"type": "string", "format": "date-time"}
MAYBE_INSTANT = {"type": ["string", "null"], "format": "date-time"}
ID = {"type": "integer", "minimum": 1}
MAYBE_ID = {"type": ["integer", "null"]}
MAYBE_STR = {"type": ["string", "null"]}


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
        f"{field} must be an ISO 8601 date and time with its UTC offset", details={"field": field}
    )


OUTBOX_SUMMARY = obj(
    {
        "pending": {"type": "integer"},
        "retrying": {"type": "integer"},
        "failed": {"type": "integer"},
        "oldest_pending_at": MAYBE_INSTANT,
    }
)

SCHEMAS: dict[str, dict[str, Any]] = {
    "Employee": obj(
        {
            "id": ID,
            "employee_code": {"type": "string"},
            "given_name": {"type": "string"},
            "family_name": {"type": "string"},
            "device_name": MAYBE_STR,
            "department_id": MAYBE_ID,
            "status": {"type": "string"},
            "hire_date": {"type": ["string", "null"], "format": "date"},
            "termination_date": {"type": ["string", "null"], "format": "date"},
            "restricted": {"type": "boolean"},
            "created_at": INSTANT,
        }
    ),
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
                        "state": {"type": "string"},
                        "confirmed_at": MAYBE_INSTANT,
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
            "first_broken_seq": {"type": ["integer", "null"]},
            "reason": MAYBE_STR,
            "anchors": {"type": "integer", "description": "Anchors of the log head checked."},
        }
    ),
}
