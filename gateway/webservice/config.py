"""A web service's Znuny YAML configuration, read once into what the transports need.

The stored text is Znuny's own structure (Provider.Operation, Provider.Transport.Config,
Debugger, ...), so any export of a Znuny web service imports unchanged and exports back.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any
from urllib.parse import unquote

import yaml

from gateway.errors import ConfigError
from gateway.wirenumbers import integer

REST, SOAP = "HTTP::REST", "HTTP::SOAP"


@dataclasses.dataclass(frozen=True)
class Route:
    operation: str
    path: str  # as configured, e.g. /Ticket/:TicketID
    pattern: re.Pattern[str]
    methods: frozenset[str]  # empty: any method, as in Znuny

    def match(self, path: str) -> dict[str, str] | None:
        found = self.pattern.match(path)
        return None if found is None else {k: unquote(v) for k, v in found.groupdict().items()}


@dataclasses.dataclass(frozen=True)
class WebserviceConfig:
    id: int
    name: str
    text: str
    transport: str  # REST, SOAP, or "" for a requester-only web service
    operations: dict[str, str]  # operation name -> Znuny type, e.g. SessionDelete -> Session::SessionRemove
    operation_options: dict[str, dict[str, Any]]
    transport_config: dict[str, Any]
    routes: tuple[Route, ...]
    max_length: int
    namespace: str
    debug_threshold: str  # debug, info, notice or error (Znuny's Debugger.DebugThreshold)

    def logs_bodies(self, http_status: int, error_code: str | None) -> bool:
        """Whether the communication log keeps an exchange's bodies, as Znuny's debugger keeps its entries: what
        every exchange logs is at level debug, an error answer (an HTTP error, an Error.ErrorCode) at level
        error. Below the threshold the exchange is logged without its bodies (time, operation, status and
        duration still show in the debugger and its chart), which also spares redacting them."""
        return self.debug_threshold == "debug" or http_status != 200 or bool(error_code)

    def operation_type(self, name: str) -> str | None:
        return self.operations.get(name)


def load_yaml(text: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(f"not valid YAML: {getattr(error, 'problem', None) or error}{where}") from None
    if not isinstance(data, dict):
        raise ConfigError("not a web-service configuration: the YAML document is not a mapping")
    return data


def parse(webservice_id: int, name: str, text: str, max_request_size: int) -> WebserviceConfig:
    data = load_yaml(text)
    provider = data.get("Provider") or {}
    if not isinstance(provider, dict):
        raise ConfigError("Provider must be a mapping")
    transport = provider.get("Transport") or {}
    transport_type = (transport.get("Type") or "") if isinstance(transport, dict) else ""
    if transport_type not in (REST, SOAP, ""):
        raise ConfigError(f"unsupported provider transport {transport_type!r} (HTTP::REST or HTTP::SOAP)")
    transport_config = (transport.get("Config") or {}) if isinstance(transport, dict) else {}
    if not isinstance(transport_config, dict):
        raise ConfigError("Provider.Transport.Config must be a mapping")
    operations_raw = provider.get("Operation") or {}
    if not isinstance(operations_raw, dict):
        raise ConfigError("Provider.Operation must be a mapping")
    operations, options = {}, {}
    for op_name, op in operations_raw.items():
        if not isinstance(op, dict) or not isinstance(op.get("Type"), str):
            raise ConfigError(f"operation {op_name!r} has no Type")
        operations[str(op_name)] = op["Type"]
        options[str(op_name)] = op
    routes = _routes(transport_config.get("RouteOperationMapping") or {}, operations) if transport_type == REST else ()
    if transport_type == SOAP and not transport_config.get("NameSpace"):
        raise ConfigError("a SOAP provider needs Provider.Transport.Config.NameSpace")
    max_length = integer(transport_config.get("MaxLength") or max_request_size, low=1)
    if max_length is None:
        raise ConfigError("MaxLength must be a number")
    debugger = data.get("Debugger") or {}
    return WebserviceConfig(
        id=webservice_id,
        name=name,
        text=text,
        transport=transport_type,
        operations=operations,
        operation_options=options,
        transport_config=transport_config,
        routes=routes,
        max_length=max(1, min(max_length, max_request_size)),
        namespace=str(transport_config.get("NameSpace") or ""),
        debug_threshold=_threshold(debugger.get("DebugThreshold") if isinstance(debugger, dict) else None),
    )


def _threshold(value: Any) -> str:
    """Znuny's four levels, in any case; anything else (or none) keeps everything, as the lowest level does."""
    level = str(value or "").strip().lower()
    return level if level in ("debug", "info", "notice", "error") else "debug"


def _routes(mapping: Any, operations: dict[str, str]) -> tuple[Route, ...]:
    """Znuny's REST routing: operations in name order, `:Param` one path segment, anchored."""
    if not isinstance(mapping, dict):
        raise ConfigError("RouteOperationMapping must be a mapping")
    routes = []
    for op_name in sorted(mapping):
        entry = mapping[op_name]
        if op_name not in operations:
            raise ConfigError(f"route for unknown operation {op_name!r}")
        route = entry.get("Route") if isinstance(entry, dict) else None
        if not isinstance(route, str) or not route.startswith("/"):
            raise ConfigError(f"operation {op_name!r}: Route must start with '/'")
        parts = re.split(r":([A-Za-z_][A-Za-z0-9_]*)", route)
        regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts))
        methods = entry.get("RequestMethod") or []
        if not isinstance(methods, list):
            raise ConfigError(f"operation {op_name!r}: RequestMethod must be a list")
        routes.append(Route(op_name, route, re.compile(f"^{regex}$"), frozenset(str(m).upper() for m in methods)))
    return tuple(routes)
