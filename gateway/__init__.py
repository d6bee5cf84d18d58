"""gateway: a Znuny/OTRS GenericInterface compatible web-service server."""

__version__ = "0.1.0"
