# SPDX-License-Identifier: GPL-2.0-or-later
"""Writing and verifying the hash-chained operation log."""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from server.audit.models import AuditEvent, AuditHead
from server.db import utcnow

GENESIS = "0" * 64
_ALLOWED_DETAIL = (str, int, float, bool, type(None))


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: an account (with the request's address) or a process of Rollcall's own."""

    kind: str
    account_id: int | None = None
    ip_address: str | None = None
    user_agent: str | None = None

    @classmethod
    def system(cls, kind: str = "system") -> Actor:
        return cls(kind=kind)


def _entry_digest(event: AuditEvent) -> str:
    body = {
        "seq": event.seq,
        "at": event.at.isoformat(),
        "actor_account_id": event.actor_account_id,
        "actor_kind": event.actor_kind,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "subject_employee_id": event.subject_employee_id,
        "ip_address": event.ip_address,
        "user_agent": event.user_agent,
        "details": event.details,
        "prev_hash": event.prev_hash,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


# What a string in an entry's details may look like (#6: identifiers, never free text):
# codes, ids, serials, ISO times, comma-separated lists of ids. No spaces, so no sentence,
# name or note fits; no "@", so no e-mail address.
_IDENTIFIER = re.compile(r"[A-Za-z0-9_.:/+,-]{0,120}")
_DETAIL_KEY = re.compile(r"[a-z][a-z0-9_.]{0,63}")


def is_identifier(value: str) -> bool:
    """Whether ``value`` may stand in an entry's details: a code or id, not free text."""
    return _IDENTIFIER.fullmatch(value) is not None


def _check_details(details: dict[str, Any]) -> None:
    # Identifiers and counts only: a nested structure is where free text and templates hide.
    for key, value in details.items():
        if not isinstance(key, str) or _DETAIL_KEY.fullmatch(key) is None:
            raise ValueError(f"audit detail key {key!r} is not a plain name")
        if not isinstance(value, _ALLOWED_DETAIL) or isinstance(value, bytes):
            raise TypeError(f"audit detail {key!r} must be a scalar, not {type(value).__name__}")
        if isinstance(value, str) and not is_identifier(value):
            # The value itself is not repeated: it may be the personal data kept out.
            raise ValueError(
                f"audit detail {key!r} must be an identifier or code (at most 120 letters, "
                "digits and _.:/+,-), not free text"
            )


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """One entry for :func:`record_events`, with :func:`record_event`'s arguments."""

    action: str
    actor: Actor
    object_type: str | None = None
    object_id: object = None
    subject_employee_id: int | None = None
    details: dict[str, Any] | None = None
    at: datetime | None = None


def record_event(
    db: Session,
    action: str,
    *,
    actor: Actor,
    object_type: str | None = None,
    object_id: object = None,
    subject_employee_id: int | None = None,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """Append one entry to the chain, in the caller's transaction (flushed, not committed)."""
    return record_events(
        db,
        [PendingEvent(action, actor, object_type, object_id, subject_employee_id, details, at)],
    )[0]


def select_events(
    *,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    subject_employee_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Select[AuditEvent]:
    """The operation log's entries that match every filter given, unordered (the page and
    the API order and page them by ``seq``). ``action`` is a prefix: ``employee.`` finds
    every action on employees; ``end`` is exclusive."""
    query = select(AuditEvent)
    if action:
        query = query.where(AuditEvent.action.startswith(action, autoescape=True))
    if object_type:
        query = query.where(AuditEvent.object_type == object_type)
    if object_id:
        query = query.where(AuditEvent.object_id == object_id)
    if subject_employee_id is not None:
        query = query.where(AuditEvent.subject_employee_id == subject_employee_id)
    if start is not None:
        query = query.where(AuditEvent.at >= start)
    if end is not None:
        query = query.where(AuditEvent.at < end)
    return query


def record_events(db: Session, pending: Sequence[PendingEvent]) -> list[AuditEvent]:
    """Append several entries with one move of the chain head (bulk work: the outbox)."""
    if not pending:
        return []
    for item in pending:
        _check_details(dict(item.details or {}))
    n = len(pending)
    head = db.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(seq=AuditHead.seq + n)
        .returning(AuditHead.seq, AuditHead.hash)
    ).one_or_none()
    if head is None:
        db.add(AuditHead(id=1, seq=n, hash=GENESIS))
        db.flush()
        seq, prev = 1, GENESIS
    else:
        seq, prev = int(head.seq) - n + 1, str(head.hash)
    events = []
    for item in pending:
        actor = item.actor
        event = AuditEvent(
            seq=seq,
            at=(item.at or utcnow()).astimezone(UTC),
            actor_account_id=actor.account_id,
            actor_kind=actor.kind,
            action=item.action,
            object_type=item.object_type,
            object_id=None if item.object_id is None else str(item.object_id),
            subject_employee_id=item.subject_employee_id,
            ip_address=actor.ip_address,
            user_agent=(actor.user_agent or None) and actor.user_agent[:300],
            details=dict(item.details or {}),
            prev_hash=prev,
            hash="",
        )
        event.hash = _entry_digest(event)
        events.append(event)
        prev = event.hash
        seq += 1
    db.add_all(events)
    db.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=prev))
    db.flush()
    return events


