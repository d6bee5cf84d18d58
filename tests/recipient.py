"""What a recipient's tools say of a message: gpg and openssl run on the exact bytes received.

Signed parts are cut out of the message bytes at the delimiters, never re-serialised, as a
verifying mail client must.
"""

from __future__ import annotations

import email
import email.policy
import re
import subprocess
from pathlib import Path

from gateway.mail.crypto import PGP_HASHES
from tests.keys import KeyMaterial


def check_wire(message: bytes) -> None:
    """CRLF everywhere, 7-bit, no line over 998 octets, one header block with one MIME-Version/Content-Type."""
    assert message.isascii()
    assert message.endswith(b"\r\n")
    lines = message.split(b"\r\n")
    assert all(b"\r" not in line and b"\n" not in line for line in lines)
    assert max(len(line) for line in lines) <= 998
    parsed = email.message_from_bytes(message, policy=email.policy.default)
    assert len(parsed.get_all("MIME-Version")) == 1
    assert len(parsed.get_all("Content-Type")) == 1
    assert b"MIME-Version" not in message.split(b"\r\n\r\n", 1)[1]


def header_block(entity: bytes) -> str:
    return entity.split(b"\r\n\r\n", 1)[0].decode()


def parts(entity: bytes) -> list[bytes]:
    """The parts of a multipart entity, cut at the delimiter bytes (RFC 2046: CRLF--boundary)."""
    boundary = re.search(r'boundary="([^"]+)"', header_block(entity)).group(1).encode()
    body = entity.split(b"\r\n\r\n", 1)[1]
    pieces = body.split(b"\r\n--" + boundary)
    assert pieces[-1] == b"--\r\n"
    assert all(piece.startswith(b"\r\n") for piece in pieces[1:-1])
    return [piece[2:] for piece in pieces[1:-1]]


def part_body(part: bytes) -> bytes:
    return part.split(b"\r\n\r\n", 1)[1]


def recipient_gpg(
    keys: KeyMaterial, tmp_path: Path, *args: str | Path, stdin: bytes | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            "gpg",
            "--homedir",
            str(keys.recipient_home),
            "--batch",
            "--pinentry-mode",
            "loopback",
            "--status-fd",
            "2",
            *map(str, args),
        ],
        input=stdin,
        capture_output=True,
        timeout=60,
        cwd=tmp_path,
    )


def openssl(*args: str | Path, stdin: bytes) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *map(str, args)], input=stdin, capture_output=True, timeout=60)


def verify_pgp_detached(keys: KeyMaterial, tmp_path: Path, signed: bytes) -> bytes:
    """Check a multipart/signed entity as a recipient would; returns its signed part 1."""
    first, signature = parts(signed)
    assert "application/pgp-signature" in header_block(signature)
    (tmp_path / "part1").write_bytes(first)
    (tmp_path / "part1.asc").write_bytes(part_body(signature))
    done = recipient_gpg(keys, tmp_path, "--verify", "part1.asc", "part1")
    status = done.stderr.decode()
    assert done.returncode == 0, status
    assert f"VALIDSIG {keys.pgp_signer.fingerprint}" in status
    hash_algo = re.search(r"VALIDSIG \S+ \S+ \S+ \S+ \S+ \S+ \S+ (\d+)", status).group(1)
    micalg = re.search(r"micalg=([\w-]+)", header_block(signed)).group(1)
    assert micalg == f"pgp-{PGP_HASHES[hash_algo]}"
    assert 'protocol="application/pgp-signature"' in header_block(signed)
    return first


def decrypt_pgp_mime(keys: KeyMaterial, tmp_path: Path, encrypted: bytes) -> bytes:
    assert 'protocol="application/pgp-encrypted"' in header_block(encrypted)
    control, payload = parts(encrypted)
    assert header_block(control).startswith("Content-Type: application/pgp-encrypted")
    assert part_body(control) == b"Version: 1\r\n"
    assert header_block(payload).startswith("Content-Type: application/octet-stream")
    done = recipient_gpg(keys, tmp_path, "--decrypt", stdin=part_body(payload))
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def smime_decrypt(keys: KeyMaterial, message: bytes) -> bytes:
    done = openssl(
        "smime", "-decrypt", "-recip", keys.smime_recipient.cert, "-inkey", keys.smime_recipient.key, stdin=message
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def smime_verify(keys: KeyMaterial, message: bytes) -> bytes:
    """Both of openssl's verifiers must accept it as a mail client reads it; returns what they say was signed."""
    outputs = []
    for command in ("smime", "cms"):
        done = openssl(command, "-verify", "-CAfile", keys.ca_cert, stdin=message)
        assert done.returncode == 0, f"{command}: {done.stderr.decode()}"
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    return outputs[0]
