"""PGP: the gpg binary through python-gnupg on a keyring of the gateway's own (settings.gnupghome).

Everything PGP in one place: the keyring and its listing cache, which key a Sign or Crypt names and
whether it may do that now, PGP/MIME (RFC 3156) and inline signing and encryption, and the key store
the console imports into, lists and deletes from.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypedDict

import gnupg

from gateway.errors import CryptoError
from gateway.mail import mime
from gateway.mail.address import address_of
from gateway.mail.crypto.files import write_private
from gateway.mail.crypto.plan import PGP, Plan, Signer

# gpg's hash algorithm numbers (RFC 4880 9.4) as RFC 3156 micalg names them
PGP_HASHES = {"1": "md5", "2": "sha1", "3": "ripemd160", "8": "sha256", "9": "sha384", "10": "sha512", "11": "sha224"}
PASSPHRASE_DIR = "gateway-passphrases"
# the agent must not cache passphrases: a wrong passphrase would pass a check after a right one;
# s2k-count is the cheapest protection gpg allows for the keys it stores: the passphrase lies beside the
# key anyway (to sign unattended), and the calibrated default costs ~0.5 s per signature on a small machine
AGENT_CONF = "default-cache-ttl 0\nmax-cache-ttl 0\nallow-loopback-pinentry\ns2k-count 65536\n"
_KEY_ID = re.compile(r"^(?:0X)?([0-9A-F]{8}|[0-9A-F]{16}|[0-9A-F]{40})$")


class KeyRow(TypedDict):
    """A PGP key as the console lists it."""

    fingerprint: str
    keyid: str
    uid: str
    uids: list[str]
    secret: bool
    expires: str
    state: str


# -- key listing -------------------------------------------------------------------------------------


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
        write_private(agent_conf, AGENT_CONF.encode())


def _kill_agent(home: str) -> None:
    subprocess.run(["gpgconf", "--homedir", home, "--kill", "gpg-agent"], capture_output=True, check=False)


# -- the keyring -------------------------------------------------------------------------------------


class PgpKeyring:
    """One keyring and what is done with its keys; cheap to create (gpg starts on first use)."""

    def __init__(self, home: str) -> None:
        self.home = home
        self._gpg: gnupg.GPG | None = None

    @property
    def gpg(self) -> gnupg.GPG:
        if self._gpg is None:
            _prepare_home(self.home)
            self._gpg = _new_gpg(self.home)
        return self._gpg

    def keys(self) -> list[PgpKey]:
        """The keyring's keys, listed once per process and change of the keyring (see _ListingCache)."""
        return _LISTINGS.get(self.home, self.gpg)

    def find(self, ref: str, field: str) -> PgpKey:
        wanted = _pgp_ref(ref, field)
        matches = [key for key in self.keys() if any(sub.fingerprint.endswith(wanted) for sub in key.subkeys)]
        if not matches:
            raise CryptoError(CryptoError.UNKNOWN_KEY, field=field, scheme=PGP, key=ref)
        if len(matches) > 1:
            raise CryptoError(CryptoError.AMBIGUOUS_KEY, field=field, scheme=PGP, key=ref)
        return matches[0]

    # -- planning ------------------------------------------------------------------------------------

    def signer(self, ref: str) -> Signer:
        key = self.find(ref, "Sign")
        _require_pgp(key, "s", "Sign", ref)
        if not key.secret:
            raise CryptoError(CryptoError.NO_SECRET, field="Sign", scheme=PGP, key=ref)
        return Signer(key.fingerprint, self._stored_passphrase(key.fingerprint))

    def recipients(self, ref: str, recipients: Sequence[str]) -> tuple[str, ...]:
        """The fingerprints to encrypt to: the key ref names, else each recipient's newest usable key."""
        if ref:
            key = self.find(ref, "Crypt")
            _require_pgp(key, "e", "Crypt", ref)
            return (key.fingerprint,)
        if not recipients:
            raise CryptoError(CryptoError.NO_RECIPIENTS, field="Crypt", scheme=PGP)
        now = time.time()
        keys = self.keys()
        found = []
        for address in recipients:
            usable = [key for key in keys if address.lower() in key.addresses() and key.can("e", now)]
            if not usable:
                raise CryptoError(CryptoError.NO_RECIPIENT_KEY, address, field="Crypt", scheme=PGP)
            found.append(max(usable, key=lambda key: key.created).fingerprint)
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

    def sign(self, plan: Plan, entity: bytes) -> bytes:
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

    def encrypt(self, plan: Plan, entity: bytes) -> bytes:
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

    # -- key store -----------------------------------------------------------------------------------

    def _passphrase_file(self, fingerprint: str) -> Path:
        return Path(self.home, PASSPHRASE_DIR, fingerprint)

    def _stored_passphrase(self, fingerprint: str) -> str | None:
        path = self._passphrase_file(fingerprint)
        return path.read_text(encoding="utf-8") if path.exists() else None

    def import_keys(self, data: bytes, passphrase: str | None) -> list[KeyRow]:
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
                write_private(path, passphrase.encode())
        imported = set(result.fingerprints)
        return [_key_row(key) for key in self.keys() if key.fingerprint in imported]

    def list_keys(self) -> list[KeyRow]:
        return [_key_row(key) for key in self.keys()]

    def delete_key(self, key: str) -> None:
        """Delete a key, its secret part and its stored passphrase."""
        found = self.find(key, "")
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


# -- helpers -----------------------------------------------------------------------------------------


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
