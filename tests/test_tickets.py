"""Ticket operations as an integrator uses them: validation, permissions, options, atomicity."""

from __future__ import annotations

import base64

import pytest

from gateway.admin import directory, webservices
from gateway.webservice import presets
from tests.conftest import REST, ROOT

TICKET = {
    "Title": "Printer on fire",
    "Queue": "Raw",
    "State": "open",
    "Priority": "3 normal",
    "CustomerUser": "customer1",
}
ARTICLE = {"Subject": "Help", "Body": "It burns", "ContentType": "text/plain; charset=utf8"}


def create(client, creds=ROOT, ticket=None, article=None, **extra):
    body = {**creds, "Ticket": {**TICKET, **(ticket or {})}, "Article": article or ARTICLE, **extra}
    return client.post(f"{REST}/Ticket", json=body).json


def get(client, ticket_id, creds=ROOT, **options):
    return client.get(f"{REST}/Ticket/{ticket_id}", query_string={**creds, **options}).json


def count(db, table: str) -> int:
    with db.transaction(write=False) as tx:
        return tx.value(f"SELECT COUNT(*) FROM {table}")


# -- TicketCreate ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        ({"Ticket": None}, "MissingParameter", "Ticket parameter is missing or not valid!"),
        ({"Article": None}, "MissingParameter", "Article parameter is missing or not valid!"),
        ({"Ticket": {"Title": ""}}, "MissingParameter", "Ticket->Title parameter is missing!"),
        (
            {"Ticket": {"CustomerUser": "not an address"}},
            "InvalidParameter",
            "Ticket->CustomerUser parameter is invalid!",
        ),
        (
            {"Ticket": {"Queue": "Nowhere"}},
            "InvalidParameter",
            "Ticket->QueueID or Ticket->Queue parameter is invalid!",
        ),
        ({"Ticket": {"State": "molten"}}, "InvalidParameter", "Ticket->StateID or Ticket->State parameter is invalid!"),
        (
            {"Ticket": {"Priority": None}},
            "MissingParameter",
            "Ticket->PriorityID or Ticket->Priority parameter is missing!",
        ),
        ({"Ticket": {"Owner": "nobody"}}, "InvalidParameter", "Ticket->OwnerID or Ticket->Owner parameter is invalid!"),
        ({"Ticket": {"PendingTime": {"Diff": "-5"}}}, "InvalidParameter", "Ticket->PendingTime parameter is invalid!"),
        (
            {"Ticket": {"PendingTime": {"Year": "2026", "Month": "13", "Day": "1", "Hour": "0", "Minute": "0"}}},
            "InvalidParameter",
            "Ticket->PendingTime parameter is invalid!",
        ),
        ({"Article": {**ARTICLE, "Subject": ""}}, "MissingParameter", "Article->Subject parameter is missing!"),
        ({"Article": {**ARTICLE, "ContentType": "text/plain"}}, "InvalidParameter", "Article->ContentType is invalid!"),
        (
            {"Article": {"Subject": "s", "Body": "b", "MimeType": "text/plain"}},
            "MissingParameter",
            "Article->Charset is required!",
        ),
        (
            {"Article": {**ARTICLE, "TimeUnit": "two hours"}},
            "InvalidParameter",
            "Article->TimeUnit parameter is invalid!",
        ),
        (
            {"Article": {**ARTICLE, "CommunicationChannel": "Fax"}},
            "InvalidParameter",
            "Article->CommunicationChannel or Article->CommunicationChannelID parameter is invalid or not supported!",
        ),
        ({"Article": {**ARTICLE, "From": "not an address"}}, "InvalidParameter", "Article->From parameter is invalid!"),
        (
            {"Article": {**ARTICLE, "From": "a@example.com, not an address"}},
            "InvalidParameter",
            "Article->From parameter is invalid!",
        ),
        (
            {"Article": {**ARTICLE, "From": "a..b@example.com"}},
            "InvalidParameter",
            "Article->From parameter is invalid!",
        ),
        (
            {"Ticket": {"CustomerUser": '"a,b"@example.com'}},
            "InvalidParameter",
            "Ticket->CustomerUser parameter is invalid!",
        ),
        (
            {"Ticket": {"CustomerUser": "Jane <jane@example.com>"}},
            "InvalidParameter",
            "Ticket->CustomerUser parameter is invalid!",
        ),
        (
            {"DynamicField": {"Name": "NoSuchField", "Value": "x"}},
            "InvalidParameter",
            "DynamicField->Name parameter is invalid!",
        ),
        (
            {"DynamicField": {"Name": "OracleDropdown", "Value": "gamma"}},
            "InvalidParameter",
            "DynamicField->Value parameter is invalid!",
        ),
        (
            {"Attachment": {"Content": "not base64!", "ContentType": "text/plain", "Filename": "a.txt"}},
            "InvalidParameter",
            "Attachment->Content is not valid base64!",
        ),
        (
            {"Attachment": {"Content": "SGk=", "ContentType": "garbage", "Filename": "a.txt"}},
            "InvalidParameter",
            "Attachment->ContentType is invalid!",
        ),
        (
            {"Attachment": {"Content": "SGk=", "ContentType": "text/plain"}},
            "MissingParameter",
            "Attachment->Filename  parameter is missing!",
        ),
    ],
)
def test_create_refuses_bad_input_and_writes_nothing(client, db, change, code, message):
    before = (count(db, "ticket"), count(db, "article"), count(db, "ticket_history"))
    body = {**ROOT, "Ticket": dict(TICKET), "Article": ARTICLE}
    for key, value in change.items():
        if value is None:
            body.pop(key)
        elif key == "Ticket":
            body["Ticket"] = {k: v for k, v in {**TICKET, **value}.items() if v is not None}
        else:
            body[key] = value
    response = client.post(f"{REST}/Ticket", json=body)
    assert response.status_code == 200
    assert response.json == {"Error": {"ErrorCode": f"TicketCreate.{code}", "ErrorMessage": f"TicketCreate: {message}"}}
    assert (count(db, "ticket"), count(db, "article"), count(db, "ticket_history")) == before