@dataclass(frozen=True, slots=True)
class ChainReport:
    ok: bool
    entries: int
    first_broken_seq: int | None = None
    reason: str | None = None


def verify_chain(db: Session, batch: int = 5000) -> ChainReport:
    """Walk the chain from genesis; name the first entry that was altered, removed or cut."""
    prev, expected_seq, count = GENESIS, 1, 0
    last_seq = 0
    while True:
        rows = db.scalars(
            select(AuditEvent)
            .where(AuditEvent.seq > last_seq)
            .order_by(AuditEvent.seq)
            .limit(batch)
        ).all()
        if not rows:
            break
        for event in rows:
            if event.seq != expected_seq:
                return ChainReport(False, count, expected_seq, "entry missing")
            if event.prev_hash != prev or _entry_digest(event) != event.hash:
                return ChainReport(False, count, event.seq, "entry altered")
            prev, expected_seq, count = event.hash, expected_seq + 1, count + 1
            last_seq = event.seq
    head = db.get(AuditHead, 1)
    head_seq, head_hash = (0, GENESIS) if head is None else (head.seq, head.hash)
    if head_seq != count or head_hash != prev:
        return ChainReport(False, count, count + 1, "log truncated (head does not match)")
    return ChainReport(True, count)


# --------------------------------------------------------------------------- external anchors
# The head row lives in the same database as the log: someone who can rewrite the database
# can cut the tail and move the head back. An anchor is a copy of the head kept elsewhere
# (a file, by default in the data folder; better on another machine or write-once storage).
# Every anchor ever taken must still be a point of the chain: seq N with the same hash.


@dataclass(frozen=True, slots=True)
class Anchor:
    seq: int
    hash: str
    at: str  # ISO time the anchor was taken

    def to_line(self) -> str:
        return json.dumps({"seq": self.seq, "hash": self.hash, "at": self.at}, sort_keys=True)

    @classmethod
    def from_line(cls, line: str) -> Anchor:
        data = json.loads(line)
        seq, digest, at = data["seq"], data["hash"], data["at"]
        if not isinstance(seq, int) or not isinstance(digest, str) or not isinstance(at, str):
            raise ValueError("an anchor line holds seq (number), hash and at (text)")
        return cls(seq, digest, at)


def read_anchors(path: Path) -> list[Anchor]:
    """The anchors in ``path`` (none if it does not exist); a damaged line is an error."""
    if not path.exists():
        return []
    anchors = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            anchors.append(Anchor.from_line(line))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}, line {number}: not an anchor ({exc})") from None
    return anchors


