"""The permission rule (tickets/access.py) as Znuny 7 applies it, seen through the operations.

An invalid group grants nothing, to anyone, anywhere: Znuny's Group.pm PermissionUserGroupGet keeps
only the groups of GroupList(Valid => 1), and CustomerGroup.pm reads only valid groups too.
"""

from __future__ import annotations

import dataclasses

import pytest
from werkzeug.test import Client

from gateway import auth
from gateway.admin import directory
from gateway.app import make_app
from gateway.store import search, ticket_rows
from gateway.tickets.access import Access
from tests.conftest import REST, SOAP
from tests.golden import local_tree, soap_body
from tests.test_auth import soap
from tests.test_out_of_office import OOO
from tests.test_tickets import ARTICLE, ROOT, TICKET, count, create, get
from tests.test_time_accounting import TA_REST, TAUSER, YEAR

OUTSIDER = {"UserLogin": "outsider", "Password": "outsider"}
CUSTOMER = {"CustomerUserLogin": "customer1", "Password": "customer1"}
AWAY = "UserLogin,Enabled\nagent1,1\n"


def invalidate(db, group: str) -> None:
    with db.transaction() as tx:
        tx.execute("UPDATE permission_groups SET valid_id = 2 WHERE name = ?", [group])


def found(client, creds) -> list[str]:
    return client.post(f"{REST}/Ticket/Search", json=creds).json.get("TicketID", [])


@pytest.fixture
def secret(db, settings) -> None:
    """A queue of its own group; root and the agent `outsider` hold rw on it."""
    directory.add_group(db, "secret")
    directory.add_queue(db, "Secret", "secret")
    directory.add_user(db, settings, "outsider", "Out", "Sider", "out@example.test", "outsider", [])
    directory.link_user_group(db, "outsider", "secret", "rw")
    directory.link_user_group(db, "root@localhost", "secret", "rw")


def test_an_invalid_group_grants_agents_nothing(client, db, secret):
    ticket_id = create(client, ticket={"Queue": "Secret"})["TicketID"]
    assert get(client, ticket_id, OUTSIDER)["Ticket"][0]["Queue"] == "Secret"
    assert ticket_id in found(client, OUTSIDER)
    assert "TicketID" in create(client, OUTSIDER, ticket={"Queue": "Secret"})
    invalidate(db, "secret")
    assert get(client, ticket_id, OUTSIDER)["Error"]["ErrorCode"] == "TicketGet.AccessDenied"
    assert ticket_id not in found(client, OUTSIDER)
    assert create(client, OUTSIDER, ticket={"Queue": "Secret"})["Error"] == {
        "ErrorCode": "TicketCreate.AccessDenied",
        "ErrorMessage": "TicketCreate: Can not create tickets in given Queue or QueueID!",
    }
    update = client.patch(f"{REST}/Ticket/{ticket_id}", json={**OUTSIDER, "Article": ARTICLE})
    assert update.json["Error"]["ErrorCode"] == "TicketUpdate.AccessDenied"
    history = client.get(f"{REST}/Ticket/History/{ticket_id}", query_string=OUTSIDER).json
    assert history["Error"]["ErrorCode"] == "TicketHistoryGet.AccessDenied"


def test_the_owner_keeps_the_ticket_whatever_its_group(client, db, secret):
    """Znuny's OwnerCheck looks at the ticket's owner only, not at the queue's group."""
    ticket_id = create(client, ticket={"Queue": "Secret", "Owner": "outsider"})["TicketID"]
    invalidate(db, "secret")
    assert get(client, ticket_id, OUTSIDER)["Ticket"][0]["Owner"] == "outsider"


def test_an_invalid_group_hides_customers_own_tickets(client, db, secret):
    """CustomerPermission/GroupCheck is Required: without CustomerGroupSupport a customer user holds
    every valid group, so an invalid queue group takes even their own tickets away."""
    mine = create(client, CUSTOMER, ticket={"Queue": "Secret"})["TicketID"]
    assert get(client, mine, CUSTOMER)["Ticket"][0]["CustomerUserID"] == "customer1"
    assert found(client, CUSTOMER) == [mine]
    invalidate(db, "secret")
    assert get(client, mine, CUSTOMER)["Error"]["ErrorCode"] == "TicketGet.AccessDenied"
    assert found(client, CUSTOMER) == []
    assert create(client, CUSTOMER, ticket={"Queue": "Secret"})["Error"]["ErrorCode"] == "TicketCreate.AccessDenied"
    assert "TicketID" in create(client, CUSTOMER)  # Raw's group is valid


@pytest.fixture
def neighbours(db, settings) -> None:
    """customer1's colleague at ACME, and a customer user of another company."""
    directory.add_customer_user(db, settings, "colleague", "Col", "League", "colleague@acme.test", "ACME", "colleague")
    directory.add_customer_company(db, "GLOBEX", "Globex Corp.")
    directory.add_customer_user(db, settings, "stranger", "Str", "Anger", "stranger@globex.test", "GLOBEX", "stranger")


