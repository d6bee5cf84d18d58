"""Validation shared by TicketCreate and TicketUpdate, with Znuny's messages under the caller's name.

Each check raises OperationError("<Op>.<Kind>", "<Op>: ...") exactly as Znuny words it,
so one module serves both operations without the copy-paste slips Znuny has.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import datetime as dt
import email.policy
import json
import re
from email.errors import ObsoleteHeaderDefect
from typing import Any

from gateway.errors import ComposeError, CryptoError
from gateway.mail.address import is_address
from gateway.mail.compose import addresses
from gateway.mail.crypto import Crypto, Protection
from gateway.mail.mime import content_type_parts
from gateway.operations.common import OperationError
from gateway.operations.ticket.models import Article, Attachment, DynamicField, PendingTime
from gateway.principal import Principal
from gateway.runtime import Runtime
from gateway.store import agents, catalog, customers, ticket_rows
from gateway.store.database import Row, Transaction, utcnow
from gateway.tickets import article_send
from gateway.tickets.article import NewArticle, Outgoing
from gateway.wirenumbers import decimal, identifier, integer, timestamp

MIME_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+$")
TIME_UNIT_LIMIT = 10**8  # time_unit is DECIMAL(10,2)
CHANNELS = {"Email": 1, "Phone": 2, "Internal": 3}
AUTO_RESPONSE_TYPES = {"auto reply", "auto reject", "auto follow up", "auto reply/new ticket", "auto remove"}
PENDING_STATE_TYPES = ("pending reminder", "pending auto")
ADDRESS_LIST = email.policy.default.header_factory


class Checks:
    """Validators bound to one operation name (the prefix of every code and message)."""

    def __init__(self, operation: str) -> None:
        self.operation = operation

    def missing(self, what: str) -> OperationError:
        return OperationError(f"{self.operation}.MissingParameter", f"{self.operation}: {what}")

    def invalid(self, what: str) -> OperationError:
        return OperationError(f"{self.operation}.InvalidParameter", f"{self.operation}: {what}")

    def parts(self, request: Any) -> None:
        """Top-level DynamicField and Attachment, when given, as Znuny checks them: no data at all (`[]`,
        `{}`, a string) is MissingParameter, a list item without data is InvalidParameter."""
        for name in ("DynamicField", "Attachment"):
            items = getattr(request, name)
            if items is None:
                continue
            if not items:
                raise self.missing(f"{name} parameter is missing or not valid!")
            if not all(has_data(item) for item in items):
                raise self.invalid(f"Ticket->{name} parameter is invalid!")

    # -- ticket attributes ---------------------------------------------------------------------------

    def catalogue(self, tx: Transaction, table: str, label: str, id_value: Any, name_value: Any) -> Row | None:
        """`<Label>ID` wins over `<Label>`; either must name a valid row."""
        if given(id_value):
            key = identifier(id_value)
            row = ticket_rows.lookup(tx, table, id=key) if key is not None else None
        elif given(name_value):
            row = ticket_rows.lookup(tx, table, name=str(name_value).strip())
        else:
            return None
        if row is None:
            raise self.invalid(f"Ticket->{label}ID or Ticket->{label} parameter is invalid!")
        return row

    def prefetch_catalogue(self, tx: Transaction, table: str, id_value: Any, name_value: Any) -> None:
        """Send the lookup a catalogue() of these values will make (Transaction.prefetch)."""
        if given(id_value):
            key = identifier(id_value)
            if key is not None:
                ticket_rows.prefetch_lookup(tx, table, id=key)
        elif given(name_value):
            ticket_rows.prefetch_lookup(tx, table, name=str(name_value).strip())

    def required(self, tx: Transaction, table: str, label: str, id_value: Any, name_value: Any) -> Row:
        """A catalogue row the request must name (TicketCreate's Queue, State, Priority)."""
        row = self.catalogue(tx, table, label, id_value, name_value)
        if row is None:
            raise self.missing(f"Ticket->{label}ID or Ticket->{label} parameter is missing!")
        return row

    def agent(self, tx: Transaction, label: str, id_value: Any, login_value: Any) -> Row | None:
        if given(id_value):
            key = identifier(id_value)
            row = agents.by_id(tx, key) if key is not None else None
        elif given(login_value):
            row = agents.by_login(tx, str(login_value).strip())
        else:
            return None
        if row is None or row["valid_id"] != 1:
            raise self.invalid(f"Ticket->{label}ID or Ticket->{label} parameter is invalid!")
        return row

    def customer_user(self, tx: Transaction, value: str) -> tuple[str, Row | None]:
        """(login, row) of a known customer user, or (the e-mail address, None)."""
        value = value.strip()
        row = customers.by_login(tx, value)
        if row is not None and row["valid_id"] == 1:
            return row["login"], row
        if is_address(value):
            return value, None
        raise self.invalid("Ticket->CustomerUser parameter is invalid!")

    def pending_time(self, pending: PendingTime | None) -> int | None:
        """PendingTime as {Diff} (minutes from now) or {Year, Month, Day, Hour, Minute}: an epoch."""
        if pending is None:
            return None
        values = {
            k: str(getattr(pending, k)).strip()
            for k in ("Year", "Month", "Day", "Hour", "Minute", "Diff")
            if getattr(pending, k, None) not in (None, "")
        }
        now = utcnow().replace(tzinfo=dt.UTC)
        numbers = {k: n for k, v in values.items() if (n := integer(v)) is not None}
        try:
            if len(numbers) != len(values):
                raise ValueError
            if "Diff" in numbers:
                if len(numbers) != 1:
                    raise ValueError
                return int((now + dt.timedelta(minutes=numbers["Diff"])).timestamp())
            if set(numbers) != {"Year", "Month", "Day", "Hour", "Minute"}:
                raise ValueError
            moment = dt.datetime(
                numbers["Year"], numbers["Month"], numbers["Day"], numbers["Hour"], numbers["Minute"], tzinfo=dt.UTC
            )
            return int(moment.timestamp())
        except (ValueError, OverflowError):
            raise self.invalid("Ticket->PendingTime parameter is invalid!") from None

    # -- articles --------------------------------------------------------------------------------------

    def article(
        self,
        tx: Transaction,
        principal: Principal,
        article: Article,
        defaults: dict[str, str],
        customer_from: str,
        to: str,
        crypto: Crypto,
    ) -> NewArticle:
        """An article of the request, with Znuny's defaults, checked in Znuny's order."""
        if not given(article.Subject):
            raise self.missing("Article->Subject parameter is missing!")
        if not given(article.Body):
            raise self.missing("Article->Body parameter is missing!")
        channel = self._channel(tx, article)
        visible = str(
            article.IsVisibleForCustomer if given(article.IsVisibleForCustomer) else defaults["IsVisibleForCustomer"]
        ).strip()
        if visible not in ("0", "1"):
            raise self.invalid("Article->IsVisibleForCustomer parameter is invalid!")
        sender = self._sender_type(tx, principal, article)
        auto_response = article.AutoResponseType if given(article.AutoResponseType) else defaults["AutoResponseType"]
        if auto_response not in AUTO_RESPONSE_TYPES:
            raise self.invalid("Article->AutoResponseType parameter is invalid!")
        if given(article.From) and not _valid_addresses(article.From):
            raise self.invalid("Article->From parameter is invalid!")
        send = None
        if given(article.ArticleSend) and str(article.ArticleSend).strip() != "0":
            if not principal.is_agent:
                # beyond Znuny: a customer login would otherwise make the help desk send (and sign) mail to anyone
                raise OperationError(
                    f"{self.operation}.AccessDenied",
                    f"{self.operation}: Customer users cannot send articles as e-mail!",
                )
            send = self.article_send(article, crypto)
        if send is not None:
            channel = CHANNELS["Email"]
        content_type = self._content_type(article)
        history_type = article.HistoryType if given(article.HistoryType) else defaults["HistoryType"]
        if ticket_rows.lookup(tx, "ticket_history_type", name=history_type) is None:
            raise self.invalid("Article->HistoryType parameter is invalid!")
        time_unit = None
        if given(article.TimeUnit):
            time_unit = decimal(article.TimeUnit, TIME_UNIT_LIMIT)
            if time_unit is None:
                raise self.invalid("Article->TimeUnit parameter is invalid!")
        if given(article.NoAgentNotify) and str(article.NoAgentNotify).strip() != "1":
            raise self.invalid("Article->NoAgent parameter is invalid!")
        for key in ("ForceNotificationToUserID", "ExcludeNotificationToUserID", "ExcludeMuteNotificationToUserID"):
            for user_id in getattr(article, key) or []:
                agent_id = identifier(user_id)
                if agent_id is None or agents.by_id(tx, agent_id) is None:
                    raise self.invalid(f"Article->{key} UserID={user_id} parameter is invalid!")
        return NewArticle(
            sender_type_id=sender,
            channel_id=channel,
            visible=int(visible),
            from_=article.From.strip() if given(article.From) else "" if send else customer_from,
            to=article.To.strip() if given(article.To) else to,
            cc=(article.Cc or "").strip(),
            bcc=(article.Bcc or "").strip(),
            subject=article.Subject,
            body=article.Body,
            content_type=content_type,
            history_type=history_type,
            history_comment=article.HistoryComment if given(article.HistoryComment) else defaults["HistoryComment"],
            time_unit=time_unit,
            attachments=[self.attachment(a) for a in article.Attachment or []],
            send=send,
        )

    def article_send(self, article: Article, crypto: Crypto) -> Outgoing:
        """ArticleSend's recipients and Sign/Crypt, checked before anything is written (Znuny checks only To)."""
        to = (article.To or "").strip()
        if not _valid_addresses(to):
            # Znuny answers with TicketCreate's code and words from TicketUpdate too
            raise OperationError(
                "TicketCreate.InvalidParameter",
                "TicketCreate: Article->To parameter must be a valid email address when Article->ArticleSend is set!",
            )
        cc, bcc = (article.Cc or "").strip(), (article.Bcc or "").strip()
        for label, value in (("Cc", cc), ("Bcc", bcc)):
            if value and not _valid_addresses(value):
                raise self.invalid(f"Article->{label} parameter is invalid!")
        recipients = addresses(to, cc, bcc)
        sign, crypt = _protection(article.Sign), _protection(article.Crypt)
        plan = None
        if sign is not None or crypt is not None:
            try:
                plan = crypto.plan(sign, crypt, recipients)
            except CryptoError as error:
                raise self.invalid(crypto_message(error)) from None
        return Outgoing(to=to, cc=cc, bcc=bcc, plan=plan, recipients=recipients)

    def send(
        self,
        tx: Transaction,
        runtime: Runtime,
        by: int,
        ticket_id: int,
        number: str,
        queue_id: int,
        article: NewArticle,
    ) -> None:
        """Compose an ArticleSend article; what the composer refuses (PGP Inline on HTML or attachments) is
        InvalidParameter too, and the operation's transaction rolls back: nothing stays written."""
        try:
            article_send.prepare(tx, runtime.settings, runtime.crypto, by, ticket_id, number, queue_id, article)
        except ComposeError as error:
            raise self.invalid(COMPOSE_MESSAGES[error.kind]) from None
        except CryptoError as error:  # gpg or OpenSSL failing while protecting
            raise self.invalid(crypto_message(error)) from None

    def _channel(self, tx: Transaction, article: Article) -> int:
        if given(article.CommunicationChannelID):
            key = identifier(article.CommunicationChannelID)
            row = ticket_rows.lookup(tx, "communication_channel", id=key) if key is not None else None
        else:
            name = article.CommunicationChannel if given(article.CommunicationChannel) else "Internal"
            row = ticket_rows.lookup(tx, "communication_channel", name=name)
        if row is None or row["name"] not in CHANNELS:
            raise self.invalid(
                "Article->CommunicationChannel or Article->CommunicationChannelID parameter"
                " is invalid or not supported!"
            )
        return int(row["id"])

    def _sender_type(self, tx: Transaction, principal: Principal, article: Article) -> int:
        if given(article.SenderTypeID):
            key = identifier(article.SenderTypeID)
            row = ticket_rows.lookup(tx, "article_sender_type", id=key) if key is not None else None
        else:
            default = "agent" if principal.is_agent else "customer"
            row = ticket_rows.lookup(
                tx, "article_sender_type", name=article.SenderType if given(article.SenderType) else default
            )
        if row is None:
            raise self.invalid("Article->SenderTypeID or Ticket->SenderType parameter is invalid!")
        return int(row["id"])

    def _content_type(self, article: Article) -> str:
        if given(article.ContentType):
            content_type = " ".join(str(article.ContentType).lower().split())
            mime, charset = content_type_parts(content_type)
            if not MIME_TYPE.match(mime) or not _known_charset(charset):
                raise self.invalid("Article->ContentType is invalid!")
            return content_type
        if given(article.MimeType) and not given(article.Charset):
            raise self.missing("Article->Charset is required!")
        if given(article.Charset) and not given(article.MimeType):
            raise self.missing("Article->MimeType is required!")
        if not given(article.MimeType):
            raise self.missing("Article->ContentType or Ticket->MimeType and Article->Charset parameters are required!")
        mime, charset = str(article.MimeType).strip().lower(), str(article.Charset).strip().lower()
        if not MIME_TYPE.match(mime):
            raise self.invalid("Article->MimeType is invalid!")
        if not _known_charset(charset):
            raise self.invalid("Article->Charset is invalid!")
        return f"{mime}; charset={charset}"

    def attachment(self, attachment: Attachment) -> tuple[str, str, bytes, str]:
        for key in ("Content", "ContentType", "Filename"):
            if not given(getattr(attachment, key)):
                raise self.missing(f"Attachment->{key}  parameter is missing!")
        mime, charset = content_type_parts(attachment.ContentType)
        if not MIME_TYPE.match(mime) or (charset and not _known_charset(charset)):
            raise self.invalid("Attachment->ContentType is invalid!")
        try:
            content = base64.b64decode("".join(attachment.Content.split()), validate=True)
        except (binascii.Error, ValueError):
            raise self.invalid("Attachment->Content is not valid base64!") from None
        return attachment.Filename, attachment.ContentType, content, attachment.Disposition or "attachment"

    # -- dynamic fields ------------------------------------------------------------------------------

    def dynamic_field(self, tx: Transaction, item: DynamicField) -> tuple[Row, list[str]]:
        # Znuny's words, two spaces included
        if not given(item.Name):
            raise self.missing("DynamicField->Name  parameter is missing!")
        if item.Value is None:
            raise self.missing("DynamicField->Value  parameter is missing!")
        field = catalog.dynamic_field_by_name(tx, item.Name)
        if field is None or field["valid_id"] != 1 or field["object_type"] not in ("Ticket", "Article"):
            raise self.invalid("DynamicField->Name parameter is invalid!")
        values = [str(v) for v in item.Value or []]
        if not _valid_field_values(field, values):
            raise self.invalid("DynamicField->Value parameter is invalid!")
        return field, values


def given(value: Any) -> bool:
    return value is not None and str(value).strip() != ""


def has_data(item: Any) -> bool:
    """Znuny's IsHashRefWithData for a structure of the request: given, with a value in some field.

    A string, number or list sent where the structure belongs arrives as one without data.
    """
    return item is not None and any(getattr(item, name, None) not in (None, "", []) for name in type(item)._type_info)


def _tolerated(defect: Exception) -> bool:
    """What the parser calls obsolete RFC 822 syntax, Znuny's Mail::Address reads and every mail program
    writes: a period in a display name (`Dr. Doe <d@x>`), an empty element (`a@x,,b@y`, a list joined
    with an empty item). Its other defects mean garbage."""
    return isinstance(defect, ObsoleteHeaderDefect)


def _valid_addresses(value: str) -> bool:
    """Znuny's AreEmailAddressesValid, through the stdlib's RFC 5322 parser: a comma-separated list of
    addresses, display names allowed; anything it reports a defect for (garbage, ";") is not, but for
    obsolete syntax (_tolerated). Stricter than Znuny's ValidateFrom in one way: Znuny checks only the
    first address of a From ("a@x, garbage" passes there), here every one must be an address."""
    if not value or "\r" in value or "\n" in value:
        return False
    header = ADDRESS_LIST("To", value)
    return (
        all(_tolerated(defect) for defect in header.defects)
        and bool(header.addresses)
        and all(is_address(address.addr_spec) for address in header.addresses)
    )


COMPOSE_MESSAGES = {
    ComposeError.INLINE_HTML: "Article->Sign/Crypt SubType Inline needs a text/plain body; use Detached!",
    ComposeError.INLINE_ATTACHMENTS: "Article->Crypt SubType Inline cannot encrypt attachments; use Detached!",
}
_CRYPTO_MESSAGES = {
    CryptoError.INVALID_TYPE: "Article->{field}->Type parameter is invalid!",
    CryptoError.INVALID_SUBTYPE: "Article->{field}->SubType parameter is invalid!",
    CryptoError.NO_KEY_GIVEN: "Article->{field}->Key parameter is missing!",
    CryptoError.INLINE_CONFLICT: "Article->Crypt: PGP Inline encryption works on the body text; it cannot carry a"
    " Detached or S/MIME signature (sign PGP Inline too, or encrypt Detached)!",
    CryptoError.MALFORMED_KEY: "Article->{field}->Key {key} is not {malformed}!",
    CryptoError.UNKNOWN_KEY: "Article->{field}->Key {key} is not in the {store}!",
    CryptoError.AMBIGUOUS_KEY: "Article->{field}->Key {key} is ambiguous (give the 40-digit fingerprint)!",
    CryptoError.UNUSABLE_KEY: "Article->{field}->Key {key} is {detail}!",
    CryptoError.INCAPABLE_KEY: "Article->{field}->Key {key} cannot {detail}!",
    CryptoError.NO_SECRET: "Article->{field}->Key {key} has no {secret}!",
    CryptoError.BAD_PASSPHRASE: "Article->{field}->Key {key}: the stored passphrase does not open its private key!",
    CryptoError.NO_RECIPIENTS: "Article->Crypt: no recipients to encrypt to!",
    CryptoError.NO_RECIPIENT_KEY: "Article->Crypt: no {noun} for recipient {detail}!",
    CryptoError.FAILED: "Article->{field}: {detail}",
}


def crypto_message(error: CryptoError) -> str:
    """Znuny's words (and ours, in its style, where Znuny has none) for a Sign/Crypt the mail layer refuses."""
    return _CRYPTO_MESSAGES.get(error.kind, "Article->{field}: {detail}").format(**error.words())


def _protection(value: Any) -> Protection | None:
    """Sign/Crypt count only when they carry data (as in Znuny)."""
    if value is None:
        return None
    fields = [str(getattr(value, key, None) or "").strip() for key in ("Type", "SubType", "Key")]
    return Protection(*fields) if any(fields) else None


def _known_charset(charset: str) -> bool:
    try:
        codecs.lookup(charset)
    except LookupError:
        return False
    return bool(charset)


def _valid_field_values(field: Row, values: list[str]) -> bool:
    kind = field["field_type"]
    possible = json.loads(field["config"] or "{}").get("PossibleValues", {})
    if kind in ("Text", "TextArea", "Checkbox", "Date", "DateTime", "Dropdown") and len(values) > 1:
        return False
    if kind == "Dropdown":
        return all(v in possible or v == "" for v in values)
    if kind == "Multiselect":
        return all(v in possible for v in values)
    if kind == "Checkbox":
        return all(v in ("0", "1") for v in values)
    if kind in ("Date", "DateTime"):
        return all(timestamp(v) is not None for v in values)
    return True
