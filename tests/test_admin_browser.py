"""The admin pages in a real browser: headless Chromium (tests/browser.py) through gunicorn, on both backends.

What an admin who never opens a shell does: log in, add a web service from a preset under a name of
their own, find a client's request in the debugger, export the YAML and delete the web service. The
screenshots of the main pages are written under the test's temporary directory (their paths printed:
`pytest -rP` or `-s` shows them).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from gateway.admin.webservices import available_presets
from tests.browser import Browser, headless_chromium, require_chromium
from tests.conftest import BACKENDS, Server, copy_database, run_console, serving, until

pytestmark = pytest.mark.slow

ADMIN = {"User": "root@localhost", "Password": "admin-in-the-browser"}  # in group admin with rw
CALLER = {"UserLogin": "tauser", "Password": "caller-secret-4711"}  # rw in timeaccounting_webservice
NAME = "TimeAccountingBrowser"
ROUTE = f"/otrs/nph-genericinterface.pl/Webservice/{NAME}/TimeAccountingGet"
PAGE = f"/admin/webservices/{NAME}"


@pytest.fixture(scope="module", params=BACKENDS)
def admin_server(request, templates, tmp_path_factory) -> Iterator[Server]:
    """gateway under gunicorn, its admin's and a REST caller's passwords set with the console first."""
    require_chromium()  # before a server starts for nothing
    url, drop = copy_database(request.param, templates, tmp_path_factory.mktemp("admin"))
    env = {**os.environ, "GATEWAY_DATABASE_URL": url}
    try:
        for login, password in ((ADMIN["User"], ADMIN["Password"]), (CALLER["UserLogin"], CALLER["Password"])):
            done = run_console("user", "set-password", "--user-name", login, "--password", password, env=env)
            assert done.returncode == 0, done.stderr
        assert "admin (rw)" in run_console("user", "show", "--user-name", ADMIN["User"], env=env).stdout
        with serving(url) as running:
            yield running
    finally:
        drop()


@pytest.fixture
def browser(tmp_path) -> Iterator[Browser]:
    with headless_chromium(tmp_path) as running:
        yield running


def time_accounting(server: Server) -> requests.Response:
    """The REST call a time-accounting client makes, with a start time to find it by in the debugger."""
    body = {
        **CALLER,
        "TimeAccountingUserLogin": "tauser",
        "TimeAccountingStart": "2026-01-01 00:00:07",
        "TimeAccountingEnd": "2027-01-01 00:00:00",
    }
    return requests.post(f"{server.url}{ROUTE}", json=body, timeout=10)


def test_an_admin_adds_a_preset_finds_a_request_in_the_debugger_exports_and_deletes_it(admin_server, browser):
    base = admin_server.url
    shots = {}

    browser.open(f"{base}/health")  # the browser reaches gunicorn
    assert '"Database":"ok"' in browser.find("body").text
    shots["health"] = browser.shot("health")

    browser.open(f"{base}/admin/")
    browser.on("/admin/login")
    shots["login"] = browser.shot("login")
    browser.find("input[name=User]").send_keys(ADMIN["User"])
    browser.find("input[name=Password]").send_keys(ADMIN["Password"])
    browser.find("#login").click()
    browser.on("/admin/webservices")
    shots["webservices"] = browser.shot("webservices")

    # add from the preset, under a name of the admin's own
    assert time_accounting(admin_server).status_code == 404
    form = browser.find("form#add-preset")
    preset = Select(form.find_element(By.NAME, "Preset"))
    assert sorted(option.get_attribute("value") for option in preset.options) == sorted(available_presets())
    preset.select_by_value("TimeAccountingREST")
    name = form.find_element(By.NAME, "Name")
    name.clear()
    name.send_keys(NAME)
    form.find_element(By.ID, "add").click()
    browser.on(PAGE)
    assert "TimeAccountingGet" in browser.find("body").text
    shots["webservice"] = browser.shot("webservice")

    # a client calls it, once the worker that answers has loaded the new web service (its refresh interval)
    deadline = time.monotonic() + 10
    while (answer := time_accounting(admin_server)).status_code == 404:
        assert time.monotonic() < deadline, "the new web service is not served"
        time.sleep(0.1)
    assert answer.status_code == 200 and answer.json() == {}, answer.text  # Znuny's answer: nothing accounted

    # the debugger shows the requests once the communication log's writer has stored them
    browser.find("#debugger").click()
    browser.on(f"{PAGE}/log")
    entries = browser.reload_until("#log .entry")
    assert len(entries) == 1 and "TimeAccountingGet" in entries[0].text, [entry.text for entry in entries]
    shots["debugger"] = browser.shot("debugger")
    link = entries[0].find_element(By.CSS_SELECTOR, "a[href*='/log/']")
    entry_path = re.sub(r"^https?://[^/]+", "", link.get_attribute("href"))
    assert re.fullmatch(rf"{PAGE}/log/[^/]+", entry_path), entry_path
    link.click()
    browser.on(entry_path)
    # the preset's DebugThreshold is error: a success is listed with its request line, its bodies not kept
    assert browser.find("pre#request").text.startswith("POST /TimeAccountingGet")
    assert "DebugThreshold is error" in browser.find("#threshold-note").text
    assert CALLER["Password"] not in browser.driver.page_source
    shots["entry"] = browser.shot("entry")

    # export: the YAML `gateway webservice export` prints
    browser.open(f"{base}{PAGE}")
    browser.find("#export").click()
    exported = browser.downloaded(f"{NAME}.yml")
    assert exported.read_text() == admin_server.gateway("webservice", "export", "--name", NAME).stdout

    # delete, through its confirmation step
    browser.find("#delete").click()
    browser.on(f"{PAGE}/delete")
    browser.find("#confirm-delete").click()
    browser.on("/admin/webservices")
    assert NAME in browser.find("body").text  # the message that says so
    assert NAME not in admin_server.gateway("webservice", "list").stdout
    until(lambda: time_accounting(admin_server).status_code == 404, 10)

    browser.find("#logout").click()
    browser.on("/admin/login")  # the logout's answer
    assert "You have logged out" in browser.find("body").text
    browser.open(f"{base}/admin/webservices")
    browser.on("/admin/login")

    for page, path in shots.items():
        print(f"screenshot of {page}: {path}")
