"""Signing and encryption of outgoing mail (ArticleSend's Sign and Crypt), and the key stores behind them.

PGP (pgp.py) runs the gpg binary through python-gnupg on a keyring of the gateway's own; S/MIME
(smime.py) runs OpenSSL through M2Crypto on certificate and private-key directories in Znuny's
layout. Crypto is the one face the rest of the gateway uses: plan() checks a request completely
before anything is written, so a refused request leaves no half-protected mail behind; the
protecting methods then only do what the plan (plan.py) says, with whichever scheme it names.

Wire format (a wrong byte breaks the recipient's signature check): every entity is CRLF and 7-bit,
a signature covers exactly the bytes sent, and protect() returns an entity without MIME-Version so
that the composer's header block stays the only one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gateway.errors import CryptoError
from gateway.mail import mime
from gateway.mail.crypto.pgp import PGP_HASHES, KeyRow, PgpKeyring
from gateway.mail.crypto.plan import DETACHED, INLINE, PGP, SMIME_TYPE, Plan, Protection, Signer, normalise
from gateway.mail.crypto.smime import CertificateRow, SmimeStore
from gateway.settings import Settings

__all__ = [
    "DETACHED",
    "INLINE",
    "PGP",
    "PGP_HASHES",
    "SMIME_TYPE",
    "CertificateRow",
    "Crypto",
    "KeyRow",
    "Plan",
    "Protection",
    "Signer",
]


class Crypto:
    """PGP and S/MIME for one installation's key stores; cheap to create (gpg starts on first use)."""

    def __init__(self, settings: Settings) -> None:
        self.pgp = PgpKeyring(settings.gnupghome)
        self.smime = SmimeStore(Path(settings.smime_cert_dir), Path(settings.smime_private_dir))

    # -- planning ------------------------------------------------------------------------------------

    def plan(self, sign: Protection | None, crypt: Protection | None, recipients: Sequence[str]) -> Plan:
        """Validate everything before anything is written; raise CryptoError."""
        sign = normalise("Sign", sign)
        crypt = normalise("Crypt", crypt)
        if crypt and crypt.pgp_inline and sign and not sign.pgp_inline:
            raise CryptoError(CryptoError.INLINE_CONFLICT, field="Crypt", scheme=PGP)
        signer = None
        if sign:
            signer = self.pgp.signer(sign.key) if sign.type == PGP else self.smime.signer(sign.key)
        found: tuple[str, ...] | tuple[bytes, ...] = ()
        if crypt:
            found = (
                self.pgp.recipients(crypt.key, recipients)
                if crypt.type == PGP
                else self.smime.recipients(crypt.key, recipients)
            )
        return Plan(sign, crypt, signer, found)

    # -- protecting ----------------------------------------------------------------------------------

    def clearsign(self, plan: Plan, text: str) -> str:
        """PGP Inline Sign: the body text clear-signed."""
        return self.pgp.clearsign(plan, text)

    def encrypt_text(self, plan: Plan, text: str) -> str:
        """PGP Inline Crypt: the body text as an ASCII-armoured message, signed inside if Sign is PGP Inline."""
        return self.pgp.encrypt_text(plan, text)

    def protect(self, plan: Plan, entity: bytes) -> bytes:
        """Entity-level protection, sign first then encrypt; skips whatever is PGP Inline."""
        entity = mime.crlf(entity)
        if not entity.isascii():
            raise ValueError("the entity to protect must be 7-bit (quoted-printable or base64 parts)")
        if plan.sign and not plan.sign.pgp_inline:
            entity = self.pgp.sign(plan, entity) if plan.sign.type == PGP else self.smime.sign(plan, entity)
        if plan.crypt and not plan.crypt.pgp_inline:
            entity = self.pgp.encrypt(plan, entity) if plan.crypt.type == PGP else self.smime.encrypt(plan, entity)
        return entity

    # -- key stores ----------------------------------------------------------------------------------

    def pgp_import(self, data: bytes, passphrase: str | None) -> list[KeyRow]:
        """Import public or secret keys; a secret key's passphrase is checked, then kept for signing."""
        return self.pgp.import_keys(data, passphrase)

    def pgp_list(self) -> list[KeyRow]:
        return self.pgp.list_keys()

    def pgp_delete(self, key: str) -> None:
        """Delete a key, its secret part and its stored passphrase."""
        self.pgp.delete_key(key)

    def smime_add_certificate(self, data: bytes) -> str:
        """Store a certificate as hash.N; returns its hash."""
        return self.smime.add_certificate(data)

    def smime_add_private_key(self, data: bytes, passphrase: str) -> str:
        """Store a private key beside its certificate, and its passphrase; returns the certificate's hash."""
        return self.smime.add_private_key(data, passphrase)

    def smime_list(self) -> list[CertificateRow]:
        return self.smime.list_certificates()
