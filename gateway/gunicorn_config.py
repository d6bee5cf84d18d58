"""gunicorn settings for `gateway serve` (and `make run`, `make bench`), loaded as `-c python:gateway.gunicorn_config`.

A module of the package, so that an installed gateway serves as a checkout does. An installation
changes them with GATEWAY_WORKERS, GATEWAY_ACCESS_LOG and GATEWAY_LOG_LEVEL below, or any of
gunicorn's own options in GUNICORN_CMD_ARGS (e.g. "--timeout 120"), which win over this module.
"""

import multiprocessing
import os

# gthread whose event loop reads request heads (gateway.gunicorn_worker): a slow or idle client holds a
# file descriptor, not a thread. Processes do the CPU-bound work (the GIL); a few threads per process
# (fewer than database_pool_size, which also serves the communication log) keep one slow body or
# answer from stalling the process.
worker_class = "gateway.gunicorn_worker.Worker"
workers = int(os.environ.get("GATEWAY_WORKERS", multiprocessing.cpu_count() * 2))
threads = 4
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
accesslog = os.environ.get("GATEWAY_ACCESS_LOG") or None
# both logs with passwords and session IDs redacted (query strings, Referer, request lines)
logger_class = "gateway.accesslog.RedactingLogger"
errorlog = "-"
loglevel = os.environ.get("GATEWAY_LOG_LEVEL", "info")
