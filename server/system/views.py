# SPDX-License-Identifier: GPL-2.0-or-later
"""Health endpoint for load balancers, systemd watchdogs and the installer's smoke test."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError

from server.migrate import current_revision, head_revision
from server.web import get_session

logger = logging.getLogger(__name__)

bp = Blueprint("system", __name__)


@bp.get("/healthz")
def health() -> ResponseReturnValue:
    """200 when the database answers and its schema is current, 503 otherwise."""
    try:
        revision = current_revision(get_session().connection())
    except SQLAlchemyError:
        logger.exception("health check: database unreachable")
        return jsonify({"status": "error", "database": "unreachable"}), 503
    schema = "current" if revision == head_revision() else "needs upgrade"
    status = 200 if schema == "current" else 503
    body = {"status": "ok" if status == 200 else "error", "database": "ok", "schema": schema}
    return jsonify(body), status
