"""ArticleSend end to end: a client calls gateway under gunicorn, `gateway mail-worker` delivers to a real
SMTP server (aiosmtpd), and the recipient's own tools (gpg, openssl) check what arrived.

The key stores are the gateway's own (GATEWAY_GNUPGHOME, GATEWAY_SMIME_*), filled as the console
fills them; the keys are made by tests/keys.py.
"""

from __future__ import annotations

import base64
import dataclasses
import email
import email.policy
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import zeep

from gateway.store.database import Database
from tests.conftest import BACKENDS, REST, ROOT, SOAP, Server, copy_database, run_console, serving
from tests.keys import KeyMaterial, make_stores, remove_stores, short_tempdir, store_env
from tests.recipient import decrypt_pgp_mime, recipient_gpg, smime_decrypt, smime_verify, verify_pgp_detached
from tests.smtp import Smtp, start_smtp

pytestmark = pytest.mark.slow

TICKET = {"Title": "Signed mail", "Queue": "Raw", "State": "open", "Priority": "3 normal", "CustomerUser": "customer1"}
BODY = "Dear customer,\nFrom today your printer works again.\nGrüße"


@dataclasses.dataclass
class MailSetup:
    server: Server
    smtp: Smtp
    keys: KeyMaterial

    def create(self, **article) -> dict:
        body = {
            **ROOT,
            "Ticket": TICKET,
            "Article": {
                "Subject": "Your printer",
                "Body": BODY,
                "ContentType": "text/plain; charset=utf8",
                "ArticleSend": 1,
                "To": f"Rita <{self.keys.pgp_recipient.address}>",
                **article,
            },
        }
        return requests.post(f"{self.server.url}{REST}/Ticket", json=body, timeout=60).json()

    def deliver(self) -> str:
        done = self.server.gateway("mail-worker", "--once")
        assert done.returncode == 0, done.stderr
        return done.stdout

    def value(self, sql: str, params: tuple = ()) -> object:
        db = Database(self.server.database_url, 1)
        try:
            with db.transaction(write=False) as tx:
                return tx.value(sql, params)
        finally:
            db.close()

    def received(self, article_id: int) -> bytes:
        """What the SMTP server received for an article, checked against what the outbox stored."""
        stored = bytes(self.value("SELECT raw_message FROM mail_queue WHERE article_id = ?", (article_id,)))
        matching = [r for r in self.smtp.handler.received if stored.split(b"Message-ID: ")[1][:40] in r.content]
        assert len(matching) == 1
        assert matching[0].content.rstrip(b"\r\n") == stored.rstrip(b"\r\n")  # byte for byte
        return matching[0].content

    def articles(self, ticket_id: str) -> list[dict]:
        answer = requests.get(
            f"{self.server.url}{REST}/Ticket/{ticket_id}", params={**ROOT, "AllArticles": 1}, timeout=60
        ).json()
        return answer["Ticket"][0]["Article"]

    def count(self, table: str) -> int:
        return self.value(f"SELECT COUNT(*) FROM {table}")


@pytest.fixture(scope="module", params=BACKENDS)
def mail(request: pytest.FixtureRequest, templates, tmp_path_factory, keys) -> Iterator[MailSetup]:
    url, drop = copy_database(request.param, templates, tmp_path_factory.mktemp("mail"))
    stores = make_stores(keys, short_tempdir("gwd"))
    with start_smtp() as smtp:
        try:
            with serving(
                url,
                **store_env(stores),
                GATEWAY_SMTP_HOST="127.0.0.1",
                GATEWAY_SMTP_PORT=str(smtp.port),
                GATEWAY_SMTP_TIMEOUT="5",
            ) as server:
                yield MailSetup(server, smtp, keys)
        finally:
            remove_stores(stores)
            drop()


def body_of(message: bytes) -> str:
    parsed = email.message_from_bytes(message, policy=email.policy.default)
    part = parsed.get_body(("plain",)) or parsed
    return part.get_content().replace("\r\n", "\n")