def test_create_needs_credentials(client):
    response = client.post(f"{REST}/Ticket", json={"Ticket": TICKET, "Article": ARTICLE})
    assert (
        response.json["Error"]["ErrorMessage"] == "TicketCreate: UserLogin, CustomerUserLogin or SessionID is required!"
    )
    response = client.post(f"{REST}/Ticket", json={"UserLogin": "root@localhost", "Ticket": TICKET, "Article": ARTICLE})
    assert response.json["Error"]["ErrorMessage"] == "TicketCreate: Password or SessionID is required!"


def test_create_with_everything_and_read_it_back(client):
    created = create(
        client,
        ticket={"Owner": "agent1", "PendingTime": {"Diff": "60"}, "State": "pending reminder"},
        article=[ARTICLE, {**ARTICLE, "Subject": "Second", "IsVisibleForCustomer": "0", "TimeUnit": "1,5"}],
        DynamicField=[{"Name": "OracleText", "Value": "t"}, {"Name": "OracleDropdown", "Value": "beta"}],
        Attachment={
            "Content": base64.b64encode(b"\x00binary\xff").decode(),
            "ContentType": "application/octet-stream",
            "Filename": "blob.bin",
        },
    )
    assert isinstance(created["ArticleID"], list) and len(created["ArticleID"]) == 2
    ticket = get(client, created["TicketID"], AllArticles=1, Attachments=1, DynamicFields=1)["Ticket"][0]
    assert ticket["Owner"] == "agent1" and ticket["Lock"] == "lock"
    assert ticket["StateType"] == "pending reminder" and 3500 < ticket["UntilTime"] <= 3600
    assert {f["Name"]: f["Value"] for f in ticket["DynamicField"]} == {"OracleText": "t", "OracleDropdown": "beta"}
    assert [a["Subject"] for a in ticket["Article"]] == ["Help", "Second"]
    assert ticket["Article"][1]["TimeUnit"] == 1.5 and ticket["TimeUnit"] == 1.5
    assert base64.b64decode(ticket["Article"][0]["Attachment"][0]["Content"]) == b"\x00binary\xff"
    assert ticket["Article"][0]["From"] == '"Cust Omer" <customer1@oracle.test>'


