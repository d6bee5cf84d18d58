"""An OpenAPI 3 document for a REST web service, from its routes and the operations' models.

The same models that produce the JSON produce its description, so the document cannot
drift from what the server answers. Znuny has nothing like it.
"""

from __future__ import annotations

import re
from typing import Any

from spyne import ComplexModelBase
from spyne.descriptor import MethodDescriptor

from gateway import __version__
from gateway.transport.jsonvalues import describe
from gateway.webservice.config import WebserviceConfig

_FAULT = {"type": "object", "properties": {"faultcode": {"type": "string"}, "faultstring": {"type": "string"}}}
_TRANSPORT_ERRORS = {
    "400": "Malformed JSON or a value of the wrong type",
    "404": "No such web service or route",
    "405": "The route exists, the method does not",
    "413": "The body exceeds the web service's MaxLength",
}


def schema(cls: type) -> dict[str, Any]:
    """A JSON schema of a model, with the JSON types its values are sent with."""
    properties = {}
    for name, field, many, json_type, nullable in describe(cls):
        if issubclass(field, ComplexModelBase):
            item = schema(field)
        else:
            item = {"type": json_type} if json_type != "any" else {}
            if nullable:
                item["nullable"] = True
        properties[name] = {"type": "array", "items": item} if many else item
    return {"type": "object", "properties": properties}


def document(config: WebserviceConfig, base_url: str, descriptors: dict[str, MethodDescriptor]) -> dict[str, Any]:
    """`descriptors`: the spyne method of each configured operation that gateway implements, by operation name."""
    paths: dict[str, dict[str, Any]] = {}
    for route in config.routes:
        descriptor = descriptors.get(route.operation)
        if descriptor is None:
            continue
        path = re.sub(r":([A-Za-z_][A-Za-z0-9_]*)", r"{\1}", route.path)
        path_params = re.findall(r"\{(\w+)\}", path)
        request_schema = schema(descriptor.in_message)
        for verb in sorted(route.methods or {"POST"}):
            parameters = [
                {"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in path_params
            ]
            operation: dict[str, Any] = {
                "operationId": route.operation if len(route.methods) <= 1 else f"{route.operation}{verb.title()}",
                "summary": str(config.operation_options[route.operation].get("Description") or route.operation),
                "responses": {
                    "200": {
                        "description": "The result, or a business error under `Error`",
                        "content": {"application/json": {"schema": schema(descriptor.out_message)}},
                    },
                    **{
                        code: {"description": text, "content": {"application/json": {"schema": _FAULT}}}
                        for code, text in _TRANSPORT_ERRORS.items()
                    },
                },
            }
            if verb == "GET":
                parameters += [
                    {"name": name, "in": "query", "schema": prop}
                    for name, prop in request_schema["properties"].items()
                    if name not in path_params and prop.get("type") != "object"
                ]
            else:
                operation["requestBody"] = {"content": {"application/json": {"schema": request_schema}}}
            if parameters:
                operation["parameters"] = parameters
            paths.setdefault(path, {})[verb.lower()] = operation
    return {
        "openapi": "3.0.3",
        "info": {"title": config.name, "version": __version__},
        "servers": [{"url": base_url}],
        "paths": paths,
    }
