"""The WSGI environ keys gateway's layers hand each other, in one leaf every layer may import.

Each key is written by exactly one layer (named beside it) and read by the layers inside it.
"""

REQUEST_ID = "gateway.request_id"  # middleware.limits: the id every request gets, also sent as X-Request-ID
CLIENT_ADDRESS = "gateway.client_address"  # middleware.client_address: the client's IP, behind trusted proxies too
CREDENTIALS = "gateway.credentials"  # middleware.credentials: the X-OTRS-Header-* credentials, by name
RUNTIME = "gateway.runtime"  # dispatcher: the process's Runtime (settings, database, authenticator)
# dispatcher: the credential values a request carries outside its body (headers, route parameters), which
# the communication log and the access log (read by the server, outside the stack) scrub wherever repeated
SECRETS = "gateway.secrets"
WEBSERVICE = "gateway.webservice"  # dispatcher: the WebserviceConfig serving the request
SOAP_FAULTS = "gateway.soap_faults"  # dispatcher: True when errors are answered as soap:Fault (a SOAP web service)
OPERATION = "gateway.operation"  # transport: the operation name as configured in the web service
REQUEST_HAS_DATA = "gateway.request_has_data"  # transport: whether the body, URI or headers carried data
# operations: the Error.ErrorCode an operation answered (HTTP 200, as Znuny does), for the communication log
ERROR_CODE = "gateway.error_code"
RETRY_AFTER = "gateway.retry_after"  # operations: seconds a client should wait when the database is unavailable
