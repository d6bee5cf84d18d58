"""From a web service's configuration to the WSGI application that serves it.

Built once per configuration (at start-up and when the registry sees a change), never
per request: a spyne Application and its WSDL are expensive to make and cheap to reuse.
SOAP is served by spyne; REST by gateway.transport.rest, from the same operations and models.
"""

from __future__ import annotations

import dataclasses
import json
from wsgiref.types import WSGIApplication

from spyne import Application
from spyne.server.wsgi import WsgiApplication

from gateway import operations
from gateway.operations.types import TICKET_CONNECTOR_NS
from gateway.transport.openapi import document
from gateway.transport.rest import RestApplication
from gateway.transport.soap import ZnunySoap11
from gateway.transport.wsdl import znuny_names
from gateway.webservice.config import REST, SOAP, WebserviceConfig

URL_PREFIX = "/znuny/nph-genericinterface.pl"


@dataclasses.dataclass(frozen=True)
class Endpoint:
    config: WebserviceConfig
    app: WSGIApplication | None  # None: the web service has no provider to serve
    wsdl: bytes | None = None  # SOAP
    openapi: bytes | None = None  # REST


def _service_name(config: WebserviceConfig, model_namespace: str) -> str:
    """Znuny's WSDL names the ticket connector `GenericTicketConnector`; others keep their own name."""
    return "GenericTicketConnector" if model_namespace == TICKET_CONNECTOR_NS else config.name


def models_namespace(config: WebserviceConfig) -> str:
    """The namespace of the models serving the web service: what SOAP answers in without a NameSpace."""
    for operation_type in sorted(set(config.operations.values())):
        descriptor = operations.descriptor(operation_type)
        if descriptor is not None:
            namespace: str = descriptor.in_message.get_namespace()
            return namespace
    return TICKET_CONNECTOR_NS


def build(config: WebserviceConfig, public_url: str) -> Endpoint:
    if config.transport not in (REST, SOAP):
        return Endpoint(config, None)
    descriptors = {
        name: d for name, type_ in config.operations.items() if (d := operations.descriptor(type_)) is not None
    }
    if config.transport == REST:
        base_url = f"{public_url.rstrip('/')}{URL_PREFIX}/Webservice/{config.name}"
        openapi = json.dumps(document(config, base_url, descriptors), indent=1, sort_keys=True).encode()
        return Endpoint(config, RestApplication(config, descriptors), openapi=openapi)
    methods = {name: descriptor.name for name, descriptor in descriptors.items()}
    by_type = {config.operations[name]: descriptor for name, descriptor in descriptors.items()}
    service = operations.select(f"{config.name}Service", set(by_type))
    model_namespace = models_namespace(config)
    namespace = config.namespace or model_namespace
    protocol = ZnunySoap11(namespace, methods, model_namespace, config.transport_config)
    app = Application(
        [service],
        tns=model_namespace,
        name=_service_name(config, model_namespace),
        in_protocol=protocol,
        out_protocol=ZnunySoap11(namespace, methods, model_namespace, config.transport_config),
    )
    wsgi = WsgiApplication(app, max_content_length=config.max_length)
    location = f"{public_url.rstrip('/')}{URL_PREFIX}/Webservice/{config.name}"
    wsgi.doc.wsdl11.build_interface_document(location)
    wsdl = znuny_names(
        wsgi.doc.wsdl11.get_interface_document(),
        _service_name(config, model_namespace),
        namespace,
        model_namespace,
        location,
    )
    return Endpoint(config, wsgi, wsdl)
