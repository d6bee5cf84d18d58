"""Settings: the defaults in Settings, the installation's conf/gateway.ini, then GATEWAY_<KEY>."""

from __future__ import annotations

import configparser
import dataclasses
import os
import socket
from pathlib import Path

import argon2
import pytest
from click.testing import CliRunner

from gateway.cli import main
from gateway.errors import SettingsError
from gateway.passwords import PasswordChecker, hash_password
from gateway.settings import Settings, advertised_url, documentation, load


def test_without_a_file_the_defaults_hold_and_relative_paths_are_the_working_directorys(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load(environ={})
    assert settings.public_url == ""  # the server advertises where it listens
    assert (settings.system_id, settings.timezone, settings.mail_batch_size) == ("10", "UTC", 50)
    assert settings.database_url == f"sqlite:///{tmp_path}/var/gateway.db"
    assert settings.gnupghome == f"{tmp_path}/var/gnupg"


def test_gateway_home_holds_the_file_and_anchors_relative_paths(tmp_path):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "gateway.ini").write_text("[gateway]\nsystem_id = 42\ndatabase_url = sqlite:///data/gw.db\n")
    settings = load(environ={"GATEWAY_HOME": str(tmp_path)})
    assert settings.system_id == "42"
    assert settings.database_url == f"sqlite:///{tmp_path}/data/gw.db"
    assert settings.smime_cert_dir == f"{tmp_path}/var/smime/certs"


def test_gateway_config_names_the_file_and_a_missing_one_is_an_error(tmp_path):
    config = tmp_path / "elsewhere.ini"
    config.write_text("[gateway]\ntimezone = Europe/Berlin\n")
    assert load(environ={"GATEWAY_CONFIG": str(config)}).timezone == "Europe/Berlin"
    with pytest.raises(SettingsError, match="no such settings file"):
        load(environ={"GATEWAY_CONFIG": str(tmp_path / "missing.ini")})


def test_environment_overrides_each_key():
    settings = load(
        environ={
            "GATEWAY_DATABASE_URL": "postgresql:///gateway",
            "GATEWAY_SYSTEM_ID": "42",
            "GATEWAY_PUBLIC_URL": "https://help.example.test",
            "GATEWAY_TIMEZONE": "Europe/Berlin",
            "GATEWAY_SESSION_MAX_IDLE_TIME": "60",
        }
    )
    assert (
        settings.database_url,
        settings.system_id,
        settings.public_url,
        settings.timezone,
        settings.session_max_idle_time,
    ) == ("postgresql:///gateway", "42", "https://help.example.test", "Europe/Berlin", 60)


def test_a_typo_in_the_file_is_an_error(tmp_path):
    config = tmp_path / "gateway.ini"
    config.write_text("[gateway]\ndatabse_url = sqlite:///x.db\n")
    with pytest.raises(SettingsError, match="databse_url"):
        load(environ={"GATEWAY_CONFIG": str(config)})


def test_a_number_that_is_not_one_is_an_error():
    with pytest.raises(SettingsError, match="session_max_time"):
        load(environ={"GATEWAY_SESSION_MAX_TIME": "soon"})


def test_the_checkouts_file_changes_nothing_it_does_not_mean_to():
    """conf/gateway.ini is this checkout's override file, not a second copy of the defaults."""
    parser = configparser.ConfigParser()
    parser.read(Path(__file__).parents[1] / "conf" / "gateway.ini", encoding="utf-8")
    defaults = {field.name: str(field.default) for field in dataclasses.fields(Settings)}
    assert [key for key, value in parser.items("gateway") if defaults[key] == value] == []


def test_every_setting_is_documented_beside_its_default():
    docs = documentation()
    assert list(docs) == [field.name for field in dataclasses.fields(Settings)]
    assert all(docs.values())
    assert docs["smtp_security"] == "none, starttls or ssl"