def test_a_customer_user_creates_tickets_only_for_itself(client, db, neighbours):
    """Znuny's customer panel sets CustomerUser and CustomerID to the caller's own; its TicketCreate
    takes any, so a customer login could put tickets (and the mail answering them) on anyone."""
    denied = {
        "ErrorCode": "TicketCreate.AccessDenied",
        "ErrorMessage": "TicketCreate: Customer users can create tickets only for themselves and their CustomerID!",
    }
    before = count(db, "ticket")
    for ticket in (
        {"CustomerUser": "stranger"},
        {"CustomerUser": "colleague"},  # the same company: still someone else
        {"CustomerUser": "someone@example.test"},  # an address of no customer user
        {"CustomerUser": "customer1", "CustomerID": "GLOBEX"},
        {"CustomerUser": "stranger", "CustomerID": "ACME"},
    ):
        assert create(client, CUSTOMER, ticket=ticket)["Error"] == denied, ticket
    assert count(db, "ticket") == before  # nothing half-written
    mine = create(client, CUSTOMER, ticket={"CustomerUser": "customer1", "CustomerID": "ACME"})["TicketID"]
    assert get(client, mine)["Ticket"][0]["CustomerID"] == "ACME"
    # agents create tickets for anyone, of any company
    theirs = create(client, ticket={"CustomerUser": "stranger", "CustomerID": "ACME"})["TicketID"]
    assert get(client, theirs)["Ticket"][0]["CustomerUserID"] == "stranger"


def test_a_customer_user_cannot_give_its_ticket_to_someone_else(client, db, neighbours):
    """TicketUpdate keeps a customer's ticket its own, as TicketCreate makes it."""
    mine = create(client, CUSTOMER, ticket={"CustomerUser": "customer1"})["TicketID"]

    def update(ticket):
        body = {**CUSTOMER, "TicketID": mine, "Ticket": ticket}
        return client.patch(f"{REST}/Ticket/{mine}", json=body).json

    for ticket in ({"CustomerUser": "stranger"}, {"CustomerUser": "colleague"}, {"CustomerID": "GLOBEX"}):
        assert update(ticket)["Error"] == {
            "ErrorCode": "TicketUpdate.AccessDenied",
            "ErrorMessage": "TicketUpdate: Customer users can give a ticket only to themselves and their CustomerID!",
        }, ticket
    shown = get(client, mine)["Ticket"][0]
    assert (shown["CustomerUserID"], shown["CustomerID"]) == ("customer1", "ACME")
    assert update({"CustomerUser": "customer1", "Title": "still mine"})["TicketID"] == mine
    # an agent hands it on
    assert client.patch(f"{REST}/Ticket/{mine}", json={**ROOT, "Ticket": {"CustomerUser": "stranger"}}).json["TicketID"]
    assert get(client, mine)["Ticket"][0]["CustomerUserID"] == "stranger"


def test_a_customer_users_ticket_for_someone_else_is_refused_over_soap(client, db, neighbours):
    ticket = "".join(f"<{k}>{v}</{k}>" for k, v in {**TICKET, "CustomerUser": "stranger"}.items())
    article = "".join(f"<{k}>{v}</{k}>" for k, v in ARTICLE.items())
    body = soap("TicketCreate", CustomerUserLogin="customer1", Password="customer1", Ticket=ticket, Article=article)
    before = count(db, "ticket")
    answer = local_tree(soap_body(client.post(SOAP, data=body, content_type="text/xml").data))
    assert answer == {
        "Error": {
            "ErrorCode": "TicketCreate.AccessDenied",
            "ErrorMessage": "TicketCreate: Customer users can create tickets only for themselves and their CustomerID!",
        }
    }
    assert count(db, "ticket") == before


def grant_customer(db, table: str, who: str, group: str, key: str) -> None:
    column = "user_id" if table == "group_customer_user" else "customer_id"
    with db.transaction() as tx:
        group_id = tx.value("SELECT id FROM permission_groups WHERE name = ?", [group])
        tx.execute(f"INSERT INTO {table} ({column}, group_id, permission_key) VALUES (?, ?, ?)", [who, group_id, key])


def test_customer_group_support(settings, db, secret):
    """With CustomerGroupSupport a customer user holds what group_customer_user grants them,
    group_customer their company, and Znuny's always-group `users` (Raw's group); valid groups only."""
    app = make_app(dataclasses.replace(settings, customer_group_support=1))
    try:
        client = Client(app)
        assert "TicketID" in create(client, CUSTOMER)
        assert create(client, CUSTOMER, ticket={"Queue": "Secret"})["Error"]["ErrorCode"] == "TicketCreate.AccessDenied"
        grant_customer(db, "group_customer_user", "customer1", "secret", "create")
        mine = create(client, CUSTOMER, ticket={"Queue": "Secret"})["TicketID"]
        # create is not ro: their own ticket stays out of reach until they may read the group
        assert get(client, mine, CUSTOMER)["Error"]["ErrorCode"] == "TicketGet.AccessDenied"
        assert mine not in found(client, CUSTOMER)
        grant_customer(db, "group_customer", "ACME", "secret", "ro")
        assert get(client, mine, CUSTOMER)["Ticket"][0]["Queue"] == "Secret"
        assert mine in found(client, CUSTOMER)
        invalidate(db, "secret")
        assert get(client, mine, CUSTOMER)["Error"]["ErrorCode"] == "TicketGet.AccessDenied"
        assert mine not in found(client, CUSTOMER)
        assert create(client, CUSTOMER, ticket={"Queue": "Secret"})["Error"]["ErrorCode"] == "TicketCreate.AccessDenied"
    finally:
        app.close()


