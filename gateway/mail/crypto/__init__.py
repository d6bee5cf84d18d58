"""Signing and encryption of outgoing mail: a package from now on, its names importable from here."""

from gateway.mail.crypto.pgp import PGP_HASHES, CertificateRow, Crypto, KeyRow, Plan, Protection

__all__ = ["PGP_HASHES", "CertificateRow", "Crypto", "KeyRow", "Plan", "Protection"]
