"""gateway.mail.crypto against the real gpg and openssl: what a recipient's tools accept is the test.

Protected entities are wrapped into a whole message (envelope headers + MIME-Version + entity), as the
composer sends them; signed parts are cut out of the message bytes, never re-serialised.
"""

from __future__ import annotations

import base64
import os
import re
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gateway.errors import CryptoError
from gateway.mail.address import address_of
from gateway.mail.crypto import Crypto, Plan, Protection
from gateway.operations.ticket.checks import crypto_message
from gateway.settings import Settings
from tests.conftest import refused, run_console
from tests.keys import KeyMaterial, remove_stores, short_tempdir, store_settings
from tests.recipient import (
    check_wire,
    decrypt_pgp_mime,
    header_block,
    openssl,
    part_body,
    parts,
    recipient_gpg,
    smime_decrypt,
    smime_verify,
    verify_pgp_detached,
)

# "Grüße aus Köln", a line beginning "From " and one with trailing spaces, quoted-printable as composed
TEXT = "Grüße aus Köln\nFrom the gateway, with love\ntrailing spaces   \n-- \nEnde\n"
ENTITY = (
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"Gr=C3=BC=C3=9Fe aus K=C3=B6ln\r\n"
    b"=46rom the gateway, with love\r\n"
    b"trailing spaces  =20\r\n"
    b"--=20\r\n"
    b"Ende\r\n"
)
RECIPIENTS = ["recipient@example.test"]


def wrap(entity: bytes) -> bytes:
    """The message as sent: envelope headers, MIME-Version, then the entity's headers in the same block."""
    return (
        b"From: Gateway Signer <signer@gateway.test>\r\n"
        b"To: Rita Recipient <recipient@example.test>\r\n"
        b"Subject: crypto test\r\n"
        b"MIME-Version: 1.0\r\n"
    ) + entity


@pytest.fixture
def crypto(crypto_settings: Settings) -> Crypto:
    return Crypto(crypto_settings)


def plan(
    crypto: Crypto,
    sign: tuple[str, str, str] | None = None,
    crypt: tuple[str, str, str] | None = None,
    recipients: list[str] = RECIPIENTS,
) -> Plan:
    return crypto.plan(Protection(*sign) if sign else None, Protection(*crypt) if crypt else None, recipients)


# -- PGP -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("subtype", ["Detached", ""])
def test_pgp_detached_signature_verifies(crypto: Crypto, keys: KeyMaterial, tmp_path: Path, subtype: str) -> None:
    the_plan = plan(crypto, sign=("PGP", subtype, keys.pgp_signer.keyid[-8:]))
    assert not the_plan.inline and the_plan.sign.subtype == "Detached"
    message = wrap(crypto.protect(the_plan, ENTITY))
    check_wire(message)
    assert header_block(message).count("multipart/signed") == 1
    assert verify_pgp_detached(keys, tmp_path, message) == ENTITY


def test_pgp_inline_clearsign_verifies(crypto: Crypto, keys: KeyMaterial, tmp_path: Path) -> None:
    the_plan = plan(crypto, sign=("PGP", "Inline", f"0x{keys.pgp_signer.keyid}"))
    assert the_plan.inline
    signed = crypto.clearsign(the_plan, TEXT)
    assert signed.startswith("-----BEGIN PGP SIGNED MESSAGE-----")
    assert crypto.protect(the_plan, ENTITY) == ENTITY  # nothing left to do at entity level
    done = recipient_gpg(keys, tmp_path, "--decrypt", stdin=signed.encode())
    assert done.returncode == 0, done.stderr.decode()
    assert f"VALIDSIG {keys.pgp_signer.fingerprint}" in done.stderr.decode()
    # OpenPGP's cleartext framework signs lines without their trailing white space (RFC 4880 7.1)
    assert done.stdout.decode().splitlines() == [line.rstrip() for line in TEXT.splitlines()]


