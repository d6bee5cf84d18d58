"""Signing and encryption of outgoing mail (ArticleSend's Sign and Crypt), and the key stores behind them.

PGP runs the gpg binary through python-gnupg on a keyring of the gateway's own (settings.gnupghome);
S/MIME runs OpenSSL through M2Crypto on certificate and private-key directories in Znuny's layout
(settings.smime_cert_dir, settings.smime_private_dir). plan() checks a request completely before
anything is written, so a refused request leaves no half-protected mail behind; the protecting
methods then only do what the plan says.

Wire format (a wrong byte breaks the recipient's signature check): every entity is CRLF and 7-bit,
a signature covers exactly the bytes sent, and protect() returns an entity without MIME-Version so
that the composer's header block stays the only one.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypedDict

import gnupg
from M2Crypto import BIO, EVP, SMIME, X509

from gateway.errors import CryptoError
from gateway.mail import mime
from gateway.mail.address import address_of
from gateway.settings import Settings

PGP, SMIME_TYPE = "PGP", "SMIME"
INLINE, DETACHED = "Inline", "Detached"
# gpg's hash algorithm numbers (RFC 4880 9.4) as RFC 3156 micalg names them
PGP_HASHES = {"1": "md5", "2": "sha1", "3": "ripemd160", "8": "sha256", "9": "sha384", "10": "sha512", "11": "sha224"}
SMIME_DIGEST = "sha256"
SMIME_CIPHER = "aes_256_cbc"  # OpenSSL 3 refuses RC2 and DES without the legacy provider
PASSPHRASE_DIR = "gateway-passphrases"
# the agent must not cache passphrases: a wrong passphrase would pass a check after a right one;
# s2k-count is the cheapest protection gpg allows for the keys it stores: the passphrase lies beside the
# key anyway (to sign unattended), and the calibrated default costs ~0.5 s per signature on a small machine
AGENT_CONF = "default-cache-ttl 0\nmax-cache-ttl 0\nallow-loopback-pinentry\ns2k-count 65536\n"
_KEY_ID = re.compile(r"^(?:0X)?([0-9A-F]{8}|[0-9A-F]{16}|[0-9A-F]{40})$")
_SMIME_KEY = re.compile(r"^([0-9a-f]{8})(?:\.(\d+))?$")


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
    private_key: EVP.PKey | None = None  # S/MIME: opened once per process (see _open_private_key)


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


class KeyRow(TypedDict):
    """A PGP key as the console lists it."""

    fingerprint: str
    keyid: str
    uid: str
    uids: list[str]
    secret: bool
    expires: str
    state: str


class CertificateRow(TypedDict):
    """An S/MIME certificate as the console lists it."""

    filename: str
    hash: str
    subject: str
    emails: list[str]
    not_after: str
    state: str
    private: bool


# -- PGP key listing ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PgpSubkey:
    fingerprint: str
    caps: str  # lower-case usage letters of this (sub)key: s sign, e encrypt, c certify, a auth
    expires: int | None
    revoked: bool

    def usable(self, cap: str, now: float) -> bool:
        return cap in self.caps and not self.revoked and (self.expires is None or self.expires > now)


@dataclasses.dataclass(frozen=True)
class PgpKey:
    fingerprint: str
    uids: tuple[str, ...]
    created: int
    expires: int | None
    revoked: bool
    secret: bool
    subkeys: tuple[PgpSubkey, ...]  # the primary key first

    @property
    def keyid(self) -> str:
        return self.fingerprint[-16:]

    def state(self, now: float) -> str:
        if self.revoked:
            return "revoked"
        return "expired" if self.expires is not None and self.expires <= now else "valid"

    def can(self, cap: str, now: float) -> bool:
        """Whether the key (primary or a subkey) can do cap right now; expiry is judged now, not when listed."""
        return self.state(now) == "valid" and any(sub.usable(cap, now) for sub in self.subkeys)

    def addresses(self) -> set[str]:
        return {address.lower() for address in map(address_of, self.uids) if address}


def _epoch(value: str) -> int | None:
    return int(value) if value else None


def _parse_key(raw: Mapping[str, Any], secret: bool) -> PgpKey:  # python-gnupg's listing entry
    primary = PgpSubkey(
        raw["fingerprint"], "".join(c for c in raw["cap"] if c.islower()), _epoch(raw["expires"]), raw["trust"] == "r"
    )
    subkeys = [primary]
    for keyid, _cap, fingerprint, _grip in raw.get("subkeys", []):
        info = raw.get("subkey_info", {}).get(keyid, {})
        subkeys.append(
            PgpSubkey(fingerprint, info.get("cap") or "", _epoch(info.get("expires", "")), info.get("trust") == "r")
        )
    return PgpKey(
        raw["fingerprint"],
        tuple(raw["uids"]),
        int(raw["date"]),
        primary.expires,
        primary.revoked,
        secret,
        tuple(subkeys),
    )


_Stamp = tuple[tuple[str | int | None, ...], ...]  # (name, inode, mtime, size) of each keyring file


class _ListingCache:
    """The parsed key listing per keyring, kept while the keyring files are unchanged.

    A request would otherwise spawn gpg twice just to look keys up; gpg rewrites pubring.kbx (new
    inode) and adds or removes files in private-keys-v1.d on every change, which the stamp sees.
    trustdb.gpg is left out: gpg updates it while listing, and trust is not used (trust model always).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[_Stamp, list[PgpKey]]] = {}

    @staticmethod
    def stamp(home: str) -> _Stamp:
        parts: list[tuple[str | int | None, ...]] = []
        for name in ("pubring.kbx", "pubring.gpg", "private-keys-v1.d"):
            try:
                st = os.stat(os.path.join(home, name))
                parts.append((name, st.st_ino, st.st_mtime_ns, st.st_size))
            except FileNotFoundError:
                parts.append((name, None))
        return tuple(parts)

    def get(self, home: str, gpg: gnupg.GPG) -> list[PgpKey]:
        with self._lock:
            stamp = self.stamp(home)
            cached = self._entries.get(home)
            if cached and cached[0] == stamp:
                return cached[1]
            secret = {raw["fingerprint"] for raw in gpg.list_keys(secret=True)}
            keys = [_parse_key(raw, raw["fingerprint"] in secret) for raw in gpg.list_keys()]
            self._entries[home] = (stamp, keys)
            return keys


