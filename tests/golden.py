"""Znuny's recorded HTTP exchanges (../shared/znuny/golden), replayed against gateway."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from lxml import etree

from tests.conftest import znuny_file


@dataclasses.dataclass
class Message:
    first_line: str
    headers: dict[str, str]
    body: bytes

    @classmethod
    def parse(cls, raw: bytes) -> Message:
        head, _, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
        first, *lines = head.decode().split("\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return cls(first, headers, body)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclasses.dataclass
class Case:
    request: Message
    response: Message | None

    @property
    def method(self) -> str:
        return self.request.first_line.split()[0]

    @property
    def target(self) -> str:
        return self.request.first_line.split()[1]

    @property
    def status(self) -> int:
        return int(self.response.first_line.split()[1])

    def send(self, client: Any, target: str | None = None) -> Any:
        """Replay the request through a werkzeug test client, headers and body unchanged."""
        headers = {k: v for k, v in self.request.headers.items() if k not in ("host", "content-length", "content-type")}
        return client.open(
            target or self.target,
            method=self.method,
            headers=headers,
            environ_base={"REMOTE_ADDR": "127.0.0.1"},
            data=self.request.body if self.method != "GET" else None,
            content_type=self.request.headers.get("content-type"),
        )


def case(stem: str) -> Case:
    request = Message.parse(znuny_file(f"golden/{stem}.request.http").read_bytes())
    response_path = znuny_file(f"golden/{stem}.request.http").with_name(f"{stem}.response.http")
    return Case(request, Message.parse(response_path.read_bytes()) if response_path.exists() else None)


def shape(value: Any) -> Any:
    """The JSON types of a value, recursively: what a typed client depends on."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        shapes = []
        for item in value:
            if shape(item) not in shapes:
                shapes.append(shape(item))
        return ["list", shapes]
    return type(value).__name__


def soap_body(xml: bytes) -> etree._Element:
    """The operation element inside soap:Body."""
    root = etree.fromstring(xml)
    body = root.find("{http://schemas.xmlsoap.org/soap/envelope/}Body")
    return body[0]


def local_tree(element: etree._Element) -> Any:
    """An element as {local name: children or text}, namespaces ignored (as SOAP::Lite reads it)."""
    if len(element) == 0:
        return element.text
    return {etree.QName(child).localname: local_tree(child) for child in element}
