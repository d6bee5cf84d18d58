"""The ticket connector's request and response models, with the type names of Znuny's WSDL.

Field order follows Znuny's WSDL where it has one, so clients generated from that WSDL read
our answers in sequence (Znuny itself sends keys alphabetically, and such clients lose fields).
`__json__` records where Znuny's JSON types differ from the XML schema's (IDs that are "" when
unset, decimal time units, single items sent bare).
"""

from __future__ import annotations

import re

from spyne import Integer, Unicode

from gateway.jsonquirks import AS_GIVEN, ID_OR_EMPTY, NUMBER, ONE_OR_MANY
from gateway.operations.types import Error, TicketConnectorModel

MANY = {"max_occurs": "unbounded"}
CREDENTIALS = [("UserLogin", Unicode), ("CustomerUserLogin", Unicode), ("SessionID", Unicode), ("Password", Unicode)]


class PendingTime(TicketConnectorModel):
    __type_name__ = "OTRS_PendingTime"
    _type_info = [
        ("Year", Unicode),
        ("Month", Unicode),
        ("Day", Unicode),
        ("Hour", Unicode),
        ("Minute", Unicode),
        ("Diff", Unicode),
    ]

    @classmethod
    def from_text(cls, text: str) -> dict[str, str]:
        """Beyond Znuny: "YYYY-MM-DD HH:MM[:SS]" as well as the structure (a malformed one stays invalid)."""
        found = re.fullmatch(r"\s*(\d{4})-(\d{1,2})-(\d{1,2})[ T](\d{1,2}):(\d{2})(?::\d{2})?\s*", text)
        if found is None:
            return {"Diff": "invalid"}
        return dict(zip(("Year", "Month", "Day", "Hour", "Minute"), found.groups(), strict=True))


class DynamicField(TicketConnectorModel):
    __type_name__ = "OTRS_DynamicField"
    __json__ = {"Value": ONE_OR_MANY}
    _type_info = [("Name", Unicode), ("Value", Unicode.customize(**MANY))]


class Attachment(TicketConnectorModel):
    __type_name__ = "OTRS_Attachment"
    _type_info = [("Content", Unicode), ("ContentType", Unicode), ("Filename", Unicode), ("Disposition", Unicode)]


class ArticleSecurity(TicketConnectorModel):
    """ArticleSend's Sign and Crypt: {Type: PGP|SMIME, SubType: Inline|Detached, Key}."""

    __type_name__ = "OTRS_ArticleSecurity"
    _type_info = [("Type", Unicode), ("SubType", Unicode), ("Key", Unicode)]


TICKET_FIELDS = [
    ("Title", Unicode),
    ("QueueID", Unicode),
    ("Queue", Unicode),
    ("LockID", Unicode),
    ("Lock", Unicode),
    ("TypeID", Unicode),
    ("Type", Unicode),
    ("ServiceID", Unicode),
    ("Service", Unicode),
    ("SLAID", Unicode),
    ("SLA", Unicode),
    ("StateID", Unicode),
    ("State", Unicode),
    ("PriorityID", Unicode),
    ("Priority", Unicode),
    ("OwnerID", Unicode),
    ("Owner", Unicode),
    ("ResponsibleID", Unicode),
    ("Responsible", Unicode),
    ("CustomerUser", Unicode),
    ("CustomerID", Unicode),
    ("PendingTime", PendingTime),
]


class TicketCreateTicket(TicketConnectorModel):
    __type_name__ = "OTRS_TicketCreate_Ticket"
    _type_info = TICKET_FIELDS


class TicketUpdateTicket(TicketConnectorModel):
    __type_name__ = "OTRS_TicketUpdate_Ticket"
    _type_info = TICKET_FIELDS


