# SPDX-License-Identifier: GPL-2.0-or-later
"""Writing and verifying the hash-chained operation log."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from server.audit.models import AuditEvent, AuditHead
from server.db import utcnow

logger = logging.getLogger(__name__)

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


# Why a check failed, as a code with its values (#6 review): the pages translate the code
# (server/audit/views.py), the command line and the API print these English sentences.
REASONS: dict[str, str] = {
    "entry_missing": "entry missing",
    "entry_altered": "entry altered",
    "head_mismatch": "log truncated (head does not match)",
    "anchor_changed": "entry {seq}, anchored at {at}, has another hash: the log was rewritten",
    "cut_below_anchor": "the log ends at entry {head}, but entry {seq} was anchored at {at}: "
    "the newest entries were cut off",
    "cut_below_verification": "the log ends at entry {head}, but the verification of {at} "
    "saw it reach entry {seq}: the newest entries were cut off",
    "anchors_missing": "the anchor file {path} is missing or empty, but the verification of "
    "{at} saw anchors up to entry {seq}: restore the file, the log cannot be shown intact "
    "without it",
    "anchors_removed": "the anchor file {path} no longer holds the anchor of entry {seq} "
    "that the verification of {at} saw: anchors were removed",
    "anchors_unreadable": "the anchors cannot be read: {error}",
}
# Reasons kept by checks made before there were codes.
_LEGACY_REASONS = {text: code for code, text in REASONS.items() if "{" not in text}


@dataclass(frozen=True, slots=True)
class ChainReport:
    ok: bool
    entries: int
    first_broken_seq: int | None = None
    reason: str | None = None  # English, for the command line, the API and the kept file
    code: str | None = None  # a key of REASONS, for a translated text
    params: Mapping[str, str | int] = field(default_factory=dict)

    @classmethod
    def failed(
        cls, entries: int, first_broken_seq: int | None, code: str, **params: str | int
    ) -> ChainReport:
        return cls(False, entries, first_broken_seq, REASONS[code].format(**params), code, params)


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
                return ChainReport.failed(count, expected_seq, "entry_missing")
            if event.prev_hash != prev or _entry_digest(event) != event.hash:
                return ChainReport.failed(count, event.seq, "entry_altered")
            prev, expected_seq, count = event.hash, expected_seq + 1, count + 1
            last_seq = event.seq
    head = db.get(AuditHead, 1)
    head_seq, head_hash = (0, GENESIS) if head is None else (head.seq, head.hash)
    if head_seq != count or head_hash != prev:
        return ChainReport.failed(count, count + 1, "head_mismatch")
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
    """The first anchor the chain no longer passes through, as a failed report; else None.

    An anchor beyond the log's end means its tail was cut (with the head row moved back):
    the first broken entry is then the first one missing, the one after what remains
    (#6 review), not the anchor's.
    """
    head = db.get(AuditHead, 1)
    head_seq = 0 if head is None else int(head.seq)
    for anchor in sorted(anchors, key=lambda a: a.seq):
        if anchor.seq == 0:
            continue
        if anchor.seq > head_seq:
            return ChainReport.failed(
                head_seq,
                head_seq + 1,
                "cut_below_anchor",
                head=head_seq,
                seq=anchor.seq,
                at=anchor.at,
            )
        digest = db.scalar(select(AuditEvent.hash).where(AuditEvent.seq == anchor.seq))
        if digest is None:
            return ChainReport.failed(0, anchor.seq, "entry_missing")
        if digest != anchor.hash:
            return ChainReport.failed(0, anchor.seq, "anchor_changed", seq=anchor.seq, at=anchor.at)
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


# The worker anchors the head on its own (#6 review), so that a cut tail is caught even when
# nobody has verified lately: once the log has grown by this many entries, or at least this
# often when it has grown at all. An anchor is one read of the head row and one appended
# line; nothing is verified then (`rollcall audit verify` and the page do that).
ANCHOR_EVERY = timedelta(hours=1)
ANCHOR_EVERY_ENTRIES = 1000


def newest_anchor(anchors: Sequence[Anchor]) -> Anchor | None:
    """The anchor of the furthest point of the log (the newest, unless the log was cut)."""
    return max(anchors, key=lambda a: a.seq, default=None)


def anchor_head_if_due(
    db: Session,
    path: Path,
    *,
    last: Anchor | None,
    now: datetime | None = None,
    every: timedelta = ANCHOR_EVERY,
    every_entries: int = ANCHOR_EVERY_ENTRIES,
) -> Anchor | None:
    """Append the head to ``path`` when the log has grown since ``last`` (the newest anchor
    known) by ``every_entries``, or at all and ``last`` is older than ``every``. Returns the
    new anchor, or None. A head behind ``last`` is not anchored: it is logged as an error,
    and the verification reports the cut."""
    head = db.get(AuditHead, 1)
    seq = 0 if head is None else int(head.seq)
    if seq == 0:
        return None
    if last is not None:
        if seq < last.seq:
            logger.error(
                "the operation log ends at entry %d, but entry %d was anchored at %s: "
                "entries were cut off; run rollcall audit verify",
                seq,
                last.seq,
                last.at,
            )
            return None
        if seq == last.seq:
            return None
        try:
            taken = datetime.fromisoformat(last.at)
            if taken.tzinfo is None:
                taken = taken.replace(tzinfo=UTC)
        except ValueError:
            taken = None
        old = taken is None or (now or utcnow()) - taken >= every
        if seq - last.seq < every_entries and not old:
            return None
    return append_anchor(db, path)


# --------------------------------------------------------------------------- last verification
# The result of the last check (page or `rollcall audit verify`) is kept beside the anchors,
# so the operation-log page always shows whether the log was found intact: a failed check
# stays shown as failed until a later check passes (#6).
#
# It also keeps how far the log and its anchors were seen to reach (#6 review): a later log
# that ends before that point was cut back, and a later anchor file that is gone or shorter
# lost anchors. Both are failures; neither is forgotten by a failed check in between.

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
    reason: str | None = None  # English
    anchor_seq: int | None = None  # the anchor recorded after a clean check
    code: str | None = None  # the reason's code (REASONS), for the pages' translations
    params: Mapping[str, str | int] = field(default_factory=dict)
    reached_seq: int | None = None  # the furthest entry the log was ever seen to have
    anchored_seq: int | None = None  # the furthest anchor seen in ``anchor_file``
    anchor_file: str | None = None

    def reached(self) -> int:
        """The furthest entry the log is known to have reached, this check or earlier."""
        return max(self.reached_seq or 0, self.anchor_seq or 0, self.entries)

    def anchored(self) -> int | None:
        """The furthest anchor known to have been written (None: none was)."""
        known = [v for v in (self.anchored_seq, self.anchor_seq) if v is not None]
        return max(known) if known else None

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
                "code": self.code,
                "params": dict(self.params),
                "reached_seq": self.reached_seq,
                "anchored_seq": self.anchored_seq,
                "anchor_file": self.anchor_file,
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
        optional_ints = (
            "by_account_id",
            "first_broken_seq",
            "anchor_seq",
            "reached_seq",
            "anchored_seq",
        )
        if not isinstance(entries, int) or any(
            data.get(k) is not None and not isinstance(data[k], int) for k in optional_ints
        ):
            raise ValueError("entries and sequence numbers are whole numbers")
        reason = data.get("reason")
        code = data.get("code")
        params = data.get("params") or {}
        if not isinstance(params, dict) or not all(
            isinstance(v, (str, int)) for v in params.values()
        ):
            raise ValueError("params is an object of texts and numbers")
        if code is None and reason is not None:
            code = _LEGACY_REASONS.get(str(reason))  # kept before there were codes
        anchor_file = data.get("anchor_file")
        return cls(
            at=at,
            by_kind=by_kind,
            by_account_id=data.get("by_account_id"),
            ok=ok,
            entries=entries,
            first_broken_seq=data.get("first_broken_seq"),
            reason=None if reason is None else str(reason),
            anchor_seq=data.get("anchor_seq"),
            code=code if isinstance(code, str) and code in REASONS else None,
            params={str(k): v for k, v in params.items()},
            reached_seq=data.get("reached_seq"),
            anchored_seq=data.get("anchored_seq"),
            anchor_file=None if anchor_file is None else str(anchor_file),
        )


def _same_file(kept: str | None, path: Path) -> bool:
    # A result kept before files were recorded was checked against the default file.
    return kept is None or Path(kept) == path.absolute()


def log_verification(db: Session, report: ChainReport, *, actor: Actor) -> None:
    """The operation log's own entry for a check of it (the page, the API, the command)."""
    record_event(
        db,
        "audit.verified",
        actor=actor,
        details={
            "ok": report.ok,
            "entries": report.entries,
            "first_bad": report.first_broken_seq,
            "reason": report.code,
        },
    )


def save_verification(
    path: Path,
    report: ChainReport,
    *,
    actor: Actor,
    anchor: Anchor | None = None,
    anchor_path: Path | None = None,
) -> Verification:
    """Keep ``report`` as the last check in ``path`` (replaced atomically, 0600).

    How far the log and the anchors in ``anchor_path`` (default: the anchor file beside
    ``path``) reach is kept too, never less than the previous result said, so a cut log or
    a lost anchor file keeps failing until it is restored (#6 review)."""
    anchor_path = (anchor_path or path.with_name(ANCHOR_FILE)).absolute()
    try:
        previous = load_verification(path)
    except (OSError, ValueError):
        previous = None
    try:
        anchors = read_anchors(anchor_path)
    except (OSError, ValueError):
        anchors = []
    furthest = newest_anchor([*anchors, *([anchor] if anchor is not None else [])])
    reached = max(report.entries, furthest.seq if furthest is not None else 0)
    anchored = furthest.seq if furthest is not None else None
    if previous is not None:
        reached = max(reached, previous.reached())
        before = previous.anchored()
        if before is not None and _same_file(previous.anchor_file, anchor_path):
            anchored = max(anchored or 0, before)
    result = Verification(
        at=utcnow().isoformat(timespec="seconds"),
        by_kind=actor.kind,
        by_account_id=actor.account_id,
        ok=report.ok,
        entries=report.entries,
        first_broken_seq=report.first_broken_seq,
        reason=None if report.reason is None else str(report.reason),
        anchor_seq=anchor.seq if anchor is not None else None,
        code=report.code,
        params=dict(report.params),
        reached_seq=reached,
        anchored_seq=anchored,
        anchor_file=str(anchor_path),
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


def check_against_last(
    report: ChainReport,
    anchors: Sequence[Anchor],
    last: Verification | None,
    *,
    anchor_path: Path,
) -> ChainReport | None:
    """What the last kept check says is wrong with an otherwise intact ``report``: a log
    that ends before where it was seen to reach, an anchor file that is gone, empty, or
    no longer holds the furthest anchor seen then (when it is the same file)."""
    if last is None:
        return None
    head = report.entries
    reached = last.reached()
    if head < reached:
        return ChainReport.failed(
            head, head + 1, "cut_below_verification", head=head, seq=reached, at=last.at
        )
    anchored = last.anchored()
    if anchored is None or not _same_file(last.anchor_file, anchor_path.absolute()):
        return None
    if not anchors:
        return ChainReport.failed(
            head, None, "anchors_missing", path=str(anchor_path), at=last.at, seq=anchored
        )
    # The file is only ever appended to: the anchor seen then must still be there (an
    # anchor the worker wrote since into a new file does not make up for it).
    if all(a.seq != anchored for a in anchors):
        return ChainReport.failed(
            head, None, "anchors_removed", path=str(anchor_path), at=last.at, seq=anchored
        )
    return None


@dataclass(frozen=True, slots=True)
class LogCheck:
    report: ChainReport
    anchors: list[Anchor]  # the anchors read (none when they could not be)


def verify_log(db: Session, *, anchor_path: Path, verification_path: Path) -> LogCheck:
    """The whole check, for the command line and the page: the chain, every anchor in
    ``anchor_path``, and the last kept result in ``verification_path`` (how far the log and
    its anchors reached then). Reads only; the caller records and keeps the result."""
    try:
        anchors = read_anchors(anchor_path)
    except (OSError, ValueError) as exc:
        # Without its anchors the log cannot be shown intact: a failed check.
        return LogCheck(ChainReport.failed(0, None, "anchors_unreadable", error=str(exc)), [])
    try:
        last = load_verification(verification_path)
    except (OSError, ValueError) as exc:
        logger.warning("the last verification cannot be read: %s", exc)
        last = None
    report = verify_chain(db)
    if report.ok:
        report = (
            check_anchors(db, anchors)
            or check_against_last(report, anchors, last, anchor_path=anchor_path)
            or report
        )
    return LogCheck(report, anchors)
