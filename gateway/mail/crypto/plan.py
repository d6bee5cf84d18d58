"""What a request asks for (Sign, Crypt) and the checked plan both schemes work from.

Kept apart from the schemes, one vocabulary for both: a request may sign with one scheme and encrypt
with the other, and the composer reads the plan knowing neither.
"""

from __future__ import annotations

import dataclasses

from M2Crypto import EVP

from gateway.errors import CryptoError

PGP, SMIME_TYPE = "PGP", "SMIME"
INLINE, DETACHED = "Inline", "Detached"


@dataclasses.dataclass(frozen=True)
class Protection:
    """One Sign or Crypt request as the caller sent it."""

    type: str  # "PGP" or "SMIME" (exact, as Znuny)
    subtype: str  # "Inline" or "Detached"; "" means Detached (Znuny's default)
    key: str  # Sign: required. Crypt: optional; "" = each recipient's key/certificate by address

    @property
    def pgp_inline(self) -> bool:
        return self.type == PGP and self.subtype == INLINE


@dataclasses.dataclass(frozen=True)
class Signer:
    """Our signing identity, resolved at plan time so protecting cannot fail on a missing file."""

    ident: str  # PGP: fingerprint; S/MIME: certificate file name (hash.N)
    passphrase: str | None
    certificate: bytes = b""  # S/MIME: PEM
    private_key: EVP.PKey | None = None  # S/MIME: opened once per process (see smime._open_private_key)


@dataclasses.dataclass(frozen=True)
class Plan:
    """A checked request: normalised Sign/Crypt with their keys resolved."""

    sign: Protection | None
    crypt: Protection | None
    signer: Signer | None = dataclasses.field(default=None, repr=False)  # holds a passphrase
    recipients: tuple[str, ...] | tuple[bytes, ...] = ()  # PGP fingerprints or S/MIME certificates (PEM)

    @property
    def inline(self) -> bool:
        """True when the body text itself is signed or encrypted (clearsign / encrypt_text)."""
        return bool((self.sign and self.sign.pgp_inline) or (self.crypt and self.crypt.pgp_inline))

    @property
    def signing(self) -> tuple[Protection, Signer]:
        """Sign and its signer, which plan() resolves together; for the steps that sign."""
        if self.sign is None or self.signer is None:
            raise ValueError("this plan does not sign")
        return self.sign, self.signer


def normalise(op: str, protection: Protection | None) -> Protection | None:
    """op's request ("Sign" or "Crypt") with Znuny's default subtype and a trimmed key; raise CryptoError."""
    if protection is None:
        return None
    if protection.type not in (PGP, SMIME_TYPE):
        raise CryptoError(CryptoError.INVALID_TYPE, protection.type, field=op)
    subtype = protection.subtype or DETACHED
    if subtype not in (INLINE, DETACHED):
        raise CryptoError(CryptoError.INVALID_SUBTYPE, subtype, field=op, scheme=protection.type)
    key = (protection.key or "").strip()
    if op == "Sign" and not key:
        raise CryptoError(CryptoError.NO_KEY_GIVEN, field=op, scheme=protection.type)
    return Protection(protection.type, subtype, key)