@pytest.mark.parametrize("key", ["", "recipient"])
def test_pgp_mime_encryption_decrypts(crypto: Crypto, keys: KeyMaterial, tmp_path: Path, key: str) -> None:
    spaced = " ".join(re.findall("....", keys.pgp_recipient.fingerprint)) if key else ""
    message = wrap(crypto.protect(plan(crypto, crypt=("PGP", "Detached", spaced)), ENTITY))
    check_wire(message)
    assert decrypt_pgp_mime(keys, tmp_path, message) == ENTITY


def test_pgp_mime_sign_then_encrypt(crypto: Crypto, keys: KeyMaterial, tmp_path: Path) -> None:
    the_plan = plan(crypto, sign=("PGP", "Detached", keys.pgp_signer.fingerprint), crypt=("PGP", "Detached", ""))
    message = wrap(crypto.protect(the_plan, ENTITY))
    check_wire(message)
    inner = decrypt_pgp_mime(keys, tmp_path, message)
    assert header_block(inner).startswith("Content-Type: multipart/signed")
    assert verify_pgp_detached(keys, tmp_path, inner) == ENTITY


@pytest.mark.parametrize("signed", [False, True])
def test_pgp_inline_encryption(crypto: Crypto, keys: KeyMaterial, tmp_path: Path, signed: bool) -> None:
    sign = ("PGP", "Inline", keys.pgp_signer.keyid) if signed else None
    the_plan = plan(crypto, sign=sign, crypt=("PGP", "Inline", ""))
    armoured = crypto.encrypt_text(the_plan, TEXT)
    assert armoured.startswith("-----BEGIN PGP MESSAGE-----") and armoured.isascii()
    done = recipient_gpg(keys, tmp_path, "--decrypt", stdin=armoured.encode())
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode() == TEXT
    assert (f"VALIDSIG {keys.pgp_signer.fingerprint}" in done.stderr.decode()) is signed


# -- S/MIME ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key_suffix", ["", ".0"])
def test_smime_detached_signature_verifies(crypto: Crypto, keys: KeyMaterial, tmp_path: Path, key_suffix: str) -> None:
    the_plan = plan(crypto, sign=("SMIME", "Detached", keys.smime_signer.hash + key_suffix))
    message = wrap(crypto.protect(the_plan, ENTITY))
    check_wire(message)
    assert 'protocol="application/pkcs7-signature"' in header_block(message)
    assert 'micalg="sha-256"' in header_block(message)
    first, signature = parts(message)
    assert first == ENTITY
    assert header_block(signature).startswith("Content-Type: application/pkcs7-signature")
    assert smime_verify(keys, message) == ENTITY
    # the signature covers part 1 byte for byte: checked in binary mode on the cut-out bytes
    (tmp_path / "part1").write_bytes(first)
    (tmp_path / "smime.p7s").write_bytes(base64.b64decode(part_body(signature)))
    done = openssl(
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        tmp_path / "smime.p7s",
        "-content",
        tmp_path / "part1",
        "-CAfile",
        keys.ca_cert,
        stdin=b"",
    )
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == ENTITY


def test_smime_opaque_signature_verifies(crypto: Crypto, keys: KeyMaterial) -> None:
    message = wrap(crypto.protect(plan(crypto, sign=("SMIME", "Inline", keys.smime_signer.hash)), ENTITY))
    check_wire(message)
    assert "application/pkcs7-mime; smime-type=signed-data" in header_block(message)
    assert smime_verify(keys, message) == ENTITY


@pytest.mark.parametrize("key", ["", "recipient"])
def test_smime_encryption_decrypts(crypto: Crypto, keys: KeyMaterial, key: str) -> None:
    the_plan = plan(crypto, crypt=("SMIME", "", keys.smime_recipient.hash if key else ""))
    message = wrap(crypto.protect(the_plan, ENTITY))
    check_wire(message)
    assert "application/pkcs7-mime; smime-type=enveloped-data" in header_block(message)
    assert "aes-256-cbc" in openssl("cms", "-cmsout", "-print", "-inform", "SMIME", stdin=message).stdout.decode()
    assert smime_decrypt(keys, message) == ENTITY


