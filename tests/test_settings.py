"""Settings: conf/gateway.ini, overridden by GATEWAY_<KEY>."""

from __future__ import annotations

import socket

import pytest

from gateway.errors import SettingsError
from gateway.settings import PROJECT_DIR, advertised_url, load


def test_defaults_come_from_the_shipped_file():
    settings = load(environ={})
    assert settings.public_url == ""  # the server advertises where it listens
    assert settings.system_id == "10"
    assert settings.timezone == "UTC"
    assert settings.database_url == f"sqlite:///{PROJECT_DIR}/var/gateway.db"


def test_environment_overrides_each_key():
    settings = load(environ={"GATEWAY_DATABASE_URL": "postgresql:///gateway", "GATEWAY_SYSTEM_ID": "42",
                             "GATEWAY_PUBLIC_URL": "https://help.example.test", "GATEWAY_TIMEZONE": "Europe/Berlin",
                             "GATEWAY_SESSION_MAX_IDLE_TIME": "60"})
    assert (settings.database_url, settings.system_id, settings.public_url, settings.timezone,
            settings.session_max_idle_time) == ("postgresql:///gateway", "42", "https://help.example.test",
                                                "Europe/Berlin", 60)


def test_a_typo_in_the_file_is_an_error(tmp_path):
    config = tmp_path / "gateway.ini"
    config.write_text("[gateway]\ndatabse_url = sqlite:///x.db\n")
    with pytest.raises(SettingsError, match="databse_url"):
        load(config, environ={})


def test_a_number_that_is_not_one_is_an_error():
    with pytest.raises(SettingsError, match="session_max_time"):
        load(environ={"GATEWAY_SESSION_MAX_TIME": "soon"})


@pytest.mark.parametrize(("bind", "url"), [
    ("127.0.0.1:9123", "http://127.0.0.1:9123"),
    ("gw.example.test:80", "http://gw.example.test:80"),
    ("[::1]:8080", "http://[::1]:8080"),
    ("localhost", "http://localhost:8000"),  # gunicorn's default port
    ("0.0.0.0:8080", f"http://{socket.gethostname()}:8080"),
    ("[::]:8080", f"http://{socket.gethostname()}:8080"),
])
def test_without_public_url_the_bind_address_is_advertised(bind, url):
    assert advertised_url("", bind) == url


def test_a_configured_public_url_wins():
    assert advertised_url("https://help.example.test", "0.0.0.0:8080") == "https://help.example.test"
    assert advertised_url("https://help.example.test", "unix:/run/gateway.sock") == "https://help.example.test"


@pytest.mark.parametrize("bind", ["unix:/run/gateway.sock", "fd://3"])
def test_a_socket_bind_needs_public_url(bind):
    with pytest.raises(SettingsError, match="public_url"):
        advertised_url("", bind)
