"""SOAP encoding as PHP's SoapClient writes it without a WSDL: Apache Maps and SOAP-ENC Arrays.

The requests below were captured from PHP 8.2's SoapClient (`__doRequest` printing its
argument) for calls like `$client->__soapCall('TicketCreate', [new SoapParam([...], 'Ticket'), ...])`.
"""

from __future__ import annotations

import pytest
from lxml import etree

from gateway.transport import soapenc
from tests.conftest import SOAP, TICKET_NS
from tests.golden import local_tree, soap_body

pytestmark = pytest.mark.transport_only

PHP_ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"'
    ' xmlns:ns1="http://www.otrs.org/TicketConnector/" xmlns:xsd="http://www.w3.org/2001/XMLSchema"'
    ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:ns2="http://xml.apache.org/xml-soap"'
    ' xmlns:SOAP-ENC="http://schemas.xmlsoap.org/soap/encoding/"'
    ' SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><SOAP-ENV:Body>{}</SOAP-ENV:Body>'
    "</SOAP-ENV:Envelope>"
)
LOGIN = '<UserLogin xsi:type="xsd:string">root@localhost</UserLogin><Password xsi:type="xsd:string">root</Password>'


def envelope(operation: str) -> bytes:
    return PHP_ENVELOPE.replace("{}", operation).encode()


# TicketCreate: Ticket => [Title, Queue, State, Priority, CustomerUser, 'Type' => null],
# Article => [..., 'IsVisibleForCustomer' => true, 'DynamicField' => []],
# DynamicField => [[Name, Value], [Name, Value]], Attachment => [Content, ContentType, Filename]
TICKET_CREATE = (
    '<ns1:TicketCreate><UserLogin xsi:type="xsd:string">root@localhost</UserLogin>'
    '<Password xsi:type="xsd:string">root</Password><Ticket xsi:type="ns2:Map"><item>'
    '<key xsi:type="xsd:string">Title</key><value xsi:type="xsd:string">From PHP</value></item><item>'
    '<key xsi:type="xsd:string">Queue</key><value xsi:type="xsd:string">Raw</value></item><item>'
    '<key xsi:type="xsd:string">State</key><value xsi:type="xsd:string">new</value></item><item>'
    '<key xsi:type="xsd:string">Priority</key><value xsi:type="xsd:string">3 normal</value></item><item>'
    '<key xsi:type="xsd:string">CustomerUser</key><value xsi:type="xsd:string">customer1</value></item><item>'
    '<key xsi:type="xsd:string">Type</key><value xsi:nil="true"/></item></Ticket><Article xsi:type="ns2:Map">'
    '<item><key xsi:type="xsd:string">Subject</key><value xsi:type="xsd:string">PHP article</value></item>'
    '<item><key xsi:type="xsd:string">Body</key><value xsi:type="xsd:string">Sent as a Map</value></item>'
    '<item><key xsi:type="xsd:string">ContentType</key>'
    '<value xsi:type="xsd:string">text/plain; charset=utf8</value></item><item>'
    '<key xsi:type="xsd:string">IsVisibleForCustomer</key><value xsi:type="xsd:boolean">true</value></item>'
    '<item><key xsi:type="xsd:string">DynamicField</key>'
    '<value SOAP-ENC:arrayType="xsd:ur-type[0]" xsi:type="SOAP-ENC:Array"/></item></Article>'
    '<DynamicField SOAP-ENC:arrayType="ns2:Map[2]" xsi:type="SOAP-ENC:Array"><item xsi:type="ns2:Map"><item>'
    '<key xsi:type="xsd:string">Name</key><value xsi:type="xsd:string">OracleText</value></item><item>'
    '<key xsi:type="xsd:string">Value</key><value xsi:type="xsd:string">php text</value></item></item>'
    '<item xsi:type="ns2:Map"><item><key xsi:type="xsd:string">Name</key>'
    '<value xsi:type="xsd:string">OracleDropdown</value></item><item><key xsi:type="xsd:string">Value</key>'
    '<value xsi:type="xsd:string">beta</value></item></item></DynamicField><Attachment xsi:type="ns2:Map">'
    '<item><key xsi:type="xsd:string">Content</key><value xsi:type="xsd:string">YXR0YWNoZWQh</value></item>'
    '<item><key xsi:type="xsd:string">ContentType</key><value xsi:type="xsd:string">text/plain</value></item>'
    '<item><key xsi:type="xsd:string">Filename</key><value xsi:type="xsd:string">a.txt</value></item>'
    "</Attachment></ns1:TicketCreate>"
)