_LISTINGS = _ListingCache()


def _new_gpg(home: str) -> gnupg.GPG:
    """gpg on home, never asking a pinentry: passphrases come on a file descriptor (loopback)."""
    return gnupg.GPG(gnupghome=home, options=["--pinentry-mode", "loopback"])


def _prepare_home(home: str) -> None:
    os.makedirs(home, mode=0o700, exist_ok=True)
    os.chmod(home, 0o700)
    agent_conf = os.path.join(home, "gpg-agent.conf")
    if not os.path.exists(agent_conf):
        _write_private(agent_conf, AGENT_CONF.encode())


def _kill_agent(home: str) -> None:
    subprocess.run(["gpgconf", "--homedir", home, "--kill", "gpg-agent"], capture_output=True, check=False)


def _write_private(path: str | Path, data: bytes) -> None:
    """Write a file only its owner can read: keys and passphrases."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(path, 0o600)


# -- S/MIME store ------------------------------------------------------------------------------------


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


def _passphrase_callback(passphrase: str) -> Callable[..., bytes]:
    return lambda *_args: passphrase.encode()


@functools.lru_cache(maxsize=64)
def _open_private_key(path: str, mtime_ns: int, size: int, passphrase: str) -> EVP.PKey:
    """Opening an encrypted PEM costs a key derivation (~4 ms): once per process and version of the file."""
    return _load_private_key(Path(path).read_bytes(), passphrase)


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


# -- the module's face -------------------------------------------------------------------------------


class Crypto:
    """PGP and S/MIME for one installation's key stores; cheap to create (gpg starts on first use)."""

    def __init__(self, settings: Settings) -> None:
        self.gnupghome = settings.gnupghome
        self.cert_dir = Path(settings.smime_cert_dir)
        self.private_dir = Path(settings.smime_private_dir)
        self._gpg: gnupg.GPG | None = None

    # -- planning ------------------------------------------------------------------------------------

    def plan(self, sign: Protection | None, crypt: Protection | None, recipients: Sequence[str]) -> Plan:
        """Validate everything before anything is written; raise CryptoError."""
        sign = _normalise("Sign", sign)
        crypt = _normalise("Crypt", crypt)
        if crypt and crypt.pgp_inline and sign and not sign.pgp_inline:
            raise CryptoError(CryptoError.INLINE_CONFLICT, field="Crypt", scheme=PGP)
        signer = None
        if sign:
            signer = self._pgp_signer(sign.key) if sign.type == PGP else self._smime_signer(sign.key)
        found: tuple[str, ...] | tuple[bytes, ...] = ()
        if crypt:
            found = (
                self._pgp_recipients(crypt.key, recipients)
                if crypt.type == PGP
                else self._smime_recipients(crypt.key, recipients)
            )
        return Plan(sign, crypt, signer, found)

    def _pgp_signer(self, ref: str) -> Signer:
        key = self._pgp_find(ref, "Sign")
        _require_pgp(key, "s", "Sign", ref)
        if not key.secret:
            raise CryptoError(CryptoError.NO_SECRET, field="Sign", scheme=PGP, key=ref)
        return Signer(key.fingerprint, self._stored_passphrase(key.fingerprint))

    def _pgp_recipients(self, ref: str, recipients: Sequence[str]) -> tuple[str, ...]:
        if ref:
            key = self._pgp_find(ref, "Crypt")
            _require_pgp(key, "e", "Crypt", ref)
            return (key.fingerprint,)
        if not recipients:
            raise CryptoError(CryptoError.NO_RECIPIENTS, field="Crypt", scheme=PGP)
        now = time.time()
        keys = self._pgp_keys()
        found = []
        for address in recipients:
            usable = [key for key in keys if address.lower() in key.addresses() and key.can("e", now)]
            if not usable:
                raise CryptoError(CryptoError.NO_RECIPIENT_KEY, address, field="Crypt", scheme=PGP)
            found.append(max(usable, key=lambda key: key.created).fingerprint)
        return tuple(dict.fromkeys(found))

    def _smime_signer(self, ref: str) -> Signer:
        cert = self._smime_find(ref, "Sign")
        private = self.private_dir / cert.filename
        if not private.exists():
            raise CryptoError(CryptoError.NO_SECRET, field="Sign", scheme=SMIME_TYPE, key=ref)
        passphrase = self._smime_passphrase(cert.filename)
        st = private.stat()
        try:
            key = _open_private_key(str(private), st.st_mtime_ns, st.st_size, passphrase)
        except CryptoError:
            raise CryptoError(CryptoError.BAD_PASSPHRASE, field="Sign", scheme=SMIME_TYPE, key=ref) from None
        return Signer(cert.filename, passphrase, cert.pem, key)

    def _smime_recipients(self, ref: str, recipients: Sequence[str]) -> tuple[bytes, ...]:
        if ref:
            return (self._smime_find(ref, "Crypt").pem,)
        if not recipients:
            raise CryptoError(CryptoError.NO_RECIPIENTS, field="Crypt", scheme=SMIME_TYPE)
        now = datetime.datetime.now(datetime.UTC)
        by_email = _CERTIFICATES.get(self.cert_dir).by_email
        found = []
        for address in recipients:
            usable = [cert for cert in by_email.get(address.lower(), []) if cert.state(now) == "valid"]
            if not usable:
                raise CryptoError(CryptoError.NO_RECIPIENT_KEY, address, field="Crypt", scheme=SMIME_TYPE)
            found.append(max(usable, key=lambda cert: cert.not_after).pem)
        return tuple(dict.fromkeys(found))

    # -- protecting ----------------------------------------------------------------------------------

    def clearsign(self, plan: Plan, text: str) -> str:
        """PGP Inline Sign: the text clear-signed (gpg dash-escapes and escapes "From " lines itself)."""
        if not (plan.sign and plan.sign.pgp_inline):
            raise ValueError("clearsign() needs a plan with Sign PGP Inline")
        _, signer = plan.signing
        result = self.gpg.sign(text.encode(), keyid=signer.ident, passphrase=signer.passphrase, clearsign=True)
        _check_gpg(result, "Sign", "sign")
        signed: str = result.data.decode()
        return signed

    def encrypt_text(self, plan: Plan, text: str) -> str:
        """PGP Inline Crypt: an ASCII-armoured message; signed inside (one gpg call) when Sign is PGP Inline
        too, so the text is then not clear-signed first.

        The recipients' keys carry no owner trust: importing a key into the gateway's own keyring is the
        administrator's trust decision, so gpg is told to trust every key it has (trust model always).
        """
        if not (plan.crypt and plan.crypt.pgp_inline):
            raise ValueError("encrypt_text() needs a plan with Crypt PGP Inline")
        signer = plan.signer if plan.sign and plan.sign.pgp_inline else None
        result = self.gpg.encrypt(
            text.encode(),
            list(plan.recipients),
            always_trust=True,
            armor=True,
            sign=signer.ident if signer else None,
            passphrase=signer.passphrase if signer else None,
        )
        _check_gpg(result, "Crypt", "encrypt")
        encrypted: str = result.data.decode()
        return encrypted

    def protect(self, plan: Plan, entity: bytes) -> bytes:
        """Entity-level protection, sign first then encrypt; skips whatever is PGP Inline."""
        entity = mime.crlf(entity)
        if not entity.isascii():
            raise ValueError("the entity to protect must be 7-bit (quoted-printable or base64 parts)")
        if plan.sign and not plan.sign.pgp_inline:
            entity = self._pgp_sign(plan, entity) if plan.sign.type == PGP else self._smime_sign(plan, entity)
        if plan.crypt and not plan.crypt.pgp_inline:
            entity = self._pgp_encrypt(plan, entity) if plan.crypt.type == PGP else self._smime_encrypt(plan, entity)
        return entity

    def _pgp_sign(self, plan: Plan, entity: bytes) -> bytes:
        """RFC 3156 multipart/signed; the detached signature covers part 1 byte for byte (CRLF, headers)."""
        _, signer = plan.signing
        result = self.gpg.sign(entity, keyid=signer.ident, passphrase=signer.passphrase, detach=True, clearsign=False)
        _check_gpg(result, "Sign", "sign")
        micalg = PGP_HASHES.get(str(result.hash_algo))
        if micalg is None:
            raise CryptoError(
                CryptoError.FAILED,
                f"gpg used hash algorithm {result.hash_algo}, unknown to PGP/MIME!",
                field="Sign",
                scheme=PGP,
            )
        signature = (
            b'Content-Type: application/pgp-signature; name="signature.asc"\r\n'
            b"Content-Description: OpenPGP digital signature\r\n"
            b'Content-Disposition: attachment; filename="signature.asc"\r\n\r\n'
        ) + mime.crlf(result.data)
        content_type = f'multipart/signed; micalg=pgp-{micalg};\r\n\tprotocol="application/pgp-signature"'
        return mime.multipart(
            content_type, [entity, signature], "This is an OpenPGP/MIME signed message (RFC 4880 and 3156)"
        )

    def _pgp_encrypt(self, plan: Plan, entity: bytes) -> bytes:
        """RFC 3156 multipart/encrypted (trust model always: see encrypt_text)."""
        result = self.gpg.encrypt(entity, list(plan.recipients), always_trust=True, armor=True)
        _check_gpg(result, "Crypt", "encrypt")
        control = (
            b"Content-Type: application/pgp-encrypted\r\n"
            b"Content-Description: PGP/MIME version identification\r\n\r\nVersion: 1\r\n"
        )
        payload = (
            b'Content-Type: application/octet-stream; name="encrypted.asc"\r\n'
            b"Content-Description: OpenPGP encrypted message\r\n"
            b'Content-Disposition: inline; filename="encrypted.asc"\r\n\r\n'
        ) + mime.crlf(result.data)
        content_type = 'multipart/encrypted;\r\n\tprotocol="application/pgp-encrypted"'
        return mime.multipart(
            content_type, [control, payload], "This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)"
        )

    def _smime_sign(self, plan: Plan, entity: bytes) -> bytes:
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

    def _smime_encrypt(self, plan: Plan, entity: bytes) -> bytes:
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

    # -- PGP key store -------------------------------------------------------------------------------

    @property
    def gpg(self) -> gnupg.GPG:
        if self._gpg is None:
            _prepare_home(self.gnupghome)
            self._gpg = _new_gpg(self.gnupghome)
        return self._gpg

    def _pgp_keys(self) -> list[PgpKey]:
        return _LISTINGS.get(self.gnupghome, self.gpg)

    def _pgp_find(self, ref: str, field: str) -> PgpKey:
        wanted = _pgp_ref(ref, field)
        matches = [key for key in self._pgp_keys() if any(sub.fingerprint.endswith(wanted) for sub in key.subkeys)]
        if not matches:
            raise CryptoError(CryptoError.UNKNOWN_KEY, field=field, scheme=PGP, key=ref)
        if len(matches) > 1:
            raise CryptoError(CryptoError.AMBIGUOUS_KEY, field=field, scheme=PGP, key=ref)
        return matches[0]

    def _passphrase_file(self, fingerprint: str) -> Path:
        return Path(self.gnupghome, PASSPHRASE_DIR, fingerprint)

    def _stored_passphrase(self, fingerprint: str) -> str | None:
        path = self._passphrase_file(fingerprint)
        return path.read_text(encoding="utf-8") if path.exists() else None

    def pgp_import(self, data: bytes, passphrase: str | None) -> list[KeyRow]:
        """Import public or secret keys; a secret key's passphrase is checked, then kept for signing.

        The keys are tried in a scratch keyring first, so a refused import leaves the store untouched.
        """
        secret_fingerprints = _check_import(data, passphrase)
        result = self.gpg.import_keys(data)
        if not result.fingerprints:
            raise CryptoError(CryptoError.STORE, f"gpg could not import the keys: {_gpg_problem(result)}")
        for fingerprint in secret_fingerprints:
            path = self._passphrase_file(fingerprint)
            if passphrase is None:
                path.unlink(missing_ok=True)
            else:
                os.makedirs(path.parent, mode=0o700, exist_ok=True)
                _write_private(path, passphrase.encode())
        imported = set(result.fingerprints)
        return [_key_row(key) for key in self._pgp_keys() if key.fingerprint in imported]

    def pgp_list(self) -> list[KeyRow]:
        return [_key_row(key) for key in self._pgp_keys()]

    def pgp_delete(self, key: str) -> None:
        """Delete a key, its secret part and its stored passphrase."""
        found = self._pgp_find(key, "")
        if found.secret:
            result = self.gpg.delete_keys(found.fingerprint, secret=True, expect_passphrase=False)
            if str(result) != "ok":
                raise CryptoError(
                    CryptoError.STORE, f"gpg could not delete the secret key {found.fingerprint}: {result}"
                )
        result = self.gpg.delete_keys(found.fingerprint)
        if str(result) != "ok":
            raise CryptoError(CryptoError.STORE, f"gpg could not delete the key {found.fingerprint}: {result}")
        self._passphrase_file(found.fingerprint).unlink(missing_ok=True)

    # -- S/MIME store --------------------------------------------------------------------------------

    def _smime_certificates(self) -> list[SmimeCertificate]:
        return _CERTIFICATES.get(self.cert_dir).certs

    def _smime_find(self, ref: str, field: str) -> SmimeCertificate:
        """The certificate Key names: hash.N exactly, or among hash.* the valid one lasting longest."""
        match = _SMIME_KEY.match(ref.strip().lower())
        if not match:
            raise CryptoError(CryptoError.MALFORMED_KEY, field=field, scheme=SMIME_TYPE, key=ref)
        candidates = [
            cert
            for cert in _CERTIFICATES.get(self.cert_dir).by_hash.get(match.group(1), [])
            if cert.filename == match.group(0) or match.group(2) is None
        ]
        if not candidates:
            raise CryptoError(CryptoError.UNKNOWN_KEY, field=field, scheme=SMIME_TYPE, key=ref)
        now = datetime.datetime.now(datetime.UTC)
        cert = max(candidates, key=lambda cert: (cert.state(now) == "valid", cert.not_after))
        if cert.state(now) != "valid":
            raise CryptoError(CryptoError.UNUSABLE_KEY, cert.state(now), field=field, scheme=SMIME_TYPE, key=ref)
        return cert

    def _smime_passphrase(self, filename: str) -> str:
        """Znuny keeps it in hash.N.P; older OTRS stores in hash.P."""
        for name in (f"{filename}.P", f"{filename.split('.')[0]}.P"):
            path = self.private_dir / name
            if path.exists():
                return path.read_text(encoding="utf-8")
        return ""

    def smime_add_certificate(self, data: bytes) -> str:
        """Store a certificate as hash.N (N the first free index: renewed certificates share the subject)."""
        x509 = _load_certificate(data)
        cert, subject_hash = _describe_certificate("", x509), _subject_hash(x509)
        for known in self._smime_certificates():
            if known.pem == cert.pem:
                raise CryptoError(CryptoError.STORE, f"the certificate is already in the store as {known.filename}")
        os.makedirs(self.cert_dir, mode=0o700, exist_ok=True)
        index = 0
        while (self.cert_dir / f"{subject_hash}.{index}").exists():
            index += 1
        _write_private(self.cert_dir / f"{subject_hash}.{index}", cert.pem)
        return subject_hash

    def smime_add_private_key(self, data: bytes, passphrase: str) -> str:
        """Store a private key beside its certificate (same file name) and its passphrase in hash.N.P."""
        if b"-----BEGIN" not in data:
            raise CryptoError(CryptoError.STORE, "the private key must be PEM")
        public_key = _load_private_key(data, passphrase).as_der()
        matches = [cert for cert in self._smime_certificates() if cert.public_key == public_key]
        if not matches:
            raise CryptoError(
                CryptoError.STORE,
                "no certificate in the store matches this private key; add it first (gateway smime add-certificate)",
            )
        os.makedirs(self.private_dir, mode=0o700, exist_ok=True)
        for cert in matches:
            _write_private(self.private_dir / cert.filename, data)
            _write_private(self.private_dir / f"{cert.filename}.P", passphrase.encode())
        return matches[0].hash

    def smime_list(self) -> list[CertificateRow]:
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
            for cert in self._smime_certificates()
        ]


