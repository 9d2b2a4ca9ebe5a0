# SPDX-License-Identifier: GPL-2.0-or-later
"""Web endpoints of data-subject rights (#7): fetching an expiring download."""

from __future__ import annotations

from flask import Blueprint, send_file
from flask.typing import ResponseReturnValue

from server.auth.models import Role
from server.rights.downloads import fetch_download
from server.web import current_actor, get_session, require_role, settings

bp = Blueprint("rights", __name__)


@bp.get("/downloads/<token>")
@require_role(Role.PRIVACY_OFFICER)
def download(token: str) -> ResponseReturnValue:
    """The file behind a download link, while it lasts; every fetch is logged."""
    db = get_session()
    item, path = fetch_download(db, token, data_dir=settings().data_dir, actor=current_actor())
    db.commit()
    response = send_file(
        path,
        mimetype=item.content_type,
        as_attachment=True,
        download_name=item.filename,
        max_age=0,
    )
    response.headers["Cache-Control"] = "no-store"
    return response
