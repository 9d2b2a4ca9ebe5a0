# SPDX-License-Identifier: GPL-2.0-or-later
"""The state of one simulated terminal: memory, capacities, clock and its state file.

A ``Device`` is shared between the network loop (answering clients) and the caller's thread
(tests appending punches, the workforce clock), so every access takes its lock.
"""

from __future__ import annotations

import base64
import json
import os
import random
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from terminals.simulator.codec import (
    Punch,
    Sizes,
    Template,
    User,
    encode_punch,
    encode_template_entry,
    encode_user,
    fit_text,
)
from terminals.simulator.profiles import ModelProfile, get_profile

STATE_VERSION = 1
EARLIEST = datetime(2000, 1, 1)
LATEST = datetime(2099, 12, 31, 23, 59, 59)


class DeviceFullError(Exception):
    """Raised when a write would exceed a capacity; the client then gets ACK_ERROR."""


class Clock:
    """The device clock: host local time plus a settable offset and an optional drift.

    The protocol carries zone-less local time (reference §10.1), so the clock is naive too.
    ``drift_ppm`` makes the clock run fast (positive) or slow, as cheap RTCs do (§18 item 10).
    """

    def __init__(self, offset: float = 0.0, drift_ppm: float = 0.0) -> None:
        self.offset = offset
        self.drift_ppm = drift_ppm
        self._anchor = time.monotonic()

    def now(self) -> datetime:
        """Return the device's current local time, clamped to what the wire can encode."""
        elapsed = time.monotonic() - self._anchor
        shift = self.offset + elapsed * self.drift_ppm / 1e6
        t = datetime.now().replace(microsecond=0) + timedelta(seconds=round(shift))
        return min(max(t, EARLIEST), LATEST)

    def set(self, t: datetime) -> None:
        """Set the clock (SET_TIME, or a power-cut reset); drift restarts from here."""
        self._anchor = time.monotonic()
        self.offset = (t - datetime.now()).total_seconds()

    def set_drift(self, ppm: float) -> None:
        """Change the drift rate, keeping the current reading."""
        current = self.now()
        self.drift_ppm = ppm
        self.set(current)


PunchListener = Callable[[Punch], None]