@pytest.mark.parametrize(
    ("content_type", "stored", "charset"),
    [
        ('text/plain; charset="utf-8"', 'text/plain; charset="utf-8"', "utf-8"),
        ("text/plain;charset=ISO-8859-15", "text/plain;charset=iso-8859-15", "iso-8859-15"),
        ("TEXT/PLAIN;  CHARSET=UTF-8", "text/plain; charset=utf-8", "utf-8"),
        ("text/plain; charset='utf8'", "text/plain; charset='utf8'", "utf8"),
        # Znuny's charset ends at the next parameter, and one before it is no obstacle
        ("text/plain; charset=utf-8; format=flowed", "text/plain; charset=utf-8; format=flowed", "utf-8"),
        ("text/plain; format=flowed; charset=utf-8", "text/plain; format=flowed; charset=utf-8", "utf-8"),
    ],
)
def test_an_articles_content_type_is_read_as_znuny_reads_it(client, content_type, stored, charset):
    """TicketCreate keeps the Content-Type lowercased, as Znuny does; TicketGet reads MimeType and Charset from it."""
    created = create(client, article={**ARTICLE, "ContentType": content_type})
    article = get(client, created["TicketID"], AllArticles=1)["Ticket"][0]["Article"][0]
    assert (article["ContentType"], article["MimeType"], article["Charset"], article["ContentCharset"]) == (
        stored,
        "text/plain",
        charset,
        charset,
    )


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain; charset=",
        "text/plain; charset = utf-8",
        "text/plain; charset=no-such-charset",
        "; charset=utf-8",
    ],
)
def test_a_content_type_without_a_known_charset_is_invalid(client, content_type):
    error = create(client, article={**ARTICLE, "ContentType": content_type})["Error"]
    assert error == {
        "ErrorCode": "TicketCreate.InvalidParameter",
        "ErrorMessage": "TicketCreate: Article->ContentType is invalid!",
    }


def test_an_article_without_a_charset_answers_empty_ones(client, db):
    """Articles Znuny itself writes without a charset (and the welcome ticket) answer Charset ""."""
    created = create(client)
    with db.transaction() as tx:
        tx.execute(
            "UPDATE article_data_mime SET a_content_type = ? WHERE article_id = ?", ["text/plain", created["ArticleID"]]
        )
    article = get(client, created["TicketID"], AllArticles=1)["Ticket"][0]["Article"][0]
    assert (article["ContentType"], article["MimeType"], article["Charset"], article["ContentCharset"]) == (
        "text/plain",
        "text/plain",
        "",
        "",
    )


@pytest.mark.parametrize(
    "sender",
    [
        '"Doe, John" <john@example.com>',
        "Help Desk <hello@example.org>",
        "hello@example.org",
        "Jürgen Müller <juergen@example.com>",
        "Dr. Doe <doe@example.com>",  # a period in a name: obsolete RFC 822, written by every mail program
        "J. R. Smith <jrs@example.com>, ACME Inc. Support <support@example.com>",
        "a@example.com,,b@example.com",  # an empty element, as a list joined with an empty item has
    ],
)
def test_from_takes_what_an_address_header_takes(client, sender):
    created = create(client, article={**ARTICLE, "From": sender})
    assert get(client, created["TicketID"], AllArticles=1)["Ticket"][0]["Article"][0]["From"] == sender


@pytest.mark.parametrize("address", ["jane@example.com", "jane.doe+tickets@mail.example.com", "root@localhost"])
def test_an_unknown_customer_user_may_be_an_address(client, address):
    created = create(client, ticket={"CustomerUser": address})
    assert get(client, created["TicketID"])["Ticket"][0]["CustomerUserID"] == address


def test_a_customers_name_with_quotes_is_one_display_name(client, db, settings):
    """Znuny's `"Full Name" <address>`; a quote or backslash in the name is escaped, so the name reads back whole."""
    import email.utils

    directory.add_customer_company(db, "QUOTES", "Quotes Inc.")
    directory.add_customer_user(db, settings, "quoted", 'Jo "JJ"', "O\\Neil", "quoted@example.com", "QUOTES", "pw")
    created = create(client, ticket={"CustomerUser": "quoted"})
    sender = get(client, created["TicketID"], AllArticles=1)["Ticket"][0]["Article"][0]["From"]
    assert sender == '"Jo \\"JJ\\" O\\\\Neil" <quoted@example.com>'
    assert email.utils.parseaddr(sender) == ('Jo "JJ" O\\Neil', "quoted@example.com")


def test_pending_time_as_a_string(client):
    created = create(client, ticket={"State": "pending reminder", "PendingTime": "2038-06-01 12:30"})
    ticket = get(client, created["TicketID"])["Ticket"][0]
    assert ticket["RealTillTimeNotUsed"] == 2159008200  # 2038-06-01 12:30 UTC: past 2038, no overflow
    bad = create(client, ticket={"State": "pending reminder", "PendingTime": "next tuesday"})
    assert bad["Error"]["ErrorMessage"] == "TicketCreate: Ticket->PendingTime parameter is invalid!"


