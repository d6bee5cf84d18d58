"""Settings: conf/gateway.ini, overridden by GATEWAY_<KEY>."""

from __future__ import annotations

import dataclasses
import socket

import argon2
import pytest

from gateway.passwords import PasswordChecker, hash_password
from gateway.settings import PROJECT_DIR, Settings, advertised_url, load


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
    with pytest.raises(ValueError, match="databse_url"):
        load(config, environ={})


def test_a_number_that_is_not_one_is_an_error():
    with pytest.raises(ValueError, match="session_max_time"):
        load(environ={"GATEWAY_SESSION_MAX_TIME": "soon"})


def test_passwords_are_hashed_at_argon2s_recommended_cost_unless_configured():
    """The tests run at the least cost (conftest.py); an installation must not."""
    recommended = argon2.PasswordHasher()
    for settings in (load(environ={}), Settings()):
        made = argon2.extract_parameters(hash_password("secret", settings))
        assert (made.type, made.time_cost, made.memory_cost, made.parallelism) == (
            argon2.Type.ID, recommended.time_cost, recommended.memory_cost, recommended.parallelism)


def test_a_stored_hash_is_checked_at_its_own_cost_whatever_is_configured():
    cheap = load(environ={"GATEWAY_PASSWORD_TIME_COST": "1", "GATEWAY_PASSWORD_MEMORY_COST": "32"})
    stronger = dataclasses.replace(cheap, password_time_cost=2, password_memory_cost=64)
    assert argon2.extract_parameters(hash_password("secret", cheap)).memory_cost == 32
    checker = PasswordChecker(cache_ttl=0)
    assert checker.verify(hash_password("secret", stronger), "secret")
    assert not checker.verify(hash_password("secret", stronger), "wrong")


@pytest.mark.parametrize("environ", [{"GATEWAY_PASSWORD_TIME_COST": "0"}, {"GATEWAY_PASSWORD_MEMORY_COST": "31"}])
def test_a_password_cost_below_argon2s_least_is_an_error(environ):
    with pytest.raises(ValueError, match="password_time_cost and password_memory_cost"):
        load(environ=environ)


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
    with pytest.raises(ValueError, match="public_url"):
        advertised_url("", bind)
