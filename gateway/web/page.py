"""One page view's context: who asks, the form's token, rendering and redirects with a message."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape
from werkzeug import Request, Response
from werkzeug.routing import MapAdapter
from werkzeug.utils import redirect

from gateway.admin.sessions import Administrator
from gateway.runtime import Runtime
from gateway.store.database import as_datetime
from gateway.web.session import FIELD, Cookies

FLASH_COOKIE = "gateway_admin_message"
BIGGEST_ID = 2**63 - 1  # the largest row number both backends compare: a larger one names no row

TEMPLATES = Environment(
    loader=PackageLoader("gateway.web", "templates"),
    autoescape=True,  # every value is text, whatever markup it holds
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _when(value: str | dt.datetime | None) -> str:
    """A stored time (UTC on both backends), to the second."""
    return "" if value is None else f"{as_datetime(value):%Y-%m-%d %H:%M:%S}"


def _visible(text: str) -> str:
    """A value from outside (a login someone typed) with the characters that do not print, a bidi override
    among them, written as escapes: it reads as it is, not as it would have the page read."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


TEMPLATES.filters["when"] = _when
TEMPLATES.filters["visible"] = _visible


@dataclasses.dataclass
class Page:
    request: Request
    runtime: Runtime
    urls: MapAdapter
    cookies: Cookies
    admin: Administrator | None = None
    csrf: str = ""
    message: str = ""  # what the previous action did, shown once
    _set_flash: str | None = None

    @property
    def section(self) -> str:
        """The part of the site the page is in, for the navigation: /admin/<section>/..."""
        return self.request.path.removeprefix("/admin/").partition("/")[0]

    @property
    def actor(self) -> str:
        """Who the change history names: the administrator (app.py lets no one else reach a form's view)."""
        if self.admin is None:
            raise PermissionError("a change without an administrator")
        return self.admin.login

    def url(self, endpoint: str, **values: Any) -> str:
        return self.urls.build(endpoint, values)

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        body = TEMPLATES.get_template(template).render(
            page=self,
            url=self.url,
            csrf_field=FIELD,
            csrf_input=Markup('<input type="hidden" name="{}" value="{}">').format(FIELD, escape(self.csrf)),
            admin=self.admin,
            message=self.message,
            **context,
        )
        return self.finish(Response(body, status=status, content_type="text/html; charset=utf-8"))

    def redirect(self, endpoint: str, message: str = "", **values: Any) -> Response:
        """303 after a POST (the browser GETs the result); the message is shown on the next page once."""
        self._set_flash = message or None
        return self.finish(redirect(self.url(endpoint, **values), 303))

    def redirect_to(self, location: str) -> Response:
        return self.finish(redirect(location, 303))

    def finish(self, response: Response) -> Response:
        if self._set_flash:
            self.cookies.set(response, FLASH_COOKIE, quote(self._set_flash), max_age=60)
        elif self.message:
            self.cookies.clear(response, FLASH_COOKIE)
        return response


View = Callable[..., Response]
