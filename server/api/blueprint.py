# SPDX-License-Identifier: GPL-2.0-or-later
"""The ``/api/v1`` blueprint, its endpoint registry, and how a request authenticates.

Two ways in (issue #6):

* ``Authorization: Bearer <token>``: checked by :func:`sign_in_with_token`, called from the
  app's deny-by-default hook before anything else; the request then acts as the token's
  owner. No CSRF check: a browser never sends this header on its own. A read-only token
  gets 403 on every state-changing method.
* the session cookie of a signed-in browser: the pages' rules, plus the CSRF token in the
  ``X-CSRFToken`` header on every state-changing call (the blueprint is exempt from the
  global form check, so the check is made here).
"""

from __future__ import annotations

from typing import cast

from flask import Blueprint, Response, current_app, g, request
from flask_babel import gettext as _

from server.api.registry import WRITE_METHODS, ApiRegistry
from server.api.tokens import check_token
from server.auth.throttle import SignInThrottle
from server.errors import AppError, AuthenticationError, PermissionDeniedError
from server.web import current_actor, get_session

PREFIX = "/api/v1"

bp = Blueprint("api", __name__, url_prefix=PREFIX)
api = ApiRegistry(bp)


def sign_in_with_token() -> None:
    """Authenticate this request by its bearer token, or raise 401."""
    scheme, _space, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise AuthenticationError(_("Use the header Authorization: Bearer <token>."))
    db = get_session()
    # Refused tokens count against the address like failed sign-ins (the same throttle):
    # past the limit the answer is 429 and the log gets one entry per spell, not one per
    # request, so an unauthenticated flood cannot grow the log without bound (#6 review).
    throttle = cast(SignInThrottle, current_app.extensions["rollcall.sign_in_throttle"])
    try:
        checked = check_token(db, presented.strip(), actor=current_actor(), throttle=throttle)
    except AppError as exc:
        db.commit()  # the refusal's entry in the operation log (#6)
        if exc.status == 429:
            g.retry_after = exc.details.get("retry_after_s")
        raise
    if checked.touched:
        db.commit()  # last_used_at only; the view starts from a clean transaction
    g.account = checked.account
    g.api_token = checked.token


@bp.before_request
def _check_request() -> None:
    # The app exempts this blueprint from the global form check (csrf.exempt); cookie
    # writes are checked here instead, bearer-token writes need a read-write token.
    if request.method not in WRITE_METHODS:
        return
    token = g.get("api_token")
    if token is not None:
        if token.read_only:
            raise PermissionDeniedError(_("This API token is read-only."))
        return
    csrf = current_app.extensions["csrf"]
    csrf.protect()  # X-CSRFToken must match the session's


@bp.after_request
def _api_headers(response: Response) -> Response:
    if response.status_code == 401:
        response.headers.setdefault("WWW-Authenticate", 'Bearer realm="rollcall"')
    retry_after = g.get("retry_after")
    if response.status_code == 429 and retry_after:
        response.headers.setdefault("Retry-After", str(retry_after))
    return response
