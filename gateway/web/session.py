"""The admin pages' cookie and the CSRF tokens that every state-changing form carries.

The session cookie is HttpOnly (no script reads it), SameSite=Strict (no other site's page
sends it) and Secure when the public URL is https; its value is never written into a page.
A form's token is an HMAC of the session id, so it needs no storage (any node checks it) and
cannot be made by a page that does not know the cookie. The login form, which has no session
yet, uses a random token held in a second cookie (double submit): a login CSRF, which would
log the victim in as the attacker, fails too.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from werkzeug import Request, Response

COOKIE = "gateway_admin"
LOGIN_COOKIE = "gateway_admin_login"
FIELD = "csrf_token"
PATH = "/admin"


def csrf_token(session_id: str) -> str:
    return hmac.new(session_id.encode(), b"gateway admin form", hashlib.sha256).hexdigest()


def valid_token(request: Request, expected: str) -> bool:
    given = request.form.get(FIELD, "")
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def new_login_token() -> str:
    return secrets.token_urlsafe(24)


class Cookies:
    """How this server sets its cookies: Secure when its public URL is https."""

    def __init__(self, secure: bool, max_age: int) -> None:
        self.secure = secure
        self.max_age = max_age

    def set(self, response: Response, name: str, value: str, max_age: int | None = None) -> None:
        response.set_cookie(
            name,
            value,
            max_age=self.max_age if max_age is None else max_age,
            path=PATH,
            secure=self.secure,
            httponly=True,
            samesite="Strict",
        )

    def clear(self, response: Response, name: str) -> None:
        response.delete_cookie(name, path=PATH, secure=self.secure, httponly=True, samesite="Strict")
