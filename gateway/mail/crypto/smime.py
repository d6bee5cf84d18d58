"""S/MIME: OpenSSL through M2Crypto on certificate and private-key directories in Znuny's layout
(settings.smime_cert_dir, settings.smime_private_dir).

Everything S/MIME in one place: the certificate store and its index cache, private keys and their
passphrases, which certificate a Sign or Crypt names, S/MIME signing and encryption, and the store
the console adds certificates and private keys to and lists.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import os
import re
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypedDict

from M2Crypto import BIO, EVP, SMIME, X509

from gateway.errors import CryptoError
from gateway.mail import mime
from gateway.mail.crypto.files import write_private
from gateway.mail.crypto.plan import DETACHED, SMIME_TYPE, Plan, Signer

SMIME_DIGEST = "sha256"
SMIME_CIPHER = "aes_256_cbc"  # OpenSSL 3 refuses RC2 and DES without the legacy provider
_SMIME_KEY = re.compile(r"^([0-9a-f]{8})(?:\.(\d+))?$")


class CertificateRow(TypedDict):
    """An S/MIME certificate as the console lists it."""

    filename: str
    hash: str
    subject: str
    emails: list[str]
    not_after: str
    state: str
    private: bool


# -- certificates ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SmimeCertificate:
    filename: str  # hash.N, as in Znuny's certificate directory
    pem: bytes
    subject: str
    emails: tuple[str, ...]
    not_before: datetime.datetime
    not_after: datetime.datetime
    public_key: bytes  # DER, to match private keys

    @property
    def hash(self) -> str:
        return self.filename.split(".")[0]

    def state(self, now: datetime.datetime) -> str:
        if now < self.not_before:
            return "not yet valid"
        return "expired" if now > self.not_after else "valid"


def _load_certificate(data: bytes) -> X509.X509:
    try:
        return X509.load_cert_string(data) if b"-----BEGIN" in data else X509.load_cert_der_string(data)
    except (X509.X509Error, ValueError) as error:
        raise CryptoError(CryptoError.STORE, f"not an X.509 certificate: {error}") from None


def _describe_certificate(filename: str, cert: X509.X509) -> SmimeCertificate:
    subject = cert.get_subject()
    emails = [
        entry.get_data().as_text().lower() for entry in subject.get_entries_by_nid(X509.X509_Name.nid["emailAddress"])
    ]
    try:
        alt_names = cert.get_ext("subjectAltName").get_value()
    except LookupError:
        alt_names = ""
    emails += [name.strip()[6:].lower() for name in alt_names.split(",") if name.strip().startswith("email:")]
    return SmimeCertificate(
        filename,
        cert.as_pem(),
        str(subject),
        tuple(dict.fromkeys(emails)),
        cert.get_not_before().get_datetime(),
        cert.get_not_after().get_datetime(),
        cert.get_pubkey().as_der(),
    )


def _subject_hash(cert: X509.X509) -> str:
    """The name `openssl x509 -hash` prints, which Znuny's store uses for file names."""
    return f"{cert.get_subject().as_hash():08x}"


class _CertificateIndex:
    """The certificate store parsed once: lookups by file name, hash and address cost the same for 10 or
    10 000 certificates."""

    def __init__(self, certs: list[SmimeCertificate]) -> None:
        self.certs = certs
        self.by_hash: dict[str, list[SmimeCertificate]] = {}
        self.by_email: dict[str, list[SmimeCertificate]] = {}
        for cert in certs:
            self.by_hash.setdefault(cert.hash, []).append(cert)
            for address in cert.emails:
                self.by_email.setdefault(address, []).append(cert)