@pytest.mark.parametrize(
    ("field", "kind", "good", "bad"),
    [
        ("When", "Date", "2026-12-24 00:00:00", "24.12.2026"),
        ("Stamp", "DateTime", "2026-12-24 18:30:00", "2026-12-24T18:30"),
        ("Flag", "Checkbox", "1", "yes"),
        ("Notes", "TextArea", "line 1\nline 2", ["two", "values"]),
        ("Colours", "Multiselect", ["r", "g"], ["r", "purple"]),
    ],
)
def test_every_dynamic_field_type(client, db, field, kind, good, bad):
    possible = {"r": "Red", "g": "Green"} if kind == "Multiselect" else None
    directory.add_dynamic_field(db, field, field, kind, "Ticket", possible)
    created = create(client, DynamicField={"Name": field, "Value": good})
    values = {
        f["Name"]: f["Value"] for f in get(client, created["TicketID"], DynamicFields=1)["Ticket"][0]["DynamicField"]
    }
    assert values[field] == good
    refused = create(client, DynamicField={"Name": field, "Value": bad})
    assert refused["Error"]["ErrorMessage"] == "TicketCreate: DynamicField->Value parameter is invalid!"


def test_get_article_options(client):
    created = create(
        client,
        article=[
            {**ARTICLE, "Subject": f"A{i}", "SenderType": sender}
            for i, sender in enumerate(["agent", "customer", "system", "agent"])
        ],
        Attachment={"Content": "SGk=", "ContentType": "text/plain", "Filename": "hi.txt"},
    )
    ticket_id = created["TicketID"]
    subjects = lambda **o: [a["Subject"] for a in get(client, ticket_id, AllArticles=1, **o)["Ticket"][0]["Article"]]  # noqa: E731
    assert subjects() == ["A0", "A1", "A2", "A3"]
    assert subjects(ArticleOrder="DESC", ArticleLimit=2) == ["A3", "A2"]
    assert subjects(ArticleSenderType="agent") == ["A0", "A3"]
    files = get(client, ticket_id, AllArticles=1, Attachments=1, GetAttachmentContents=0)["Ticket"][0]["Article"][0]
    assert files["Attachment"][0]["Content"] == "" and files["Attachment"][0]["FilesizeRaw"] == "2"
    # Znuny reads the flag with `// 1`: only an absent one means the contents, an empty one does not
    contents = lambda value: get(client, ticket_id, AllArticles=1, Attachments=1, GetAttachmentContents=value)  # noqa: E731
    assert contents("")["Ticket"][0]["Article"][0]["Attachment"][0]["Content"] == ""
    assert (
        get(client, ticket_id, AllArticles=1, Attachments=1)["Ticket"][0]["Article"][0]["Attachment"][0]["Content"]
        == "SGk="
    )
    assert "Article" not in get(client, ticket_id)["Ticket"][0]


def test_get_takes_ids_as_list_or_comma_string(client):
    first, second = create(client)["TicketID"], create(client)["TicketID"]
    both = client.get(f"{REST}/Ticket/{first},{second}", query_string=ROOT).json["Ticket"]
    assert [t["TicketID"] for t in both] == [int(first), int(second)]
    listed = client.post(
        "/otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorSOAP",
        content_type="text/xml",
        data=f'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body><TicketGet>'
        f"<UserLogin>root@localhost</UserLogin><Password>root</Password><TicketID>{first}</TicketID>"
        f"<TicketID>{second}</TicketID></TicketGet></e:Body></e:Envelope>",
    )
    assert listed.data.count(b"<tns:TicketNumber>") == 2