class Device:
    """Memory of users, attendance records and templates, with a model profile."""

    def __init__(
        self,
        profile: ModelProfile,
        serial: str,
        *,
        comm_key: int = 0,
        mac: str | None = None,
        state_path: Path | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.profile = profile
        self.serial = serial
        self.comm_key = comm_key
        self.mac = mac or _mac_for(serial)
        self.state_path = state_path
        self.enabled = True
        self.clock = Clock()
        self.users_cap = profile.users_cap
        self.fingers_cap = profile.fingers_cap
        self.records_cap = profile.records_cap
        self.options: dict[str, str] = {}
        self.faces = 0
        self._users: dict[int, User] = {}
        self._uid_by_user_id: dict[str, int] = {}
        self._punches: list[Punch] = []
        self._templates: dict[tuple[int, int], Template] = {}
        self._listeners: list[PunchListener] = []
        # Encoded attendance, grown incrementally: a 100,000-record read must not re-encode
        # every record each time (the simulator must never be the bottleneck of a sync).
        self._att_blob = bytearray()
        self._att_encoded = 0

    # --- users ------------------------------------------------------------------------------

    def users(self) -> list[User]:
        """Return copies of the users, ordered by uid as a device lists them."""
        with self.lock:
            return [User(**asdict(u)) for _, u in sorted(self._users.items())]

    def user_by_id(self, user_id: str) -> User | None:
        """Return the user with this PIN, if enrolled."""
        with self.lock:
            uid = self._uid_by_user_id.get(user_id)
            return None if uid is None else User(**asdict(self._users[uid]))

    def set_user(self, user: User) -> None:
        """Create or replace the user with ``user.uid``; refuse a new one when full.

        The user is stored as this model's memory holds it: B&W layouts keep 8 name bytes and
        numeric PINs only, TFT layouts 24 name bytes (reference §10.2, §10.3).
        """
        p = self.profile
        if p.numeric_ids and not user.user_id.isdigit():
            raise ValueError("this model stores numeric user ids only")
        user = User(**asdict(user))
        user.name = fit_text(user.name, 8 if p.user_size == 28 else 24, p.encoding)
        with self.lock:
            if user.uid not in self._users and len(self._users) >= self.users_cap:
                raise DeviceFullError("user memory full")
            old = self._users.get(user.uid)
            if old is not None:
                self._uid_by_user_id.pop(old.user_id, None)
            self._users[user.uid] = user
            self._uid_by_user_id[user.user_id] = user.uid
            self._invalidate_attendance()

    def add_user(self, user_id: str, name: str = "", **fields: Any) -> User:
        """Enrol a user at the next free uid, as the device menu does."""
        with self.lock:
            uid = max(self._users, default=0) + 1
            user = User(uid=uid, user_id=user_id, name=name, **fields)
            self.set_user(user)
            return user

    def delete_user(self, uid: int) -> bool:
        """Delete a user and its templates; ``False`` if there was no such uid."""
        with self.lock:
            user = self._users.pop(uid, None)
            if user is None:
                return False
            self._uid_by_user_id.pop(user.user_id, None)
            for key in [k for k in self._templates if k[0] == uid]:
                del self._templates[key]
            self._invalidate_attendance()
            return True

    def clear_admins(self) -> None:
        """Drop every privilege (CLEAR_ADMIN)."""
        with self.lock:
            for u in self._users.values():
                u.privilege = 0

    # --- attendance -------------------------------------------------------------------------

    def attendance(self) -> list[Punch]:
        """Return the stored records, oldest first (tests compare against what a client read)."""
        with self.lock:
            return list(self._punches)

    @property
    def record_count(self) -> int:
        """Number of stored attendance records."""
        with self.lock:
            return len(self._punches)

    def add_punch(
        self,
        user_id: str,
        timestamp: datetime | None = None,
        *,
        status: int = 1,
        punch: int = 0,
        workcode: int = 0,
    ) -> Punch:
        """Store a punch (at the device clock's time by default) and notify live listeners."""
        p = Punch(user_id, timestamp or self.clock.now(), status, punch, workcode)
        self.add_punches([p])
        return p

    def add_punches(self, punches: Iterable[Punch], *, notify: bool = True) -> int:
        """Store punches in order; stop with ``DeviceFullError`` at the record capacity."""
        added: list[Punch] = []
        error: Exception | None = None
        with self.lock:
            for p in punches:
                if len(self._punches) >= self.records_cap:
                    error = DeviceFullError("attendance memory full")
                    break
                if not EARLIEST <= p.timestamp <= LATEST:
                    error = ValueError("the protocol encodes years 2000-2099 only")
                    break
                self._punches.append(p)
                added.append(p)
            listeners = list(self._listeners)
        # Listeners run outside the lock: they hand events to the network loop's thread.
        if notify:
            for p in added:
                for listener in listeners:
                    listener(p)
        if error is not None:
            raise error
        return len(added)

    def clear_attendance(self) -> int:
        """Delete all records (CLEAR_ATTLOG); return how many were dropped."""
        with self.lock:
            n = len(self._punches)
            self._punches.clear()
            self._invalidate_attendance()
            return n

    def _invalidate_attendance(self) -> None:
        self._att_blob = bytearray()
        self._att_encoded = 0

    def add_listener(self, listener: PunchListener) -> None:
        """Call ``listener`` for every punch stored from now on (realtime events)."""
        with self.lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: PunchListener) -> None:
        """Stop calling ``listener``; unknown listeners are ignored."""
        with self.lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    @property
    def listener_count(self) -> int:
        """How many live-capture sessions are registered."""
        with self.lock:
            return len(self._listeners)

    # --- templates --------------------------------------------------------------------------

    def templates(self) -> list[Template]:
        """Return the templates ordered by (uid, finger)."""
        with self.lock:
            return [t for _, t in sorted(self._templates.items())]

    def get_template(self, uid: int, fid: int) -> Template | None:
        """Return one template, if stored."""
        with self.lock:
            return self._templates.get((uid, fid))

    def save_template(self, t: Template) -> None:
        """Store or replace a template; refuse a new one when the finger memory is full."""
        with self.lock:
            key = (t.uid, t.fid)
            if key not in self._templates and len(self._templates) >= self.fingers_cap:
                raise DeviceFullError("fingerprint memory full")
            self._templates[key] = t

    def delete_template(self, uid: int, fid: int) -> bool:
        """Delete one template; ``False`` if absent."""
        with self.lock:
            return self._templates.pop((uid, fid), None) is not None

    def clear_data(self, kind: int | None = None) -> None:
        """CLEAR_DATA: 1 attendance, 2 fingerprints, 4 oplog, 5 users, none = everything."""
        with self.lock:
            if kind in (None, 1):
                self.clear_attendance()
            if kind in (None, 2):
                self._templates.clear()
            if kind in (None, 5):
                self._users.clear()
                self._uid_by_user_id.clear()
                self._templates.clear()
                self._invalidate_attendance()

    # --- what the wire sees -----------------------------------------------------------------

    def sizes(self) -> Sizes:
        """Counts for GET_FREE_SIZES; they always match what the data sets contain (§14.5)."""
        with self.lock:
            return Sizes(
                users=len(self._users),
                fingers=len(self._templates),
                records=len(self._punches),
                users_cap=self.users_cap,
                fingers_cap=self.fingers_cap,
                records_cap=self.records_cap,
                admins=sum(1 for u in self._users.values() if u.privilege),
                passwords=sum(1 for u in self._users.values() if u.password),
                faces=None if self.profile.faces_cap is None else self.faces,
                faces_cap=self.profile.faces_cap or 0,
            )

    def users_data(self) -> bytes:
        """The 1503 users data set: u32 total size + records."""
        with self.lock:
            body = b"".join(
                encode_user(u, self.profile.user_size, self.profile.encoding)
                for _, u in sorted(self._users.items())
            )
        return struct.pack("<I", len(body)) + body

    def attendance_data(self) -> bytes:
        """The 1503 attendance data set: u32 total size + records."""
        with self.lock:
            size = self.profile.record_size
            if self._att_encoded < len(self._punches):
                uids = self._uid_by_user_id
                self._att_blob += b"".join(
                    encode_punch(p, size, uids.get(p.user_id, _fallback_uid(p.user_id)))
                    for p in self._punches[self._att_encoded :]
                )
                self._att_encoded = len(self._punches)
            body = bytes(self._att_blob)
        return struct.pack("<I", len(body)) + body

    def templates_data(self) -> bytes:
        """The 1503 fingerprint data set: u32 total size + entries."""
        with self.lock:
            body = b"".join(encode_template_entry(t) for t in self.templates())
        return struct.pack("<I", len(body)) + body

    def option(self, key: str) -> str | None:
        """Value of an OPTIONS_RRQ key, or ``None`` for a key this device does not know."""
        p = self.profile
        fixed = {
            "~SerialNumber": self.serial,
            "~Platform": p.platform,
            "~DeviceName": p.device_name,
            "~ZKFPVersion": p.fp_version,
            "ZKFPVersion": p.fp_version,
            "ZKFaceVersion": p.face_version,
            "FaceFunOn": "1" if p.faces_cap else "0",
            "~ExtendFmt": p.extend_fmt,
            "~UserExtFmt": p.extend_fmt,
            "CompatOldFirmware": "0",
            "MAC": self.mac,
            "~OS": "1",
            "~OEMVendor": p.vendor,
            "~ProductTime": "2016-05-12 10:20:30",
            "WorkCode": "0",
            "~SSR": "1",
            "~PIN2Width": str(p.pin_width),
            "~MaxUserCount": str(self.users_cap // 100),
            "~MaxAttLogCount": str(self.records_cap // 10000),
            "~MaxFingerCount": str(self.fingers_cap // 100),
            "IPAddress": "127.0.0.1",
            "NetMask": "255.255.255.0",
            "GATEIPAddress": "0.0.0.0",  # noqa: S104 -- an option string ("no gateway"), not a bind
            "FirmVer": p.firmware,
            **p.extra_options,
        }
        with self.lock:
            if key in self.options:
                return self.options[key]
        return fixed.get(key)

    def set_option(self, key: str, value: str) -> bool:
        """OPTIONS_WRQ: read-only keys (``~`` prefix) are refused as a device does."""
        if not key or key.startswith("~"):
            return False
        with self.lock:
            self.options[key] = value
        return True

    # --- state file -------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """A JSON-able snapshot of everything a power cycle keeps."""
        with self.lock:
            return {
                "version": STATE_VERSION,
                "model": self.profile.key,
                "serial": self.serial,
                "comm_key": self.comm_key,
                "mac": self.mac,
                "clock": {"offset": self.clock.offset, "drift_ppm": self.clock.drift_ppm},
                "capacities": [self.users_cap, self.fingers_cap, self.records_cap],
                "options": dict(self.options),
                "users": [asdict(u) for _, u in sorted(self._users.items())],
                "punches": [
                    [p.user_id, p.timestamp.isoformat(), p.status, p.punch, p.workcode]
                    for p in self._punches
                ],
                "templates": [
                    [t.uid, t.fid, t.valid, base64.b64encode(t.template).decode()]
                    for t in self.templates()
                ],
            }

    def save(self, path: Path | None = None) -> None:
        """Write the state file atomically (temp file + rename), so a crash never halves it."""
        target = path or self.state_path
        if target is None:
            return
        state = self.to_state()
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(json.dumps(state, separators=(",", ":")), encoding="utf-8")
        os.replace(tmp, target)

    @classmethod
    def from_state(cls, state: dict[str, Any], state_path: Path | None = None) -> Device:
        """Rebuild a device from ``to_state`` output."""
        if state.get("version") != STATE_VERSION:
            raise ValueError("unsupported simulator state version")
        dev = cls(
            get_profile(state["model"]),
            state["serial"],
            comm_key=int(state["comm_key"]),
            mac=state["mac"],
            state_path=state_path,
        )
        dev.clock = Clock(float(state["clock"]["offset"]), float(state["clock"]["drift_ppm"]))
        dev.users_cap, dev.fingers_cap, dev.records_cap = (int(x) for x in state["capacities"])
        dev.options = {str(k): str(v) for k, v in state["options"].items()}
        for u in state["users"]:
            dev.set_user(User(**u))
        dev._punches = [
            Punch(uid, datetime.fromisoformat(ts), int(s), int(pu), int(w))
            for uid, ts, s, pu, w in state["punches"]
        ]
        for uid, fid, valid, b64 in state["templates"]:
            dev._templates[(int(uid), int(fid))] = Template(
                int(uid), int(fid), int(valid), base64.b64decode(b64)
            )
        return dev

    @classmethod
    def load(cls, path: Path) -> Device:
        """Read a state file written by ``save``."""
        return cls.from_state(json.loads(path.read_text(encoding="utf-8")), state_path=path)


def fake_template(rng: random.Random, size: int = 600) -> bytes:
    """Bytes shaped like a ZKFinger v10 template (``..SS21`` header, §10.5); no real biometric."""
    body = bytes(rng.randrange(256) for _ in range(size - 8))
    # A non-zero last byte: clients strip a trailing zero pad from single-template reads.
    return b"\x4d\x98SS21\x00\x00" + body[:-1] + b"\x5a"


def simulation_rng(seed: int | str | None = None) -> random.Random:
    """The one place simulated data gets randomness: seeded, reproducible, never for secrets."""
    return random.Random(seed)  # noqa: S311 -- test data, not security


def _fallback_uid(user_id: str) -> int:
    """An 8-byte record needs a uid even for a punch by a since-deleted user."""
    return int(user_id) & 0xFFFF if user_id.isdigit() else 0


def _mac_for(serial: str) -> str:
    """A stable, locally administered MAC derived from the serial (no real vendor prefix)."""
    digest = sum((i + 1) * ord(c) for i, c in enumerate(serial))
    tail = [(digest >> s) & 0xFF for s in (16, 8, 0)]
    return "02:5a:4b:" + ":".join(f"{b:02x}" for b in tail)
