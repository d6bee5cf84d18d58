"""PGP keys and S/MIME certificates for the tests, made fresh by the real gpg and openssl (nothing secret is committed).

Fixtures (tests/conftest.py):
  keys             session: a KeyMaterial, generated once into a short /tmp directory, removed at the end.
  crypto_settings  function: Settings whose key stores (gnupghome, smime_cert_dir, smime_private_dir) are a
                   fresh copy of stores populated through the Crypto API with: our PGP signing key and its
                   passphrase (keys.pgp_signer), the recipient's public key (keys.pgp_recipient), the expired
                   and the revoked public keys, our S/MIME signer certificate + private key
                   (keys.smime_signer), the recipient's certificate and the expired certificate.

For a gunicorn server (any fixture scope), populate stores of its own and pass them in the environment:

    stores = make_stores(keys, short_tempdir("gws"))                 # a Settings with the three paths
    env = {**os.environ, **store_env(stores), ...}                   # GATEWAY_GNUPGHOME, GATEWAY_SMIME_*_DIR
    ...
    remove_stores(stores)                                             # stops its gpg-agent, deletes it

Requests then use Sign {Type: PGP, Key: keys.pgp_signer.keyid} or {Type: SMIME, Key: keys.smime_signer.hash},
Crypt {Type: PGP|SMIME} with To: keys.pgp_recipient.address / keys.smime_recipient.address (or Key:
keys.pgp_recipient.keyid / keys.smime_recipient.hash). A recipient checks the result with
gpg --homedir keys.recipient_home (holds the recipient's secret key and our public key) or with openssl and
keys.ca_cert, keys.smime_recipient.cert, keys.smime_recipient.key (unencrypted).
GNUPGHOME paths must stay short (the gpg-agent socket lives there): always create them under /tmp.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import tempfile
from pathlib import Path

from gateway.mail.crypto import Crypto
from gateway.settings import Settings

CA_CONFIG = """\
[ca]
default_ca = test_ca

[test_ca]
dir = {dir}
database = $dir/index.txt
new_certs_dir = $dir/issued
serial = $dir/serial
certificate = $dir/ca.pem
private_key = $dir/ca.key
default_md = sha256
policy = loose
unique_subject = no

[loose]
commonName = supplied
emailAddress = optional

[smime]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = emailProtection
subjectAltName = email:copy
"""


@dataclasses.dataclass(frozen=True)
class PgpIdentity:
    address: str
    fingerprint: str
    public_file: Path  # ASCII-armoured public key
    secret_file: Path | None = None  # ASCII-armoured secret key (protected by passphrase when set)
    passphrase: str | None = None

    @property
    def keyid(self) -> str:
        """The 16-digit key ID; keyid[-8:] is the short form Znuny's examples use."""
        return self.fingerprint[-16:]


@dataclasses.dataclass(frozen=True)
class SmimeIdentity:
    address: str
    cert: Path  # PEM
    key: Path  # PEM; encrypted with passphrase when set
    hash: str  # `openssl x509 -hash`: the Key of a request
    passphrase: str | None = None


@dataclasses.dataclass(frozen=True)
class KeyMaterial:
    directory: Path
    recipient_home: Path  # GNUPGHOME of the recipient: its secret key and our public key
    pgp_signer: PgpIdentity  # ed25519, sign only, passphrase-protected
    pgp_recipient: PgpIdentity  # ed25519 + cv25519; secret only in recipient_home (secret_file for import tests)
    pgp_expired: PgpIdentity  # made in 2020 with one day to live
    pgp_revoked: PgpIdentity  # its revocation certificate applied
    ca_cert: Path
    smime_signer: SmimeIdentity
    smime_recipient: SmimeIdentity
    smime_expired: SmimeIdentity  # valid 2020-01-01 to 2020-01-02


def run(*args: str | Path, stdin: bytes | None = None, env: dict[str, str] | None = None) -> bytes:
    done = subprocess.run([str(arg) for arg in args], input=stdin, capture_output=True, env=env, timeout=120)
    if done.returncode:
        raise RuntimeError(f"{' '.join(map(str, args))}: {done.stderr.decode(errors='replace')}")
    return done.stdout