# TicketGet: TicketID => [1001, 1002], DynamicFields => 1, Attachments => true, AllArticles => true
TICKET_GET = (
    '<ns1:TicketGet><UserLogin xsi:type="xsd:string">root@localhost</UserLogin>'
    '<Password xsi:type="xsd:string">root</Password>'
    '<TicketID SOAP-ENC:arrayType="xsd:int[2]" xsi:type="SOAP-ENC:Array">'
    '<item xsi:type="xsd:int">{first}</item><item xsi:type="xsd:int">{second}</item></TicketID>'
    '<DynamicFields xsi:type="xsd:int">1</DynamicFields>'
    '<Attachments xsi:type="xsd:boolean">{attachments}</Attachments>'
    '<AllArticles xsi:type="xsd:boolean">true</AllArticles></ns1:TicketGet>'
)

# Ticket => [Title, 'PendingTime' => ['Year' => 2026, 'Month' => 1], 'Nil' => null, 'Bool' => false],
# DynamicField => [[Name, 'Value' => ['alpha', 'beta']]], Empty => [], Sparse => [1 => 'a', 5 => 'b'],
# Mixed => ['a', 2, null]
SHAPES = (
    '<ns1:TicketCreate><Ticket xsi:type="ns2:Map"><item><key xsi:type="xsd:string">Title</key>'
    '<value xsi:type="xsd:string">x</value></item><item><key xsi:type="xsd:string">PendingTime</key>'
    '<value xsi:type="ns2:Map"><item><key xsi:type="xsd:string">Year</key>'
    '<value xsi:type="xsd:int">2026</value></item><item><key xsi:type="xsd:string">Month</key>'
    '<value xsi:type="xsd:int">1</value></item></value></item><item><key xsi:type="xsd:string">Nil</key>'
    '<value xsi:nil="true"/></item><item><key xsi:type="xsd:string">Bool</key>'
    '<value xsi:type="xsd:boolean">false</value></item></Ticket>'
    '<DynamicField SOAP-ENC:arrayType="ns2:Map[1]" xsi:type="SOAP-ENC:Array"><item xsi:type="ns2:Map"><item>'
    '<key xsi:type="xsd:string">Name</key><value xsi:type="xsd:string">OracleDropdown</value></item><item>'
    '<key xsi:type="xsd:string">Value</key>'
    '<value SOAP-ENC:arrayType="xsd:string[2]" xsi:type="SOAP-ENC:Array">'
    '<item xsi:type="xsd:string">alpha</item><item xsi:type="xsd:string">beta</item></value></item></item>'
    '</DynamicField><Empty SOAP-ENC:arrayType="xsd:ur-type[0]" xsi:type="SOAP-ENC:Array"/>'
    '<Sparse xsi:type="ns2:Map"><item><key xsi:type="xsd:int">1</key><value xsi:type="xsd:string">a</value>'
    '</item><item><key xsi:type="xsd:int">5</key><value xsi:type="xsd:string">b</value></item></Sparse>'
    '<Mixed SOAP-ENC:arrayType="xsd:ur-type[3]" xsi:type="SOAP-ENC:Array">'
    '<item xsi:type="xsd:string">a</item><item xsi:type="xsd:int">2</item><item xsi:nil="true"/></Mixed>'
    "</ns1:TicketCreate>"
)

# TicketCreate: DynamicField => [null, [Name, Value]], Attachment => [null]
WITH_NULLS = (
    '<ns1:TicketCreate><UserLogin xsi:type="xsd:string">root@localhost</UserLogin>'
    '<Password xsi:type="xsd:string">root</Password><Ticket xsi:type="ns2:Map"><item>'
    '<key xsi:type="xsd:string">Title</key><value xsi:type="xsd:string">With nulls</value></item><item>'
    '<key xsi:type="xsd:string">Queue</key><value xsi:type="xsd:string">Raw</value></item><item>'
    '<key xsi:type="xsd:string">State</key><value xsi:type="xsd:string">new</value></item><item>'
    '<key xsi:type="xsd:string">Priority</key><value xsi:type="xsd:string">3 normal</value></item><item>'
    '<key xsi:type="xsd:string">CustomerUser</key><value xsi:type="xsd:string">customer1</value></item>'
    '</Ticket><Article xsi:type="ns2:Map"><item><key xsi:type="xsd:string">Subject</key>'
    '<value xsi:type="xsd:string">s</value></item><item><key xsi:type="xsd:string">Body</key>'
    '<value xsi:type="xsd:string">b</value></item><item><key xsi:type="xsd:string">ContentType</key>'
    '<value xsi:type="xsd:string">text/plain; charset=utf8</value></item></Article>'
    '<DynamicField SOAP-ENC:arrayType="xsd:ur-type[2]" xsi:type="SOAP-ENC:Array"><item xsi:nil="true"/>'
    '<item xsi:type="ns2:Map"><item><key xsi:type="xsd:string">Name</key>'
    '<value xsi:type="xsd:string">OracleText</value></item><item><key xsi:type="xsd:string">Value</key>'
    '<value xsi:type="xsd:string">kept</value></item></item></DynamicField>'
    '<Attachment SOAP-ENC:arrayType="xsi:nil[1]" xsi:type="SOAP-ENC:Array"><item xsi:nil="true"/>'
    "</Attachment></ns1:TicketCreate>"
)

