"""gunicorn settings for `gateway serve` (and `make run`, `make bench`), loaded as `-c python:gateway.gunicorn_config`.

A module of the package, so that an installed gateway serves as a checkout does. An installation
changes them with GATEWAY_WORKERS, GATEWAY_ACCESS_LOG and GATEWAY_LOG_LEVEL below, or any of
gunicorn's own options in GUNICORN_CMD_ARGS (e.g. "--timeout 120"), which win over this module.
"""

import multiprocessing
import os

# sync workers: the GIL makes threads slower than processes for this CPU-bound work
worker_class = "sync"
workers = int(os.environ.get("GATEWAY_WORKERS", multiprocessing.cpu_count() * 2))
# build the spyne applications once in the master; database connections open in each worker
preload_app = True
timeout = 60
graceful_timeout = 30
keepalive = 5
# request line and headers are bounded here; the body by gateway's own limits
limit_request_line = 8190
limit_request_fields = 100
accesslog = os.environ.get("GATEWAY_ACCESS_LOG") or None
# both logs with passwords and session IDs redacted (query strings, Referer, request lines)
logger_class = "gateway.accesslog.RedactingLogger"
errorlog = "-"
loglevel = os.environ.get("GATEWAY_LOG_LEVEL", "info")
