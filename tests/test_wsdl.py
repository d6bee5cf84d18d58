"""The WSDL files in wsdl/ are what `make wsdl` generates today, and what servers serve."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.admin import webservices
from gateway.cli import WSDL_PUBLIC_URL
from gateway.settings import load
from tests.conftest import SOAP

WSDL_DIR = Path(__file__).resolve().parent.parent / "wsdl"


def test_checked_in_wsdl_files_are_current():
    generated = webservices.preset_wsdls(load(environ={}), WSDL_PUBLIC_URL)
    assert sorted(generated) == sorted(p.stem for p in WSDL_DIR.glob("*.wsdl"))
    for name, document in generated.items():
        assert (WSDL_DIR / f"{name}.wsdl").read_bytes() == document, f"run `make wsdl`: {name}.wsdl is stale"


@pytest.mark.transport_only
def test_served_wsdl_names_the_configured_public_address(client, settings):
    for path in (f"{SOAP}?wsdl", f"{SOAP}/wsdl"):
        response = client.get(path, headers={"Host": "attacker.example"})
        assert response.status_code == 200
        assert (
            f'location="{settings.public_url}/znuny/nph-genericinterface.pl/Webservice/'
            f'GenericTicketConnectorSOAP"'.encode()
            in response.data
        )
        assert b"attacker" not in response.data
        assert b'soapAction="http://www.otrs.org/TicketConnector/SessionCreate"' in response.data
