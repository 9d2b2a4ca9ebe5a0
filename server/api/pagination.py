# SPDX-License-Identifier: GPL-2.0-or-later
"""Cursor (keyset) pagination for the JSON API (issue #6).

A page is ``{"items": [...], "next_cursor": "..." | null}``. The cursor is opaque to
clients: URL-safe base64 of the listing's sort key and the id of the last item returned, so
the next page starts strictly after it. Rows added or removed meanwhile never make a page
repeat or skip an item that was there before, and no page costs an OFFSET scan.

Use::

    page = paginate(db, select(Terminal), Keyset(Terminal.name, Terminal.id),
                    limit=query["limit"], cursor=query.get("cursor"))
    return page.json(terminal_json)
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute, Session

from server.api.registry import Param
from server.errors import ValidationError

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

PAGE_PARAMS: tuple[Param, ...] = (
    Param(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        "How many items per page.",
    ),
    Param(
        "cursor",
        {"type": "string", "maxLength": 512},
        "The next_cursor of the previous page; omit it for the first page.",
    ),
)


@dataclass(frozen=True, slots=True)
class Keyset:
    """The order of a listing: a sort column, then the id as tie-breaker (both must be
    columns of the selected entity or labels of the selected row)."""

    key: InstrumentedAttribute[Any]
    id: InstrumentedAttribute[Any]
    descending: bool = False

    @property
    def name(self) -> str:
        return str(self.key.key)


@dataclass(frozen=True, slots=True)
class Page:
    items: Sequence[Any]
    next_cursor: str | None

    def json(self, serialize: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
        return {"items": [serialize(i) for i in self.items], "next_cursor": self.next_cursor}


def _encode_value(value: object) -> list[object]:
    if isinstance(value, datetime):
        return ["t", value.isoformat()]
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(f"cannot page on a {type(value).__name__} key")
    return ["i" if isinstance(value, int) else "s", value]


def encode_cursor(order: str, key: object, row_id: int) -> str:
    raw = json.dumps([order, *_encode_value(key), row_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(order: str, cursor: str) -> tuple[object, int]:
    """The sort key and id a cursor holds; 422 for anything this listing did not issue."""
    invalid = ValidationError(
        _("The cursor is not one this listing gave out; start again without it."),
        details={"field": "cursor"},
    )
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        name, kind, value, row_id = json.loads(raw)
    except (ValueError, TypeError, binascii.Error):
        raise invalid from None
    if name != order or not isinstance(row_id, int) or isinstance(row_id, bool):
        raise invalid
    try:
        if kind == "t" and isinstance(value, str):
            when = datetime.fromisoformat(value)
            if when.tzinfo is None:
                raise invalid
            return when, row_id
        if kind == "i" and isinstance(value, int) and not isinstance(value, bool):
            return value, row_id
        if kind == "s" and isinstance(value, str):
            return value, row_id
    except ValueError:
        raise invalid from None
    raise invalid


def paginate(
    db: Session,
    query: Select[Any],
    keyset: Keyset,
    *,
    limit: int,
    cursor: str | None = None,
    scalars: bool = True,
) -> Page:
    """One page of ``query`` (filters applied by the caller) in ``keyset`` order.

    ``scalars``: the query selects one entity (items are ORM objects); otherwise items are
    rows whose labels include the key and id names.
    """
    limit = max(1, min(int(limit), MAX_LIMIT))
    key, ident = keyset.key, keyset.id
    same_column = key.key == ident.key
    if cursor:
        after_key, after_id = decode_cursor(keyset.name, cursor)
        if same_column:
            query = query.where(ident < after_id if keyset.descending else ident > after_id)
        elif keyset.descending:
            query = query.where(or_(key < after_key, and_(key == after_key, ident < after_id)))
        else:
            query = query.where(or_(key > after_key, and_(key == after_key, ident > after_id)))
    if keyset.descending:
        order = [ident.desc()] if same_column else [key.desc(), ident.desc()]
    else:
        order = [ident.asc()] if same_column else [key.asc(), ident.asc()]
    query = query.order_by(None).order_by(*order).limit(limit + 1)
    result = db.scalars(query) if scalars else db.execute(query)
    items: list[Any] = list(result.all())
    if len(items) <= limit:
        return Page(items, None)
    items = items[:limit]
    last = items[-1]
    return Page(
        items,
        encode_cursor(keyset.name, getattr(last, keyset.name), getattr(last, str(ident.key))),
    )