# TicketSearch: Title => ['no such ticket']
TICKET_SEARCH_NONE = (
    '<ns1:TicketSearch><UserLogin xsi:type="xsd:string">root@localhost</UserLogin>'
    '<Password xsi:type="xsd:string">root</Password>'
    '<Title SOAP-ENC:arrayType="xsd:string[1]" xsi:type="SOAP-ENC:Array">'
    '<item xsi:type="xsd:string">no such ticket</item></Title></ns1:TicketSearch>'
)


def plain(element: etree._Element) -> object:
    """An element as its text or its children as [name, content] pairs, repeats kept."""
    if len(element) == 0:
        return element.text
    return [[etree.QName(child).localname, plain(child)] for child in element]


def unfolded(operation: str) -> object:
    element = soap_body(envelope(operation))
    soapenc.unfold(element)
    return plain(element)


def post(client, operation: str):
    name = etree.QName(soap_body(envelope(operation))).localname
    return client.post(
        SOAP,
        data=envelope(operation),
        content_type="text/xml; charset=utf-8",
        headers={"SOAPAction": f'"{TICKET_NS}#{name}"'},
    )


def test_maps_become_children_and_arrays_repeated_elements():
    assert unfolded(TICKET_CREATE) == [
        ["UserLogin", "root@localhost"],
        ["Password", "root"],
        [
            "Ticket",
            [
                ["Title", "From PHP"],
                ["Queue", "Raw"],
                ["State", "new"],
                ["Priority", "3 normal"],
                ["CustomerUser", "customer1"],
            ],
        ],  # 'Type' => null: no Type at all
        [
            "Article",
            [
                ["Subject", "PHP article"],
                ["Body", "Sent as a Map"],
                ["ContentType", "text/plain; charset=utf8"],
                ["IsVisibleForCustomer", "1"],
            ],
        ],
        ["DynamicField", [["Name", "OracleText"], ["Value", "php text"]]],
        ["DynamicField", [["Name", "OracleDropdown"], ["Value", "beta"]]],
        ["Attachment", [["Content", "YXR0YWNoZWQh"], ["ContentType", "text/plain"], ["Filename", "a.txt"]]],
    ]
    assert unfolded(TICKET_GET.format(first=7, second=8, attachments="false")) == [
        ["UserLogin", "root@localhost"],
        ["Password", "root"],
        ["TicketID", "7"],
        ["TicketID", "8"],
        ["DynamicFields", "1"],
        ["Attachments", "0"],
        ["AllArticles", "1"],
    ]


def test_nested_maps_arrays_in_maps_nil_empty_and_sparse():
    assert unfolded(SHAPES) == [
        ["Ticket", [["Title", "x"], ["PendingTime", [["Year", "2026"], ["Month", "1"]]], ["Bool", "0"]]],
        ["DynamicField", [["Name", "OracleDropdown"], ["Value", "alpha"], ["Value", "beta"]]],
        # Empty => [] is no element at all; a PHP array with gaps is a Map keyed by numbers, which
        # name no field: nothing is left of it; null, in a Map or a list, is left out like a missing value
        ["Sparse", None],
        ["Mixed", "a"],
        ["Mixed", "2"],
    ]


def test_plain_and_struct_encoded_requests_are_left_as_they_are():
    struct = (
        "<ns1:TicketCreate>" + LOGIN + '<Ticket xsi:type="SOAP-ENC:Struct"><Title xsi:type="xsd:string">x'
        "</Title><Queue>Raw</Queue></Ticket></ns1:TicketCreate>"
    )
    assert unfolded(struct) == [
        ["UserLogin", "root@localhost"],
        ["Password", "root"],
        ["Ticket", [["Title", "x"], ["Queue", "Raw"]]],
    ]