@pytest.mark.parametrize("subtype", ["Detached", "Inline"])
def test_smime_sign_then_encrypt(crypto: Crypto, keys: KeyMaterial, subtype: str) -> None:
    the_plan = plan(crypto, sign=("SMIME", subtype, keys.smime_signer.hash), crypt=("SMIME", "Detached", ""))
    message = wrap(crypto.protect(the_plan, ENTITY))
    check_wire(message)
    inner = smime_decrypt(keys, message)
    assert smime_verify(keys, wrap(inner)) == ENTITY


def test_smime_signature_inside_pgp_encryption(crypto: Crypto, keys: KeyMaterial, tmp_path: Path) -> None:
    the_plan = plan(crypto, sign=("SMIME", "Detached", keys.smime_signer.hash), crypt=("PGP", "", ""))
    message = wrap(crypto.protect(the_plan, ENTITY))
    check_wire(message)
    assert smime_verify(keys, wrap(decrypt_pgp_mime(keys, tmp_path, message))) == ENTITY


def test_pgp_inline_signature_inside_smime_encryption(crypto: Crypto, keys: KeyMaterial, tmp_path: Path) -> None:
    the_plan = plan(crypto, sign=("PGP", "Inline", keys.pgp_signer.keyid), crypt=("SMIME", "Detached", ""))
    signed = crypto.clearsign(the_plan, TEXT)
    message = wrap(crypto.protect(the_plan, ENTITY))
    assert smime_decrypt(keys, message) == ENTITY
    assert recipient_gpg(keys, tmp_path, "--verify", stdin=signed.encode()).returncode == 0


# -- refusals --------------------------------------------------------------------------------------------


def refusals(keys: KeyMaterial) -> list[tuple[dict, str]]:
    pgp, smime = keys.pgp_signer.keyid, keys.smime_signer.hash
    return [
        ({"sign": ("pgp", "", pgp)}, "Article->Sign->Type parameter is invalid!"),
        ({"crypt": ("X509", "", "")}, "Article->Crypt->Type parameter is invalid!"),
        ({"sign": ("PGP", "inline", pgp)}, "Article->Sign->SubType parameter is invalid!"),
        ({"crypt": ("SMIME", "Attached", "")}, "Article->Crypt->SubType parameter is invalid!"),
        ({"sign": ("PGP", "", " ")}, "Article->Sign->Key parameter is missing!"),
        ({"sign": ("PGP", "", "81877F5")}, "Article->Sign->Key 81877F5 is not a PGP key ID or fingerprint!"),
        ({"sign": ("PGP", "", "signer@gateway.test")}, "is not a PGP key ID or fingerprint!"),
        ({"sign": ("PGP", "", "81877F5E")}, "Article->Sign->Key 81877F5E is not in the key store!"),
        ({"sign": ("PGP", "", keys.pgp_expired.keyid)}, f"Article->Sign->Key {keys.pgp_expired.keyid} is expired!"),
        ({"crypt": ("PGP", "", keys.pgp_expired.keyid)}, "is expired!"),
        (
            {"crypt": ("PGP", "", keys.pgp_revoked.fingerprint)},
            f"Article->Crypt->Key {keys.pgp_revoked.fingerprint} is revoked!",
        ),
        ({"sign": ("PGP", "", keys.pgp_revoked.keyid)}, "is revoked!"),
        ({"sign": ("PGP", "", keys.pgp_recipient.keyid)}, f"Sign->Key {keys.pgp_recipient.keyid} has no secret key!"),
        ({"crypt": ("PGP", "", pgp)}, f"Article->Crypt->Key {pgp} cannot encrypt!"),
        (
            {"crypt": ("PGP", "", ""), "recipients": ["recipient@example.test", "nobody@example.test"]},
            "Article->Crypt: no PGP key for recipient nobody@example.test!",
        ),
        (
            {"crypt": ("PGP", "", ""), "recipients": ["expired@example.test"]},
            "Article->Crypt: no PGP key for recipient expired@example.test!",
        ),
        ({"crypt": ("PGP", "Inline", ""), "sign": ("PGP", "Detached", pgp)}, "PGP Inline encryption"),
        ({"crypt": ("PGP", "Inline", ""), "sign": ("SMIME", "Inline", smime)}, "PGP Inline encryption"),
        (
            {"crypt": ("SMIME", "", ""), "recipients": ["nobody@example.test"]},
            "Article->Crypt: no S/MIME certificate for recipient nobody@example.test!",
        ),
        (
            {"crypt": ("SMIME", "", ""), "recipients": ["expired@example.test"]},
            "no S/MIME certificate for recipient expired@example.test!",
        ),
        ({"crypt": ("SMIME", "", keys.smime_expired.hash)}, f"Crypt->Key {keys.smime_expired.hash} is expired!"),
        (
            {"sign": ("SMIME", "", keys.smime_recipient.hash)},
            f"Sign->Key {keys.smime_recipient.hash} has no private key!",
        ),
        ({"sign": ("SMIME", "", "3b630c80")}, "Article->Sign->Key 3b630c80 is not in the certificate store!"),
        ({"sign": ("SMIME", "", "3b630c8")}, "is not an S/MIME certificate hash!"),
    ]