def test_agent_permissions_follow_the_queue_group(client, db, settings):
    directory.add_group(db, "secret")
    directory.add_queue(db, "Secret", "secret")
    directory.add_user(db, settings, "outsider", "Out", "Sider", "out@example.test", "outsider", [])
    directory.link_user_group(db, "outsider", "secret", "ro")
    outsider = {"UserLogin": "outsider", "Password": "outsider"}
    denied = create(client, creds=outsider, ticket={"Queue": "Secret"})
    assert denied["Error"]["ErrorCode"] == "TicketCreate.AccessDenied"
    assert create(client, ticket={"Queue": "Secret"})["Error"]["ErrorCode"] == "TicketCreate.AccessDenied"
    directory.link_user_group(db, "root@localhost", "secret", "rw")
    ticket_id = create(client, ticket={"Queue": "Secret"})["TicketID"]
    assert get(client, ticket_id, outsider)["Ticket"][0]["Queue"] == "Secret"  # ro reads
    update = client.patch(f"{REST}/Ticket/{ticket_id}", json={**outsider, "Ticket": {"State": "closed successful"}})
    assert update.json["Error"]["ErrorCode"] == "TicketUpdate.AccessDenied"
    note = client.patch(f"{REST}/Ticket/{ticket_id}", json={**outsider, "Article": ARTICLE})
    assert note.json["Error"]["ErrorCode"] == "TicketUpdate.AccessDenied"
    assert get(client, ticket_id)["Ticket"][0]["State"] == "open"
    assert (
        get(client, ticket_id, {"UserLogin": "agent1", "Password": "agent1"})["Error"]["ErrorCode"]
        == "TicketGet.AccessDenied"
    )


def test_customers_create_and_read_their_own_tickets_only(client, db, settings):
    customer = {"CustomerUserLogin": "customer1", "Password": "customer1"}
    mine = create(client, creds=customer)
    assert "TicketID" in mine
    directory.add_customer_company(db, "OTHER", "Other Ltd")
    directory.add_customer_user(db, settings, "stranger", "S", "Tranger", "s@other.test", "OTHER", "stranger")
    theirs = create(client, ticket={"CustomerUser": "stranger"})["TicketID"]
    ticket = get(client, mine["TicketID"], customer, AllArticles=1)["Ticket"][0]
    assert ticket["CustomerID"] == "ACME" and ticket["Article"][0]["SenderType"] == "customer"
    assert get(client, theirs, customer)["Error"]["ErrorCode"] == "TicketGet.AccessDenied"
    hidden = client.patch(
        f"{REST}/Ticket/{mine['TicketID']}",
        json={**ROOT, "Article": {**ARTICLE, "Subject": "internal", "IsVisibleForCustomer": "0"}},
    )
    assert "ArticleID" in hidden.json
    seen = [a["Subject"] for a in get(client, mine["TicketID"], customer, AllArticles=1)["Ticket"][0]["Article"]]
    assert "internal" not in seen
    found = client.post(f"{REST}/Ticket/Search", json={**customer}).json["TicketID"]
    assert mine["TicketID"] in found and theirs not in found


# -- TicketUpdate ------------------------------------------------------------------------------------------


def test_update_changes_only_what_is_asked_and_is_atomic(client, db):
    ticket_id = create(client)["TicketID"]
    history = count(db, "ticket_history")
    failed = client.patch(
        f"{REST}/Ticket/{ticket_id}", json={**ROOT, "Ticket": {"Title": "New title", "State": "pending reminder"}}
    )  # no PendingTime: refused
    assert failed.json["Error"]["ErrorCode"] == "TicketUpdate.MissingParameter"
    assert get(client, ticket_id)["Ticket"][0]["Title"] == "Printer on fire"  # Znuny would keep the new title
    assert count(db, "ticket_history") == history
    done = client.patch(
        f"{REST}/Ticket/{ticket_id}",
        json={
            **ROOT,
            "Ticket": {"Title": "New title", "Queue": "Misc", "Priority": "5 very high", "State": "closed successful"},
        },
    )
    assert done.json == {"TicketID": ticket_id, "TicketNumber": done.json["TicketNumber"]}
    ticket = get(client, ticket_id)["Ticket"][0]
    assert (ticket["Title"], ticket["Queue"], ticket["Priority"], ticket["State"]) == (
        "New title",
        "Misc",
        "5 very high",
        "closed successful",
    )
    kinds = [
        h["HistoryType"]
        for h in client.get(f"{REST}/Ticket/History/{ticket_id}", query_string=ROOT).json["TicketHistory"][0]["History"]
    ]
    assert kinds[-5:] == ["TitleUpdate", "Move", "StateUpdate", "SetPendingTime", "PriorityUpdate"]