def gpg(home: Path, *args: str | Path, stdin: bytes | None = None) -> bytes:
    return run("gpg", "--homedir", home, "--batch", "--pinentry-mode", "loopback", *args, stdin=stdin)


def new_home(parent: Path, name: str) -> Path:
    home = parent / name
    home.mkdir(mode=0o700)
    return home


def kill_agent(home: Path) -> None:
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], capture_output=True, check=False)


def _fingerprint(home: Path, address: str) -> str:
    for line in gpg(home, "--with-colons", "--list-keys", f"<{address}>").decode().splitlines():
        if line.startswith("fpr:"):
            return line.split(":")[9]
    raise RuntimeError(f"no key for {address} in {home}")


def _pgp_key(
    home: Path, out: Path, name: str, address: str, passphrase: str, *spec: str, faked_time: str | None = None
) -> PgpIdentity:
    faked = ["--faked-system-time", faked_time] if faked_time else []
    gpg(home, *faked, "--passphrase", passphrase, "--quick-gen-key", f"{name} <{address}>", *spec)
    fingerprint = _fingerprint(home, address)
    public_file, secret_file = out / f"{address}.pub.asc", out / f"{address}.sec.asc"
    public_file.write_bytes(gpg(home, "--armor", "--export", fingerprint))
    secret_file.write_bytes(gpg(home, "--armor", "--passphrase", passphrase, "--export-secret-keys", fingerprint))
    return PgpIdentity(address, fingerprint, public_file, secret_file, passphrase or None)


def _revoke(home: Path, key: PgpIdentity) -> PgpIdentity:
    """Apply the revocation certificate gpg wrote at creation, then export the revoked public key again."""
    certificate = (home / "openpgp-revocs.d" / f"{key.fingerprint}.rev").read_text()
    gpg(home, "--import", stdin=certificate.replace(":-----BEGIN", "-----BEGIN").encode())
    key.public_file.write_bytes(gpg(home, "--armor", "--export", key.fingerprint))
    return key


def _pgp(directory: Path) -> tuple[Path, PgpIdentity, PgpIdentity, PgpIdentity, PgpIdentity]:
    out = directory / "pgp"
    out.mkdir()
    maker, recipient_home = new_home(directory, "g"), new_home(directory, "r")
    try:
        signer = _pgp_key(maker, out, "Gateway Signer", "signer@gateway.test", "signer-secret", "ed25519", "sign", "0")
        expired = _pgp_key(
            maker,
            out,
            "Expired Key",
            "expired@example.test",
            "",
            "future-default",
            "default",
            "1d",
            faked_time="20200101T000000",
        )
        revoked = _revoke(
            maker, _pgp_key(maker, out, "Revoked Key", "revoked@example.test", "", "future-default", "default", "0")
        )
    finally:
        kill_agent(maker)
    recipient = _pgp_key(
        recipient_home, out, "Rita Recipient", "recipient@example.test", "", "future-default", "default", "0"
    )
    gpg(recipient_home, "--import", signer.public_file)
    return recipient_home, signer, recipient, expired, revoked


def _smime_identity(
    ca_dir: Path, name: str, address: str, passphrase: str | None, validity: tuple[str, ...] = ("-days", "365")
) -> SmimeIdentity:
    stem = ca_dir / address
    protect = ["-passout", f"pass:{passphrase}"] if passphrase else ["-nodes"]
    run(
        "openssl",
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        *protect,
        "-keyout",
        f"{stem}.key",
        "-out",
        f"{stem}.csr",
        "-subj",
        f"/CN={name}/emailAddress={address}",
    )
    run(
        "openssl",
        "ca",
        "-batch",
        "-notext",
        "-config",
        ca_dir / "ca.cnf",
        "-extensions",
        "smime",
        *validity,
        "-in",
        f"{stem}.csr",
        "-out",
        f"{stem}.pem",
    )
    subject_hash = run("openssl", "x509", "-hash", "-noout", "-in", f"{stem}.pem").decode().strip()
    return SmimeIdentity(address, Path(f"{stem}.pem"), Path(f"{stem}.key"), subject_hash, passphrase)


