# SPDX-License-Identifier: GPL-2.0-or-later
"""The home page (issue #6): today's punches, who is in, the terminals, what needs a hand,
and charts of punches per hour and per day drawn on the server as inline SVG (no script)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from server.auth.models import Role
from server.dashboard import services
from server.i18n import select_timezone
from server.navigation import allowed
from server.web import ANY_ROLE, current_account, department_scope, get_session, require_role

bp = Blueprint("dashboard", __name__)

SEE_PEOPLE = services.SEE_PEOPLE  # names of who is in; others see the count

CHART_HEIGHT = 120  # drawing units; the SVG scales to the page width
LABEL_SPACE = 16


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    count: int
    label: str
    show_label: bool


def bars(buckets: Sequence[services.Bucket], *, width: float, label_every: int) -> list[Bar]:
    """Bar geometry in drawing units, the tallest bar filling the chart."""
    top = max((b.count for b in buckets), default=0) or 1
    slot = width / max(len(buckets), 1)
    out = []
    for i, b in enumerate(buckets):
        h = round(b.count / top * (CHART_HEIGHT - 4), 1)
        out.append(
            Bar(
                x=round(i * slot + slot * 0.1, 1),
                y=round(CHART_HEIGHT - h, 1),
                width=round(slot * 0.8, 1),
                height=h,
                count=b.count,
                label=b.label,
                show_label=i % label_every == 0,
            )
        )
    return out


@bp.get("/")
@require_role(*ANY_ROLE)
def index() -> ResponseReturnValue:
    db = get_session()
    account = current_account()
    board = services.build_dashboard(
        db,
        zone=ZoneInfo(select_timezone()),
        scope=department_scope(),
        with_requests=allowed("rights.requests"),
    )
    page = render_template(
        "dashboard/index.html",
        board=board,
        today=board.today.date(),
        see_people=account is not None and Role(account.role) in SEE_PEOPLE,
        hour_bars=bars(board.per_hour, width=480, label_every=3),
        day_bars=bars(board.per_day, width=480, label_every=2),
        chart_height=CHART_HEIGHT,
        label_space=LABEL_SPACE,
    )
    # Read only: the transaction ends once the page is drawn. Not before: a rollback
    # expires the loaded employees and terminals, and the template would load each again.
    db.rollback()
    return page