def test_update_by_ticket_number_with_articles(client):
    created = create(client)
    response = client.patch(
        f"{REST}/Ticket/0", json={**ROOT, "TicketNumber": created["TicketNumber"], "Article": [ARTICLE, ARTICLE]}
    )
    assert len(response.json["ArticleIDs"]) == 2 and response.json["TicketID"] == created["TicketID"]
    unknown = client.patch(f"{REST}/Ticket/999999", json={**ROOT, "Article": ARTICLE})
    assert unknown.json["Error"]["ErrorCode"] == "TicketUpdate.AccessDenied"


def test_include_ticket_data(client, settings, db, tmp_path):
    preset = presets.read("GenericTicketConnectorREST")
    path = tmp_path / "with-data.yml"
    path.write_text(
        preset.replace(
            "TicketCreate: {Type: Ticket::TicketCreate,",
            "TicketCreate: {IncludeTicketData: '1', Type: Ticket::TicketCreate,",
        )
    )
    webservices.add_webservice(db, settings, "WithData", text=path.read_text(), actor="test")
    body = {**ROOT, "Ticket": TICKET, "Article": ARTICLE}
    response = client.post("/otrs/nph-genericinterface.pl/Webservice/WithData/Ticket", json=body).json
    assert response["Ticket"]["TicketID"] == int(response["TicketID"])
    assert isinstance(response["Ticket"]["Article"], dict) and response["Ticket"]["Article"]["Subject"] == "Help"


# -- TicketSearch ------------------------------------------------------------------------------------------


def search(client, **criteria):
    return client.post(f"{REST}/Ticket/Search", json={**ROOT, **criteria}).json


def test_search_criteria(client):
    a = create(
        client,
        ticket={"Title": "Alpha printer", "Queue": "Misc", "Priority": "5 very high"},
        DynamicField={"Name": "OracleText", "Value": "needle"},
    )["TicketID"]
    b = create(client, ticket={"Title": "Beta network", "State": "new"}, article={**ARTICLE, "Body": "the haystack"})[
        "TicketID"
    ]
    assert search(client, Title="Alpha*")["TicketID"] == [a]
    assert search(client, Title="*printer")["TicketID"] == [a]
    assert search(client, Queues=["Misc"], States=["open"])["TicketID"] == [a]
    assert search(client, QueueIDs=["4"], PriorityIDs=["5"])["TicketID"] == [a]
    assert set(search(client, StateType=["new", "open"], CustomerID="ACME")["TicketID"]) == {a, b}
    assert search(client, Body="haystack")["TicketID"] == [b]
    assert search(client, Fulltext="HAYSTACK")["TicketID"] == [b]
    assert search(client, DynamicField_OracleText={"Equals": "needle"})["TicketID"] == [a]
    assert search(client, DynamicField={"Name": "OracleText", "Like": "nee*"})["TicketID"] == [a]
    assert search(client, TicketCreateTimeNewerMinutes="60", Title="*a*", SortBy="Title", OrderBy="Up", Limit="1")[
        "TicketID"
    ] == [a]
    assert search(client, Title="Nothing like this") == {}
    assert search(client, TicketCreateTimeOlderDate="2000-01-01 00:00:00") == {}


@pytest.mark.parametrize("evil", ["'; DROP TABLE ticket; --", "_", "\\", '" OR 1=1 --', "*' OR '1'='1"])
def test_sql_metacharacters_are_just_text(client, db, evil):
    create(client, ticket={"Title": "plain"})
    for key in (
        "Title",
        "TicketNumber",
        "CustomerID",
        "CustomerUserLogin",
        "Body",
        "Fulltext",
        "Queues",
        "States",
        "Types",
        "Priorities",
        "Locks",
        "Services",
        "SLAs",
        "StateType",
    ):
        response = client.post(f"{REST}/Ticket/Search", json={**ROOT, key: evil})
        assert response.status_code == 200 and response.json == {}, key
    assert "InvalidParameter" in str(search(client, QueueIDs=[evil]))
    assert count(db, "ticket") >= 2


def test_nul_characters_are_a_400(client, db):
    response = client.post(f"{REST}/Ticket/Search", json={**ROOT, "Title": "a\x00b"})
    assert response.status_code == 400 and "NUL" in response.json["faultstring"]


