"""A web service's API as its page shows it: each operation's routes or SOAPAction, parameters and an
example request, described from the same models the server answers with."""

from __future__ import annotations

from gateway.webservice.apidoc import OperationDoc, describe
from gateway.webservice.config import WebserviceConfig


def operations(config: WebserviceConfig, base_url: str) -> list[OperationDoc]:
    return describe(config, base_url)
