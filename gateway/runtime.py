"""The long-lived objects of one gateway process, shared by every request it serves."""

from __future__ import annotations

import dataclasses

from gateway.auth import Authenticator
from gateway.settings import Settings
from gateway.store.database import Database


@dataclasses.dataclass
class Runtime:
    settings: Settings
    db: Database
    auth: Authenticator

    @classmethod
    def create(cls, settings: Settings) -> Runtime:
        db = Database(settings.database_url, settings.database_pool_size)
        return cls(settings, db, Authenticator(db, settings))
