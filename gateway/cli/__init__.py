"""The `gateway` console, mirroring Znuny's Admin:: commands.

Every command prints one line per result; a refused command prints one line naming the
problem on stderr and exits 1 (2 for usage errors), having written nothing. One module per
area; importing them registers their commands on `main`.
"""

from gateway.cli import backup, check, directory, installation, mail, webservices  # noqa: F401  (they register commands)
from gateway.cli.core import main
from gateway.cli.installation import WSDL_PUBLIC_URL

__all__ = ["WSDL_PUBLIC_URL", "main"]