def test_php_ticket_create_and_get(client):
    created = local_tree(soap_body(post(client, TICKET_CREATE).data))
    assert "Error" not in created and created["TicketID"]
    response = post(client, TICKET_GET.format(first=created["TicketID"], second=1, attachments="true"))
    tickets = soap_body(response.data).findall(f"{{{TICKET_NS}}}Ticket")
    assert [t.findtext(f"{{{TICKET_NS}}}Title") for t in tickets] == ["From PHP", "Welcome to Znuny!"]
    ticket = local_tree(tickets[0])
    assert ticket["Type"] == "Unclassified"  # Type => null is no type: the default
    fields = {
        f.findtext(f"{{{TICKET_NS}}}Name"): f.findtext(f"{{{TICKET_NS}}}Value")
        for f in tickets[0].findall(f"{{{TICKET_NS}}}DynamicField")
    }
    assert fields == {"OracleText": "php text", "OracleDropdown": "beta"}
    article = ticket["Article"]
    assert article["Body"] == "Sent as a Map" and article["IsVisibleForCustomer"] == "1"
    assert article["Attachment"]["Filename"] == "a.txt" and article["Attachment"]["Content"] == "YXR0YWNoZWQh"
    # PHP's false is xsd:boolean "false", which SOAP::Lite reads as 0
    without = post(client, TICKET_GET.format(first=created["TicketID"], second=1, attachments="false"))
    assert "Attachment" not in local_tree(soap_body(without.data).find(f"{{{TICKET_NS}}}Ticket"))["Article"]


# the same request as document/literal clients (SOAP::Lite, zeep) write it
PLAIN_NULLS = (
    "<ns1:TicketCreate><UserLogin>root@localhost</UserLogin><Password>root</Password><Ticket><Title>With nulls"
    "</Title><Queue>Raw</Queue><State>new</State><Priority>3 normal</Priority><CustomerUser>customer1</CustomerUser>"
    "</Ticket><Article><Subject>s</Subject><Body>b</Body><ContentType>text/plain; charset=utf8</ContentType>"
    '</Article><DynamicField xsi:nil="true"/><DynamicField><Name>OracleText</Name><Value>kept</Value></DynamicField>'
    '<Attachment xsi:nil="true"/></ns1:TicketCreate>'
)


@pytest.mark.parametrize("request_xml", [WITH_NULLS, PLAIN_NULLS], ids=["PHP", "plain"])
def test_null_list_items_are_left_out(client, request_xml):
    """Not a 500: spyne would hand the operation a None where it expects a DynamicField."""
    created = local_tree(soap_body(post(client, request_xml).data))
    assert "Error" not in created and created["TicketID"]
    got = post(client, TICKET_GET.format(first=created["TicketID"], second=created["TicketID"], attachments="true"))
    ticket = local_tree(soap_body(got.data).find(f"{{{TICKET_NS}}}Ticket"))
    assert ticket["Title"] == "With nulls" and ticket["DynamicField"] == {"Name": "OracleText", "Value": "kept"}
    assert "Attachment" not in ticket["Article"]


def nested_maps(depth: int) -> str:
    """A Ticket Map whose Title is a Map whose Title is a Map ... `depth` times."""
    value = '<value xsi:type="xsd:string">deep</value>'
    for _ in range(depth):
        value = f'<value xsi:type="ns2:Map"><item><key>Title</key>{value}</item></value>'
    return (
        f'<ns1:TicketCreate>{LOGIN}<Ticket xsi:type="ns2:Map"><item><key>Title</key>{value}</item></Ticket>'
        "</ns1:TicketCreate>"
    )


def test_absurdly_deep_nesting_is_a_client_fault(client):
    response = post(client, nested_maps(60))  # 180 levels: within libxml2's limit, far beyond any operation
    assert response.status_code == 400
    fault = soap_body(response.data)
    assert fault.tag == "{http://schemas.xmlsoap.org/soap/envelope/}Fault"
    assert "nested more than" in fault.findtext("faultstring")


def test_nesting_within_the_bound_is_read():
    operation = soap_body(envelope(nested_maps(8)))
    soapenc.unfold(operation)
    assert operation.findtext("Ticket/Title" + "/Title" * 8) == "deep"


def test_a_search_without_hits_answers_nil_as_znuny(client):
    response = soap_body(post(client, TICKET_SEARCH_NONE).data)
    assert response.tag == f"{{{TICKET_NS}}}TicketSearchResponse"
    assert len(response) == 0 and response.get(soapenc.XSI_NIL) == "true"