def check_anchors(db: Session, anchors: Sequence[Anchor]) -> ChainReport | None:
    """The first anchor the chain no longer passes through, as a failed report; else None."""
    for anchor in sorted(anchors, key=lambda a: a.seq):
        if anchor.seq == 0:
            continue
        digest = db.scalar(select(AuditEvent.hash).where(AuditEvent.seq == anchor.seq))
        if digest != anchor.hash:
            what = "is gone" if digest is None else "has another hash"
            return ChainReport(
                False,
                0,
                anchor.seq,
                f"entry {anchor.seq}, anchored at {anchor.at}, {what}: the log was rewritten "
                "or cut back",
            )
    return None


def append_anchor(db: Session, path: Path) -> Anchor:
    """Record the current head in ``path`` (appended, fsynced; the file is created 0600)."""
    head = db.get(AuditHead, 1)
    anchor = Anchor(
        0 if head is None else int(head.seq),
        GENESIS if head is None else head.hash,
        utcnow().isoformat(timespec="seconds"),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (anchor.to_line() + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    return anchor


# --------------------------------------------------------------------------- last verification
# The result of the last check (page or `rollcall audit verify`) is kept beside the anchors,
# so the operation-log page always shows whether the log was found intact: a failed check
# stays shown as failed until a later check passes (#6).

ANCHOR_FILE = "audit-anchors.jsonl"
VERIFICATION_FILE = "audit-verification.json"


@dataclass(frozen=True, slots=True)
class Verification:
    """One check of the chain and its anchors: when, by whom, and what it found."""

    at: str  # ISO time of the check, UTC
    by_kind: str  # the actor's kind: "account", "cli", ...
    by_account_id: int | None
    ok: bool
    entries: int  # entries verified (before the first broken one when not ok)
    first_broken_seq: int | None = None
    reason: str | None = None
    anchor_seq: int | None = None  # the anchor recorded after a clean check

    def to_json(self) -> str:
        return json.dumps(
            {
                "at": self.at,
                "by_kind": self.by_kind,
                "by_account_id": self.by_account_id,
                "ok": self.ok,
                "entries": self.entries,
                "first_broken_seq": self.first_broken_seq,
                "reason": self.reason,
                "anchor_seq": self.anchor_seq,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> Verification:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not an object")
        at, by_kind, ok, entries = data["at"], data["by_kind"], data["ok"], data["entries"]
        if not (isinstance(at, str) and isinstance(by_kind, str) and isinstance(ok, bool)):
            raise ValueError("at, by_kind and ok have the wrong types")
        optional_ints = ("by_account_id", "first_broken_seq", "anchor_seq")
        if not isinstance(entries, int) or any(
            data.get(k) is not None and not isinstance(data[k], int) for k in optional_ints
        ):
            raise ValueError("entries and sequence numbers are whole numbers")
        reason = data.get("reason")
        return cls(
            at=at,
            by_kind=by_kind,
            by_account_id=data.get("by_account_id"),
            ok=ok,
            entries=entries,
            first_broken_seq=data.get("first_broken_seq"),
            reason=None if reason is None else str(reason),
            anchor_seq=data.get("anchor_seq"),
        )


def save_verification(
    path: Path, report: ChainReport, *, actor: Actor, anchor: Anchor | None = None
) -> Verification:
    """Keep ``report`` as the last check in ``path`` (replaced atomically, 0600)."""
    result = Verification(
        at=utcnow().isoformat(timespec="seconds"),
        by_kind=actor.kind,
        by_account_id=actor.account_id,
        ok=report.ok,
        entries=report.entries,
        first_broken_seq=report.first_broken_seq,
        reason=None if report.reason is None else str(report.reason),
        anchor_seq=anchor.seq if anchor is not None else None,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            os.write(fd, (result.to_json() + "\n").encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return result


def load_verification(path: Path) -> Verification | None:
    """The last check kept in ``path``; None if there was none. Raises ValueError or
    OSError when the file cannot be read (the page then says so)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        return Verification.from_json(text)
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a verification result ({exc})") from None