# -- helpers -----------------------------------------------------------------------------------------


def _normalise(op: str, protection: Protection | None) -> Protection | None:
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


def _pgp_ref(ref: str, field: str) -> str:
    """A key ID (8 or 16 hex digits, optional 0x) or a fingerprint (40 hex digits, spaces allowed)."""
    match = _KEY_ID.match(re.sub(r"\s+", "", ref).upper())
    if not match:
        raise CryptoError(CryptoError.MALFORMED_KEY, field=field, scheme=PGP, key=ref)
    return match.group(1)


def _require_pgp(key: PgpKey, cap: str, field: str, ref: str) -> None:
    now = time.time()
    state = key.state(now)
    if state != "valid":
        raise CryptoError(CryptoError.UNUSABLE_KEY, state, field=field, scheme=PGP, key=ref)
    if not key.can(cap, now):
        raise CryptoError(
            CryptoError.INCAPABLE_KEY, "sign" if cap == "s" else "encrypt", field=field, scheme=PGP, key=ref
        )


def _key_row(key: PgpKey) -> KeyRow:
    expires = time.strftime("%Y-%m-%d", time.gmtime(key.expires)) if key.expires else "never"
    return {
        "fingerprint": key.fingerprint,
        "keyid": key.keyid,
        "uid": key.uids[0] if key.uids else "",
        "uids": list(key.uids),
        "secret": key.secret,
        "expires": expires,
        "state": key.state(time.time()),
    }


