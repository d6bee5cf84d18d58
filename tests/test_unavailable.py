"""Without its database, gateway says so (503) instead of failing obscurely."""

from __future__ import annotations

import pytest
from werkzeug.test import Client

from gateway.app import make_app
from tests.conftest import REST, test_settings


@pytest.fixture(params=["sqlite:////proc/no-such-dir/gateway.db", "postgresql:///gw_no_such_database"])
def unreachable(request):
    app = make_app(test_settings(request.param))
    yield Client(app)
    app.close()


def test_health_reports_the_database(unreachable):
    response = unreachable.get("/health")
    assert response.status_code == 503 and response.json["Database"] == "unreachable"


def test_requests_get_a_503_that_says_why(unreachable):
    response = unreachable.post(f"{REST}/Session", json={"UserLogin": "root@localhost", "Password": "root"})
    assert response.status_code == 503 and int(response.headers["Retry-After"]) >= 1
    assert response.json["faultcode"] == "Server.Unavailable" and "database" in response.json["faultstring"]
