"""The key stores of signed and encrypted mail, as an administrator keeps them (settings only, no database).

Each action opens the stores the settings name. The checks before anything is stored (a
passphrase must open its key, a private key needs its certificate) are the crypto module's,
shared with signing; this is the administrator's way in, for the console and the admin pages.
"""

from __future__ import annotations

from gateway.mail.crypto import CertificateRow, Crypto, KeyRow
from gateway.settings import Settings


def pgp_import(settings: Settings, data: bytes, passphrase: str | None) -> list[KeyRow]:
    return Crypto(settings).pgp_import(data, passphrase)


def pgp_list(settings: Settings) -> list[KeyRow]:
    return Crypto(settings).pgp_list()


def pgp_delete(settings: Settings, key: str) -> None:
    Crypto(settings).pgp_delete(key)


def smime_add_certificate(settings: Settings, data: bytes) -> CertificateRow:
    """Store a certificate; return its listing entry (filename = subject hash and number)."""
    crypto = Crypto(settings)
    before = {cert["filename"] for cert in crypto.smime_list()}
    crypto.smime_add_certificate(data)
    return next(cert for cert in crypto.smime_list() if cert["filename"] not in before)


def smime_add_private_key(settings: Settings, data: bytes, passphrase: str) -> str:
    """Store the private key beside its certificate; return the certificate's subject hash."""
    return Crypto(settings).smime_add_private_key(data, passphrase)


def smime_list(settings: Settings) -> list[CertificateRow]:
    return Crypto(settings).smime_list()
