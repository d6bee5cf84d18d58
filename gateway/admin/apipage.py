"""A web service's API as its pages show it: each operation's routes or SOAPAction, parameters and an
example request, described from the same models the server answers with; and the SOAPAction settings
in force, Znuny's defaults filled in."""

from __future__ import annotations

from gateway.transport.soap import SOAPACTION_DEFAULTS
from gateway.webservice.apidoc import OperationDoc, describe
from gateway.webservice.config import WebserviceConfig


def operations(config: WebserviceConfig, base_url: str) -> list[OperationDoc]:
    return describe(config, base_url)


def soap_settings(config: WebserviceConfig) -> list[tuple[str, str, bool]]:
    """(setting, value in force, whether it is Znuny's default because the configuration does not set it)."""
    given = config.transport_config
    return [
        (key, str(given[key]) if given.get(key) not in (None, "") else default, given.get(key) in (None, ""))
        for key, default in SOAPACTION_DEFAULTS.items()
    ]