def test_refusals_name_the_problem(crypto: Crypto, keys: KeyMaterial) -> None:
    """The mail layer states the facts; the ticket operations word them as Znuny does."""
    for request, expected in refusals(keys):
        with pytest.raises(CryptoError) as caught:
            plan(crypto, **request)
        assert expected in crypto_message(caught.value), request
        assert "Article->" not in str(caught.value), request


def test_key_listing_is_cached_until_the_keyring_changes(crypto: Crypto, keys: KeyMaterial) -> None:
    listing = crypto.pgp.keys()
    plan(crypto, sign=("PGP", "", keys.pgp_signer.keyid), crypt=("PGP", "", ""))
    assert crypto.pgp.keys() is listing
    assert Crypto(store_settings(Path(crypto.pgp.home).parent)).pgp.keys() is listing  # per process, not instance
    crypto.pgp_delete(keys.pgp_recipient.keyid)
    assert len(crypto.pgp.keys()) == len(listing) - 1
    with pytest.raises(CryptoError, match=r"no PGP key for recipient recipient@example\.test"):
        plan(crypto, crypt=("PGP", "", ""))


def test_store_files_are_private(crypto_settings: Settings, keys: KeyMaterial) -> None:
    assert stat.S_IMODE(os.stat(crypto_settings.gnupghome).st_mode) == 0o700
    private = Path(crypto_settings.smime_private_dir)
    assert sorted(path.name for path in private.iterdir()) == [
        f"{keys.smime_signer.hash}.0",
        f"{keys.smime_signer.hash}.0.P",
    ]
    passphrases = Path(crypto_settings.gnupghome, "gateway-passphrases")
    files = [*private.iterdir(), *Path(crypto_settings.smime_cert_dir).iterdir(), *passphrases.iterdir()]
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in files)
    assert (passphrases / keys.pgp_signer.fingerprint).read_text() == keys.pgp_signer.passphrase


# -- console ---------------------------------------------------------------------------------------------


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Callable[..., subprocess.CompletedProcess]]:
    """`gateway` on empty key stores of its own."""
    stores = store_settings(short_tempdir("gwc"))
    env = {
        **os.environ,
        "GATEWAY_GNUPGHOME": stores.gnupghome,
        "GATEWAY_SMIME_CERT_DIR": stores.smime_cert_dir,
        "GATEWAY_SMIME_PRIVATE_DIR": stores.smime_private_dir,
        "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path}/absent/never-opened.db",
    }

    def run(*args: str | Path) -> subprocess.CompletedProcess:
        return run_console(*args, env=env)

    yield run
    remove_stores(stores)


