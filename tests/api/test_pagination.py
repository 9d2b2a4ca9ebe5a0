# SPDX-License-Identifier: GPL-2.0-or-later
"""Cursor pagination: every item once, in order, however the pages are cut (issue #6)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.api.pagination import MAX_LIMIT, Keyset, decode_cursor, encode_cursor, paginate
from server.audit.services import Actor
from server.devices.models import Terminal
from server.employees.models import Employee
from server.errors import ValidationError
from server.rights.models import SubjectRequest
from server.rights.services import receive_request
from tests.api.conftest import Api


def walk(api: Api, path: str, token: str, limit: int) -> tuple[list[dict[str, Any]], int]:
    items: list[dict[str, Any]] = []
    cursor, pages = None, 0
    while True:
        sep = "&" if "?" in path else "?"
        url = f"{path}{sep}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        response = api.get(url, token)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert len(body["items"]) <= limit
        items += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items, pages


def test_pages_of_terminals_hold_every_terminal_once_in_name_order(
    api: Api, issue_token: Callable[..., str], create_terminal: Callable[..., Any]
) -> None:
    # equal names force the id tie-breaker across page boundaries
    for i in range(11):
        create_terminal(name=["Gate", "Dock", "Lobby"][i % 3])
    token = issue_token("hr_viewer", read_only=True)
    for limit in (1, 3, 4, 11, 50):
        items, pages = walk(api, "/terminals", token, limit)
        keys = [(t["name"], t["id"]) for t in items]
        assert keys == sorted(keys)
        assert len(set(keys)) == len(keys) == 11
        assert pages == -(-11 // limit)  # no empty last page


def test_an_item_added_between_pages_never_duplicates_or_skips_earlier_ones(
    api: Api, issue_token: Callable[..., str], db: Session
) -> None:
    people = [Employee(employee_code=f"P{i}", given_name="A", family_name="B") for i in range(7)]
    db.add_all(people)
    db.commit()
    for p in people:
        receive_request(db, employee_id=p.id, kind="access", actor=Actor.system("test"))
    db.commit()
    token = issue_token("auditor", read_only=True)
    first = api.get("/requests?limit=3", token).get_json()
    # a new (newest) request arrives while the client pages through, newest first
    receive_request(db, employee_id=people[0].id, kind="erasure", actor=Actor.system("test"))
    db.commit()
    rest: list[dict[str, Any]] = []
    cursor = first["next_cursor"]
    while cursor:
        body = api.get(f"/requests?limit=3&cursor={cursor}", token).get_json()
        rest += body["items"]
        cursor = body["next_cursor"]
    ids = [r["id"] for r in first["items"] + rest]
    assert ids == sorted(ids, reverse=True)
    assert len(ids) == len(set(ids)) == 7


def test_filters_and_pages_combine(api: Api, issue_token: Callable[..., str], db: Session) -> None:
    person = Employee(employee_code="F1", given_name="A", family_name="B")
    db.add(person)
    db.commit()
    for kind in ("access", "erasure", "access", "copy", "access"):
        receive_request(db, employee_id=person.id, kind=kind, actor=Actor.system("test"))
    db.commit()
    token = issue_token("privacy_officer", read_only=True)
    items, _ = walk(api, "/requests?kind=access", token, 2)
    assert [i["kind"] for i in items] == ["access"] * 3


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        (f"limit={MAX_LIMIT + 1}", "limit"),
        ("limit=ten", "limit"),
        ("cursor=not-a-cursor", "cursor"),
        ("status=lost", "status"),
        ("colour=blue", "colour"),
    ],
)
def test_bad_paging_or_filters_get_422_naming_the_parameter(
    api: Api, issue_token: Callable[..., str], query: str, field: str
) -> None:
    response = api.get(f"/requests?{query}", issue_token("auditor", read_only=True))
    assert response.status_code == 422
    assert response.get_json()["details"]["field"] == field


def test_a_cursor_of_another_listing_is_refused(
    api: Api, issue_token: Callable[..., str], create_terminal: Callable[..., Any]
) -> None:
    token = issue_token("admin", read_only=True)
    foreign = encode_cursor("name", "Gate", 5)  # a terminals cursor, given to requests
    response = api.get(f"/requests?cursor={foreign}", token)
    assert response.status_code == 422


def test_cursors_round_trip_their_key_types() -> None:
    from datetime import UTC, datetime

    when = datetime(2026, 5, 4, 8, 1, tzinfo=UTC)
    for key in (when, 42, "Gate"):
        assert decode_cursor("k", encode_cursor("k", key, 7)) == (key, 7)
    with pytest.raises(ValidationError):
        decode_cursor("other", encode_cursor("k", 1, 7))


def test_the_helper_pages_an_orm_query_directly(
    db: Session, create_terminal: Callable[..., Any]
) -> None:
    made = sorted(create_terminal(name=f"T{i % 2}").id for i in range(5))
    seen: list[int] = []
    cursor = None
    while True:
        page = paginate(
            db,
            select(Terminal),
            Keyset(Terminal.id, Terminal.id, descending=True),
            limit=2,
            cursor=cursor,
        )
        seen += [t.id for t in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == sorted(made, reverse=True)
    assert db.scalar(select(SubjectRequest.id)) is None
