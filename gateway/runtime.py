"""The long-lived objects of one gateway process, shared by every request it serves."""

from __future__ import annotations

import dataclasses
import functools

from gateway.auth import Authenticator
from gateway.mail.crypto import Crypto
from gateway.settings import Settings
from gateway.store.database import Database


@dataclasses.dataclass
class Runtime:
    settings: Settings
    db: Database
    auth: Authenticator

    @functools.cached_property
    def crypto(self) -> Crypto:
        """Key stores are read on first use: most requests never sign or encrypt."""
        return Crypto(self.settings)

    @classmethod
    def create(cls, settings: Settings) -> Runtime:
        db = Database(
            settings.database_url,
            settings.database_pool_size,
            settings.database_timeout,
            settings.database_statement_timeout,
            settings.database_lock_timeout,
        )
        return cls(settings, db, Authenticator(db, settings))
