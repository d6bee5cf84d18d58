"""The admin pages under /admin/: server-rendered (Jinja2, werkzeug routing), no script at all.

Thin over gateway.admin, which the console calls too: a page parses its form, calls one admin
function and shows what it returned or the one-line AdminError it raised.
"""
