"""Wire protocols: SOAP 1.1 and Znuny's REST, both over the same spyne services. No business rules here."""

# what the transports leave in the WSGI environ for operations and the communication log
OPERATION = "gateway.operation"  # the operation name as configured in the web service
REQUEST_HAS_DATA = "gateway.request_has_data"
