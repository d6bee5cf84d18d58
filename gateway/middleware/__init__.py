"""WSGI middleware, one concern per module. gateway.app decides their order."""