def test_an_invalid_admin_group_grants_no_admin_operation(client, db):
    """SessionRemove of another agent's session, OutOfOffice and impersonation need rw on `admin`."""
    agents = client.post(f"{REST}/Session", json={"UserLogin": "agent1", "Password": "agent1"}).json["SessionID"]
    impersonated = client.post(f"{REST}/Session", json=ROOT, headers={"X-OTRS-Header-ImpersonateAsUser": "agent1"})
    assert "SessionID" in impersonated.json
    assert client.post(OOO, json={**ROOT, "OutOfOfficeEntriesCSVString": AWAY}).json["Success"] == 1
    invalidate(db, "admin")
    removal = client.delete(f"{REST}/Session/{agents}", json=ROOT).json
    assert removal["Error"] == {
        "ErrorCode": "SessionRemove.AuthFail",
        "ErrorMessage": "SessionRemove: Authorization failed! User needs to be in group admin.",
    }
    assert client.post(OOO, json={**ROOT, "OutOfOfficeEntriesCSVString": AWAY}).json["Error"] == {
        "ErrorCode": "OutOfOffice.AuthFail",
        "ErrorMessage": "OutOfOffice: User needs to be in group admin.",
    }
    impersonated = client.post(f"{REST}/Session", json=ROOT, headers={"X-OTRS-Header-ImpersonateAsUser": "agent1"})
    assert impersonated.json["Error"]["ErrorCode"] == "SessionCreate.AuthFail"


def test_an_invalid_time_accounting_group_grants_no_time_accounting(client, db):
    assert "Error" not in client.post(TA_REST, json={**TAUSER, **YEAR}).json
    invalidate(db, "timeaccounting_webservice")
    assert client.post(TA_REST, json={**TAUSER, **YEAR}).json["Error"] == {
        "ErrorCode": "TimeAccountingGet.NoPermission",
        "ErrorMessage": "TimeAccountingGet: No permission!",
    }


def test_the_search_predicate_and_the_check_agree(client, db, settings):
    """TicketSearch's SQL and TicketGet's check are one rule: each principal finds exactly the tickets
    it may read, over groups with every kind of grant, valid or not, owners and customers."""
    directory.add_user(db, settings, "mixer", "Mi", "Xer", "mixer@example.test", "mixer", [])
    directory.add_customer_company(db, "OTHER", "Other Ltd")
    directory.add_customer_user(db, settings, "stranger", "S", "Tranger", "s@other.test", "OTHER", "stranger")
    grants = {"g_ro": "ro", "g_rw": "rw", "g_create": "create", "g_none": None, "g_invalid": "rw"}
    for group, key in grants.items():
        directory.add_group(db, group)
        directory.add_queue(db, group.upper(), group)
        directory.link_user_group(db, "root@localhost", group, "rw")
        if key:
            directory.link_user_group(db, "mixer", group, key)
    grant_customer(db, "group_customer_user", "customer1", "g_ro", "ro")
    grant_customer(db, "group_customer", "ACME", "g_create", "rw")
    grant_customer(db, "group_customer", "OTHER", "g_rw", "ro")
    for group in grants:
        for customer in ("customer1", "stranger"):
            create(client, ticket={"Queue": group.upper(), "CustomerUser": customer})
    create(client, ticket={"Queue": "G_NONE", "Owner": "mixer"})
    create(client, ticket={"Queue": "G_INVALID", "Responsible": "mixer"})
    invalidate(db, "g_invalid")
    principals = [
        auth.Principal(auth.AGENT, "mixer", user_id=directory_id(db, "mixer")),
        auth.Principal(auth.CUSTOMER, "customer1", customer_id="ACME"),
        auth.Principal(auth.CUSTOMER, "stranger", customer_id="OTHER"),
    ]
    with db.transaction(write=False) as tx:
        rows = ticket_rows.tickets(tx, [row["id"] for row in tx.all("SELECT id FROM ticket")])
        for principal in principals:
            for support in (False, True):
                access = Access(tx, principal, customer_group_support=support)
                readable = {row["id"] for row in rows if access.allows(row)}
                found = set(search.search(tx, search.TicketQuery(), access.search_predicate()))
                assert found == readable, (principal.login, support)
                assert readable, (principal.login, support)  # each reads something: the check can fail


def directory_id(db, login: str) -> int:
    with db.transaction(write=False) as tx:
        return tx.value("SELECT id FROM users WHERE login = ?", [login])
