"""The ticket connector's operations (TicketCreate, TicketGet, TicketSearch, TicketUpdate, TicketHistoryGet).

One module per operation, each owning its error codes and messages; `service` exposes them
as one spyne service, `models` are their wire types, `checks` what TicketCreate and
TicketUpdate both validate, `views` TicketGet's answer.
"""