def _settings_command(tmp_path, **environ: str) -> str:
    result = CliRunner().invoke(main, ["settings"], env={"GATEWAY_HOME": str(tmp_path), **environ})
    assert result.exit_code == 0, result.output
    return result.output


def test_gateway_settings_prints_an_ini_that_reads_back_as_the_settings_in_force(tmp_path):
    environ = {"GATEWAY_SYSTEM_ID": "77", "GATEWAY_MAIL_RETRY_DELAY": "12.5"}
    printed = _settings_command(tmp_path, **environ)
    assert "; Znuny's SystemID: part of every ticket number\n; default: 10\nsystem_id = 77\n" in printed
    copy = tmp_path / "printed.ini"
    copy.write_text(printed)
    in_force = load(environ={**os.environ, "GATEWAY_HOME": str(tmp_path), **environ})
    assert load(environ={"GATEWAY_CONFIG": str(copy)}) == in_force


def test_gateway_settings_shows_no_secret(tmp_path):
    printed = _settings_command(
        tmp_path, GATEWAY_SMTP_PASSWORD="hunter2", GATEWAY_DATABASE_URL="postgresql://gw:s3cret@db.example.test/gateway"
    )
    assert "hunter2" not in printed and "s3cret" not in printed
    assert "database_url = postgresql://gw:***@db.example.test/gateway\n" in printed


def test_passwords_are_hashed_at_argon2s_recommended_cost_unless_configured():
    """The tests run at the least cost (conftest.py); an installation must not."""
    recommended = argon2.PasswordHasher()
    for settings in (load(environ={}), Settings()):
        made = argon2.extract_parameters(hash_password("secret", settings))
        assert (made.type, made.time_cost, made.memory_cost, made.parallelism) == (
            argon2.Type.ID,
            recommended.time_cost,
            recommended.memory_cost,
            recommended.parallelism,
        )


def test_a_stored_hash_is_checked_at_its_own_cost_whatever_is_configured():
    cheap = load(environ={"GATEWAY_PASSWORD_TIME_COST": "1", "GATEWAY_PASSWORD_MEMORY_COST": "32"})
    stronger = dataclasses.replace(cheap, password_time_cost=2, password_memory_cost=64)
    assert argon2.extract_parameters(hash_password("secret", cheap)).memory_cost == 32
    checker = PasswordChecker(0, cheap)
    assert checker.verify(hash_password("secret", stronger), "secret")
    assert not checker.verify(hash_password("secret", stronger), "wrong")


@pytest.mark.parametrize("environ", [{"GATEWAY_PASSWORD_TIME_COST": "0"}, {"GATEWAY_PASSWORD_MEMORY_COST": "31"}])
def test_a_password_cost_below_argon2s_least_is_an_error(environ):
    with pytest.raises(SettingsError, match="password_time_cost and password_memory_cost"):
        load(environ=environ)


@pytest.mark.parametrize(
    ("bind", "url"),
    [
        ("127.0.0.1:9123", "http://127.0.0.1:9123"),
        ("gw.example.test:80", "http://gw.example.test:80"),
        ("[::1]:8080", "http://[::1]:8080"),
        ("localhost", "http://localhost:8000"),  # gunicorn's default port
        ("0.0.0.0:8080", f"http://{socket.gethostname()}:8080"),
        ("[::]:8080", f"http://{socket.gethostname()}:8080"),
    ],
)
def test_without_public_url_the_bind_address_is_advertised(bind, url):
    assert advertised_url("", bind) == url


def test_a_configured_public_url_wins():
    assert advertised_url("https://help.example.test", "0.0.0.0:8080") == "https://help.example.test"
    assert advertised_url("https://help.example.test", "unix:/run/gateway.sock") == "https://help.example.test"


@pytest.mark.parametrize("bind", ["unix:/run/gateway.sock", "fd://3"])
def test_a_socket_bind_needs_public_url(bind):
    with pytest.raises(SettingsError, match="public_url"):
        advertised_url("", bind)
