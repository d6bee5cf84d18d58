"""Every refusal gateway raises, in one leaf module that imports nothing of ours.

A `GatewayError` says what is wrong with what someone asked for, in words meant for them;
anything else that escapes is a bug and keeps its traceback. Each layer raises the kind
that fits and leaves the wording of the wire to the operation: an operation maps a kind
to its Znuny code (`<Op>.InvalidParameter`, ...) and the console prints it as one line.
"""

from __future__ import annotations


class GatewayError(Exception):
    """A refusal with a message for the person who asked."""


class SettingsError(GatewayError):
    """The settings file or a GATEWAY_* variable holds a value gateway cannot use."""


class ConfigError(GatewayError):
    """A web-service configuration (Znuny YAML) that cannot be served."""


class AdminError(GatewayError):
    """An administrator's request that cannot be done (unknown login, duplicate name, ...)."""


class MailError(GatewayError):
    """An article that cannot become the e-mail it asks for; nothing is stored."""


class ComposeError(MailError):
    """The message cannot be written in the form asked for (e.g. Inline protection of HTML)."""


class CryptoError(MailError):
    """A key or certificate problem: unknown, expired, no secret part, no key for a recipient."""


class CSVError(GatewayError):
    """An OutOfOffice CSV that is unusable as a whole; `message` is Znuny's text plus the detail."""

    def __init__(self, message: str, detail: str = "") -> None:
        self.message = f"{message} {detail}".strip()
        super().__init__(self.message)