def test_a_plain_mail_arrives_as_stored_and_ticket_get_shows_it_sent(mail: MailSetup) -> None:
    answer = mail.create(Cc="boss@example.test", Bcc="audit@example.test")
    assert "Error" not in answer, answer
    assert mail.articles(answer["TicketID"])[0]["Delivery"]["State"] == "queued"
    assert "sent 1" in mail.deliver()
    message = mail.received(answer["ArticleID"])
    envelope = next(r for r in mail.smtp.handler.received if r.content == message)
    assert sorted(envelope.rcpt_tos) == ["audit@example.test", "boss@example.test", mail.keys.pgp_recipient.address]
    assert b"audit@example.test" not in message
    assert body_of(message).startswith(BODY)
    delivery = mail.articles(answer["TicketID"])[0]["Delivery"]
    assert delivery["State"] == "sent" and delivery["SMTPCode"] == 250 and delivery["Attempts"] == 1


def test_pgp_signatures_verify_with_gpg(mail: MailSetup, tmp_path: Path) -> None:
    key = mail.keys.pgp_signer.keyid
    detached = mail.create(Sign={"Type": "PGP", "SubType": "Detached", "Key": key})
    inline = mail.create(Sign={"Type": "PGP", "SubType": "Inline", "Key": key[-8:]})
    assert "Error" not in detached and "Error" not in inline, (detached, inline)
    mail.deliver()
    signed_part = verify_pgp_detached(mail.keys, tmp_path, mail.received(detached["ArticleID"]))
    assert "Dear customer" in body_of(signed_part)
    clear = body_of(mail.received(inline["ArticleID"]))
    assert clear.startswith("-----BEGIN PGP SIGNED MESSAGE-----")
    done = recipient_gpg(mail.keys, tmp_path, "--verify", stdin=clear.encode())
    assert done.returncode == 0 and b"VALIDSIG" in done.stderr, done.stderr


def test_pgp_sign_and_encrypt_decrypts_for_the_recipient(mail: MailSetup, tmp_path: Path) -> None:
    answer = mail.create(
        Sign={"Type": "PGP", "Key": mail.keys.pgp_signer.fingerprint}, Crypt={"Type": "PGP", "SubType": "Detached"}
    )
    assert "Error" not in answer, answer
    mail.deliver()
    message = mail.received(answer["ArticleID"])
    assert b"Dear customer" not in message and b"=46rom today" not in message
    inner = decrypt_pgp_mime(mail.keys, tmp_path, message)
    assert "From today your printer" in body_of(verify_pgp_detached(mail.keys, tmp_path, inner))


@pytest.mark.parametrize("subtype", ["Detached", "Inline"])
def test_smime_signatures_verify_with_openssl(mail: MailSetup, subtype: str) -> None:
    answer = mail.create(Sign={"Type": "SMIME", "SubType": subtype, "Key": mail.keys.smime_signer.hash})
    assert "Error" not in answer, answer
    mail.deliver()
    assert "From today your printer" in body_of(smime_verify(mail.keys, mail.received(answer["ArticleID"])))


def test_smime_sign_and_encrypt_decrypts_for_the_recipient(mail: MailSetup) -> None:
    answer = mail.create(
        To=mail.keys.smime_recipient.address,
        Crypt={"Type": "SMIME"},
        Sign={"Type": "SMIME", "Key": mail.keys.smime_signer.hash},
    )
    assert "Error" not in answer, answer
    mail.deliver()
    message = mail.received(answer["ArticleID"])
    assert b"Dear customer" not in message
    assert "From today your printer" in body_of(smime_verify(mail.keys, smime_decrypt(mail.keys, message)))


def refusals(keys: KeyMaterial) -> list[tuple[dict, str]]:
    return [
        ({"Sign": {"Type": "GPG", "Key": keys.pgp_signer.keyid}}, "Article->Sign->Type parameter is invalid!"),
        (
            {"Sign": {"Type": "PGP", "SubType": "Attached", "Key": keys.pgp_signer.keyid}},
            "Article->Sign->SubType parameter is invalid!",
        ),
        ({"Sign": {"Type": "PGP", "Key": "DEADBEEF"}}, "DEADBEEF is not in the key store!"),
        ({"Sign": {"Type": "PGP", "Key": keys.pgp_recipient.keyid}}, "has no secret key!"),
        ({"Crypt": {"Type": "PGP", "Key": keys.pgp_expired.keyid}}, "is expired!"),
        ({"Crypt": {"Type": "PGP", "Key": keys.pgp_revoked.keyid}}, "is revoked!"),
        (
            {"Crypt": {"Type": "SMIME"}, "To": "nobody@example.test"},
            "Article->Crypt: no S/MIME certificate for recipient nobody@example.test!",
        ),
        ({"Sign": {"Type": "SMIME", "Key": keys.smime_expired.hash}}, "is expired!"),
        (
            {"Crypt": {"Type": "PGP", "SubType": "Inline"}, "ContentType": "text/html; charset=utf-8"},
            "SubType Inline needs a text/plain body",
        ),
    ]


