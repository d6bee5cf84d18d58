"""Every refusal gateway raises, in one leaf module that imports nothing of ours.

A `GatewayError` says what is wrong with what someone asked for, in words meant for them;
anything else that escapes is a bug and keeps its traceback. Each layer raises the kind
that fits and leaves the wording of the wire to the operation: an operation maps a kind
to its Znuny code (`<Op>.InvalidParameter`, ...) and the console prints it as one line.
"""

from __future__ import annotations

from typing import ClassVar


class GatewayError(Exception):
    """A refusal with a message for the person who asked."""


class ClientTimeoutError(TimeoutError):
    """The client did not send its request in time (gateway's gunicorn worker raises it from wsgi.input)."""


class SettingsError(GatewayError):
    """The settings file or a GATEWAY_* variable holds a value gateway cannot use."""


class DatabaseUnavailableError(GatewayError):
    """The database cannot be used right now (unreachable, its connection lost, its lock held too long).

    Nothing was written. `retry_after` is the seconds until the database will be tried again;
    the wire answers 503 with it as Retry-After, the console prints the reason.
    """

    def __init__(self, reason: str, retry_after: int = 1) -> None:
        super().__init__(f"the database is unavailable: {reason}")
        self.retry_after = retry_after


class ConfigError(GatewayError):
    """A web-service configuration (Znuny YAML) that cannot be served."""


class AdminError(GatewayError):
    """An administrator's request that cannot be done (unknown login, duplicate name, ...)."""


class MailError(GatewayError):
    """An article that cannot become the e-mail it asks for; nothing is stored."""


class ComposeError(MailError):
    """The message cannot be written in the form asked for; `kind` says why."""

    INLINE_HTML = "Inline protection needs a text/plain body; use Detached"
    INLINE_ATTACHMENTS = "Inline encryption cannot encrypt attachments; use Detached"

    def __init__(self, kind: str) -> None:
        self.kind = kind
        super().__init__(kind)


class CryptoError(MailError):
    """A key or certificate problem, as facts for whoever words it.

    `kind` is one of the names below; `field` the part of the article it concerns ("Sign" or
    "Crypt", "" for the key store itself); `scheme` "PGP" or "SMIME"; `key` the key as it was
    given; `detail` the rest (a recipient, a key's state, what gpg or OpenSSL said). str() is a
    plain sentence for the console; the ticket operations word Znuny's messages from the facts.
    """

    INVALID_TYPE = "invalid type"
    INVALID_SUBTYPE = "invalid subtype"
    NO_KEY_GIVEN = "no key given"
    INLINE_CONFLICT = "inline conflict"  # PGP Inline encryption asked with a Detached or S/MIME signature
    MALFORMED_KEY = "malformed key"  # no PGP key ID or fingerprint, no S/MIME certificate hash
    UNKNOWN_KEY = "unknown key"
    AMBIGUOUS_KEY = "ambiguous key"
    UNUSABLE_KEY = "unusable key"  # detail: its state ("expired", "revoked", "not yet valid")
    INCAPABLE_KEY = "incapable key"  # detail: what it cannot do ("sign", "encrypt")
    NO_SECRET = "no secret"  # a PGP key without its secret part, a certificate without its private key
    BAD_PASSPHRASE = "bad passphrase"  # the stored passphrase does not open the private key
    NO_RECIPIENTS = "no recipients"
    NO_RECIPIENT_KEY = "no recipient key"  # detail: the address
    FAILED = "failed"  # detail: what went wrong in gpg or OpenSSL
    STORE = "store"  # the key store refuses an import, addition or deletion; detail: why

    _SENTENCES: ClassVar[dict[str, str]] = {
        INVALID_TYPE: "{field}: the type must be PGP or SMIME",
        INVALID_SUBTYPE: "{field}: the subtype must be Inline or Detached",
        NO_KEY_GIVEN: "{field}: no key given",
        INLINE_CONFLICT: "PGP Inline encryption cannot carry a Detached or S/MIME signature",
        MALFORMED_KEY: "{key} is not {malformed}",
        UNKNOWN_KEY: "{subject} is not in the {store}",
        AMBIGUOUS_KEY: "{subject} is ambiguous (give the 40-digit fingerprint)",
        UNUSABLE_KEY: "{subject} is {detail}",
        INCAPABLE_KEY: "{subject} cannot {detail}",
        NO_SECRET: "{subject} has no {secret}",
        BAD_PASSPHRASE: "{subject}: the stored passphrase does not open its private key",
        NO_RECIPIENTS: "no recipients to encrypt to",
        NO_RECIPIENT_KEY: "no {noun} for recipient {detail}",
        FAILED: "{field}: {detail}",
        STORE: "{detail}",
    }

    def __init__(self, kind: str, detail: str = "", *, field: str = "", scheme: str = "", key: str = "") -> None:
        self.kind, self.detail, self.field, self.scheme, self.key = kind, detail, field, scheme, key
        super().__init__(self._SENTENCES[kind].format(**self.words()))

    def words(self) -> dict[str, str]:
        """The facts and the nouns of their scheme, for the sentences that word them."""
        pgp = self.scheme != "SMIME"
        noun = "PGP key" if pgp else "S/MIME certificate"
        return {
            "kind": self.kind,
            "detail": self.detail,
            "field": self.field,
            "key": self.key,
            "noun": noun,
            "subject": f"{noun} {self.key}",
            "store": "key store" if pgp else "certificate store",
            "secret": "secret key" if pgp else "private key",
            "malformed": "a PGP key ID or fingerprint" if pgp else "an S/MIME certificate hash",
        }


class CSVError(GatewayError):
    """An OutOfOffice CSV that is unusable as a whole; `message` is Znuny's text plus the detail."""

    def __init__(self, message: str, detail: str = "") -> None:
        self.message = f"{message} {detail}".strip()
        super().__init__(self.message)
