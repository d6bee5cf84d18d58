"""Every answer says no cache may keep it and no browser may guess its type: operations, faults, documents."""

from __future__ import annotations

from tests.conftest import REST, ROOT, SOAP, TICKET_NS

SOAP_SESSION_CREATE = (
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
    f'<SessionCreate xmlns="{TICKET_NS}"><UserLogin>root@localhost</UserLogin>'
    "<Password>{password}</Password></SessionCreate></soapenv:Body></soapenv:Envelope>"
)


def test_every_answer_is_no_store_and_nosniff(client):
    soap, wrong = (SOAP_SESSION_CREATE.format(password=p).encode() for p in ("root", "wrong"))
    answers = {
        "REST": (client.post(f"{REST}/Session", json=ROOT), 200),
        "REST fault": (client.post(f"{REST}/Session", json={**ROOT, "Password": "wrong"}), 200),
        "REST bad JSON": (client.post(f"{REST}/Session", data=b"{", content_type="application/json"), 400),
        "SOAP": (client.post(SOAP, data=soap, content_type="text/xml"), 200),
        "SOAP fault": (client.post(SOAP, data=wrong, content_type="text/xml"), 200),
        "SOAP not XML": (client.post(SOAP, data=b"<not xml", content_type="text/xml"), 400),
        "404": (client.get("/no/such/path"), 404),
        "WSDL": (client.get(f"{SOAP}?wsdl"), 200),
        "OpenAPI": (client.get(f"{REST}/openapi.json"), 200),
        "health": (client.get("/health"), 200),
    }
    seen = {
        name: (r.status_code, r.headers.get_all("Cache-Control"), r.headers.get_all("X-Content-Type-Options"))
        for name, (r, _) in answers.items()
    }
    assert seen == {name: (status, ["no-store"], ["nosniff"]) for name, (_, status) in answers.items()}


def test_a_head_request_gets_the_headers_without_a_body(client):
    get, head = client.get("/health"), client.head("/health")
    assert (head.status_code, head.headers["Content-Type"], head.data) == (200, get.headers["Content-Type"], b"")
    assert head.headers["Cache-Control"] == "no-store" and get.data
