"""Wire protocols: SOAP 1.1 and Znuny's REST, both over the same spyne services. No business rules here."""

import logging

# what the transports leave in the WSGI environ for operations and the communication log
OPERATION = "gateway.operation"  # the operation name as configured in the web service
REQUEST_HAS_DATA = "gateway.request_has_data"

# spyne logs whole requests (passwords included) on parse errors, every client fault with a
# traceback, and a warning whenever an application is rebuilt: none of it belongs in our logs
logging.getLogger("spyne").setLevel(logging.CRITICAL)