def test_an_attachment_over_maxlength_is_a_413_and_writes_nothing(client, settings, db, tmp_path):
    preset = presets.read("GenericTicketConnectorREST")
    path = tmp_path / "small.yml"
    path.write_text(preset.replace("MaxLength: '100000000'", "MaxLength: '20000'"))
    webservices.add_webservice(db, settings, "Small", text=path.read_text(), actor="test")
    before = count(db, "ticket")
    big = {"Content": base64.b64encode(b"x" * 30000).decode(), "ContentType": "text/plain", "Filename": "big.txt"}
    response = client.post(
        "/otrs/nph-genericinterface.pl/Webservice/Small/Ticket",
        json={**ROOT, "Ticket": TICKET, "Article": ARTICLE, "Attachment": big},
    )
    assert response.status_code == 413 and "MaxLength" in response.json["faultstring"]
    assert count(db, "ticket") == before


def test_attachments_are_numbered_and_listed_as_znuny_lists_them(client):
    """Znuny numbers an article's files by file name (its HTML body file-2 among them) and lists them in the
    string order of those numbers; the HTML body only with HTMLBodyAsAttachment."""

    def file(name: str) -> dict:
        return {"Filename": name, "ContentType": "application/pdf", "Content": base64.b64encode(name.encode()).decode()}

    html = create(
        client,
        article={**ARTICLE, "ContentType": "text/html; charset=utf-8", "Body": "<p>Hi</p>"},
        Attachment=[file("zeta.pdf"), file("Angebot.pdf")],
    )
    listed = get(client, html["TicketID"], AllArticles=1, Attachments=1)["Ticket"][0]["Article"][0]["Attachment"]
    assert [(a["FileID"], a["Filename"]) for a in listed] == [("1", "Angebot.pdf"), ("3", "zeta.pdf")]
    listed = get(client, html["TicketID"], AllArticles=1, Attachments=1, HTMLBodyAsAttachment=1)["Ticket"][0][
        "Article"
    ][0]["Attachment"]
    assert [(a["FileID"], a["Filename"]) for a in listed] == [("1", "Angebot.pdf"), ("2", "file-2"), ("3", "zeta.pdf")]
    many = create(client, Attachment=[file(f"f{n:02}.pdf") for n in range(1, 12)])
    listed = get(client, many["TicketID"], AllArticles=1, Attachments=1)["Ticket"][0]["Article"][0]["Attachment"]
    assert [a["FileID"] for a in listed] == sorted(str(n) for n in range(1, 12))  # 1, 10, 11, 2, ...
    assert [a["Filename"] for a in listed][:3] == ["f01.pdf", "f10.pdf", "f11.pdf"]


def test_a_dynamic_field_change_is_in_the_history_with_its_old_value(client):
    ticket_id = create(client)["TicketID"]
    for value in ("first", "second", "second"):
        answer = client.patch(
            f"{REST}/Ticket/{ticket_id}", json={**ROOT, "DynamicField": {"Name": "OracleText", "Value": value}}
        ).json
        assert "Error" not in answer, answer
    history = client.get(f"{REST}/Ticket/History/{ticket_id}", query_string=ROOT).json["TicketHistory"][0]["History"]
    assert [line["Name"] for line in history if line["HistoryType"] == "TicketDynamicFieldUpdate"] == [
        "%%FieldName%%OracleText%%Value%%first%%OldValue%%",
        "%%FieldName%%OracleText%%Value%%second%%OldValue%%first",  # the unchanged third value wrote nothing
    ]


def test_accounted_time_keeps_its_digits(client):
    """TimeUnit was printed with six digits (10000.01 read back as 10000); Znuny prints Perl's 15."""
    created = create(client, article=[{**ARTICLE, "TimeUnit": "10000.01"}, {**ARTICLE, "TimeUnit": "1234567.5"}])
    ticket = get(client, created["TicketID"], AllArticles=1)["Ticket"][0]
    assert [a["TimeUnit"] for a in ticket["Article"]] == [10000.01, 1234567.5]
    assert ticket["TimeUnit"] == 1244567.51


def test_line_and_paragraph_separators_are_escaped_as_znuny_writes_them(client):
    """Kernel::System::JSON writes U+2028/U+2029 as \\u2028/\\u2029 (a JavaScript reader ends a line at them)."""
    created = create(client, ticket={"Title": "one\u2028two\u2029three"})
    response = client.get(f"{REST}/Ticket/{created['TicketID']}", query_string=ROOT)
    assert b'"Title":"one\\u2028two\\u2029three"' in response.data
    assert "\u2028".encode() not in response.data and response.json["Ticket"][0]["Title"] == "one\u2028two\u2029three"
