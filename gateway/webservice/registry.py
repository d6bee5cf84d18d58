"""The web services a process serves, reloaded when another process changes them.

A lookup is a dictionary access. At most every `webservice_refresh_interval` seconds one
lookup also reads the revision counter (a single-row table that every change bumps in
its own transaction); when it moved, the changed web services are rebuilt. So a web
service added with `gateway webservice add` is served by every running process, on every
machine sharing the database, within a few seconds and without a restart.

A refresh never holds up a request: it uses the database only through a connection at
hand (never waiting for an unreachable one), and a request that finds another thread
refreshing serves what is loaded. So the WSDL and OpenAPI documents are served from the last
known web services while the database is down. Only the first load waits for the database.
"""

from __future__ import annotations

import logging
import threading
import time

from gateway.errors import DatabaseUnavailableError
from gateway.store import webservices
from gateway.store.database import Database, Row
from gateway.webservice import config as ws_config
from gateway.webservice.endpoint import Endpoint, build

log = logging.getLogger(__name__)


class Registry:
    def __init__(self, db: Database, public_url: str, max_request_size: int, refresh_interval: float) -> None:
        self.db = db
        self.public_url = public_url
        self.max_request_size = max_request_size
        self.refresh_interval = refresh_interval
        self._by_name: dict[str, Endpoint] = {}
        self._by_id: dict[int, Endpoint] = {}
        self._revision = -1
        self._next_check = 0.0
        self._lock = threading.Lock()

    def by_name(self, name: str) -> Endpoint | None:
        self.refresh()
        return self._by_name.get(name)

    def by_id(self, webservice_id: int) -> Endpoint | None:
        self.refresh()
        return self._by_id.get(webservice_id)

    def refresh(self) -> None:
        """Rebuild the web services that changed, when the refresh interval has passed."""
        if time.monotonic() < self._next_check:
            return
        loaded = self._revision >= 0
        if not self._lock.acquire(blocking=not loaded):
            return  # another thread is refreshing
        try:
            if time.monotonic() < self._next_check:
                return
            try:
                with self.db.transaction(write=False, wait=not loaded) as tx:
                    revision = webservices.revision(tx)
                    rows = webservices.all_valid(tx) if revision != self._revision else None
            except Exception as error:
                if not loaded:
                    raise  # nothing to serve from
                if not isinstance(error, DatabaseUnavailableError):  # an outage the database has logged
                    log.exception("web services could not be reloaded; serving the last known ones")
                self._next_check = time.monotonic() + self.refresh_interval
                return
            if rows is not None:
                self._load(rows)
                self._revision = revision
            self._next_check = time.monotonic() + self.refresh_interval
        finally:
            self._lock.release()

    def _load(self, rows: list[Row]) -> None:
        """Rebuild what changed; keep the endpoints of unchanged configurations."""
        previous = self._by_id
        by_id: dict[int, Endpoint] = {}
        for row in rows:
            old = previous.get(row["id"])
            if old is not None and old.config.text == row["config"] and old.config.name == row["name"]:
                by_id[row["id"]] = old
                continue
            try:
                parsed = ws_config.parse(row["id"], row["name"], row["config"], self.max_request_size)
                by_id[row["id"]] = build(parsed, self.public_url)
            except Exception:
                log.exception("web service %r cannot be served", row["name"])
        self._by_id = by_id
        self._by_name = {endpoint.config.name: endpoint for endpoint in by_id.values()}