class Article(TicketConnectorModel):
    __type_name__ = "OTRS_Article"
    _type_info = [
        ("CommunicationChannel", Unicode),
        ("CommunicationChannelID", Unicode),
        ("IsVisibleForCustomer", Unicode),
        ("SenderTypeID", Unicode),
        ("SenderType", Unicode),
        ("AutoResponseType", Unicode),
        ("From", Unicode),
        ("To", Unicode),
        ("Cc", Unicode),
        ("Bcc", Unicode),
        ("Subject", Unicode),
        ("Body", Unicode),
        ("ContentType", Unicode),
        ("MimeType", Unicode),
        ("Charset", Unicode),
        ("HistoryType", Unicode),
        ("HistoryComment", Unicode),
        ("TimeUnit", Unicode),
        ("NoAgentNotify", Unicode),
        ("ForceNotificationToUserID", Unicode.customize(**MANY)),
        ("ExcludeNotificationToUserID", Unicode.customize(**MANY)),
        ("ExcludeMuteNotificationToUserID", Unicode.customize(**MANY)),
        ("DynamicField", DynamicField.customize(**MANY)),
        ("Attachment", Attachment.customize(**MANY)),
        ("ArticleSend", Unicode),
        ("Sign", ArticleSecurity),
        ("Crypt", ArticleSecurity),
    ]


class TicketCreateRequest(TicketConnectorModel):
    __type_name__ = "TicketCreate"
    _type_info = [
        *CREDENTIALS,
        ("Ticket", TicketCreateTicket),
        ("Article", Article.customize(**MANY)),
        ("DynamicField", DynamicField.customize(**MANY)),
        ("Attachment", Attachment.customize(**MANY)),
    ]


# -- TicketGet ---------------------------------------------------------------------------------------------


class AttachmentData(TicketConnectorModel):
    __type_name__ = "OTRS_TicketGetResponse_Attachment"
    _type_info = [
        ("FileID", Unicode),
        ("Content", Unicode),
        ("ContentAlternative", Unicode),
        ("ContentID", Unicode),
        ("ContentType", Unicode),
        ("Filename", Unicode),
        ("FilesizeRaw", Unicode),
        ("Disposition", Unicode),
    ]


class DynamicFieldData(TicketConnectorModel):
    __type_name__ = "OTRS_TicketGetResponse_DynamicField"
    __json__ = {"Value": ONE_OR_MANY}
    _type_info = [("Name", Unicode), ("Value", Unicode.customize(**MANY))]


class ArticleDelivery(TicketConnectorModel):
    """Beyond Znuny: what became of an article sent as e-mail (queued, sent or failed, last SMTP reply)."""

    __type_name__ = "OTRS_TicketGetResponse_ArticleDelivery"
    _type_info = [
        ("State", Unicode),
        ("Attempts", Integer),
        ("SMTPCode", Integer),
        ("SMTPMessage", Unicode),
        ("Time", Unicode),
    ]


class ArticleData(TicketConnectorModel):
    __type_name__ = "OTRS_TicketGetResponse_Article"
    __json__ = {"TimeUnit": NUMBER}
    _type_info = [
        ("ArticleID", Integer),
        ("ArticleNumber", Integer),
        ("Attachment", AttachmentData.customize(**MANY)),
        ("Bcc", Unicode),
        ("Body", Unicode),
        ("Cc", Unicode),
        ("ChangeBy", Integer),
        ("ChangeTime", Unicode),
        ("Charset", Unicode),
        ("CommunicationChannel", Unicode),
        ("CommunicationChannelID", Integer),
        ("ContentCharset", Unicode),
        ("ContentType", Unicode),
        ("CreateBy", Integer),
        ("CreateTime", Unicode),
        ("Delivery", ArticleDelivery),
        ("DynamicField", DynamicFieldData.customize(**MANY)),
        ("From", Unicode),
        ("InReplyTo", Unicode),
        ("IncomingTime", Integer),
        ("IsVisibleForCustomer", Integer),
        ("MessageID", Unicode),
        ("MimeType", Unicode),
        ("References", Unicode),
        ("ReplyTo", Unicode),
        ("SenderType", Unicode),
        ("SenderTypeID", Unicode),
        ("Subject", Unicode),
        ("TicketID", Integer),
        ("TimeUnit", Unicode),
        ("To", Unicode),
    ]


