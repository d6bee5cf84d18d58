"""All of Znuny's recorded exchanges (../shared/znuny/golden 01-130), replayed in order on a fresh database.

The cases build on each other: later searches and histories list what earlier cases created, so
they run as one sequence, as they were captured. Volatile values (session IDs, ticket numbers,
IDs) are mapped as they are learned from the create answers: a request gets our values, our
answer is read back in Znuny's, and then it must equal Znuny's answer, status, keys, JSON types
and values, except for timestamps and where decisions.md or the golden README says we do better.
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

from lxml import etree

from gateway.admin import directory
from tests.conftest import znuny_file
from tests.golden import Case, case, shape

# time-dependent values: equal in kind (checked by shape), not in value
VOLATILE = {
    "SessionID",
    "Age",
    "Created",
    "Changed",
    "CreateTime",
    "ChangeTime",
    "IncomingTime",
    "UnlockTimeout",
    "UntilTime",
    "RealTillTimeNotUsed",
    "LastViewedTime",
    "UserLastLogin",
    "UserLastLoginTimestamp",
    "ChallengeToken",
    "MessageID",
    "Start",
    "End",
    "PendingTime",
}


class Mapping:
    """Znuny's values and ours for the same objects, learned in the order they are created."""

    def __init__(self) -> None:
        self.sessions: dict[str, str] = {}
        self.tickets: dict[str, str] = {}
        self.articles: dict[str, str] = {}
        self.numbers: dict[str, str] = {}

    def learn(self, theirs: Any, ours: Any) -> None:
        if not (isinstance(theirs, dict) and isinstance(ours, dict)) or "Error" in theirs or "Error" in ours:
            return
        for key, table in (
            ("SessionID", self.sessions),
            ("TicketID", self.tickets),
            ("ArticleID", self.articles),
            ("TicketNumber", self.numbers),
        ):
            if key in theirs and key in ours:
                pairs = (
                    zip(theirs[key], ours[key], strict=False)
                    if isinstance(theirs[key], list)
                    else [(theirs[key], ours[key])]
                )
                for their, our in pairs:
                    table[str(their)] = str(our)

    def request(self, golden: Case) -> None:
        """Znuny's recorded values in a request become ours."""

        def ids(text: str) -> str:
            for theirs, ours in {**self.sessions, **self.numbers}.items():
                text = text.replace(theirs, ours)
            text = re.sub(r"(/Ticket(?:/History)?/)(\d+)", lambda m: m[1] + self.tickets.get(m[2], m[2]), text)
            return re.sub(r'("TicketID": ?"?)(\d+)', lambda m: m[1] + self.tickets.get(m[2], m[2]), text)

        golden.request.first_line = ids(golden.request.first_line)
        golden.request.headers = {k: ids(v) for k, v in golden.request.headers.items()}
        golden.request.body = ids(golden.request.body.decode()).encode()
        golden.request.body = re.sub(
            rb"(<(?:\w+:)?TicketID>)(\d+)<",
            lambda m: m[1] + self.tickets.get(m[2].decode(), m[2].decode()).encode() + b"<",
            golden.request.body,
        )

    def answer(self, value: Any, key: str = "") -> Any:
        """Our answer in Znuny's values, so that it compares with the recording."""
        if isinstance(value, dict):
            return {k: self.answer(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.answer(v, key) for v in value]
        table = {"TicketID": self.tickets, "ArticleID": self.articles}.get(key)
        if table is not None and str(value) in (inverse := {v: k for k, v in table.items()}):
            return type(value)(inverse[str(value)])
        if isinstance(value, str):
            for theirs, ours in self.numbers.items():
                if ours in value:
                    value = value.replace(ours, theirs)
                    if key == "Name":  # NewTicket: %%number%%queue%%priority%%state%%TicketID
                        head, _, ticket = value.rpartition("%%")
                        value = (
                            f"{head}%%{inverse.get(ticket, ticket)}"
                            if (inverse := {v: k for k, v in self.tickets.items()})
                            else value
                        )
        return value


# session keys that change with every login
SESSION_VOLATILE = {
    "ChangeTime",
    "CreateTime",
    "UserLastLogin",
    "UserLastLoginTimestamp",
    "UserLastPwChangeTime",
    "UserLastRequest",
    "UserSessionStart",
}
# what SessionGet keeps to itself (decisions.md): a password hash, the customer backends' configuration
SESSION_SECRETS = {"UserPassword", "Config", "CompanyConfig"}


def stable(value: Any, key: str = "") -> Any:
    if key == "SessionData":
        return [
            {**item, "Value": f"<volatile {type(item.get('Value')).__name__}>"}
            if item["Key"] in SESSION_VOLATILE
            else item
            for item in value
            if item["Key"] not in SESSION_SECRETS
        ]
    if key in VOLATILE and not isinstance(value, (dict, list)):
        return f"<volatile {type(value).__name__}>"
    if isinstance(value, dict):
        return {k: stable(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [stable(v, key) for v in value]
    return value


def xml_tree(element: etree._Element) -> Any:
    """An element as SOAP::Lite reads it: children by local name, repeated names as lists."""
    if len(element) == 0:
        nil = element.get("{http://www.w3.org/2001/XMLSchema-instance}nil") in ("true", "1")
        return None if nil else (element.text or "")
    tree: dict[str, Any] = {}
    for child in element:
        name = etree.QName(child).localname
        value = xml_tree(child)
        if name in tree:
            tree[name] = (tree[name] if isinstance(tree[name], list) else [tree[name]]) + [value]
        else:
            tree[name] = value
    return tree


def fault(status: int, code: str):
    """Where Znuny closes the connection or answers a bare 500, we answer `status` with a fault naming the problem."""

    def check(response) -> str | None:
        if response.status_code != status:
            return f"status {response.status_code} != {status}: {response.data[:300]!r}"
        if code not in response.get_data(as_text=True):
            return f"no {code} in {response.data[:300]!r}"
        return None

    return check


def answers_like(stem: str, *keys: str):
    """Where Znuny refuses a request it could have served, we answer as Znuny answers `stem`."""

    def check(response) -> str | None:
        theirs = case(stem).response
        if response.status_code != 200:
            return f"status {response.status_code} != 200: {response.data[:300]!r}"
        if "xml" in theirs.headers.get("content-type", ""):
            ours, expected = xml_tree(etree.fromstring(response.data)), xml_tree(etree.fromstring(theirs.body))
        else:
            ours, expected = response.json, theirs.json()
        return None if shape(ours) == shape(expected) else f"shape {ours} != {expected}"

    return check


def error(code: str):
    def check(response) -> str | None:
        if response.status_code != 200 or response.json.get("Error", {}).get("ErrorCode") != code:
            return f"{response.status_code} {response.data[:300]!r} is not {code}"
        return None

    return check


def csv_fault(stem: str):
    """Znuny's message for a CSV it cannot use, as a 400 instead of its 500."""

    def check(response) -> str | None:
        message = case(stem).response.json()["faultstring"].rstrip(".")
        if response.status_code != 400 or message not in response.json.get("faultstring", ""):
            return f"{response.status_code} {response.data[:300]!r} does not say {message!r}"
        return None

    return check


# decisions.md and the golden README: where we do better on purpose
BETTER = {
    # every SOAPAction style is accepted
    "29_ta_soap_get_single_slash_soapaction": answers_like("28_ta_soap_get_ok"),
    "43_soap_session_create_wsdl_style_soapaction": answers_like("36_soap_session_create"),
    # a CSV that cannot be used is a 400 with Znuny's message
    "32_ooo_csv_malformed": csv_fault("32_ooo_csv_malformed"),
    "33_ooo_csv_header_only": csv_fault("33_ooo_csv_header_only"),
    "34_ooo_missing_csv_param": csv_fault("34_ooo_missing_csv_param"),
    # JSON is read whatever the Content-Type, or none, says
    "48_err_wrong_content_type_form": answers_like("01_rest_session_create_ok"),
    "59_rest_session_create_no_content_type": answers_like("01_rest_session_create_ok"),
    # the manual's ArticleSend example is queued: we check syntax, never DNS
    "89_rest_tc_article_send_seed_example": answers_like("04_rest_ticket_create_minimal"),
    "113_rest_tu_empty_object": error("TicketUpdate.MissingParameter"),
    # a customer user creates tickets only for itself (Znuny's customer panel does; its TicketCreate does not)
    "96_rest_tc_customer_for_other_customer": error("TicketCreate.AccessDenied"),
    # transport errors say what went wrong
    "45_soap_invalid_xml": fault(400, "XMLSyntaxError"),
    "46_soap_unknown_operation": fault(500, "UnknownOperation"),
    "50_err_invalid_json": fault(400, "JsonDecodeError"),
    "52_err_unknown_webservice": fault(404, "WebserviceNotFound"),
    "53_err_unknown_route": fault(404, "ResourceNotFound"),
    "54_err_wrong_method": fault(405, "RequestNotAllowed"),
    "55_err_no_webservice_in_path": fault(404, "NotFound"),
}


def without_notifications(theirs: Any) -> Any:
    """Znuny's notification module mails agents and logs it; gateway sends no agent notifications."""
    for ticket in theirs["TicketHistory"]:
        ticket["History"] = [line for line in ticket["History"] if line["HistoryType"] != "SendAgentNotification"]
    return theirs


def title_kept(theirs: Any) -> Any:
    """Znuny writes the new title, then fails on the pending state (109); a failing TicketUpdate changes nothing."""
    theirs["Ticket"][0]["Title"] = theirs["Ticket"][0]["Title"].removesuffix(" CHANGED")
    return theirs


def newest_first(theirs: Any) -> Any:
    """ArticleOrder=DESC answers the newest article first; Znuny 7.1.7 ignores it."""
    theirs["Ticket"][0]["Article"].reverse()
    return theirs


# Znuny's answer as we give it, where we answer differently on purpose
EXPECTED = {
    "108_rest_tu_history_after_updates": without_notifications,
    "110_rest_tu_get_after_partial": title_kept,
    "124_rest_tg_article_order_desc": newest_first,
}


def cases() -> list[str]:
    index = znuny_file("golden/INDEX.tsv").read_text().splitlines()
    return [line.split("\t")[0] for line in index[1:] if line.strip()]


def extend_fixture(db, settings) -> None:
    """The fixture extension of cases 57-130 (golden README)."""
    directory.add_group(db, "restricted")
    directory.link_user_group(db, "root@localhost", "restricted", "rw")
    directory.add_queue(db, "Restricted", "restricted")
    directory.add_customer_company(db, "GLOBEX", "Globex Corp.")
    directory.add_customer_user(
        db, settings, "customer2", "Second", "Customer", "customer2@oracle.test", "GLOBEX", "customer2"
    )


def differences(client, db, settings) -> list[str]:
    mapping, found = Mapping(), []
    for stem in cases():
        if stem.startswith("57_"):
            extend_fixture(db, settings)
        golden = case(stem)
        mapping.request(golden)
        response = golden.send(client)
        problem = BETTER[stem](response) if stem in BETTER else compare(stem, golden, response, mapping)
        if problem:
            found.append(f"{stem}: {problem}")
    return found


def compare(stem: str, golden: Case, response, mapping: Mapping) -> str | None:
    if response.status_code != golden.status:
        return f"status {response.status_code} != {golden.status}: {response.data[:300]!r}"
    if response.headers["Content-Type"].lower() != golden.response.headers["content-type"].lower():
        return f"Content-Type {response.headers['Content-Type']} != {golden.response.headers['content-type']}"
    if golden.response.headers.get("content-type", "").startswith("text/xml"):
        ours = xml_tree(etree.fromstring(response.data))
        theirs = xml_tree(etree.fromstring(golden.response.body))
        ours, theirs = ours.get("Body", ours), theirs.get("Body", theirs)
        if isinstance(theirs, dict) and len(theirs) == 1 and isinstance(ours, dict) and len(ours) == 1:
            mapping.learn(next(iter(theirs.values())), next(iter(ours.values())))
    else:
        try:
            ours, theirs = response.json, golden.response.json()
        except (ValueError, json.JSONDecodeError):
            return None if response.data == golden.response.body else f"body {response.data[:300]!r}"
    mapping.learn(theirs, ours)
    ours = mapping.answer(ours)
    if stem in EXPECTED:
        theirs = EXPECTED[stem](theirs)
    found = diff(stable(ours), stable(theirs))
    return "\n    " + "\n    ".join(found) if found else None


def diff(ours: Any, theirs: Any, path: str = "") -> list[str]:
    """Where two answers differ, as `path: ours != theirs` lines."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        found = []
        for key in sorted(set(ours) | set(theirs)):
            if key not in ours:
                found.append(f"{path}.{key} missing (Znuny: {json.dumps(theirs[key])[:200]})")
            elif key not in theirs:
                found.append(f"{path}.{key} not in Znuny's answer ({json.dumps(ours[key])[:200]})")
            else:
                found += diff(ours[key], theirs[key], f"{path}.{key}")
        return found
    if isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs):
        return [line for i, (a, b) in enumerate(zip(ours, theirs, strict=True)) for line in diff(a, b, f"{path}[{i}]")]
    if isinstance(ours, list) and isinstance(theirs, list):
        lines = difflib.unified_diff(
            [json.dumps(v, sort_keys=True) for v in theirs],
            [json.dumps(v, sort_keys=True) for v in ours],
            "Znuny",
            "ours",
            lineterm="",
            n=0,
        )
        return [f"{path}: {len(ours)} items != Znuny's {len(theirs)}", *lines]
    if ours != theirs or type(ours) is not type(theirs):
        return [f"{path}: {json.dumps(ours)[:300]} != Znuny's {json.dumps(theirs)[:300]}"]
    return []


def test_every_recorded_exchange_in_order(client, db, settings):
    found = differences(client, db, settings)
    assert not found, f"{len(found)} cases differ:\n" + "\n".join(found)
