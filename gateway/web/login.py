"""Logging in and out (form fields `User` and `Password`, as on Znuny's login page)."""

from __future__ import annotations

import hmac

from werkzeug import Response
from werkzeug.urls import iri_to_uri

from gateway.admin import sessions
from gateway.environ import CLIENT_ADDRESS
from gateway.errors import AdminError
from gateway.web.page import Page
from gateway.web.session import COOKIE, FIELD, LOGIN_COOKIE, new_login_token


def index(page: Page) -> Response:
    return page.redirect("webservices")


def _next(page: Page) -> str:
    """Where to go after logging in: a page of ours only (never another site, nothing a header cannot hold)."""
    target = page.request.values.get("next", "")
    ours = target.startswith("/admin/") and "//" not in target and "\\" not in target
    dots = any(part in (".", "..") for part in target.split("?")[0].split("/"))
    return iri_to_uri(target) if ours and not dots and target.isprintable() else ""


def login_form(page: Page, error: str = "", status: int = 200) -> Response:
    if page.admin is not None and not error:
        return page.redirect("webservices")
    token = new_login_token()
    response = page.render(
        "login.html",
        status=status,
        error=error,
        login_token=token,
        next=_next(page),
        user=page.request.form.get("User", ""),
    )
    page.cookies.set(response, LOGIN_COOKIE, token, max_age=3600)
    return response


def login_submit(page: Page) -> Response:
    expected = page.request.cookies.get(LOGIN_COOKIE, "")
    given = page.request.form.get(FIELD, "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        return login_form(page, "The login form had expired: please log in again.", 403)
    target = _next(page)
    runtime = page.runtime
    try:
        _, session_id = sessions.login(
            runtime.db,
            runtime.auth,
            page.request.form.get("User", ""),
            page.request.form.get("Password", ""),
            page.request.environ.get(CLIENT_ADDRESS, page.request.remote_addr or ""),
            page.request.user_agent.string,
        )
    except AdminError as error:
        return login_form(page, str(error), 403)
    response = page.redirect_to(target) if target else page.redirect("webservices")
    page.cookies.set(response, COOKIE, session_id)
    page.cookies.clear(response, LOGIN_COOKIE)
    return response


def logout(page: Page) -> Response:
    session_id = page.request.cookies.get(COOKIE, "")
    sessions.logout(page.runtime.db, session_id)
    response = page.redirect("login", "You have logged out.")
    page.cookies.clear(response, COOKIE)
    return response
