"""The WSDL of a SOAP web service: spyne's, renamed to what Znuny's clients look for.

zeep, .NET and Java clients generated from Znuny's GenericTicketConnectorSOAP.wsdl address
the binding `{ns}GenericTicketConnector_Binding` and the port `GenericTicketConnector_Port`,
and send soapAction `NS + Operation`; the generated document keeps those names so the same
client code works against both. It is built once, with the configured public URL: a Host
header must never decide where clients send their passwords.
"""

from __future__ import annotations

from lxml import etree

WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
SOAP_BINDING_NS = "http://schemas.xmlsoap.org/wsdl/soap/"


def znuny_names(document: bytes, service_name: str, namespace: str, model_namespace: str, location: str) -> bytes:
    """Rename service, port, binding and portType; set soapActions and the address."""
    if namespace != model_namespace:
        document = document.replace(model_namespace.encode(), namespace.encode())
    root = etree.fromstring(document)
    ns = {"wsdl": WSDL_NS, "soap": SOAP_BINDING_NS}
    prefix = next((p for p, uri in root.nsmap.items() if uri == namespace and p), "tns")
    for service in root.findall("wsdl:service", ns):
        service.set("name", service_name)
        for port in service.findall("wsdl:port", ns):
            port.set("name", f"{service_name}_Port")
            port.set("binding", f"{prefix}:{service_name}_Binding")
            for address in port.findall("soap:address", ns):
                address.set("location", location)
    for binding in root.findall("wsdl:binding", ns):
        binding.set("name", f"{service_name}_Binding")
        binding.set("type", f"{prefix}:{service_name}_PortType")
        for operation in binding.findall("wsdl:operation", ns):
            for soap_op in operation.findall("soap:operation", ns):
                soap_op.set("soapAction", namespace + operation.get("name", ""))
    for port_type in root.findall("wsdl:portType", ns):
        port_type.set("name", f"{service_name}_PortType")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
