"""What the admin pages show of a web service's API: operations, parameters, a request to copy.

Parameters come from the models the server reads requests with, routes and SOAPAction from
the configuration the server dispatches by, so the page documents what is served. The
SOAPAction is the one Znuny's provider expects for the configured scheme (gateway accepts
every style, Znuny only that one), so the example works against both.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from typing import Any
from urllib.parse import quote, urlencode

from lxml import etree
from spyne import ComplexModelBase

from gateway import operations
from gateway.operations.examples import EXAMPLES
from gateway.transport.jsonvalues import describe as describe_fields
from gateway.transport.soap import soap_action
from gateway.webservice.config import REST, SOAP, Route, WebserviceConfig
from gateway.webservice.endpoint import models_namespace

ANY_METHOD = "ANY"  # a route without RequestMethod answers every method, as in Znuny
SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
_DEPTH = 3  # path segments: Article.Attachment.Filename, deeper is rarely sent
_PARAM = re.compile(r":([A-Za-z_][A-Za-z0-9_]*)")


@dataclasses.dataclass(frozen=True)
class Parameter:
    name: str  # dotted path below the request: Ticket.Title
    type: str  # object, string, integer, number or any
    many: bool  # a list (repeated elements in SOAP)


@dataclasses.dataclass(frozen=True)
class OperationDoc:
    name: str
    type: str
    description: str
    implemented: bool
    routes: tuple[tuple[str, str], ...]  # REST: (method or ANY, configured path)
    soap_action: str  # SOAP: the SOAPAction header's value, unquoted
    namespace: str  # SOAP
    parameters: tuple[Parameter, ...]
    example: str  # a curl command line; "" where there is nothing to send


def describe(config: WebserviceConfig, base_url: str) -> list[OperationDoc]:
    """One entry per configured operation, in name order; `base_url` is the web service's URL."""
    docs = []
    for name in sorted(config.operations):
        operation_type = config.operations[name]
        descriptor = operations.descriptor(operation_type)
        example = EXAMPLES.get(operation_type) if descriptor is not None else None
        routes = _routes(config, name)
        namespace = (config.namespace or models_namespace(config)) if config.transport == SOAP else ""
        action = soap_action(config.transport_config, namespace, name) if config.transport == SOAP else ""
        text = ""
        if example is not None and config.transport == REST:
            text = _rest_example(base_url, routes, example)
        elif example is not None and config.transport == SOAP:
            text = _soap_example(base_url, action, namespace, name, example)
        docs.append(
            OperationDoc(
                name=name,
                type=operation_type,
                description=str(config.operation_options[name].get("Description") or ""),
                implemented=descriptor is not None,
                routes=routes,
                soap_action=action,
                namespace=namespace,
                parameters=tuple(_parameters(descriptor.in_message)) if descriptor is not None else (),
                example=text,
            )
        )
    return docs


def _routes(config: WebserviceConfig, name: str) -> tuple[tuple[str, str], ...]:
    found: list[Route] = [route for route in config.routes if route.operation == name]
    return tuple((method, route.path) for route in found for method in sorted(route.methods) or [ANY_METHOD])


def _parameters(model: type, prefix: str = "", depth: int = 1) -> list[Parameter]:
    found = []
    for name, field, many, json_type, _nullable in describe_fields(model):
        found.append(Parameter(prefix + name, json_type, many))
        if issubclass(field, ComplexModelBase) and depth < _DEPTH:
            found += _parameters(field, f"{prefix}{name}.", depth + 1)
    return found


# -- example requests --------------------------------------------------------------------------------------


def _quote(text: str) -> str:
    """Single quotes for every argument (shlex.quote leaves some bare), so the lines read alike."""
    return "'" + text.replace("'", "'\\''") + "'"


def _curl(method: str, url: str, headers: list[str], body: str | None) -> str:
    lines = [f"curl{'' if method == 'GET' else ' -X ' + method} {_quote(url)}"]
    lines += [f"-H {_quote(header)}" for header in headers]
    if body is not None:
        lines.append(f"--data-binary {_quote(body)}")
    return " \\\n  ".join(lines)


def _rest_example(base_url: str, routes: tuple[tuple[str, str], ...], example: dict[str, Any]) -> str:
    """The first route, its parameters filled in from the example; the rest as query (GET) or JSON body."""
    if not routes:
        return ""  # not reachable over REST: the configuration maps no route to it
    method, path = routes[0]
    method = "POST" if method == ANY_METHOD else method
    data = copy.deepcopy(example)

    def fill(match: re.Match[str]) -> str:
        value = data.pop(match.group(1), None)
        if isinstance(value, list):
            value = value[0] if value else None
        return match.group(0) if value is None else quote(str(value), safe="")

    url = base_url.rstrip("/") + _PARAM.sub(fill, path)
    if method == "GET":
        query = {key: value for key, value in data.items() if not isinstance(value, dict)}
        return _curl(method, f"{url}?{urlencode(query, doseq=True)}" if query else url, [], None)
    body = json.dumps(data, indent=2, ensure_ascii=False)
    return _curl(method, url, ["Content-Type: application/json; charset=utf-8"], body)


def _soap_example(base_url: str, action: str, namespace: str, operation: str, example: dict[str, Any]) -> str:
    """A SOAP 1.1 request as SOAP::Lite and Znuny's own requester send it: children in the namespace."""
    envelope = etree.Element(f"{{{SOAP_ENV_NS}}}Envelope", nsmap={"soap": SOAP_ENV_NS})
    body = etree.SubElement(envelope, f"{{{SOAP_ENV_NS}}}Body")
    _xml(etree.SubElement(body, f"{{{namespace}}}{operation}", nsmap={None: namespace}), namespace, example)
    etree.indent(envelope, space="  ")
    xml = '<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(envelope, encoding="unicode")
    headers = ["Content-Type: text/xml; charset=utf-8", f'SOAPAction: "{action}"']
    return _curl("POST", base_url, headers, xml)


def _xml(parent: etree._Element, namespace: str, data: dict[str, Any]) -> None:
    for key, value in data.items():
        for item in value if isinstance(value, list) else [value]:
            child = etree.SubElement(parent, f"{{{namespace}}}{key}")
            if isinstance(item, dict):
                _xml(child, namespace, item)
            else:
                child.text = str(item)