class _CertificateCache:
    """The index per certificate directory, rebuilt when files are added or removed (the directory's
    mtime changes; the store never rewrites a certificate file in place)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[Path, tuple[tuple[int, int], _CertificateIndex]] = {}

    def get(self, directory: Path) -> _CertificateIndex:
        try:
            st = directory.stat()
        except FileNotFoundError:
            return _CertificateIndex([])
        stamp = (st.st_ino, st.st_mtime_ns)
        with self._lock:
            cached = self._entries.get(directory)
            if cached and cached[0] == stamp:
                return cached[1]
            certs = [
                _describe_certificate(path.name, _load_certificate(path.read_bytes()))
                for path in sorted(directory.iterdir())
                if _SMIME_KEY.match(path.name) and path.is_file()
            ]
            index = _CertificateIndex(certs)
            self._entries[directory] = (stamp, index)
            return index


_CERTIFICATES = _CertificateCache()


# -- private keys ------------------------------------------------------------------------------------


def _passphrase_callback(passphrase: str) -> Callable[..., bytes]:
    return lambda *_args: passphrase.encode()


@functools.lru_cache(maxsize=64)
def _open_private_key(path: str, mtime_ns: int, size: int, passphrase: str) -> EVP.PKey:
    """Opening an encrypted PEM costs a key derivation (~4 ms): once per process and version of the file."""
    return _load_private_key(Path(path).read_bytes(), passphrase)


def _load_private_key(pem: bytes, passphrase: str) -> EVP.PKey:
    try:
        return EVP.load_key_string(pem, callback=_passphrase_callback(passphrase))
    except (EVP.EVPError, ValueError, TypeError):
        raise CryptoError(
            CryptoError.STORE, "the passphrase does not open the private key (or it is not a PEM private key)"
        ) from None


# -- MIME --------------------------------------------------------------------------------------------


def _pkcs7_part(smime_type: str, der: bytes) -> bytes:
    return (
        f'Content-Type: application/pkcs7-mime; smime-type={smime_type};\r\n\tname="smime.p7m"\r\n'
        "Content-Transfer-Encoding: base64\r\n"
        'Content-Disposition: attachment; filename="smime.p7m"\r\n\r\n'
    ).encode() + mime.base64_lines(der)


def _p7_der(p7: SMIME.PKCS7) -> bytes:
    out = BIO.MemoryBuffer()
    p7.write_der(out)
    return out.read_all()


# -- the store ---------------------------------------------------------------------------------------


class SmimeStore:
    """One certificate store with its private keys, and what is done with them; cheap to create."""

    def __init__(self, cert_dir: Path, private_dir: Path) -> None:
        self.cert_dir = cert_dir
        self.private_dir = private_dir

    def _index(self) -> _CertificateIndex:
        return _CERTIFICATES.get(self.cert_dir)

    def find(self, ref: str, field: str) -> SmimeCertificate:
        """The certificate Key names: hash.N exactly, or among hash.* the valid one lasting longest."""
        match = _SMIME_KEY.match(ref.strip().lower())
        if not match:
            raise CryptoError(CryptoError.MALFORMED_KEY, field=field, scheme=SMIME_TYPE, key=ref)
        candidates = [
            cert
            for cert in self._index().by_hash.get(match.group(1), [])
            if cert.filename == match.group(0) or match.group(2) is None
        ]
        if not candidates:
            raise CryptoError(CryptoError.UNKNOWN_KEY, field=field, scheme=SMIME_TYPE, key=ref)
        now = datetime.datetime.now(datetime.UTC)
        cert = max(candidates, key=lambda cert: (cert.state(now) == "valid", cert.not_after))
        if cert.state(now) != "valid":
            raise CryptoError(CryptoError.UNUSABLE_KEY, cert.state(now), field=field, scheme=SMIME_TYPE, key=ref)
        return cert

    def _passphrase(self, filename: str) -> str:
        """Znuny keeps it in hash.N.P; older OTRS stores in hash.P."""
        for name in (f"{filename}.P", f"{filename.split('.')[0]}.P"):
            path = self.private_dir / name
            if path.exists():
                return path.read_text(encoding="utf-8")
        return ""

    # -- planning ------------------------------------------------------------------------------------

    def signer(self, ref: str) -> Signer:
        cert = self.find(ref, "Sign")
        private = self.private_dir / cert.filename
        if not private.exists():
            raise CryptoError(CryptoError.NO_SECRET, field="Sign", scheme=SMIME_TYPE, key=ref)
        passphrase = self._passphrase(cert.filename)
        st = private.stat()
        try:
            key = _open_private_key(str(private), st.st_mtime_ns, st.st_size, passphrase)
        except CryptoError:
            raise CryptoError(CryptoError.BAD_PASSPHRASE, field="Sign", scheme=SMIME_TYPE, key=ref) from None
        return Signer(cert.filename, passphrase, cert.pem, key)

    def recipients(self, ref: str, recipients: Sequence[str]) -> tuple[bytes, ...]:
        """The certificates to encrypt to: the one ref names, else each recipient's valid one lasting longest."""
        if ref:
            return (self.find(ref, "Crypt").pem,)
        if not recipients:
            raise CryptoError(CryptoError.NO_RECIPIENTS, field="Crypt", scheme=SMIME_TYPE)
        now = datetime.datetime.now(datetime.UTC)
        by_email = self._index().by_email
        found = []
        for address in recipients:
            usable = [cert for cert in by_email.get(address.lower(), []) if cert.state(now) == "valid"]
            if not usable:
                raise CryptoError(CryptoError.NO_RECIPIENT_KEY, address, field="Crypt", scheme=SMIME_TYPE)
            found.append(max(usable, key=lambda cert: cert.not_after).pem)
        return tuple(dict.fromkeys(found))

    # -- protecting ----------------------------------------------------------------------------------

    def sign(self, plan: Plan, entity: bytes) -> bytes:
        """Detached: multipart/signed; Inline: opaque signed-data. Binary mode: the bytes are already canonical."""
        sign, signer = plan.signing
        if signer.private_key is None:
            raise ValueError("an S/MIME signer comes with its private key")
        smime = SMIME.SMIME()
        smime.pkey, smime.x509 = signer.private_key, X509.load_cert_string(signer.certificate)
        detached = sign.subtype == DETACHED
        flags = SMIME.PKCS7_BINARY | (SMIME.PKCS7_DETACHED if detached else 0)
        try:
            der = _p7_der(smime.sign(BIO.MemoryBuffer(entity), flags=flags, algo=SMIME_DIGEST))
        except SMIME.SMIME_Error as error:
            raise CryptoError(
                CryptoError.FAILED, f"S/MIME signing failed: {error}", field="Sign", scheme=SMIME_TYPE
            ) from None
        if not detached:
            return _pkcs7_part("signed-data", der)
        signature = (
            b'Content-Type: application/pkcs7-signature; name="smime.p7s"\r\n'
            b"Content-Transfer-Encoding: base64\r\n"
            b'Content-Disposition: attachment; filename="smime.p7s"\r\n\r\n'
        ) + mime.base64_lines(der)
        content_type = (
            'multipart/signed; protocol="application/pkcs7-signature";\r\n'
            f'\tmicalg="{SMIME_DIGEST[:3]}-{SMIME_DIGEST[3:]}"'
        )
        return mime.multipart(content_type, [entity, signature], "This is an S/MIME signed message")

    def encrypt(self, plan: Plan, entity: bytes) -> bytes:
        stack = X509.X509_Stack()
        for pem in plan.recipients:
            stack.push(X509.load_cert_string(pem))
        smime = SMIME.SMIME()
        smime.set_x509_stack(stack)
        smime.set_cipher(SMIME.Cipher(SMIME_CIPHER))
        try:
            der = _p7_der(smime.encrypt(BIO.MemoryBuffer(entity), flags=SMIME.PKCS7_BINARY))
        except SMIME.SMIME_Error as error:
            raise CryptoError(
                CryptoError.FAILED, f"S/MIME encryption failed: {error}", field="Crypt", scheme=SMIME_TYPE
            ) from None
        return _pkcs7_part("enveloped-data", der)

    # -- store ---------------------------------------------------------------------------------------

    def add_certificate(self, data: bytes) -> str:
        """Store a certificate as hash.N (N the first free index: renewed certificates share the subject)."""
        x509 = _load_certificate(data)
        cert, subject_hash = _describe_certificate("", x509), _subject_hash(x509)
        for known in self._index().certs:
            if known.pem == cert.pem:
                raise CryptoError(CryptoError.STORE, f"the certificate is already in the store as {known.filename}")
        os.makedirs(self.cert_dir, mode=0o700, exist_ok=True)
        index = 0
        while (self.cert_dir / f"{subject_hash}.{index}").exists():
            index += 1
        write_private(self.cert_dir / f"{subject_hash}.{index}", cert.pem)
        return subject_hash

    def add_private_key(self, data: bytes, passphrase: str) -> str:
        """Store a private key beside its certificate (same file name) and its passphrase in hash.N.P."""
        if b"-----BEGIN" not in data:
            raise CryptoError(CryptoError.STORE, "the private key must be PEM")
        public_key = _load_private_key(data, passphrase).as_der()
        matches = [cert for cert in self._index().certs if cert.public_key == public_key]
        if not matches:
            raise CryptoError(
                CryptoError.STORE,
                "no certificate in the store matches this private key; add it first (gateway smime add-certificate)",
            )
        os.makedirs(self.private_dir, mode=0o700, exist_ok=True)
        for cert in matches:
            write_private(self.private_dir / cert.filename, data)
            write_private(self.private_dir / f"{cert.filename}.P", passphrase.encode())
        return matches[0].hash

    def list_certificates(self) -> list[CertificateRow]:
        now = datetime.datetime.now(datetime.UTC)
        return [
            {
                "filename": cert.filename,
                "hash": cert.hash,
                "subject": cert.subject,
                "emails": list(cert.emails),
                "not_after": cert.not_after.strftime("%Y-%m-%d %H:%M:%S"),
                "state": cert.state(now),
                "private": (self.private_dir / cert.filename).exists(),
            }
            for cert in self._index().certs
        ]
