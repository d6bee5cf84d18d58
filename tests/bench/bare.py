"""A WSGI app that does nothing: the baseline for what gunicorn and the load tool cost alone."""

from collections.abc import Callable, Iterable

BODY = b'{"Status":"ok"}'
HEADERS = [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(BODY)))]


def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
    start_response("200 OK", HEADERS)
    return [BODY]
