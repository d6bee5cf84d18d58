"""E-mail addresses as the standard library's RFC 5322 parser reads them, for every caller alike."""

from __future__ import annotations

import email.utils
from email.errors import HeaderParseError
from email.headerregistry import Address


def is_address(value: str) -> bool:
    """A bare address, local@domain, exactly as written.

    Nothing around it (display name, comment, white space), no quoted local part (Znuny's check
    knows none, and it would let `"a,b"@x` through), nothing the parser calls a defect
    ("a..b@x", "a@b.", a non-ASCII local part, which SMTP without SMTPUTF8 cannot carry).
    """
    if not value or '"' in value:
        return False
    try:
        address = Address(addr_spec=value)
    except (ValueError, IndexError, HeaderParseError):  # the parser's defects are ValueErrors
        return False
    return bool(address.username and address.domain) and address.addr_spec == value


def address_of(text: str) -> str | None:
    """The address in a key's user ID, "Any Name <local@domain>" or a bare one, else None.

    A user ID is free text, not an RFC 5322 header: `Doe, John <j@x>` names one person, so the
    address is the last `<...>` (else the whole text), not what an address-list parser makes of it.
    """
    start, end = text.rfind("<"), text.rfind(">")
    address = text[start + 1 : end] if 0 <= start < end else text.strip()
    return address if is_address(address) else None


def display_address(name: str, address: str) -> str:
    """Znuny's `"Full Name" <address>`, the name always in quotes.

    Not email.utils.formataddr: it quotes only names that need it (Znuny's clients read
    `"Cust Omer" <c@x>`) and RFC 2047-encodes non-ASCII names, which is the composer's work
    when the header is written; the article keeps the text. A quote or backslash in the name
    is escaped as RFC 5322 asks (email.utils.quote), so that parsers read the name back whole.
    """
    return f'"{email.utils.quote(name)}" <{address}>'
