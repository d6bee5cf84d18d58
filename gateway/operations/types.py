"""ComplexModels shared by operations, named as on Znuny's wire.

Field types decide the JSON type of each value in REST responses (Unicode → string,
Integer → number), which is how we reproduce Znuny's mixed JSON types field by field.
Request fields are Unicode: Znuny is untyped, and a wrong value must reach the
operation's own validation (a Znuny error code), not fail in the protocol.
"""

from __future__ import annotations

import functools

from spyne import ComplexModel, Unicode

TICKET_CONNECTOR_NS = "http://www.otrs.org/TicketConnector/"


@functools.cache
def error_model(namespace: str) -> type[ComplexModel]:
    """Znuny's OTRS_Error, in the namespace of the service that returns it."""
    return type(
        "OTRS_Error",
        (ComplexModel,),
        {
            "__namespace__": namespace,
            "__type_name__": "OTRS_Error",
            "_type_info": [("ErrorCode", Unicode), ("ErrorMessage", Unicode)],
        },
    )


class TicketConnectorModel(ComplexModel):
    __namespace__ = TICKET_CONNECTOR_NS


Error = error_model(TICKET_CONNECTOR_NS)