def _smime(directory: Path) -> tuple[Path, SmimeIdentity, SmimeIdentity, SmimeIdentity]:
    ca_dir = directory / "ca"
    (ca_dir / "issued").mkdir(parents=True)
    (ca_dir / "index.txt").write_text("")
    (ca_dir / "serial").write_text("1000\n")
    (ca_dir / "ca.cnf").write_text(CA_CONFIG.format(dir=ca_dir))
    run(
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        ca_dir / "ca.key",
        "-out",
        ca_dir / "ca.pem",
        "-days",
        "3650",
        "-subj",
        "/CN=Gateway Test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    )
    signer = _smime_identity(ca_dir, "Gateway Signer", "signer@gateway.test", "smime-secret")
    recipient = _smime_identity(ca_dir, "Rita Recipient", "recipient@example.test", None)
    expired = _smime_identity(
        ca_dir,
        "Expired Certificate",
        "expired@example.test",
        None,
        ("-startdate", "20200101000000Z", "-enddate", "20200102000000Z"),
    )
    return ca_dir / "ca.pem", signer, recipient, expired


def generate(directory: Path) -> KeyMaterial:
    """Everything the crypto tests need, in directory (short: it holds GNUPGHOMEs)."""
    recipient_home, signer, recipient, expired, revoked = _pgp(directory)
    ca_cert, smime_signer, smime_recipient, smime_expired = _smime(directory)
    return KeyMaterial(
        directory,
        recipient_home,
        signer,
        recipient,
        expired,
        revoked,
        ca_cert,
        smime_signer,
        smime_recipient,
        smime_expired,
    )


def store_settings(directory: Path) -> Settings:
    return Settings(
        gnupghome=str(directory / "gnupg"),
        smime_cert_dir=str(directory / "smime" / "certs"),
        smime_private_dir=str(directory / "smime" / "private"),
    )


def make_stores(keys: KeyMaterial, directory: Path) -> Settings:
    """Key stores in directory, filled through the Crypto API as an administrator would with the console."""
    settings = store_settings(directory)
    crypto = Crypto(settings)
    crypto.pgp_import(keys.pgp_signer.secret_file.read_bytes(), keys.pgp_signer.passphrase)
    for key in (keys.pgp_recipient, keys.pgp_expired, keys.pgp_revoked):
        crypto.pgp_import(key.public_file.read_bytes(), None)
    for identity in (keys.smime_signer, keys.smime_recipient, keys.smime_expired):
        crypto.smime_add_certificate(identity.cert.read_bytes())
    crypto.smime_add_private_key(keys.smime_signer.key.read_bytes(), keys.smime_signer.passphrase)
    return settings


def copy_stores(template: Settings, directory: Path) -> Settings:
    """A copy of populated stores (cheaper than importing again); gpg starts its own agent for it."""
    settings = store_settings(directory)
    shutil.copytree(
        template.gnupghome, settings.gnupghome, ignore=shutil.ignore_patterns("S.*", "*.lock", ".#*", "random_seed")
    )
    shutil.copytree(Path(template.smime_cert_dir).parent, Path(settings.smime_cert_dir).parent)
    return settings


def store_env(settings: Settings) -> dict[str, str]:
    return {
        "GATEWAY_GNUPGHOME": settings.gnupghome,
        "GATEWAY_SMIME_CERT_DIR": settings.smime_cert_dir,
        "GATEWAY_SMIME_PRIVATE_DIR": settings.smime_private_dir,
    }


def remove_stores(settings: Settings) -> None:
    kill_agent(Path(settings.gnupghome))
    shutil.rmtree(Path(settings.gnupghome).parent, ignore_errors=True)


def short_tempdir(prefix: str) -> Path:
    """A directory under /tmp: a GNUPGHOME's agent socket path must stay under about 100 bytes."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


def remove_material(keys: KeyMaterial) -> None:
    kill_agent(keys.recipient_home)
    shutil.rmtree(keys.directory, ignore_errors=True)
