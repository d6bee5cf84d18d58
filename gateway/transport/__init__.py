"""Wire protocols: SOAP 1.1 and Znuny's REST, both over the same spyne services. No business rules here."""

import logging
from typing import Any

import spyne.const
from spyne import Fault

from gateway.environ import OPERATION
from gateway.faults import INTERNAL_ERROR, unexpected

# spyne logs whole requests (passwords included) on parse errors, every client fault with a
# traceback, and a warning whenever an application is rebuilt: none of it belongs in our logs
logging.getLogger("spyne").setLevel(logging.CRITICAL)
# spyne runs a full gc.collect() when a request ends if a second has passed since the last one: tens of
# milliseconds of every worker's every second (the p99 of a keep-alive client); Python's own collector suffices
spyne.const.MIN_GC_INTERVAL = float("inf")


def unserializable(ctx: Any) -> Fault:
    """The Server fault that replaces an answer that could not be serialized.

    spyne would log the error where nobody sees it and send what it had built so far (an
    empty SOAP envelope) with status 200; the client gets a 500 fault naming the request id.
    The operation's transaction has committed by then: a client that retries a write after
    this fault may repeat it (the log's request id tells what was written).
    """
    ctx.transport.resp_code = INTERNAL_ERROR
    env = ctx.transport.req_env
    return Fault("Server", unexpected(env, f"the answer of operation {env.get(OPERATION)}"))