def test_unusable_protection_is_refused_and_nothing_is_written(mail: MailSetup) -> None:
    before = [mail.count(t) for t in ("ticket", "article", "mail_queue")]
    for article, words in refusals(mail.keys):
        answer = mail.create(**article)
        error = answer.get("Error", {})
        assert error.get("ErrorCode") == "TicketCreate.InvalidParameter", (article, answer)
        assert words in error["ErrorMessage"], (words, error)
    assert [mail.count(t) for t in ("ticket", "article", "mail_queue")] == before


def test_smtp_down_delays_the_mail_and_a_550_shows_in_ticket_get(mail: MailSetup) -> None:
    answer = mail.create()
    assert "Error" not in answer, answer  # the request does not depend on SMTP
    down = run_console("mail-worker", "--once", env={**mail.server.env, "GATEWAY_SMTP_PORT": "1"})
    assert down.returncode == 0 and "deferred 1" in down.stdout, down.stdout + down.stderr
    delivery = mail.articles(answer["TicketID"])[0]["Delivery"]
    assert delivery["State"] == "queued" and delivery["Attempts"] == 1 and delivery["SMTPMessage"]
    mail_id = mail.value("SELECT id FROM mail_queue WHERE article_id = ?", (answer["ArticleID"],))
    assert mail.server.gateway("mail-queue", "retry", "--id", str(mail_id)).returncode == 0
    mail.smtp.handler.data_replies.append("550 5.7.1 Relaying denied")
    mail.deliver()
    delivery = mail.articles(answer["TicketID"])[0]["Delivery"]
    assert (delivery["State"], delivery["SMTPCode"]) == ("failed", 550), delivery
    assert "Relaying denied" in delivery["SMTPMessage"]


def test_soap_client_from_our_wsdl_sends_a_signed_mail(mail: MailSetup, tmp_path: Path) -> None:
    client = zeep.Client(f"{mail.server.url}{SOAP}?wsdl")
    answer = client.service.TicketCreate(
        **ROOT,
        Ticket=TICKET,
        Article={
            "Subject": "via SOAP",
            "Body": BODY,
            "ContentType": "text/plain; charset=utf8",
            "ArticleSend": "1",
            "To": mail.keys.pgp_recipient.address,
            "Sign": {"Type": "PGP", "SubType": "Detached", "Key": mail.keys.pgp_signer.keyid},
        },
    )
    assert answer.Error is None and answer.ArticleID, answer
    mail.deliver()
    verify_pgp_detached(mail.keys, tmp_path, mail.received(answer.ArticleID[0]))
    got = client.service.TicketGet(**ROOT, TicketID=[answer.TicketID], AllArticles="1")
    assert got.Ticket[0].Article[0].Delivery.State == "sent"


def test_html_with_attachments_signed_both_ways_verifies(mail: MailSetup, tmp_path: Path) -> None:
    """The multipart entity (alternative inside mixed) is what the signature covers, byte for byte."""
    rich = {
        "ContentType": "text/html; charset=utf-8",
        "Body": "<p>Dear customer,<br/>From today: <b>fixed</b></p>",
        "Attachment": {
            "Content": base64.b64encode(b"\x00\x01 log \xff").decode(),
            "ContentType": "application/octet-stream",
            "Filename": "drücker.log",
        },
    }
    pgp = mail.create(**rich, Sign={"Type": "PGP", "Key": mail.keys.pgp_signer.keyid})
    smime = mail.create(**rich, Sign={"Type": "SMIME", "Key": mail.keys.smime_signer.hash})
    assert "Error" not in pgp and "Error" not in smime, (pgp, smime)
    mail.deliver()
    for signed in (
        verify_pgp_detached(mail.keys, tmp_path, mail.received(pgp["ArticleID"])),
        smime_verify(mail.keys, mail.received(smime["ArticleID"])),
    ):
        entity = email.message_from_bytes(signed, policy=email.policy.default)
        assert entity.get_content_type() == "multipart/mixed"
        assert "From today: fixed" in entity.get_body(("plain",)).get_content()
        assert [a.get_filename() for a in entity.iter_attachments()] == ["drücker.log"]