class TicketData(TicketConnectorModel):
    __type_name__ = "OTRS_TicketGetResponse_Ticket"
    __json__ = {"SLAID": ID_OR_EMPTY, "ServiceID": ID_OR_EMPTY, "TimeUnit": NUMBER}
    _type_info = [
        ("Age", Integer),
        ("ArchiveFlag", Unicode),
        ("Article", ArticleData.customize(**MANY)),
        ("ChangeBy", Integer),
        ("Changed", Unicode),
        ("CreateBy", Integer),
        ("Created", Unicode),
        ("CustomerID", Unicode),
        ("CustomerUserID", Unicode),
        ("DynamicField", DynamicFieldData.customize(**MANY)),
        ("EscalationResponseTime", Integer),
        ("EscalationSolutionTime", Integer),
        ("EscalationTime", Integer),
        ("EscalationUpdateTime", Integer),
        ("GroupID", Integer),
        ("Lock", Unicode),
        ("LockID", Integer),
        ("Owner", Unicode),
        ("OwnerID", Integer),
        ("Priority", Unicode),
        ("PriorityID", Integer),
        ("Queue", Unicode),
        ("QueueID", Integer),
        ("RealTillTimeNotUsed", Integer),
        ("Responsible", Unicode),
        ("ResponsibleID", Integer),
        ("SLA", Unicode),
        ("SLAID", Unicode),
        ("Service", Unicode),
        ("ServiceID", Unicode),
        ("State", Unicode),
        ("StateID", Integer),
        ("StateType", Unicode),
        ("TicketID", Integer),
        ("TicketNumber", Unicode),
        ("Title", Unicode),
        ("Type", Unicode),
        ("TimeUnit", Unicode),
        ("TypeID", Integer),
        ("UnlockTimeout", Integer),
        ("UntilTime", Integer),
    ]


class IncludedTicket(TicketData):
    """IncludeTicketData's ticket: TicketGet's data, with one article sent as an object."""

    __type_name__ = "OTRS_IncludedTicket"
    __json__ = {**TicketData.__json__, "Article": ONE_OR_MANY}


class TicketGetRequest(TicketConnectorModel):
    __type_name__ = "TicketGet"
    _type_info = [
        *CREDENTIALS,
        ("TicketID", Unicode.customize(**MANY)),
        ("DynamicFields", Unicode),
        ("Extended", Unicode),
        ("AllArticles", Unicode),
        ("ArticleSenderType", Unicode.customize(**MANY)),
        ("ArticleOrder", Unicode),
        ("ArticleLimit", Unicode),
        ("Attachments", Unicode),
        ("GetAttachmentContents", Unicode),
        ("HTMLBodyAsAttachment", Unicode),
    ]


class TicketGetResponse(TicketConnectorModel):
    __type_name__ = "TicketGetResponse"
    _type_info = [("Ticket", TicketData.customize(**MANY)), ("Error", Error)]


class TicketCreateResponse(TicketConnectorModel):
    __type_name__ = "TicketCreateResponse"
    __json__ = {"ArticleID": (ONE_OR_MANY, AS_GIVEN)}
    _type_info = [
        ("TicketID", Unicode),
        ("TicketNumber", Unicode),
        ("ArticleID", Integer.customize(**MANY)),
        ("Ticket", IncludedTicket),
        ("Error", Error),
    ]


# -- TicketSearch ------------------------------------------------------------------------------------------


class SearchDynamicField(TicketConnectorModel):
    """One dynamic-field condition; the operators are ANDed, values inside one operator ORed."""

    __type_name__ = "OTRS_TicketSearch_DynamicField"
    _type_info = [("Name", Unicode), ("Empty", Unicode)] + [
        (op, Unicode.customize(**MANY))
        for op in ("Equals", "Like", "GreaterThan", "GreaterThanEquals", "SmallerThan", "SmallerThanEquals")
    ]