def test_console_pgp(console: Callable[..., subprocess.CompletedProcess], keys: KeyMaterial) -> None:
    signer = keys.pgp_signer
    refused(
        console("pgp", "import", "--file", signer.secret_file, "--passphrase", "wrong"),
        f"the passphrase does not unlock the secret key {signer.fingerprint}",
    )
    refused(console("pgp", "import", "--file", signer.secret_file), "is protected: give its passphrase")
    refused(
        console("pgp", "import", "--file", keys.pgp_recipient.public_file, "--passphrase", "x"),
        "the file holds no secret key",
    )
    refused(console("pgp", "import", "--file", keys.ca_cert), "no OpenPGP key found")
    assert console("pgp", "list").stdout == ""  # refusals wrote nothing

    done = console("pgp", "import", "--file", signer.secret_file, "--passphrase", signer.passphrase)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        f"Imported {signer.fingerprint}\t{signer.keyid}\tGateway Signer <signer@gateway.test>\tsecret: yes\n"
    )
    for key in (keys.pgp_recipient, keys.pgp_expired, keys.pgp_revoked):
        done = console("pgp", "import", "--file", key.public_file)
        assert done.returncode == 0 and done.stdout.endswith("\tsecret: no\n"), done.stderr
    lines = console("pgp", "list").stdout.splitlines()
    assert len(lines) == 4
    rows = {line.split("\t")[0]: line.split("\t") for line in lines}
    assert rows[signer.keyid][1:4] == [signer.fingerprint, "Gateway Signer <signer@gateway.test>", "secret"]
    assert rows[signer.keyid][4:] == ["expires never", "valid"]
    assert rows[keys.pgp_recipient.keyid][3:] == ["public", "expires never", "valid"]
    assert rows[keys.pgp_expired.keyid][4:] == ["expires 2020-01-02", "expired"]
    assert rows[keys.pgp_revoked.keyid][5] == "revoked"

    assert console("pgp", "delete", "--key", signer.keyid[-8:]).returncode == 0
    assert signer.keyid not in console("pgp", "list").stdout
    refused(console("pgp", "delete", "--key", signer.keyid), f"PGP key {signer.keyid} is not in the key store")
    refused(console("pgp", "delete", "--key", "nonsense"), "is not a PGP key ID or fingerprint")


def test_console_smime(console: Callable[..., subprocess.CompletedProcess], keys: KeyMaterial) -> None:
    signer = keys.smime_signer
    refused(
        console("smime", "add-private-key", "--file", signer.key, "--passphrase", signer.passphrase),
        "no certificate in the store matches this private key",
    )
    done = console("smime", "add-certificate", "--file", signer.cert)
    assert done.stdout == f"Added certificate {signer.hash}.0\t/CN=Gateway Signer/emailAddress={signer.address}\n"
    refused(console("smime", "add-certificate", "--file", signer.cert), f"already in the store as {signer.hash}.0")
    refused(console("smime", "add-certificate", "--file", keys.pgp_signer.public_file), "not an X.509 certificate")
    refused(
        console("smime", "add-private-key", "--file", signer.key, "--passphrase", "wrong"),
        "the passphrase does not open the private key",
    )
    done = console("smime", "add-private-key", "--file", signer.key, "--passphrase", signer.passphrase)
    assert done.returncode == 0, done.stderr
    assert console("smime", "add-certificate", "--file", keys.smime_expired.cert).returncode == 0
    lines = sorted(console("smime", "list").stdout.splitlines())
    assert len(lines) == 2
    rows = {line.split("\t")[0]: line.split("\t") for line in lines}
    assert rows[f"{signer.hash}.0"][2] == signer.address
    assert rows[f"{signer.hash}.0"][3].endswith("(valid)")
    assert rows[f"{signer.hash}.0"][4] == "private key: yes"
    assert rows[f"{keys.smime_expired.hash}.0"][3] == "not after 2020-01-02 00:00:00 (expired)"
    assert rows[f"{keys.smime_expired.hash}.0"][4] == "private key: no"


@pytest.mark.parametrize(
    ("uid", "address"),
    [
        ("Doe, John <john@example.com>", "john@example.com"),  # a user ID is free text: the comma is the name's
        ("Müller, Jörg (work) <jm@example.com>", "jm@example.com"),
        ("helpdesk@example.com", "helpdesk@example.com"),
        ("Help Desk", None),
    ],
)
def test_a_keys_user_id_names_its_address_whatever_its_name(uid, address):
    """Crypt without Key finds each recipient's PGP key by the address in its user IDs."""
    assert address_of(uid) == address
