"""Prometheus metrics: what the workers count, and the page `/metrics` answers with.

gunicorn's workers are processes, so prometheus-client runs in its multiprocess mode: every process
writes its counters to files in PROMETHEUS_MULTIPROC_DIR and a scrape adds them up. `gateway serve`
sets it for gunicorn only: the setting metrics_dir (its old metric files removed first) or a temporary
directory per start; gunicorn's master marks a worker's files dead when it exits. The variable must be
set before prometheus_client is imported, which is why the directory is the server's business and not
this module's. Without it (tests, a console command) the values are the process's own.

What is the cluster's, not a process's, is read from the database at scrape time: the outbox depth
and delivery attempts by state. With several nodes, scrape each node for its requests and any one for
the outbox.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from gateway.errors import DatabaseUnavailableError
from gateway.store import mailqueue
from gateway.store.database import Database

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
log = logging.getLogger(__name__)
OWN_DIR = "GATEWAY_METRICS_TEMP_DIR"  # the directory `gateway serve` made, removed when the server exits

REQUESTS = Counter("gateway_requests", "Web-service requests answered", ["webservice", "operation", "status"])
LATENCY = Histogram(
    "gateway_request_duration_seconds",
    "Time from the request's head to its answer, per operation",
    ["webservice", "operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
LOGIN_FAILURES = Counter("gateway_login_failures", "Failed password checks", ["user_type"])
COMMLOG_DROPPED = Counter(
    "gateway_communication_log_dropped", "Communication-log records not written (queue full, not redactable)"
)


def observe(webservice: str, operation: str, status: int, seconds: float) -> None:
    """Count one answered request, under names from the configuration only (the caller's duty: a client must
    not add series). Counting never fails a request."""
    try:
        REQUESTS.labels(webservice, operation, str(status)).inc()
        LATENCY.labels(webservice, operation).observe(seconds)
    except Exception:  # the metric files (tmpfs full, the directory removed): the answer goes out regardless
        log.exception("metrics: request not counted")


class _Outbox(Collector):
    """The mail queue by state: messages and their delivery attempts, one query per scrape."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily("gateway_outbox_mails", "Messages in the outbox", labels=["state"])
        attempts = GaugeMetricFamily(
            "gateway_outbox_delivery_attempts", "Delivery attempts of the messages in the outbox", labels=["state"]
        )
        up = GaugeMetricFamily("gateway_database_up", "Whether the database answered this scrape's query")
        try:
            with self.db.transaction(write=False) as tx:
                rows = mailqueue.totals(tx)
        except DatabaseUnavailableError:  # the request counts are worth having during an outage most of all
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        for state in (mailqueue.QUEUED, mailqueue.SENT, mailqueue.FAILED):
            mails, tries = rows.get(state, (0, 0))
            depth.add_metric([state], mails)
            attempts.add_metric([state], tries)
        yield depth
        yield attempts


def page(db: Database, accept: str) -> tuple[bytes, str]:
    """What a scrape gets, and its content type: every process's counters and the outbox, in the format the
    scraper's Accept asks for (OpenMetrics, or the classic text every Prometheus reads)."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get(MULTIPROC_DIR):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Own())
    registry.register(_Outbox(db))
    encode, content_type = choose_encoder(accept)
    return encode(registry), content_type


class _Own(Collector):
    """This process's metrics (no multiprocess directory)."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


# prometheus-client's file names in a multiprocess directory: <type>_<pid>.db, <type>_<mode>_<pid>.db
_FILES = ("counter_*.db", "gauge_*.db", "histogram_*.db", "summary_*.db")


def prepare_directory(path: str) -> None:
    """A directory for a server's metric files, without those a previous run left (they would be added in);
    nothing else in it is touched."""
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    for pattern in _FILES:
        for entry in directory.glob(pattern):
            entry.unlink(missing_ok=True)


def worker_exited(pid: int) -> None:
    """gunicorn's child_exit: the worker's live values (none of ours are gauges) are no longer read."""
    if os.environ.get(MULTIPROC_DIR):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def server_exited() -> None:
    """gunicorn's on_exit: the directory `gateway serve` made for this start goes with it."""
    made = os.environ.get(OWN_DIR)
    if made and made == os.environ.get(MULTIPROC_DIR):
        shutil.rmtree(made, ignore_errors=True)