SEARCH_LISTS = [
    "TicketNumber",
    "TicketID",
    "Title",
    "Queues",
    "QueueIDs",
    "Types",
    "TypeIDs",
    "States",
    "StateIDs",
    "StateType",
    "StateTypeIDs",
    "Priorities",
    "PriorityIDs",
    "Services",
    "ServiceIDs",
    "SLAs",
    "SLAIDs",
    "Locks",
    "LockIDs",
    "OwnerIDs",
    "ResponsibleIDs",
    "CreatedUserIDs",
    "WatchUserIDs",
    "CustomerID",
    "CustomerIDRaw",
    "SortBy",
    "OrderBy",
]
SEARCH_TIMES = [
    f"{prefix}{suffix}"
    for prefix in (
        "TicketCreateTime",
        "TicketChangeTime",
        "TicketLastChangeTime",
        "TicketCloseTime",
        "TicketPendingTime",
        "ArticleCreateTime",
    )
    for suffix in ("NewerDate", "OlderDate", "NewerMinutes", "OlderMinutes")
]
SEARCH_TEXT = [
    "From",
    "To",
    "Cc",
    "Subject",
    "Body",
    "MIMEBase_From",
    "MIMEBase_To",
    "MIMEBase_Cc",
    "MIMEBase_Subject",
    "MIMEBase_Body",
    "Fulltext",
    "ContentSearch",
    "UseSubQueues",
    "SearchInArchive",
    "Limit",
]


class TicketSearchRequest(TicketConnectorModel):
    """CustomerUserLogin is both a credential and, for agents, a criterion (as in Znuny)."""

    __type_name__ = "TicketSearch"
    # Znuny's legacy form `DynamicField_<Name>: {Equals: ...}` is read into DynamicField entries
    __json_prefixed__ = ("DynamicField_", "DynamicField", "Name")
    _type_info = [
        *CREDENTIALS,
        *[(name, Unicode.customize(**MANY)) for name in SEARCH_LISTS],
        *[(name, Unicode) for name in SEARCH_TIMES + SEARCH_TEXT],
        ("DynamicField", SearchDynamicField.customize(**MANY)),
    ]


class TicketSearchResponse(TicketConnectorModel):
    __type_name__ = "TicketSearchResponse"
    _type_info = [("TicketID", Unicode.customize(**MANY)), ("Error", Error)]


# -- TicketUpdate ------------------------------------------------------------------------------------------


class TicketUpdateRequest(TicketConnectorModel):
    __type_name__ = "TicketUpdate"
    _type_info = [
        *CREDENTIALS,
        ("TicketID", Unicode),
        ("TicketNumber", Unicode),
        ("Ticket", TicketUpdateTicket),
        ("Article", Article.customize(**MANY)),
        ("DynamicField", DynamicField.customize(**MANY)),
        ("Attachment", Attachment.customize(**MANY)),
    ]


class TicketUpdateResponse(TicketConnectorModel):
    __type_name__ = "TicketUpdateResponse"
    __json__ = {"ArticleID": AS_GIVEN}
    _type_info = [
        ("TicketID", Unicode),
        ("TicketNumber", Unicode),
        ("ArticleID", Integer),
        ("ArticleIDs", Integer.customize(**MANY)),
        ("Ticket", IncludedTicket),
        ("Error", Error),
    ]


# -- TicketHistoryGet --------------------------------------------------------------------------------------


class HistoryLine(TicketConnectorModel):
    __type_name__ = "OTRS_TicketHistoryGetResponse_History"
    _type_info = [
        ("ArticleID", Integer),
        ("CreateBy", Integer),
        ("CreateTime", Unicode),
        ("HistoryType", Unicode),
        ("HistoryTypeID", Integer),
        ("Name", Unicode),
        ("OwnerID", Integer),
        ("PriorityID", Integer),
        ("QueueID", Integer),
        ("StateID", Integer),
        ("TicketID", Unicode),
        ("TypeID", Integer),
    ]


class TicketHistory(TicketConnectorModel):
    __type_name__ = "OTRS_TicketHistoryGetResponse_TicketHistory"
    _type_info = [("TicketID", Unicode), ("History", HistoryLine.customize(**MANY))]


class TicketHistoryGetRequest(TicketConnectorModel):
    __type_name__ = "TicketHistoryGet"
    _type_info = [*CREDENTIALS, ("TicketID", Unicode.customize(**MANY))]


class TicketHistoryGetResponse(TicketConnectorModel):
    __type_name__ = "TicketHistoryGetResponse"
    _type_info = [("TicketHistory", TicketHistory.customize(**MANY)), ("Error", Error)]
