"""gunicorn settings for `gateway serve` (and `make run`, `make bench`), loaded as `-c python:gateway.gunicorn_config`.

A module of the package, so that an installed gateway serves as a checkout does. An installation
changes them with GATEWAY_WORKERS, GATEWAY_ACCESS_LOG and GATEWAY_LOG_LEVEL below, or any of
gunicorn's own options in GUNICORN_CMD_ARGS (e.g. "--timeout 120"), which win over this module.
"""

import gc
import multiprocessing
import os
from typing import Any

# gthread whose event loop reads request heads (gateway.gunicorn_worker): a slow or idle client holds a
# file descriptor, not a thread, and a keep-alive client keeps its connection. Processes do the CPU-bound
# work (the GIL); two threads per process keep one slow body or answer from stalling the process (more
# threads only contend for the GIL: measured with `make bench`, 4 threads served a third fewer requests).
# Each thread may hold two database connections (TicketCreate's counter, gateway.tickets.numbers), the
# communication log's writer one more: database_pool_size is 2 * threads + 1.
worker_class = "gateway.gunicorn_worker.Worker"
workers = int(os.environ.get("GATEWAY_WORKERS", multiprocessing.cpu_count() * 2))
threads = 2
# build the spyne applications once in the master; database connections open in each worker
preload_app = True
timeout = 60
graceful_timeout = 30
keepalive = 5
# gunicorn's control socket (gunicornc) is one path per user ($XDG_RUNTIME_DIR or ~/.gunicorn), which every
# instance would take from the one before: gateway does not use it
control_socket_disable = True
# request line and headers are bounded here, the time they and the body take by header_timeout and
# body_timeout (settings), the body's size by max_request_size
limit_request_line = 8190
limit_request_fields = 100
# the request log (gateway.accesslog: one line per request, text or JSON by log_format): a file, `-` for
# standard output (the default: journald and containers collect it), empty for none
accesslog = os.environ.get("GATEWAY_ACCESS_LOG", "-") or None
# both logs with passwords and session IDs redacted (query strings, Referer, request lines)
logger_class = "gateway.accesslog.RedactingLogger"
errorlog = "-"
loglevel = os.environ.get("GATEWAY_LOG_LEVEL", "info")


def pre_fork(server: Any, worker: Any) -> None:
    """What the master preloaded (the spyne applications, the modules) lives as long as the workers: out of
    the collector's sight, a full collection in a worker no longer walks it, and its pages stay shared."""
    gc.freeze()


def child_exit(server: Any, worker: Any) -> None:
    """A worker's metric files are no longer its live values (gateway.metrics, multiprocess mode)."""
    from gateway import metrics

    metrics.worker_exited(worker.pid)


def on_exit(server: Any) -> None:
    from gateway import metrics

    metrics.server_exited()
