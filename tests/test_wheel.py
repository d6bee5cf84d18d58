"""The wheel: installed (not editable) into a fresh virtualenv, it sets up and serves on its own files.

The wheel is built from a copy of the sources, offline (no build isolation). The fresh venv gets
only the wheel; its dependencies come from the environment running the tests, reached through a
.pth file, so nothing is downloaded. That environment's editable install of gateway stays out of
reach: .pth files in a directory a .pth file adds are not run, so its finder never loads, and
commands run from an empty directory without PYTHONPATH. The test checks where `gateway` is
imported from, then runs `gateway setup` and serves one real request with `gateway serve`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from gateway import __version__
from tests.conftest import REST, gateway_serving

pytestmark = pytest.mark.slow

CHECKOUT = Path(__file__).resolve().parents[1]
SOURCES = ("setup.cfg", "setup.py", "pyproject.toml", "README.rst")


def run(*args: str | Path, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run([str(arg) for arg in args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str], Path]]:
    """A fresh venv with the wheel installed; the environment to run its commands in."""
    tmp = tmp_path_factory.mktemp("wheel")
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "PYTHONPATH" and not key.startswith(("GATEWAY_", "PIP_"))
    }
    source = tmp / "src"
    shutil.copytree(CHECKOUT / "gateway", source / "gateway", ignore=shutil.ignore_patterns("__pycache__"))
    for name in SOURCES:
        shutil.copy(CHECKOUT / name, source / name)
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "--wheel-dir",
        tmp / "dist",
        source,
        env=env,
        cwd=tmp,
    )
    (wheel,) = (tmp / "dist").glob("gateway-*.whl")
    assert wheel.name == f"gateway-{__version__}-py3-none-any.whl"

    venv = tmp / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, env=env, cwd=tmp)
    python = venv / "bin" / "python"
    # this environment's pip installs into the fresh venv, before it can see any other gateway
    run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "--quiet",
        "--no-deps",
        "--no-index",
        wheel,
        env=env,
        cwd=tmp,
    )
    site_packages = run(
        python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", env=env, cwd=tmp
    ).stdout.strip()
    outer = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (Path(site_packages) / "test-dependencies.pth").write_text("".join(f"{path}\n" for path in outer))
    home = tmp / "home"
    home.mkdir()
    yield venv, {**env, "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"}, home


def test_the_installed_package_is_the_wheels_own(installed):
    venv, env, home = installed
    found = run(
        venv / "bin" / "python",
        "-c",
        "import gateway, gateway.webservice.presets as p, gateway.store.migrate as m;"
        " print(gateway.__file__); print(len(p.available()), len(list(m.MIGRATIONS_DIR.glob('0*.py'))))",
        env=env,
        cwd=home,
    ).stdout.split()
    assert Path(found[0]).is_relative_to(venv) and not Path(found[0]).is_relative_to(CHECKOUT)
    presets = len(list((CHECKOUT / "gateway" / "webservice" / "presets").glob("*.yml")))
    migrations = len(list((CHECKOUT / "gateway" / "store" / "migrations").glob("0*.py")))
    assert found[1:] == [str(presets), str(migrations)]
    script = (venv / "bin" / "gateway").read_text().splitlines()[0]
    assert script == f"#!{venv / 'bin' / 'python'}"


def test_setup_and_a_served_request_from_the_wheel(installed):
    venv, env, home = installed
    output = run(venv / "bin" / "gateway", "setup", env=env, cwd=home).stdout
    assert "Added web service GenericTicketConnectorREST." in output
    password = output.split("Agent root@localhost has the password: ")[1].split()[0]
    assert (home / "var" / "gateway.db").is_file()  # the default database, relative to the working directory

    with gateway_serving(venv / "bin" / "gateway", {**env, "GATEWAY_WORKERS": "1"}, cwd=home) as (base, _):
        health = requests.get(f"{base}/health", timeout=30)
        assert health.json() == {"Database": "ok", "Version": __version__}
        session = requests.post(
            f"{base}{REST}/Session", json={"UserLogin": "root@localhost", "Password": password}, timeout=30
        )
        assert session.status_code == 200 and "SessionID" in session.json(), session.text
        ticket = requests.get(f"{base}{REST}/Ticket/1", params={"SessionID": session.json()["SessionID"]}, timeout=30)
        assert ticket.json()["Ticket"][0]["Title"] == "Welcome to Znuny!", ticket.text  # the welcome ticket
        # the admin pages' templates and stylesheet are package data too
        login_page = requests.get(f"{base}/admin/login", timeout=30)
        assert login_page.status_code == 200 and 'name="Password"' in login_page.text
        assert requests.get(f"{base}/admin/static/admin.css", timeout=30).status_code == 200