def _gpg_problem(result: object) -> str:
    lines = [
        line
        for line in (getattr(result, "stderr", "") or "").splitlines()
        if line.startswith("gpg:") or "[GNUPG:] FAILURE" in line or "[GNUPG:] ERROR" in line
    ]
    return getattr(result, "status", None) or (lines[-1] if lines else "unknown error")


def _check_gpg(result: object, field: str, verb: str) -> None:
    if not result:
        raise CryptoError(CryptoError.FAILED, f"gpg could not {verb}: {_gpg_problem(result)}!", field=field, scheme=PGP)


def _check_import(data: bytes, passphrase: str | None) -> list[str]:
    """Import into a scratch keyring; check each secret key's passphrase by signing. Returns the secret keys."""
    home = tempfile.mkdtemp(prefix="gwi", dir="/tmp" if os.path.isdir("/tmp") else None)
    try:
        _prepare_home(home)
        gpg = _new_gpg(home)
        result = gpg.import_keys(data)
        if not result.fingerprints:
            raise CryptoError(CryptoError.STORE, "no OpenPGP key found in the file")
        secret = list(gpg.list_keys(secret=True))
        if passphrase is not None and not secret:
            raise CryptoError(CryptoError.STORE, "a passphrase was given, but the file holds no secret key")
        for raw in secret:
            key = _parse_key(raw, True)
            if not key.can("s", time.time()):
                continue
            signed = gpg.sign(
                b"passphrase check", keyid=key.fingerprint, passphrase=passphrase, detach=True, clearsign=False
            )
            if not signed:
                raise CryptoError(
                    CryptoError.STORE,
                    f"the passphrase does not unlock the secret key {key.fingerprint}"
                    if passphrase is not None
                    else f"the secret key {key.fingerprint} is protected: give its passphrase (--passphrase)",
                )
        return [raw["fingerprint"] for raw in secret]
    finally:
        _kill_agent(home)
        shutil.rmtree(home, ignore_errors=True)
