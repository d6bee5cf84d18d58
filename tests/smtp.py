"""A real SMTP server for the tests: aiosmtpd on loopback, recording what it accepts byte for byte."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Iterator

from aiosmtpd.controller import Controller

from tests.conftest import free_port


@dataclasses.dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes


class Recorder:
    """An SMTP handler that records what it accepts and answers as told."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.data_replies: list[str | None] = []  # one per DATA, first to last; None accepts
        self.refuse: dict[str, str] = {}  # recipient -> RCPT reply
        self.delay = 0.0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.delay:
            await asyncio.sleep(self.delay)
        reply = self.data_replies.pop(0) if self.data_replies else None
        if reply:
            return reply
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 2.0.0 Ok: queued"


@dataclasses.dataclass
class Smtp:
    port: int
    handler: Recorder


@contextlib.contextmanager
def start_smtp(port: int | None = None, **kwargs) -> Iterator[Smtp]:
    """An aiosmtpd server on 127.0.0.1 until the block ends (kwargs go to aiosmtpd's Controller)."""
    handler = Recorder()
    controller = Controller(handler, hostname="127.0.0.1", port=port or free_port(), **kwargs)
    controller.start()
    try:
        yield Smtp(controller.port, handler)
    finally:
        controller.stop()
